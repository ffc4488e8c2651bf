"""Load one delivery into its raw tables by its contract, set-based in DuckDB.

Every row of the file ends in exactly one place: loaded, quarantined (with every reason, the line or
worksheet row as a person finds it, the column and the offending value, masked for identifiers), or
counted as an exact duplicate of an earlier row in the same table. A later delivery for the same
dataset and period supersedes the earlier one; the whole delivery is one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orchestration.identifiers import install_sql_macros
from orchestration.ingest.contracts import Column, Contract, ContractVersions, Table, period_end, period_year
from orchestration.ingest.manifest import STATUS_FAILED, STATUS_LOADED, STATUS_SUPERSEDED, ensure_manifest
from orchestration.ingest.sources import FileProblem, Staged, read

META_COLUMNS = ("_delivery_id", "_period", "_source_line", "_sheet")
_SQL_TYPES = {
    "varchar": "varchar",
    "integer": "bigint",
    "decimal": "double",
    "date": "date",
    "boolean": "boolean",
}
IDENTIFIER_CHECKS = {"nhs_number", "upn"}


@dataclass(frozen=True)
class LoadOutcome:
    delivery_id: str
    status: str
    rows_in_file: int
    rows_loaded: int
    rows_quarantined: int
    rows_duplicate: int
    detail: str | None = None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def raw_table(contract: Contract, table: Table | None = None) -> str:
    return contract.raw_table(table or contract.table)


def ensure_raw_tables(con: duckdb.DuckDBPyConnection, versions: ContractVersions) -> None:
    """A raw table per contract table with every column any version has had; new columns are added."""
    con.execute("create schema if not exists raw")
    latest = versions.latest
    for table in latest.tables:
        union = versions.union_table(table.name)
        name = latest.raw_table(table)
        columns = ", ".join(f"{_quote(c.name)} {_SQL_TYPES[c.type]}" for c in union.columns)
        con.execute(
            f"create table if not exists {name} (_delivery_id varchar not null, _period varchar,"
            f" _source_line bigint not null, _sheet varchar, {columns}, _extra json)"
        )
        schema, tbl = name.split(".")
        present = {
            r[0]
            for r in con.execute(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
                [schema, tbl],
            ).fetchall()
        }
        for c in union.columns:
            if c.name not in present:
                con.execute(f"alter table {name} add column {_quote(c.name)} {_SQL_TYPES[c.type]}")


def ensure_raw_table(con: duckdb.DuckDBPyConnection, contract: Contract) -> None:
    ensure_raw_tables(con, ContractVersions((contract,)))


# --- typing and checks, as SQL over the staged text -------------------------------------------------


def _value(col: Column) -> str:
    """The cell as text, trimmed, with empty meaning missing."""
    return f"nullif(trim({_quote(col.name)}), '')"


def _is_identifier(col: Column, table: Table) -> bool:
    person_id = table.person.id if table.person else None
    return (
        col.check in IDENTIFIER_CHECKS
        or col.name in table.key
        or col.name == person_id
        or col.privacy == "person_id"
    )


def _excel_serial(v: str) -> str:
    """Whether a cell is a plausible Excel serial date: 1900 to 2099 as a whole number."""
    return (
        f"(regexp_full_match({v}, '\\d{{1,5}}(\\.0+)?')"
        f" and cast(split_part({v}, '.', 1) as integer) between 1 and 73415)"
    )


def _typed(col: Column, table: Table) -> str:
    v = _value(col)
    if col.type == "integer":
        plain = f"replace({v}, ',', '')"  # 1,234 as a spreadsheet shows it
        return (
            f"coalesce(try_cast({plain} as bigint), case when regexp_full_match({plain}, '-?\\d+\\.0+')"
            f" then try_cast(split_part({plain}, '.', 1) as bigint) end)"
        )
    if col.type == "decimal":
        return f"try_cast(replace({v}, ',', '') as double)"
    if col.type == "date":
        formats = ", ".join(_lit(f) for f in col.formats)
        # a date cell Excel saved as its serial day number (days since 30 December 1899)
        excel = f"case when {_excel_serial(v)} then date '1899-12-30' + cast(split_part({v}, '.', 1) as integer) end"
        return f"coalesce(cast(try_strptime({v}, [{formats}]) as date), {excel})"
    if col.type == "boolean":
        return (
            f"case upper({v}) when 'Y' then true when 'YES' then true when 'TRUE' then true when '1' then true"
            f" when 'N' then false when 'NO' then false when 'FALSE' then false when '0' then false end"
        )
    if _is_identifier(col, table):
        # a number Excel turned into 1234.0 is still the identifier 1234
        v = f"regexp_replace({v}, '^(\\d+)\\.0+$', '\\1')"
    if col.codes:
        return f"upper({v})"
    return v


def _masked(col: Column) -> str:
    v = _value(col)
    if col.privacy in ("direct", "person_id", "birth_date"):
        return (
            f"case when {v} is null then null when length({v}) <= 2 then repeat('*', length({v}))"
            f" else left({v}, 1) || repeat('*', length({v}) - 2) || right({v}, 1) end"
        )
    return v


_FORMAT_WORDS = {
    "%d": "dd",
    "%m": "mm",
    "%Y": "yyyy",
    "%b": "Mon",
    "%H": "hh",
    "%M": "mm",
    "%S": "ss",
    "%g": "ms",
}


def _plain_format(fmt: str) -> str:
    """'%d/%m/%Y' as a person writes it: dd/mm/yyyy (times left out)."""
    date_part = fmt.split(" ")[0].split("T")[0]
    for code, word in _FORMAT_WORDS.items():
        date_part = date_part.replace(code, word)
    return date_part


def _checks(col: Column, table: Table, period: str | None = None) -> list[tuple[str, str, str, str]]:
    """(condition on a row, rule, severity, message) for one column."""
    v, typed = _value(col), _typed(col, table)
    last_day = period_end(period)
    label = col.name
    out = []
    if col.required:
        out.append((f"{v} is null", "required", "error", f"{label} is required but empty"))
    if col.type != "varchar":
        expected = {
            "integer": "a whole number",
            "decimal": "a number",
            "boolean": "yes/no (Y/N)",
            "date": "a date such as " + " or ".join(dict.fromkeys(_plain_format(f) for f in col.formats)),
        }[col.type]
        out.append(
            (
                f"{v} is not null and {typed} is null",
                f"type:{col.type}",
                "error",
                f"{label} should be {expected}",
            )
        )
    if col.type == "date" and last_day and not col.may_be_future and col.privacy != "birth_date":
        out.append(
            (
                f"{typed} > date '{last_day}'",
                "after_period",
                "warning",
                f"{label} is after the end of the period this file is for ({period}): is it the right file?",
            )
        )
    if col.type == "date":
        out.append(
            (
                f"{v} is not null and {_excel_serial(v)}",
                "excel_serial_date",
                "warning",
                f"{label} was an Excel serial day number; read as the date it stands for",
            )
        )
    if col.type == "varchar" and _is_identifier(col, table):
        out.append(
            (
                f"regexp_full_match({v}, '\\d+\\.0+')",
                "trailing_decimal",
                "warning",
                f"{label} had a trailing .0 (a spreadsheet treated it as a number); read without it",
            )
        )
    if col.codes:
        codes = ", ".join(_lit(c.upper()) for c in col.codes)
        out.append(
            (
                f"{v} is not null and upper({v}) not in ({codes})",
                "code_list",
                col.severity,
                f"{label} is not one of the allowed codes ({', '.join(col.codes)})",
            )
        )
    if col.pattern:
        out.append(
            (
                f"{v} is not null and not regexp_full_match({v}, {_lit(col.pattern)})",
                "pattern",
                col.severity,
                f"{label} does not have the expected form",
            )
        )
    if col.check == "nhs_number":
        out.append(
            (
                f"{v} is not null and not wc_is_valid_nhs_number(regexp_replace({typed}, '[\\s-]', '', 'g'))",
                "nhs_number_check_digit",
                col.severity,
                f"{label} is not a valid NHS number (10 digits with a correct modulus 11 check digit)",
            )
        )
    if col.check == "upn":
        out.append(
            (
                f"{v} is not null and not wc_is_valid_upn(upper({v}))",
                "upn_check_letter",
                col.severity,
                f"{label} is not a valid UPN (13 characters with a correct check letter)",
            )
        )
    return out


@dataclass
class _TableCounts:
    parsed: int
    loaded: int
    quarantined: int
    duplicate: int


def _stage_checks(
    con: duckdb.DuckDBPyConnection, staged: Staged, contract: Contract, tag: str, period: str | None
) -> None:
    """_dups_<tag> and _issues_<tag> for one staged table."""
    table = staged.table
    temp = staged.temp
    all_columns = ", ".join(_quote(n) for n in staged.names) or "_row"
    con.execute(
        f"""create or replace temp table _dups_{tag} as
            select _row from (select _row, row_number() over (partition by {all_columns} order by _row) as n
                              from {temp}) where n > 1"""
    )
    selects = []
    if staged.missing_required:
        message = f"required column(s) missing from the header: {', '.join(staged.missing_required)}"
        selects.append(
            f"select _row, null::varchar as column_name, 'missing_required_column' as rule, 'error' as "
            f"severity, null::varchar as value, {_lit(message)} as message from {temp}"
        )
    present = [n for n in staged.names if not n.startswith("_extra_")]
    for name in present:
        col = table.column(name)
        for condition, rule, severity, message in _checks(col, table, period):
            selects.append(
                f"select _row, {_lit(col.name)} as column_name, {_lit(rule)} as rule, {_lit(severity)} as severity,"
                f" {_masked(col)} as value, {_lit(message)} as message from {temp}"
                f" where {condition} and _row not in (select _row from _dups_{tag})"
            )
    if len(staged.cell_issues):
        con.register(f"_cell_issues_{tag}", staged.cell_issues.astype({"_row": "int64"}))
        selects.append(f"select _row, column_name, rule, severity, value, message from _cell_issues_{tag}")
    empty = (
        "select null::bigint as _row, null::varchar as column_name, null::varchar as rule,"
        " null::varchar as severity, null::varchar as value, null::varchar as message where false"
    )
    con.execute(f"create or replace temp table _issues_{tag} as " + " union all ".join(selects or [empty]))


def load_delivery(
    con: duckdb.DuckDBPyConnection,
    versions: ContractVersions | Contract,
    delivery_id: str,
    archive_path: Path,
    period: str,
    file_name: str,
    scratch: Path,
    xsd: Path | None = None,
    notes: list[str] | None = None,
) -> LoadOutcome:
    """Load (or fail) one delivery inside one transaction; returns its row accounting."""
    if isinstance(versions, Contract):
        versions = ContractVersions((versions,))
    contract = versions.for_period(period)
    ensure_manifest(con)
    ensure_raw_tables(con, versions)
    install_sql_macros(con)
    try:
        result = read(con, contract, archive_path, file_name, scratch, xsd)
    except FileProblem as problem:
        return _fail(con, contract, delivery_id, file_name, problem.rows, str(problem), problem.rule)
    staged = [s for s in result.staged if not s.absent]
    notes = list(notes or []) + result.notes
    if len(contract.tables) == 1 and staged and staged[0].missing_required:
        missing = ", ".join(staged[0].missing_required)
        return _fail(
            con,
            contract,
            delivery_id,
            file_name,
            staged[0].rows + len(staged[0].malformed),
            f"{file_name}: required column(s) missing from the header: {missing}",
            "missing_required_column",
        )
    for index, s in enumerate(staged):
        _stage_checks(con, s, contract, str(index), period)
    extras = sorted({h for s in staged for h in s.extras.values()})
    if extras:
        notes.append(f"unknown extra columns kept: {', '.join(extras)}")
    if sum(s.rows + len(s.malformed) for s in staged) == 0:
        notes.append("the file has a header but no rows")
    now = datetime.now(UTC).replace(tzinfo=None)

    con.execute("begin transaction")
    try:
        _supersede(con, versions, contract.dataset, period, delivery_id)
        totals = _TableCounts(0, 0, 0, 0)
        for index, s in enumerate(staged):
            counts = _insert_table(con, contract, s, str(index), delivery_id, period, file_name)
            totals = _TableCounts(
                *(a + b for a, b in zip(vars(totals).values(), vars(counts).values(), strict=True))
            )
        detail = "; ".join(notes) or None
        rows_in_file = totals.parsed
        con.execute(
            """update ingest.deliveries set status = ?, status_detail = ?, rows_in_file = ?, rows_loaded = ?,
                   rows_quarantined = ?, rows_duplicate = ?, loaded_at = ? where delivery_id = ?""",
            [
                STATUS_LOADED,
                detail,
                rows_in_file,
                totals.loaded,
                totals.quarantined,
                totals.duplicate,
                now,
                delivery_id,
            ],
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return LoadOutcome(
        delivery_id, STATUS_LOADED, rows_in_file, totals.loaded, totals.quarantined, totals.duplicate, detail
    )


def _supersede(
    con: duckdb.DuckDBPyConnection, versions: ContractVersions, dataset: str, period: str, delivery_id: str
) -> None:
    """Take out what an earlier delivery for the same dataset and period loaded; keep its record."""
    earlier = con.execute(
        "select delivery_id from ingest.deliveries"
        " where dataset = ? and period = ? and status = ? and delivery_id <> ?",
        [dataset, period, STATUS_LOADED, delivery_id],
    ).fetchall()
    tables = [versions.latest.raw_table(t) for t in versions.latest.tables]
    for (old_id,) in earlier:
        for name in tables:
            con.execute(f"delete from {name} where _delivery_id = ?", [old_id])
        con.execute(
            "update ingest.deliveries set status = ?, superseded_by = ? where delivery_id = ?",
            [STATUS_SUPERSEDED, delivery_id, old_id],
        )
    for name in tables:
        con.execute(f"delete from {name} where _delivery_id = ?", [delivery_id])
    con.execute("delete from ingest.quarantine where delivery_id = ?", [delivery_id])


def _insert_table(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    s: Staged,
    tag: str,
    delivery_id: str,
    period: str,
    file_name: str,
) -> _TableCounts:
    table = s.table
    target = contract.raw_table(table)
    present = [n for n in s.names if not n.startswith("_extra_")]
    select_cols = ", ".join(f"{_typed(table.column(n), table)} as {_quote(n)}" for n in present)
    extra_json = (
        "to_json({" + ", ".join(f"{_lit(h)}: {_quote(e)}" for e, h in s.extras.items()) + "})"
        if s.extras
        else "null::json"
    )
    target_columns = ", ".join(
        ["_delivery_id", "_period", "_source_line", "_sheet", *(_quote(n) for n in present), "_extra"]
    )
    con.execute(
        f"""insert into {target} ({target_columns})
            select ?, ?, _line, _sheet{", " + select_cols if select_cols else ""}, {extra_json}
            from {s.temp}
            where _row not in (select _row from _dups_{tag})
              and _row not in (select _row from _issues_{tag} where severity = 'error')
            order by _row""",
        [delivery_id, period],
    )
    con.execute(
        f"""insert into ingest.quarantine
            select ?, ?, ?, {_lit(s.sheet) if s.sheet else "null"}, t._line, i.column_name, i.rule, i.severity,
                   i.value, i.message
            from _issues_{tag} i join {s.temp} t using (_row) order by t._line, i.column_name""",
        [delivery_id, contract.dataset, file_name],
    )
    for row in s.malformed.itertuples(index=False):
        con.execute(
            "insert into ingest.quarantine values (?, ?, ?, ?, ?, null, ?, 'error', null, ?)",
            [delivery_id, contract.dataset, file_name, s.sheet, int(row.line), row.rule, row.message],
        )
    loaded = con.execute(f"select count(*) from {target} where _delivery_id = ?", [delivery_id]).fetchall()[
        0
    ][0]
    quarantined, duplicate = con.execute(
        f"""select (select count(distinct _row) from _issues_{tag} where severity = 'error'),
                   (select count(*) from _dups_{tag})"""
    ).fetchall()[0]
    quarantined += len(s.malformed)
    return _TableCounts(s.rows + len(s.malformed), loaded, quarantined, duplicate)


def _fail(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    delivery_id: str,
    file_name: str,
    rows: int,
    message: str,
    rule: str,
) -> LoadOutcome:
    """A file-level fault: nothing from the file is loaded; every row is accounted as quarantined."""
    con.execute("begin transaction")
    con.execute("delete from ingest.quarantine where delivery_id = ?", [delivery_id])
    con.execute(
        "insert into ingest.quarantine values (?, ?, ?, null, null, null, ?, 'error', null, ?)",
        [delivery_id, contract.dataset, file_name, rule, message],
    )
    con.execute(
        """update ingest.deliveries set status = ?, status_detail = ?, rows_in_file = ?, rows_loaded = 0,
               rows_quarantined = ?, rows_duplicate = 0, loaded_at = ? where delivery_id = ?""",
        [STATUS_FAILED, message, rows, rows, datetime.now(UTC).replace(tzinfo=None), delivery_id],
    )
    con.execute("commit")
    return LoadOutcome(delivery_id, STATUS_FAILED, rows, 0, rows, 0, message)


__all__ = [
    "META_COLUMNS",
    "LoadOutcome",
    "ensure_raw_table",
    "ensure_raw_tables",
    "load_delivery",
    "period_year",
    "raw_table",
]
