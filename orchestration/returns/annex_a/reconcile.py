"""Annex A against the marts: each list's row count, counted again from marts.fct_child_events (the
analytics side, pseudonymised) for the same window. A difference means the return and the marts
disagree about who was seen, and is reported list by list before anything is published."""

from __future__ import annotations

import duckdb
import pandas as pd

from orchestration.returns.annex_a.build import Window


def _events(kinds: tuple[str, ...]) -> str:
    return "event_type in (" + ", ".join(f"'{k}'" for k in kinds) + ")"


def mart_counts(
    analytics: duckdb.DuckDBPyConnection, window: Window, schema: str = "marts"
) -> dict[int, int]:
    """Per list, the number of rows the marts say it should have."""
    start, end = f"date '{window.start}'", f"date '{window.end}'"
    ev = f"{schema}.fct_child_events"

    def in_window(kinds: tuple[str, ...], what: str = "count(distinct source_id)") -> str:
        return f"select {what} from {ev} where {_events(kinds)} and event_date between {start} and {end}"

    def open_in_window(
        started: str, ended: tuple[str, ...], what: str = "count(distinct s.source_id)"
    ) -> str:
        return f"""select {what} from {ev} s where s.event_type = '{started}' and s.event_date <= {end}
                   and not exists (select 1 from {ev} f where f.source_id = s.source_id and f.person_key = s.person_key
                                   and {_events(ended)} and f.event_date < {start})"""

    sql = {
        1: in_window(("contact",)),
        2: in_window(("early help assessment started",)),
        3: in_window(("referral",)),
        4: in_window(("assessment started", "assessment completed")),
        5: in_window(("section 47 enquiry started",)),
        6: open_in_window("referral", ("children in need episode closed",)),
        7: open_in_window("child protection plan started", ("child protection plan ended",)),
        8: open_in_window("care episode started", ("care episode ceased",), "count(distinct s.person_key)"),
        9: in_window(("care leaver contact",), "count(distinct person_key)"),
        10: open_in_window(
            "decision to place for adoption", ("permanence order", "adoption decision reversed")
        ),
    }
    counts = {number: int(analytics.execute(query).fetchall()[0][0]) for number, query in sql.items()}
    counts[11] = 0  # the SSD holds no adopter records: list 11 is empty on both sides
    return counts


def reconcile(lists: dict[int, pd.DataFrame], marts: dict[int, int]) -> pd.DataFrame:
    """One row per list: rows in the workbook, rows the marts expect, and whether they agree."""
    frame = pd.DataFrame(
        {
            "list": list(marts),
            "annex_a_rows": [len(lists[n]) for n in marts],
            "marts_rows": list(marts.values()),
        }
    )
    frame["agrees"] = frame.annex_a_rows.eq(frame.marts_rows)
    return frame
