"""Known defects in the DfE validators: rules that flag a correct return.

Each entry names the validator version and rule, says why the rule is wrong (in the rule's own words
and code), and gives a predicate that recognises exactly the false positive: a finding of that rule
that does not match the predicate is a real error like any other. Findings that match stay in the
validation report, counted and marked, never removed; tests/unit/test_return_checks.py
proves each defect by running the real validator on a minimal correct return.

Rules 1001, 146 (2024/25), SW11bSTG2 and SW12STG2 have left this register: corrected copies of them (corrected_903.py)
now decide, record by record, which of their findings are defects (docs/validator-defects.md); the others
are to follow.

Review this register whenever the validators' pins change (orchestration/returns/validators/
requirements.lock): a defect fixed upstream must be deleted here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

Tables = dict[str, pd.DataFrame]


@dataclass(frozen=True)
class Defect:
    validator: str  # package==version
    rule: str
    years: tuple[int, ...]  # collection years whose rule set has the defect
    why: str
    applies: Callable[[pd.DataFrame, Tables, int], pd.Series]  # findings, return tables, year -> mask


def _column(findings: pd.DataFrame, tables: Tables, table: str, column: str) -> pd.Series:
    """The value of ``table.column`` on each finding's row (NaN where the finding is elsewhere)."""
    frame = tables.get(table)
    if frame is None or column not in frame:
        return pd.Series(pd.NA, index=findings.index, dtype="object")
    rows = pd.to_numeric(findings["row"], errors="coerce")
    looked_up = frame[column].reindex(rows.where(findings["table"].eq(table)).to_numpy())
    return pd.Series(looked_up.to_numpy(), index=findings.index)


def _241(findings: pd.DataFrame, tables: Tables, year: int) -> pd.Series:
    # "PL_LA must equal the Ofsted URN lookup LA": without the lookup, the rule compares the placement's
    # LA with the reporting LA, so every registered supported accommodation (K3) outside the area fails
    place = _column(findings, tables, "episodes", "PLACE")
    return findings["rule"].eq("241") & place.eq("K3")


REGISTER: tuple[Defect, ...] = (
    Defect("csc-validator-be-903==0.1.17", "241", (2025, 2026, 2027),
           "compares a K3 placement's LA with the reporting LA, not with the provider's LA from the URN lookup",
           _241),
)  # fmt: skip


def explain(findings: pd.DataFrame, tables: Tables, year: int) -> pd.Series:
    """For each validator finding, the known defect that explains it ('' when none does)."""
    out = pd.Series("", index=findings.index, dtype="object")
    for defect in REGISTER:
        if year not in defect.years:
            continue
        hit = defect.applies(findings, tables, year).fillna(False).astype(bool) & out.eq("")
        out[hit] = f"validator defect ({defect.validator} rule {defect.rule}): {defect.why}"
    return out
