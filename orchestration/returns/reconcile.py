"""The marts reconciled with the DfE's figures worked out from the returns (``figures.py``), child by child.

Both sides come from the same SSD extract by different roads: the marts through the pseudonymised tier and
dbt, the figures through the statutory returns and the DfE's methodology. Every measure of every collection
year the extract holds whole is compared per child (the return's LA child id mapped to the person_key the
vault issued). A difference is listed with the child and a reason; one the pipeline can explain from what
it already knows is marked as such:

- the authority holds two or more LA person records of one child: the return lists each (as the DfE would
  receive them), the marts count the child once;
- the child's care history breaks off: an episode ends X1 (a new episode begins) and none follows, because
  the row was quarantined or is missing from the extract (the 903 validator's rule 388 says the same to the
  returns team). From that collection year on the return reads the care as going on, the marts as ended.

Any other difference means the marts or the returns do not compute what the DfE computes: the check built
on this blocks publication, and the differences are in the quality folder for whoever fixes it.
"""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.cells import safe_frame
from orchestration.duckdb_files import connect
from orchestration.returns.common import (
    Authority,
    extract_date,
    latest_ended_collection_year,
    returns_connection,
)
from orchestration.returns.figures import (
    COLUMNS,
    MEASURES,
    Returns,
    age_band_sql,
    broken_continuations,
    build_returns,
    figures,
)

# measures that look back further than a year: compared only once the extract holds that much history
LOOKBACK_YEARS = {"long_term_stability_cohort": 2, "long_term_stability": 2}
DUPLICATE_RECORDS = (
    "the authority holds {n} LA person records of this child: the return counts each record, "
    "the marts the child"
)

BROKEN_HISTORY = (
    "this child's care history breaks off on {dec}: an episode ends X1 and none follows (a row quarantined "
    "or missing from the extract; rule 388): the return reads care as going on, the marts as ended"
)

OC2 = "is_looked_after_continuously_12_months"
CARE_LEAVER = "care_leaver_age is not null"


def _member(condition: str) -> tuple[str, str]:
    return "'1'", condition


def _outcome(column: str, cohort: str) -> tuple[str, str]:
    return f"lower({column}::varchar)", cohort


def _count(column: str) -> tuple[str, str]:
    return f"{column}::varchar", f"{column} > 0"


# each measure as the marts hold it: (value, condition), over marts.fct_child_outcomes_by_year
MART_MEASURES: dict[str, tuple[str, str]] = {
    "looked_after_at_31_march": _member("is_looked_after_at_31_march"),
    "looked_after_at_31_march_by_age": (age_band_sql("age_at_31_march"), "is_looked_after_at_31_march"),
    "looked_after_at_31_march_by_legal_status": ("legal_status_at_31_march", "is_looked_after_at_31_march"),
    "looked_after_at_31_march_by_placement": ("placement_type_at_31_march", "is_looked_after_at_31_march"),
    "started_to_be_looked_after": _member("entered_care_in_year"),
    "ceased_to_be_looked_after": _member("left_care_in_year"),
    "three_or_more_placements": _member("has_three_or_more_placements"),
    "long_term_stability_cohort": _member("has_long_term_stability is not null"),
    "long_term_stability": _outcome("has_long_term_stability", "has_long_term_stability is not null"),
    "looked_after_12_months": _member(OC2),
    "oc2_health_assessment": _outcome("has_health_assessment_in_year", OC2),
    "oc2_dental_check": _outcome("has_dental_check_in_year", OC2),
    # a status not recorded by 31 March is null in the marts and 0 in the SSDA903
    "oc2_immunisations_up_to_date": _outcome("coalesce(immunisations_up_to_date, false)", OC2),
    "oc2_substance_misuse": _outcome("has_substance_misuse_in_year", OC2),
    "oc2_development_check": _outcome(
        "has_development_check_in_year", "has_development_check_in_year is not null"
    ),
    "oc2_sdq_score": (
        "sdq_score::varchar",
        f"{OC2} and age_at_31_march between 5 and 16 and sdq_score is not null",
    ),
    "care_leavers": ("care_leaver_age::varchar", CARE_LEAVER),
    "care_leavers_in_touch": _outcome("care_leaver_in_touch", CARE_LEAVER),
    "care_leavers_in_education_employment_or_training": _outcome(
        "care_leaver_in_education_employment_or_training", CARE_LEAVER
    ),
    "care_leavers_suitably_accommodated": _outcome("care_leaver_suitably_accommodated", CARE_LEAVER),
    "in_need_at_31_march": _member("is_in_need_at_31_march"),
    "referrals": _count("referrals_in_year"),
    "re_referrals_within_12_months": _count("re_referrals_within_12_months"),
    "assessments_completed": _count("assessments_completed_in_year"),
    "assessments_within_45_working_days": _count("assessments_within_45_working_days"),
    "s47_enquiries_started": _count("s47_enquiries_started_in_year"),
    "initial_cp_conferences": _count("initial_cp_conferences_in_year"),
    "initial_cp_conferences_within_15_working_days": _count("initial_cp_conferences_within_15_working_days"),
    "cp_plans_started": _count("cp_plans_started_in_year"),
    "second_or_subsequent_cp_plans": _count("second_or_subsequent_cp_plans_started_in_year"),
}
COUNTED = {
    "referrals", "re_referrals_within_12_months", "assessments_completed", "assessments_within_45_working_days",
    "s47_enquiries_started", "initial_cp_conferences", "initial_cp_conferences_within_15_working_days",
    "cp_plans_started", "second_or_subsequent_cp_plans",
}  # fmt: skip


@dataclass(frozen=True)
class Reconciliation:
    summary: pd.DataFrame  # per measure and year: the return's figure, the marts', differences
    differences: pd.DataFrame  # per child: measure, year, person_key, return's value, marts' value, reason

    @property
    def unexplained(self) -> pd.DataFrame:
        return self.differences[~self.differences.explained]

    @property
    def passed(self) -> bool:
        return self.unexplained.empty


def covered_years(analytics: duckdb.DuckDBPyConnection, latest_ended: int) -> list[int]:
    """The collection years the latest extract holds whole, up to the last one that has ended."""
    rows = analytics.execute(
        """select distinct collection_year from marts.fct_child_outcomes_by_year
           where is_collection_year_complete and collection_year <= ? order by 1""",
        [latest_ended],
    ).fetchall()
    return [y for (y,) in rows]


def mart_figures(analytics: duckdb.DuckDBPyConnection, years: list[int]) -> pd.DataFrame:
    """Every measure of the given years as the marts hold it, per person_key (column ``child``)."""
    if not years:
        return pd.DataFrame(columns=COLUMNS)
    selects = " union all ".join(
        f"""select '{measure}' as measure, collection_year, person_key as child, {value} as value
            from marts.fct_child_outcomes_by_year where collection_year in ({", ".join(map(str, years))})
            and coalesce({condition}, false)"""
        for measure, (value, condition) in MART_MEASURES.items()
    )
    return analytics.execute(selects).df()


def _by_person(figures: pd.DataFrame, keys: pd.DataFrame) -> pd.DataFrame:
    """The return's figures per person_key: counts added, other values kept (several if they differ)."""
    keyed = figures.merge(keys, left_on="child", right_on="record_id", how="left")
    keyed["person_key"] = keyed["person_key"].fillna("(not in the person index) " + keyed["child"])
    keyed["number"] = pd.to_numeric(keyed["value"], errors="coerce")
    grouped = keyed.groupby(["measure", "collection_year", "person_key"], sort=False)
    out = grouped.agg(
        value=("value", lambda v: "|".join(sorted(set(v)))),
        total=("number", "sum"),
    ).reset_index()
    counted = out["measure"].isin(COUNTED)
    out.loc[counted, "value"] = out.loc[counted, "total"].astype(int).astype(str)
    return out.drop(columns="total")


def _broken_from(broken: pd.DataFrame | None, keys: pd.DataFrame) -> pd.DataFrame:
    """Per person_key, the first collection year its care history is broken in and the date it breaks."""
    if broken is None or broken.empty:
        return pd.DataFrame(
            {
                "person_key": pd.Series(dtype=str),
                "broken_from": pd.Series(dtype=int),
                "broken_on": pd.Series(dtype=str),
            }
        )
    dec = pd.to_datetime(broken["dec"])
    frame = broken.assign(
        broken_from=dec.dt.year + (dec.dt.month >= 4).astype(int), broken_on=dec.dt.strftime("%Y-%m-%d")
    ).merge(keys, left_on="child", right_on="record_id")
    return (
        frame.sort_values("broken_on")
        .groupby("person_key", as_index=False)[["broken_from", "broken_on"]]
        .first()
    )


def reconcile(
    returns_figures: pd.DataFrame,
    marts: pd.DataFrame,
    keys: pd.DataFrame,
    years: list[int],
    broken: pd.DataFrame | None = None,
) -> Reconciliation:
    """Compare the two, measure by measure, year by year, child by child. ``keys`` maps each LA child id
    (record_id) to its person_key; ``broken`` lists the care histories that break off (``broken_continuations``:
    LA child id and date)."""
    first = min(years) if years else 0
    wanted = [(m, y) for m in MEASURES for y in years if y >= first + LOOKBACK_YEARS.get(m, 0)]
    index = pd.DataFrame(wanted, columns=["measure", "collection_year"])
    ours = _by_person(returns_figures, keys).merge(index, on=["measure", "collection_year"])
    theirs = marts.rename(columns={"child": "person_key"}).merge(index, on=["measure", "collection_year"])
    both = ours.merge(
        theirs, on=["measure", "collection_year", "person_key"], how="outer", suffixes=("_return", "_marts")
    )
    # a child the authority holds under two or more LA person ids is counted by the return once per id
    records = keys.groupby("person_key").record_id.nunique()
    both["records"] = both["person_key"].map(records).fillna(0).astype(int)
    differing = both[both["value_return"].fillna("") != both["value_marts"].fillna("")].copy()
    differing = differing.merge(_broken_from(broken, keys), on="person_key", how="left")
    is_broken = differing["collection_year"] >= differing["broken_from"].fillna(9999)
    differing["explained"] = (differing["records"] > 1) | is_broken
    differing["reason"] = [
        DUPLICATE_RECORDS.format(n=n)
        if n > 1
        else BROKEN_HISTORY.format(dec=on)
        if b
        else "in the return, not in the marts"
        if pd.isna(m)
        else "in the marts, not in the return"
        if pd.isna(r)
        else f"the return says {r}, the marts say {m}"
        for n, b, on, r, m in zip(
            differing["records"],
            is_broken,
            differing["broken_on"],
            differing["value_return"],
            differing["value_marts"],
            strict=True,
        )
    ]
    summary = _summary(ours, theirs, differing, index)
    columns = [
        "measure",
        "collection_year",
        "person_key",
        "value_return",
        "value_marts",
        "explained",
        "reason",
    ]
    return Reconciliation(summary, differing[columns].sort_values(columns[:3]).reset_index(drop=True))


def _figure(frame: pd.DataFrame, index: pd.DataFrame, name: str) -> pd.DataFrame:
    """Per measure and year: children counted (or the sum of a count per child)."""
    numbers = pd.to_numeric(frame["value"], errors="coerce")
    frame = frame.assign(
        n=numbers.where(frame["measure"].isin(COUNTED), 1).where(frame["value"].ne("false"), 0)
    )
    totals = frame.groupby(["measure", "collection_year"]).n.sum().rename(name).reset_index()
    return index.merge(totals, how="left").fillna({name: 0})


def _summary(
    ours: pd.DataFrame, theirs: pd.DataFrame, differing: pd.DataFrame, index: pd.DataFrame
) -> pd.DataFrame:
    summary = _figure(ours, index, "return").merge(_figure(theirs, index, "marts"))
    counts = differing.groupby(["measure", "collection_year"]).agg(
        differences=("person_key", "size"), unexplained=("explained", lambda e: int((~e).sum()))
    )
    summary = summary.merge(counts.reset_index(), how="left").fillna({"differences": 0, "unexplained": 0})
    summary["definition"] = summary["measure"].map(MEASURES)
    for column in ("return", "marts", "differences", "unexplained"):
        summary[column] = summary[column].astype(int)
    return summary


AHEAD_FILE = "returns_built_ahead.pickle"  # beside the vault: as private as it is


def _vault_state(vault_db: Path) -> list:
    """What identifies the vault's content: its file and write-ahead log as they stand (a read-only attach
    changes neither)."""
    wal = vault_db.with_name(vault_db.name + ".wal")
    state: list = [str(vault_db.resolve())]
    for path in (vault_db, wal):
        try:
            found = path.stat()
            state += [found.st_mtime_ns, found.st_size]
        except FileNotFoundError:
            state += [None, None]
    return state


SSD_TIMEFRAME_YEARS = 6  # the dbt var ssd_timeframe_years' default: the SSD extract's look-back window


def years_the_marts_complete(vault_db: Path, latest_ended: int) -> list[int]:
    """The collection years the marts will call complete (int_collection_year_completeness): those wholly
    inside the latest SSD extract's look-back window that have ended by its date. A first run's guess at
    what its reconciliation compares, before the marts exist; a year guessed wrong is built when asked for."""
    extract = extract_date(vault_db)
    try:
        window_start = extract.replace(year=extract.year - SSD_TIMEFRAME_YEARS)
    except ValueError:  # 29 February, as DuckDB's interval arithmetic takes it
        window_start = extract.replace(year=extract.year - SSD_TIMEFRAME_YEARS, day=28)
    return [
        y
        for y in range(latest_ended - SSD_TIMEFRAME_YEARS, latest_ended + 1)
        if date(y - 1, 4, 1) >= window_start
    ]


def build_ahead(vault_db: Path, quality: Path) -> Path | None:
    """Build the returns of the years the last reconciliation covered (quality/reconciliation_with_returns
    .json) and of a year ended since, with what the reconciliation works out from them, and keep them beside
    the vault, with the vault's state, for the reconciliation that follows the marts: the returns' own process
    does it (returns/due.py) while the run goes on with dbt. A year it did not guess is built when asked for
    (and the figures worked out again), and nothing built from a vault that has changed since is used."""
    latest = latest_ended_collection_year(vault_db)
    try:
        years = json.loads((quality / "reconciliation_with_returns.json").read_text(encoding="utf-8"))[
            "years"
        ]
    except (OSError, ValueError, KeyError):
        years = years_the_marts_complete(vault_db, latest)  # no reconciliation yet: the marts' own rule
    if not years:
        return None
    # and the year that has ended since, if the extract now reaches it (a March extract completes a year)
    years = sorted({*years, latest} if latest > max(years) else years)
    building = vault_db.with_name(BUILDING_FILE)  # the reconciliation waits for it rather than build again
    building.write_text(str(os.getpid()), encoding="utf-8")
    try:
        state = _vault_state(vault_db)
        con = returns_connection(vault_db)
        try:
            returns = build_returns(con, [years[0] - 1, *years], Authority.from_env())
        finally:
            con.close()
        target = vault_db.with_name(AHEAD_FILE)
        partial = target.with_name(f".{AHEAD_FILE}.{os.getpid()}")
        # and what the reconciliation works out from them alone (about half a second): kept with them
        worked_out = {"figures": figures(returns), "broken": broken_continuations(returns)}
        with partial.open("wb") as out:
            pickle.dump(
                {"vault": state, "returns": returns, **worked_out}, out, protocol=pickle.HIGHEST_PROTOCOL
            )
        partial.replace(target)  # whole or not there
    finally:
        building.unlink(missing_ok=True)
    return target


BUILDING_FILE = ".returns_building_ahead"  # the pid of the process building them, while it does
AHEAD_WAIT_SECONDS = 120.0  # the longest the reconciliation waits for them, before building its own


def _wait_for_building(vault_db: Path, limit: float = AHEAD_WAIT_SECONDS) -> float:
    """While another live process is building the returns ahead, wait for it (at most ``limit`` seconds):
    at scale 2 the reconciliation began before the returns' process, niced below the run, had finished,
    and built every year's returns again itself (31 s, against 3 s). Returns the seconds waited."""
    import time

    marker = vault_db.with_name(BUILDING_FILE)
    started = time.monotonic()
    while time.monotonic() - started < limit:
        try:
            pid = int(marker.read_text(encoding="utf-8").strip())
            os.kill(pid, 0)  # still there (a process killed part-way leaves its marker behind)
        except (OSError, ValueError):
            break
        time.sleep(0.2)
    return time.monotonic() - started


@dataclass(frozen=True)
class _Ahead:
    returns: Returns
    figures: pd.DataFrame
    broken: pd.DataFrame

    def worked_out(self, returns: Returns) -> tuple[pd.DataFrame, pd.DataFrame] | None:
        """The figures and broken continuations, if ``returns`` are exactly the returns built ahead."""
        same = all(
            set(mine) == set(theirs) and all(mine[y] is theirs[y] for y in mine)
            for mine, theirs in ((self.returns.ssda903, returns.ssda903), (self.returns.cin, returns.cin))
        )
        return (self.figures, self.broken) if same else None


def _built_ahead(vault_db: Path) -> _Ahead | None:
    """The returns built ahead from this very vault, if there are any, with what was worked out from them;
    taken once."""
    _wait_for_building(vault_db)
    path = vault_db.with_name(AHEAD_FILE)
    try:
        with path.open("rb") as kept:
            ahead = pickle.load(kept)  # noqa: S301 (written by this pipeline, in its private warehouse folder)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError):
        return None
    finally:
        path.unlink(missing_ok=True)
    if ahead.get("vault") != _vault_state(vault_db) or not isinstance(ahead.get("returns"), Returns):
        return None
    if not all(isinstance(ahead.get(k), pd.DataFrame) for k in ("figures", "broken")):
        return None
    return _Ahead(ahead["returns"], ahead["figures"], ahead["broken"])


def reconcile_with_returns(vault_db: Path, analytics_db: Path) -> Reconciliation:
    """Build every covered year's returns in memory from the vault, work out the DfE's figures from them, and
    reconcile them with the marts in the analytics file (both opened read-only)."""
    with connect(analytics_db, read_only=True) as analytics:
        years = covered_years(analytics, latest_ended_collection_year(vault_db))
        marts = mart_figures(analytics, years)
    con = returns_connection(vault_db)
    try:
        # and the year before the first covered one, only as history for the look-back measures (a
        # re-referral looks back 12 months): an extract taken after 31 March holds part of that year, and the
        # marts see its referrals as the DfE sees the previous census's; it is never compared itself
        ahead = _built_ahead(vault_db)
        returns = build_returns(
            con, [years[0] - 1, *years] if years else [], Authority.from_env(), ahead and ahead.returns
        )
        worked_out = ahead.worked_out(returns) if ahead else None
        ours, broken = worked_out or (figures(returns), broken_continuations(returns))
        keys = con.execute(
            "select record_id, person_key from vault.identity.record_keys where namespace = 'la_person'"
        ).df()
    finally:
        con.close()
    return reconcile(ours, marts, keys, years, broken)


def write_report(reconciliation: Reconciliation, folder: Path) -> dict:
    """The quality folder's record of it: every difference with its child and reason (CSV, person_key only:
    pseudonymous), and the figures per measure and year; returns the summary written as JSON."""
    folder.mkdir(parents=True, exist_ok=True)
    safe_frame(reconciliation.differences).to_csv(folder / "reconciliation_with_returns.csv", index=False)
    safe_frame(reconciliation.summary).to_csv(folder / "reconciliation_with_returns_figures.csv", index=False)
    summary = {
        "passed": reconciliation.passed,
        "measures": int(reconciliation.summary["measure"].nunique()),
        "years": sorted(int(y) for y in reconciliation.summary["collection_year"].unique()),
        "comparisons": len(reconciliation.summary),
        "differences": len(reconciliation.differences),
        "unexplained": len(reconciliation.unexplained),
    }
    (folder / "reconciliation_with_returns.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
