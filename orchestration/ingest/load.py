"""Load one delivery into its raw table by its contract, set-based in DuckDB.

Every row of the file ends in exactly one place: loaded, quarantined (with every reason, the line as a
person sees it in the file, the column and the offending value, masked for identifiers), or counted as
an exact duplicate of an earlier row in the same file. A later delivery for the same dataset and period
supersedes the earlier one in the same transaction.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.identifiers import install_sql_macros
from orchestration.ingest.contracts import Column, Contract, normalise_header
from orchestration.ingest.manifest import STATUS_FAILED, STATUS_LOADED, STATUS_SUPERSEDED, ensure_manifest
from orchestration.ingest.textfile import decode, header_fields, record_start_lines

META_COLUMNS = ("_delivery_id", "_period", "_source_line")


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


def _sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def raw_table(contract: Contract) -> str:
    return f"raw.{contract.dataset}"


_SQL_TYPES = {
    "varchar": "varchar",
    "integer": "bigint",
    "decimal": "double",
    "date": "date",
    "boolean": "boolean",
}


def ensure_raw_table(con: duckdb.DuckDBPyConnection, contract: Contract) -> None:
    columns = ", ".join(f"{_quote(c.name)} {_SQL_TYPES[c.type]}" for c in contract.columns)
    con.execute(
        f"create table if not exists {raw_table(contract)} (_delivery_id varchar not null, _period varchar,"
        f" _source_line bigint not null, {columns}, _extra json)"
    )


def _value(col: Column) -> str:
    """The cell as text, trimmed, with empty meaning missing."""
    return f"nullif(trim({_quote(col.name)}), '')"


def _typed(col: Column) -> str:
    v = _value(col)
    if col.type == "integer":
        return (
            f"coalesce(try_cast({v} as bigint), case when regexp_full_match({v}, '-?\\d+\\.0+')"
            f" then try_cast(split_part({v}, '.', 1) as bigint) end)"
        )
    if col.type == "decimal":
        return f"try_cast({v} as double)"
    if col.type == "date":
        formats = ", ".join(_sql_literal(f) for f in col.formats)
        # a date cell Excel saved as its serial day number (days since 30 December 1899)
        excel = (
            f"case when {_excel_serial(v)} then date '1899-12-30' + "
            f"cast(split_part({v}, '.', 1) as integer) end"
        )
        return f"coalesce(cast(try_strptime({v}, [{formats}]) as date), {excel})"
    if col.type == "boolean":
        return (
            f"case upper({v}) when 'Y' then true when 'YES' then true when 'TRUE' then true when '1' then true"
            f" when 'N' then false when 'NO' then false when 'FALSE' then false when '0' then false end"
        )
    if col.codes:
        return f"upper({v})"
    return v


def _excel_serial(v: str) -> str:
    """Whether a cell is a plausible Excel serial date: 1900 to 2099 as a whole number."""
    return (
        f"(regexp_full_match({v}, '\\d{{1,5}}(\\.0+)?')"
        f" and cast(split_part({v}, '.', 1) as integer) between 1 and 73415)"
    )


def _masked(col: Column) -> str:
    v = _value(col)
    if col.privacy in ("direct", "person_id", "birth_date"):
        return (
            f"case when {v} is null then null when length({v}) <= 2 then repeat('*', length({v}))"
            f" else left({v}, 1) || repeat('*', length({v}) - 2) || right({v}, 1) end"
        )
    return v


def _checks(col: Column) -> list[tuple[str, str, str, str]]:
    """(condition on a row, rule, severity, message) for one column."""
    v, typed = _value(col), _typed(col)
    label = col.name
    out = []
    if col.required:
        out.append((f"{v} is null", "required", "error", f"{label} is required but empty"))
    if col.type != "varchar":
        expected = {
            "integer": "a whole number",
            "decimal": "a number",
            "boolean": "yes/no (Y/N)",
            "date": "a date (" + " or ".join(col.formats) + ")",
        }[col.type]
        out.append(
            (
                f"{v} is not null and {typed} is null",
                f"type:{col.type}",
                "error",
                f"{label} should be {expected}",
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
    if col.codes:
        codes = ", ".join(_sql_literal(c.upper()) for c in col.codes)
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
                f"{v} is not null and not regexp_full_match({v}, {_sql_literal(col.pattern)})",
                "pattern",
                col.severity,
                f"{label} does not have the expected form",
            )
        )
    if col.check == "nhs_number":
        out.append(
            (
                f"{v} is not null and not wc_is_valid_nhs_number(regexp_replace({v}, '[\\s-]', '', 'g'))",
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


def load_delivery(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    delivery_id: str,
    archive_path: Path,
    period: str,
    file_name: str,
    scratch: Path,
) -> LoadOutcome:
    """Load (or fail) one delivery inside one transaction; returns its row accounting."""
    ensure_manifest(con)
    ensure_raw_table(con, contract)
    install_sql_macros(con)
    decoded = decode(archive_path.read_bytes())
    lines = record_start_lines(decoded.text_bytes)
    headers = header_fields(decoded.text_bytes)
    data_lines = lines[1:] if len(lines) else lines
    matched = contract.match_headers(headers)
    missing = [c for c in contract.required if c not in matched.values()]
    if missing:
        return _fail(
            con,
            contract,
            delivery_id,
            file_name,
            len(data_lines),
            f"{file_name}: required column(s) missing from the header: {', '.join(missing)}",
            "missing_required_column",
        )
    if len(data_lines) == 0:
        # a table with nothing in it this time (no UASC children, say) is valid: load nothing, say so
        return _empty(con, contract, delivery_id, period, f"{file_name}: has a header but no rows")

    names = [matched.get(i, f"_extra_{i}_{normalise_header(h) or 'blank'}") for i, h in enumerate(headers)]
    extras = [n for n in names if n.startswith("_extra_")]
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        source = archive_path
        if decoded.transcoded:
            source = Path(tmp) / "utf8.csv"
            source.write_bytes(decoded.text_bytes)
        con.execute("drop table if exists reject_errors; drop table if exists reject_scans")
        con.execute(
            f"""create or replace temp table _src as
                select row_number() over () as _row, *
                from read_csv({_sql_literal(str(source))}, header = true, all_varchar = true, delim = ',',
                              quote = '"', escape = '"', store_rejects = true,
                              auto_detect = false, columns = {{{
                ", ".join(f"{_sql_literal(n)}: 'VARCHAR'" for n in names)
            }}})"""
        )
        # the reader reports one error per missing or extra cell: one per line is what a person needs
        rejected = con.execute(
            """select line, any_value(error_type order by column_idx) as error_type,
                      any_value(error_message order by column_idx) as error_message
               from reject_errors group by line order by line"""
        ).df()

    # map each parsed row to its physical line: the data records, less the ones the CSV reader rejected
    rejected_lines = set(rejected["line"].astype(int)) if len(rejected) else set()
    parsed_lines = [int(x) for x in data_lines if int(x) not in rejected_lines]
    parsed_count = con.execute("select count(*) from _src").fetchall()[0][0]
    if parsed_count != len(parsed_lines):  # cannot map rows to lines exactly: fall back to record order
        parsed_lines = list(range(2, parsed_count + 2))
    con.register("_lines_df", pd.DataFrame({"_row": range(1, parsed_count + 1), "_line": parsed_lines}))
    con.execute("create or replace temp table _lines as select * from _lines_df")
    con.unregister("_lines_df")

    all_columns = ", ".join(_quote(n) for n in names)
    con.execute(
        f"""create or replace temp table _dups as
            select _row from (select _row, row_number() over (partition by {all_columns} order by _row) as n
                              from _src) where n > 1"""
    )
    issue_selects = []
    for col_name in matched.values():
        col = contract.column(col_name)
        for condition, rule, severity, message in _checks(col):
            issue_selects.append(
                f"select _row, {_sql_literal(col.name)} as column_name, {_sql_literal(rule)} as rule, "
                f"{_sql_literal(severity)} as severity, {_masked(col)} as value, {_sql_literal(message)} as message"
                f" from _src where {condition} and _row not in (select _row from _dups)"
            )
    empty_issues = (
        "select null::bigint as _row, null::varchar as column_name, null::varchar as rule,"
        " null::varchar as severity, null::varchar as value, null::varchar as message where false"
    )
    con.execute(
        "create or replace temp table _issues as " + " union all ".join(issue_selects or [empty_issues])
    )

    select_cols = []
    for col in contract.columns:
        select_cols.append(
            f"{_typed(col)} as {_quote(col.name)}"
            if col.name in matched.values()
            else f"null::{_SQL_TYPES[col.type]} as {_quote(col.name)}"
        )
    extra_json = (
        "to_json({" + ", ".join(f"{_sql_literal(e)}: {_quote(e)}" for e in extras) + "})"
        if extras
        else "null::json"
    )
    now = datetime.now(UTC).replace(tzinfo=None)

    con.execute("begin transaction")
    try:
        superseded = con.execute(
            "select delivery_id from ingest.deliveries where dataset = ? and period = ? and status = ?"
            " and delivery_id <> ?",
            [contract.dataset, period, STATUS_LOADED, delivery_id],
        ).fetchall()
        for (old_id,) in superseded:
            con.execute(f"delete from {raw_table(contract)} where _delivery_id = ?", [old_id])
            con.execute(
                "update ingest.deliveries set status = ?, superseded_by = ? where delivery_id = ?",
                [STATUS_SUPERSEDED, delivery_id, old_id],
            )
        con.execute(f"delete from {raw_table(contract)} where _delivery_id = ?", [delivery_id])
        con.execute("delete from ingest.quarantine where delivery_id = ?", [delivery_id])
        con.execute(
            f"""insert into {raw_table(contract)}
                select ?, ?, l._line, {", ".join(select_cols)}, {extra_json}
                from _src s join _lines l using (_row)
                where s._row not in (select _row from _dups)
                  and s._row not in (select _row from _issues where severity = 'error')
                order by s._row""",
            [delivery_id, period],
        )
        con.execute(
            """insert into ingest.quarantine
               select ?, ?, ?, l._line, i.column_name, i.rule, i.severity, i.value, i.message
               from _issues i join _lines l using (_row) order by l._line, i.column_name""",
            [delivery_id, contract.dataset, file_name],
        )
        for row in rejected.itertuples(index=False):
            con.execute(
                "insert into ingest.quarantine values (?, ?, ?, ?, null, ?, 'error', null, ?)",
                [
                    delivery_id,
                    contract.dataset,
                    file_name,
                    int(row.line),
                    f"malformed:{row.error_type}",
                    f"line {int(row.line)} could not be read as CSV: {row.error_message}",
                ],
            )
        loaded, quarantined, duplicate = con.execute(
            f"""select (select count(*) from {raw_table(contract)} where _delivery_id = $1),
                       (select count(distinct _row) from _issues where severity = 'error'),
                       (select count(*) from _dups)""",
            [delivery_id],
        ).fetchall()[0]
        quarantined += len(rejected)
        rows_in_file = parsed_count + len(rejected)
        detail = (
            f"unknown extra columns kept: {', '.join(headers[int(e.split('_')[2])] for e in extras)}"
            if extras
            else None
        )
        con.execute(
            """update ingest.deliveries set status = ?, status_detail = ?, rows_in_file = ?, rows_loaded = ?,
                   rows_quarantined = ?, rows_duplicate = ?, loaded_at = ? where delivery_id = ?""",
            [STATUS_LOADED, detail, rows_in_file, loaded, quarantined, duplicate, now, delivery_id],
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return LoadOutcome(delivery_id, STATUS_LOADED, rows_in_file, loaded, quarantined, duplicate, detail)


def _empty(
    con: duckdb.DuckDBPyConnection, contract: Contract, delivery_id: str, period: str, message: str
) -> LoadOutcome:
    """A header-only delivery: it replaces the period's earlier delivery like any other, with no rows."""
    con.execute("begin transaction")
    for (old_id,) in con.execute(
        "select delivery_id from ingest.deliveries"
        " where dataset = ? and period = ? and status = ? and delivery_id <> ?",
        [contract.dataset, period, STATUS_LOADED, delivery_id],
    ).fetchall():
        con.execute(f"delete from {raw_table(contract)} where _delivery_id = ?", [old_id])
        con.execute(
            "update ingest.deliveries set status = ?, superseded_by = ? where delivery_id = ?",
            [STATUS_SUPERSEDED, delivery_id, old_id],
        )
    con.execute(
        """update ingest.deliveries set status = ?, status_detail = ?, rows_in_file = 0, rows_loaded = 0,
               rows_quarantined = 0, rows_duplicate = 0, loaded_at = ? where delivery_id = ?""",
        [STATUS_LOADED, message, datetime.now(UTC).replace(tzinfo=None), delivery_id],
    )
    con.execute("commit")
    return LoadOutcome(delivery_id, STATUS_LOADED, 0, 0, 0, 0, message)


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
        "insert into ingest.quarantine values (?, ?, ?, null, null, ?, 'error', null, ?)",
        [delivery_id, contract.dataset, file_name, rule, message],
    )
    con.execute(
        """update ingest.deliveries set status = ?, status_detail = ?, rows_in_file = ?, rows_loaded = 0,
               rows_quarantined = ?, rows_duplicate = 0, loaded_at = ? where delivery_id = ?""",
        [STATUS_FAILED, message, rows, rows, datetime.now(UTC).replace(tzinfo=None), delivery_id],
    )
    con.execute("commit")
    return LoadOutcome(delivery_id, STATUS_FAILED, rows, 0, rows, 0, message)
