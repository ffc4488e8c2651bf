"""The project's own checks on an SSDA903 return, run before the DfE validator and worded for the
returns team: which child, which table and field, what is wrong and what the value was.

Each check is one SQL query over the return's tables (set-based, in DuckDB); a check returns the rows
that fail it. Code lists are those of docs/domain.md §1.3 for the collection year.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from orchestration.identifiers import install_sql_macros
from orchestration.returns.ssda903.build import LEGAL_STATUSES

ETHNIC = (
    "WBRI", "WIRI", "WOTH", "WIRT", "WROM", "MWBC", "MWBA", "MWAS", "MOTH", "AIND", "APKN", "ABAN", "AOTH",
    "BCRB", "BAFR", "BOTH", "CHNE", "OOTH", "REFU", "NOBT",
)  # fmt: skip
RNE = ("S", "L", "P", "T", "B", "U")
CIN = ("N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8")
PROVIDERS = ("PR0", "PR1", "PR2", "PR3", "PR4", "PR5")
REC = (
    "X1", "E11", "E12", "E2", "E3", "E4A", "E4B", "E13", "E41", "E45", "E46", "E47", "E48", "E5", "E6", "E7",
    "E9", "E14", "E15", "E16", "E17", "E8",
)  # fmt: skip
PLACE_CHANGE = (
    "CARPL", "CLOSE", "ALLEG", "STAND", "APPRR", "CREQB", "CREQO", "CHILD", "LAREQ", "PLACE", "CUSTOD", "OTHER",
)  # fmt: skip
_PLACE_ALWAYS = (
    "A3", "A4", "A5", "A6", "K1", "K2", "P1", "P3", "R1", "R2", "R3", "R5", "S1", "T0", "T1", "T2", "T3", "T4",
    "U1", "U2", "U3", "U4", "U5", "U6",
)  # fmt: skip


def place_codes(year: int) -> tuple[str, ...]:
    """Placement types valid in a collection year (H5, P2 and Z1 retired and K3, Z11-Z14 added in 2025/26)."""
    if year >= 2026:
        return (*_PLACE_ALWAYS, "K3", "Z11", "Z12", "Z13", "Z14")
    return (*_PLACE_ALWAYS, "H5", "P2", "Z1", *(("K3",) if year == 2025 else ()))


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _date(column: str) -> str:
    return f"try_strptime(nullif({column}, ''), '%d/%m/%Y')"


def _checks(year: int) -> list[tuple[str, str, str, str, str]]:
    """(rule, table, field, message, SQL returning CHILD, _row, value) for every check."""
    start, end = f"date '{year - 1}-04-01'", f"date '{year}-03-31'"
    school_age_from = f"date '{year - 2}-08-31'"  # DOB on or before this minus 4 years: of school age
    sex = ("M", "F", "U") if year >= 2025 else ("1", "2")
    code_list = [
        ("WC903-11", "episodes", "RNE", RNE),
        ("WC903-12", "episodes", "LS", LEGAL_STATUSES),
        ("WC903-13", "episodes", "CIN", CIN),
        ("WC903-14", "episodes", "PLACE", place_codes(year)),
    ]
    checks = [
        (
            "WC903-01", "header", "UPN",
            "UPN is neither a valid UPN (13 characters, check letter matching) nor an unknown code UN1-UN5",
            "select CHILD, _row, UPN as value from header "
            "where UPN not in ('UN1','UN2','UN3','UN4','UN5') and not coalesce(wc_is_valid_upn(UPN), false)",
        ),
        (
            "WC903-02", "header", "UPN",
            "UPN given as UN1 (not of school age) for a child of school age: find the child's UPN",
            f"select CHILD, _row, UPN || ' (born ' || DOB || ')' from header where UPN = 'UN1' "
            f"and {_date('DOB')} + interval 4 year <= {school_age_from}",
        ),
        (
            "WC903-25", "header", "UPN",
            "the same UPN is on more than one child: probably one child recorded twice (merge the records)",
            "select CHILD, _row, UPN from header where UPN not in ('UN1','UN2','UN3','UN4','UN5', '') "
            "and UPN in (select UPN from header group by UPN having count(*) > 1)",
        ),
        (
            "WC903-26", "oc2", "INTERVENTION_OFFERED",
            "no intervention received for substance misuse, and whether one was offered is not recorded "
            "(the SSD has no field for it: add clas_intervention_offered Y/N to the substance misuse extract)",
            "select CHILD, _row, INTERVENTION_RECEIVED || ' / ' || INTERVENTION_OFFERED from oc2 "
            "where SUBSTANCE_MISUSE = '1' and INTERVENTION_RECEIVED = '0' and INTERVENTION_OFFERED = ''",
        ),
        (
            "WC903-03", "header", "SEX", f"SEX must be one of {', '.join(sex)}",
            f"select CHILD, _row, SEX from header where SEX not in {_in(sex)}",
        ),
        (
            "WC903-04", "header", "ETHNIC", "ETHNIC is not one of the 20 DfE ethnicity codes",
            f"select CHILD, _row, ETHNIC from header where ETHNIC not in {_in(ETHNIC)}",
        ),
        (
            "WC903-05", "header", "DOB", "date of birth is missing, not a dd/mm/yyyy date, or after the year end",
            f"select CHILD, _row, DOB from header where {_date('DOB')} is null or {_date('DOB')} > {end}",
        ),
        (
            "WC903-06", "episodes", "DECOM", "episode starts before the child's date of birth in the header",
            f"select e.CHILD, e._row, e.DECOM || ' (born ' || h.DOB || ')' from episodes e "
            f"join header h using (CHILD) where {_date('e.DECOM')} < {_date('h.DOB')}",
        ),
        (
            "WC903-07", "episodes", "DECOM",
            "episode starts when the child is 18 or over (by the header's date of birth)",
            f"select e.CHILD, e._row, e.DECOM || ' (born ' || h.DOB || ')' from episodes e "
            f"join header h using (CHILD) where {_date('e.DECOM')} >= {_date('h.DOB')} + interval 18 year",
        ),
        (
            "WC903-08", "episodes", "DECOM", "episode start is missing or not a dd/mm/yyyy date",
            f"select CHILD, _row, DECOM from episodes where {_date('DECOM')} is null",
        ),
        (
            "WC903-09", "episodes", "DEC", "episode end is before its start, after the year end, or not a date",
            f"select CHILD, _row, DEC from episodes where DEC <> '' and ({_date('DEC')} is null "
            f"or {_date('DEC')} < {_date('DECOM')} or {_date('DEC')} > {end})",
        ),
        (
            "WC903-10", "episodes", "REC", "an ended episode needs a reason (REC), an open one must not have one",
            "select CHILD, _row, coalesce(DEC, '') || ' / ' || coalesce(REC, '') from episodes "
            "where (DEC = '') <> (REC = '')",
        ),
        *(
            (rule, table, column, f"{column} is not a valid code for {year - 1}/{str(year)[2:]}",
             f"select CHILD, _row, {column} from {table} where {column} not in {_in(codes)}")
            for rule, table, column, codes in code_list
        ),
        (
            "WC903-15", "episodes", "PLACE_PROVIDER", "placement provider is not PR0-PR5",
            f"select CHILD, _row, PLACE_PROVIDER from episodes where PLACE_PROVIDER <> '' "
            f"and PLACE_PROVIDER not in {_in(PROVIDERS)}",
        ),
        (
            "WC903-16", "episodes", "REC", "reason episode ceased is not a valid code",
            f"select CHILD, _row, REC from episodes where REC <> '' and REC not in {_in(REC)}",
        ),
        (
            "WC903-17", "episodes", "REASON_PLACE_CHANGE", "reason for placement change is not a valid code",
            f"select CHILD, _row, REASON_PLACE_CHANGE from episodes where REASON_PLACE_CHANGE <> '' "
            f"and REASON_PLACE_CHANGE not in {_in(PLACE_CHANGE)}",
        ),
        (
            "WC903-18", "episodes", "DEC",
            "broken episode chain: the episode ends with X1 (a new episode the same day) but the child's next "
            "episode does not start on that day",
            "select CHILD, _row, DEC || ' -> ' || coalesce(next_decom, '(none)') from ("
            "  select *, lead(DECOM) over (partition by CHILD order by "
            f"  {_date('DECOM')}) as next_decom from episodes) where REC = 'X1' "
            "  and (next_decom is null or next_decom <> DEC)",
        ),
        (
            "WC903-19", "episodes", "DECOM",
            "overlapping episodes: this episode starts before the child's previous episode ended",
            "select CHILD, _row, DECOM || ' < ' || previous_dec from ("
            f"  select *, lag(coalesce({_date('DEC')}, {end} + 1)) over (partition by CHILD "
            f"  order by {_date('DECOM')}) as previous_end, lag(DEC) over (partition by CHILD "
            f"  order by {_date('DECOM')}) as previous_dec from episodes) where {_date('DECOM')} < previous_end",
        ),
        (
            "WC903-20", "episodes", "RNE",
            "episode follows an X1 ending the same day but says the child started to be looked after (S)",
            "select CHILD, _row, RNE from ("
            f"  select *, lag(REC) over (partition by CHILD order by {_date('DECOM')}) as previous_rec,"
            f"  lag(DEC) over (partition by CHILD order by {_date('DECOM')}) as previous_dec from episodes) "
            "where RNE = 'S' and previous_rec = 'X1' and previous_dec = DECOM",
        ),
        (
            "WC903-21", "episodes", "CHILD", "episode for a child who is not in the header",
            "select CHILD, _row, CHILD from episodes where CHILD not in (select CHILD from header)",
        ),
        (
            "WC903-22", "sw_episodes", "SW_DEC", "social worker episode ends before it starts",
            f"select CHILD, _row, SW_DECOM || ' - ' || SW_DEC from sw_episodes "
            f"where SW_DEC <> '' and {_date('SW_DEC')} < {_date('SW_DECOM')}",
        ),
        (
            "WC903-23", "header", "DOB",
            "date of birth differs between the header and another table for the same child",
            "select h.CHILD, h._row, h.DOB || ' vs ' || o.DOB || ' in ' || o.t from header h join ("
            "  select CHILD, DOB, 'uasc' as t from uasc union all select CHILD, DOB, 'oc3' from oc3"
            "  union all select CHILD, DOB, 'oc2' from oc2) o using (CHILD) where o.DOB <> h.DOB",
        ),
        (
            "WC903-24", "episodes", "DECOM", "episode entirely outside the collection year",
            f"select CHILD, _row, DECOM || ' - ' || DEC from episodes "
            f"where {_date('DECOM')} > {end} or (DEC <> '' and {_date('DEC')} < {start})",
        ),
    ]  # fmt: skip
    # two rules that fail inside the validator on a return sent as CSV (they read the XML's names:
    # UASC_STATUS in the header, DATE_EPISODE_CEASED for DEC), so what they check is checked here; 231 is in
    # the validator's rules from 2024/25, 233 from 2025/26
    checks += [] if year < 2025 else [
        (
            "WC903-231", "uasc", "DOB",
            "unaccompanied asylum seeking child under 11 at the end of the year: check the date of birth, or"
            " explain it in a bypass request (the validator's rule 231, which fails inside it)",
            f"select CHILD, _row, DOB from uasc where {_date('DOB')} > {end} - interval 11 year",
        ),
    ]  # fmt: skip
    if year >= 2026:  # rule 233 is in the validator's rules from 2025/26
        checks.append(
            (
                "WC903-233", "episodes", "REASON_PLACE_CHANGE",
                "reason for placement change given for an episode that has not ended (the validator's rule"
                " 233, which fails inside it)",
                "select CHILD, _row, REASON_PLACE_CHANGE from episodes where DEC = '' and REASON_PLACE_CHANGE <> ''",
            )
        )  # fmt: skip
    # deprivation of liberty orders (from 2026/27): the validator's rules 709 and 710 fail inside it (they
    # read a PLACEMENT column where the episodes table has PLACE), so what they check is checked here. An
    # order still open at 31 March counts to then, as the rules' own comment proposes
    dolo_overlaps = (
        "select d.CHILD, d._row, d.DOLO_START || ' - ' || d.DOLO_END || ': ' || e.PLACE || ' from ' || e.DECOM"
        " as value, e.PLACE from dolo d join episodes e using (CHILD)"
        f" where {_date('d.DOLO_START')} <= coalesce({_date('e.DEC')}, {end})"
        f" and coalesce({_date('d.DOLO_END')}, {end}) >= {_date('e.DECOM')}"
    )
    checks += [
        (
            "WC903-702", "dolo", "DOLO_END", "deprivation of liberty order ends before it starts",
            f"select CHILD, _row, DOLO_START || ' - ' || DOLO_END from dolo "
            f"where DOLO_END <> '' and {_date('DOLO_END')} <= {_date('DOLO_START')}",
        ),
        (
            "WC903-709", "dolo", "DOLO_START",
            "child with a deprivation of liberty order placed other than in a children's home (K2) or Z12/Z13"
            " while it lasts (the validator's rule 709, which fails inside it)",
            f"select CHILD, _row, value from ({dolo_overlaps}) where PLACE not in ('K2', 'Z12', 'Z13')",
        ),
        (
            "WC903-710", "dolo", "DOLO_START",
            "child with a deprivation of liberty order in a secure children's home, with parents, in a young"
            " offender institution or supported accommodation while it lasts (the validator's rule 710, which"
            " fails inside it)",
            f"select CHILD, _row, value from ({dolo_overlaps}) where PLACE in ('K1', 'P1', 'R5', 'K3')",
        ),
    ]  # fmt: skip
    return checks


def precheck(tables: dict[str, pd.DataFrame], year: int) -> pd.DataFrame:
    """Every failing row of every check, as findings (stage "pre-check", severity "error")."""
    con = duckdb.connect()
    install_sql_macros(con)
    for name, frame in tables.items():
        con.register(f"_{name}", frame.reset_index(drop=True).rename_axis("_row").reset_index())
        con.execute(f"create temp view {name} as select * from _{name}")
    parts = []
    for rule, table, column, message, sql in _checks(year):
        if table not in tables:
            continue
        hits = con.execute(sql).df()
        hits.columns = ["child", "row", "value"]
        hits.insert(0, "field", column)
        hits.insert(0, "table", table)
        hits.insert(0, "message", message)
        hits.insert(0, "rule", rule)
        parts.append(hits)
    con.close()
    found = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    found.insert(0, "return", "ssda903")
    found.insert(1, "stage", "pre-check")
    found.insert(3, "severity", "error")
    found["explained_by"] = ""
    return found.fillna("").astype(str)
