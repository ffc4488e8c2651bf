"""How well the pre-checks anticipate the DfE validator, measured against a synthetic authority's
injected faults (ground_truth/faults.csv). Never used on real data: there is no ground truth there.

- traced: the share of the validator's errors (those not explained by a known validator defect) whose
  child carries an injected fault in a social care extract. 1.0 means every validator error is explained
  by a fault we put there, so none comes from the return builder itself.
- anticipated: of the injected faults the validator reports (a fault on a child the validator flags),
  the share the pre-checks also flagged for that child before the validator ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass
class Trace:
    validator_errors: int
    traced: int
    faults_reported_by_validator: int
    faults_flagged_by_prechecks: int
    untraced: pd.DataFrame

    @property
    def traced_share(self) -> float:
        return self.traced / self.validator_errors if self.validator_errors else 1.0

    @property
    def anticipated_share(self) -> float:
        reported = self.faults_reported_by_validator
        return self.faults_flagged_by_prechecks / reported if reported else 1.0

    def line(self) -> str:
        return (
            f"validator errors traced to injected faults {self.traced}/{self.validator_errors} "
            f"({self.traced_share:.1%}); faults the validator reports that pre-checks flagged first "
            f"{self.faults_flagged_by_prechecks}/{self.faults_reported_by_validator} ({self.anticipated_share:.1%})"
        )


def social_care_faults(ground_truth: Path, vault_db: Path | None = None) -> pd.DataFrame:
    """Injected faults on social care records, by the child's LA person id. A person recorded twice is
    logged by simulated child: both of that child's person records carry the fault; a fault on another
    SSD table's row is logged by that row's id, found in the vault to name its child."""
    faults = pd.read_csv(ground_truth / "faults.csv", dtype=str, keep_default_na=False)
    faults = faults[faults.dataset.str.startswith("ssd_")]
    records = pd.read_csv(ground_truth / "records.csv", dtype=str, keep_default_na=False)
    persons = records.loc[records.dataset.eq("ssd_person"), ["record_id", "child_id"]]
    twice = faults[faults.fault.eq("person_recorded_twice")].merge(
        persons, left_on="record_id", right_on="child_id", suffixes=("_simulated", "")
    )
    faults = pd.concat([faults[~faults.fault.eq("person_recorded_twice")], twice], ignore_index=True)
    if vault_db is not None:
        faults = pd.concat([faults, _row_faults_by_child(faults, vault_db)], ignore_index=True)
    return faults[["record_id", "dataset", "column", "fault"]].rename(columns={"record_id": "child"})


def _row_faults_by_child(faults: pd.DataFrame, vault_db: Path) -> pd.DataFrame:
    """The child of each faulty row in an SSD table other than ssd_person (by the table's key)."""
    from orchestration.duckdb_files import connect
    from orchestration.ingest.contracts import load_contracts

    contracts = load_contracts()
    found = []
    with connect(vault_db, read_only=True) as con:
        for dataset, group in faults[~faults.dataset.eq("ssd_person")].groupby("dataset"):
            contract = contracts.get(dataset)
            table = contract.tables[0] if contract else None
            if table is None or not table.key or table.person is None:
                continue
            con.register("_ids", group[["record_id"]].drop_duplicates())
            children = con.execute(
                f"select distinct r.{table.person.id} as child, i.record_id from raw.{dataset} r "
                f"join _ids i on i.record_id = r.{table.key[0]}::varchar"
            ).df()
            con.unregister("_ids")
            found.append(
                group.merge(children, on="record_id")
                .assign(record_id=lambda f: f.child)
                .drop(columns="child")
            )
    return pd.concat(found, ignore_index=True) if found else faults.iloc[:0]


# faults in what a return carries (identifiers, dates of birth, duplicated records); names, NHS numbers and
# postcodes are in no return field the validators check
IN_RETURNS = (
    "wrong_upn_check_letter",
    "missing_upn",
    "dob_day_month_swap",
    "person_recorded_twice",
    "duplicate_row",
)


def trace(findings: pd.DataFrame, ground_truth: Path, vault_db: Path | None = None) -> Trace:
    faults = social_care_faults(ground_truth, vault_db)
    faults = faults[faults.fault.isin(IN_RETURNS)]
    errors = findings[findings.severity.eq("error") & findings.explained_by.eq("")]
    validator = errors[errors.stage.eq("validator")].drop_duplicates(["rule", "table", "child", "row"])
    prechecked = set(errors.loc[errors.stage.eq("pre-check"), "child"])
    is_traced = validator.child.isin(set(faults.child))
    reported = faults[faults.child.isin(set(validator.child))].drop_duplicates(["child", "fault"])
    return Trace(
        validator_errors=len(validator),
        traced=int(is_traced.sum()),
        faults_reported_by_validator=len(reported),
        faults_flagged_by_prechecks=int(reported.child.isin(prechecked).sum()),
        untraced=validator[~is_traced],
    )
