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


def report_html(agreement: pd.DataFrame, inspection: str, window: str) -> bytes:
    """validation.html for Annex A: the verdict, then each list with its rows in the return and in the
    marts (a list that disagrees blocks: the workbook would tell inspectors something the marts do not)."""
    import html

    from orchestration.ingest.contracts import load_contracts
    from orchestration.returns.validation import STYLE

    titles = {int(t.name.split("_")[1]): t.description for t in load_contracts()["annex_a"].tables}
    disagreeing = agreement[~agreement.agrees.astype(bool)]
    ready = disagreeing.empty
    verdict = (
        "Ready to submit: every list has as many rows as the marts count for the same window."
        if ready
        else f"Not ready to submit: {len(disagreeing)} list(s) disagree with the marts "
        f"({', '.join(titles.get(int(n), f'List {n}') for n in disagreeing.list)}): see reconciliation.csv."
    )
    rows = "".join(
        f"<tr class='{'' if r.agrees else 'error'}'><td>{html.escape(titles.get(int(r.list), f'List {r.list}'))}</td>"
        f"<td class='n'>{r.annex_a_rows}</td><td class='n'>{r.marts_rows}</td>"
        f"<td>{'yes' if r.agrees else 'NO'}</td></tr>"
        for r in agreement.itertuples(index=False)
    )
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Annex A {html.escape(inspection)}: validation</title><style>{STYLE}</style></head><body>"
        f"<h1>Annex A for an inspection on {html.escape(inspection)}: validation</h1>"
        f"<p class='verdict {'ready' if ready else 'notready'}'><strong>{html.escape(verdict)}</strong></p>"
        f"<p>The window: {html.escape(window)}.</p>"
        "<table><tr><th>List</th><th>Rows in the workbook</th><th>Rows in the marts</th><th>Agree</th></tr>"
        f"{rows}</table>"
        "<p>Each list is built from the SSD extract in the vault, and its rows are counted again from the "
        "pseudonymised marts for the same window; the two must agree for the workbook to be ready for "
        "inspectors.</p></body></html>"
    )
    return page.encode("utf-8")
