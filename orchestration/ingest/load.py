"""Load one delivery into its raw tables by its contract, set-based in DuckDB.

Every row of the file ends in exactly one place: loaded, quarantined (with every reason, the line or
worksheet row as a person finds it, the column and the offending value, masked for identifiers), or
counted as an exact duplicate of an earlier row in the same table. A later delivery for the same
dataset and period supersedes the earlier one; the whole delivery is one transaction.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orchestration.duckdb_files import first_time
from orchestration.identifiers import install_sql_macros
from orchestration.ingest.contracts import Column, Contract, ContractVersions, Table, period_end, period_year
from orchestration.ingest.limits import Deadline, Limits, OverLimit, time_limit
from orchestration.ingest.manifest import STATUS_FAILED, STATUS_LOADED, STATUS_SUPERSEDED, ensure_manifest
from orchestration.ingest.sources import FileProblem, Staged, read
from orchestration.pause_points import pause_point

META_COLUMNS = (
    "_delivery_id",
    "_period",
    "_record",
    "_source_line",
    "_sheet",
    "_extra",
    "_row_hash",
    "_issue_level",
)
_SQL_TYPES = {
    "varchar": "varchar",
    "integer": "bigint",
    "decimal": "double",
    "date": "date",
    "boolean": "boolean",
}
IDENTIFIER_CHECKS = {"nhs_number", "upn"}
# A LIMIT no query reaches, as a fence: DuckDB may not move a filter below a LIMIT, so the filter on a row's
# level reads the level worked out once, instead of working out every typed value and check a second time
# inside the filter (measured on a million-row file: a tenth of the load's time when it is clean, a sixth
# with 1% bad rows). Taking the bad rows out after the insert instead costs more: deleting rows scattered
# through a large insert is slow to commit.
NO_LIMIT = 2**63 - 1


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


# Lineage columns every raw table has before and after the contract's own columns.
_META_BEFORE = (
    ("_delivery_id", "varchar not null"),  # the delivery (ingest.deliveries) the row came in
    ("_period", "varchar"),
    ("_record", "bigint"),  # the row's place among the records of its table in the file, from 1
    ("_source_line", "bigint"),  # the line of a text file, or the worksheet row as Excel numbers it
    ("_sheet", "varchar"),
)
_META_AFTER = (
    ("_extra", "json"),  # columns the file had that its contract does not know, kept by heading
    ("_row_hash", "ubigint"),  # a hash of the row's text as received, for finding exact repeats
    ("_issue_level", "utinyint"),  # 0 clean; 1 loaded with warnings listed in ingest.quarantine
)


def ensure_raw_tables(con: duckdb.DuckDBPyConnection, *all_versions: ContractVersions) -> None:
    """A raw table per contract table with every column any version has had; new columns are added.
    Several datasets at once cost one catalogue read and one batch of statements, not one per table."""
    todo = [v for v in all_versions if first_time(con, ("raw_tables", v.dataset, len(v.versions)))]
    if not todo:
        return
    con.execute("create schema if not exists raw")
    present: dict[str, set[str]] = {}
    for table_name, column in con.execute(
        "select table_name, column_name from information_schema.columns where table_schema = 'raw'"
    ).fetchall():
        present.setdefault(table_name, set()).add(column)
    statements = []
    for versions in todo:
        latest = versions.latest
        for table in latest.tables:
            union = versions.union_table(table.name)
            name = latest.raw_table(table)
            wanted = [
                *_META_BEFORE,
                *((c.name, _SQL_TYPES[c.type]) for c in union.columns),
                *_META_AFTER,
            ]
            have = present.get(name.split(".")[1])
            if have is None:
                statements.append(
                    f"create table if not exists {name} ({', '.join(f'{_quote(n)} {t}' for n, t in wanted)})"
                )
                continue
            statements += [
                f"alter table {name} add column {_quote(column)} {sql_type.replace(' not null', '')}"
                for column, sql_type in wanted
                if column not in have
            ]
    if statements:
        con.execute(";\n".join(statements))


def ensure_raw_table(con: duckdb.DuckDBPyConnection, contract: Contract) -> None:
    ensure_raw_tables(con, ContractVersions((contract,)))


# --- typing and checks, as SQL over the staged text -------------------------------------------------


def _value(col: Column) -> str:
    """The cell as text, trimmed, with empty meaning missing."""
    c = _quote(col.name)
    # trim only the cells with a space at either end (trimming every cell costs a copy of each); LIKE
    # is quicker at this than starts_with/ends_with
    return f"case when {c} like ' %' or {c} like '% ' then nullif(trim({c}), '') else nullif({c}, '') end"


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
        f"(case when length({v}) <= 12 and not contains({v}, '/') and not contains({v}, '-')"
        f" then regexp_full_match({v}, '\\d{{1,5}}(\\.0+)?')"
        f" and try_cast(split_part({v}, '.', 1) as integer) between 1 and 73415 else false end)"
    )


def _text_name(col: Column) -> str:
    """The column of the trimmed text of a cell, in the first step of a load's query."""
    return _quote(f"{col.name}__text")


def _number_name(col: Column) -> str:
    """The column of an NHS number as a number, in the last step of a load's query."""
    return _quote(f"{col.name}__number")


def _typed(col: Column, table: Table, v: str | None = None) -> str:
    """SQL typing the cell's trimmed text ``v`` (by default, worked out from the cell)."""
    v = v or _value(col)
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
        serial = f"try_cast(split_part({v}, '.', 1) as integer)"
        excel = f"case when {_excel_serial(v)} then date '1899-12-30' + {serial} end"
        return f"coalesce(cast(try_strptime({v}, [{formats}]) as date), {excel})"
    if col.type == "boolean":
        return (
            f"case upper({v}) when 'Y' then true when 'YES' then true when 'TRUE' then true when '1' then true"
            f" when 'N' then false when 'NO' then false when 'FALSE' then false when '0' then false end"
        )
    if _is_identifier(col, table):
        # a number Excel turned into 1234.0 is still the identifier 1234
        v = f"case when {v} like '%.0%' then regexp_replace({v}, '^(\\d+)\\.0+$', '\\1') else {v} end"
    if col.check == "nhs_number":
        # 943 476 5919 and 943-476-5919 are the same number
        v = f"case when {v} like '% %' or {v} like '%-%' then regexp_replace({v}, '[\\s-]', '', 'g') else {v} end"
    if col.codes:
        return f"upper({v})"
    return v


def _masked(col: Column, v: str | None = None) -> str:
    v = v or _value(col)
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


def _checks(
    col: Column,
    table: Table,
    period: str | None = None,
    v: str | None = None,
    typed: str | None = None,
    number: str | None = None,
) -> list[tuple[str, str, str, str]]:
    """(condition on a row, rule, severity, message) for one column: over its trimmed text ``v`` and typed
    value ``typed`` where a query has them as columns, else over the staged cell."""
    v = v or _value(col)
    typed = typed or _typed(col, table, v)
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
                f"case when contains({v}, '.0') then regexp_full_match({v}, '\\d+\\.0+') else false end",
                "trailing_decimal",
                "warning",
                f"{label} had a trailing .0 (a spreadsheet treated it as a number); read without it",
            )
        )
    if col.codes:
        codes = ", ".join(_lit(c.upper()) for c in col.codes)
        out.append(
            (
                # a text column's typed value is its code in capitals
                f"{typed if col.type == 'varchar' else f'upper({v})'} not in ({codes})",
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
                f"{label} is not {col.pattern_means}"
                if col.pattern_means
                else f"{label} does not have the expected form",
            )
        )
    if col.check == "nhs_number":
        out.append(
            (
                f"{v} is not null and not wc_nhs_number_ok({typed}, {number or f'try_cast({typed} as bigint)'})",
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


def _row_checks(staged: Staged, period: str | None, layered: bool = False) -> list[tuple[str, str, str]]:
    """Every check on a row, as (condition, issue struct, severity) SQL: over the staged text, or
    (``layered``) over a query with each column's trimmed text and typed value as columns."""
    table = staged.table
    checks = []
    if staged.missing_required:
        message = f"required column(s) missing from the header: {', '.join(staged.missing_required)}"
        checks.append(
            (
                "true",
                f"{{'c': null::varchar, 'r': 'missing_required_column', 's': 'error', "
                f"'v': null::varchar, 'm': {_lit(message)}}}",
                "error",
            )
        )
    present = {c.name: c for c in _present(staged)}
    for col in present.values():
        text = _text_name(col) if layered else None
        typed = _quote(col.name) if layered else None
        number = _number_name(col) if layered and col.check == "nhs_number" else None
        rules = _checks(col, table, period, text, typed, number)
        if col.not_before in present:  # an end that comes before its start: the row contradicts itself
            other = present[col.not_before]
            earlier = _quote(other.name) if layered else _typed(other, table)
            rules.append(
                (
                    f"{typed or _typed(col, table)} < {earlier}",
                    f"before:{other.name}",
                    col.severity,
                    f"{col.name} is before {other.name}: it cannot end before it began",
                )
            )
        for condition, rule, severity, message in rules:
            checks.append(
                (
                    f"({condition})",  # a NULL is not true: CASE WHEN treats it as false
                    f"{{'c': {_lit(col.name)}, 'r': {_lit(rule)}, 's': {_lit(severity)}, "
                    f"'v': ({_masked(col, text)})::varchar, 'm': {_lit(message)}}}",
                    severity,
                )
            )
    return checks


def _present(staged: Staged) -> list[Column]:
    return [staged.table.column(n) for n in staged.names if not n.startswith("_extra_")]


def _load_table(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    s: Staged,
    tag: str,
    delivery_id: str,
    period: str,
    file_name: str,
) -> tuple[_TableCounts, list[str]]:
    """Load one staged table of a delivery, inside the delivery's transaction.

    One pass reads the source into the raw table: each value typed, rows with an error left out, each
    row's level of issue (0 none, 1 warnings) and a hash of its text kept. Only then, and only when there
    is something to find: exact repeats (compared in full where hashes repeat) taken out, and every issue
    of the rows left out or warned about (a second read of the source) recorded in the quarantine.
    Nothing is deleted that was not a repeat or (from a workbook or XML file) flagged by the reader:
    deleting scattered rows of a large insert is slow to commit.
    """
    table = s.table
    target = contract.raw_table(table)
    present = _present(s)
    checks = _row_checks(s, period, layered=True)
    errors = " or ".join(c for c, _, sev in checks if sev == "error") or "false"
    warnings = " or ".join(c for c, _, sev in checks if sev != "error") or "false"
    extra_json = (
        "to_json({" + ", ".join(f"{_lit(h)}: {_quote(e)}" for e, h in s.extras.items()) + "})"
        if s.extras
        else "null::json"
    )
    hashed = ", ".join(_quote(n) for n in s.names if n not in s.filled) or "_row"
    # each cell trimmed once, then typed once; the checks read both (so no expression is repeated)
    texts = "".join(f", {_value(c)} as {_text_name(c)}" for c in present)
    typed = "".join(f", {_typed(c, table, _text_name(c))} as {_quote(c.name)}" for c in present)
    extras = "".join(f", {_quote(e)}" for e in s.extras)
    numbers = "".join(
        f", try_cast({_quote(c.name)} as bigint) as {_number_name(c)}"
        for c in present
        if c.check == "nhs_number"
    )

    def layered_over(source: str) -> str:
        return (
            f"(select *{numbers} from (select *{typed} from (select _row, _line, _sheet{texts}{extras},"
            f" hash({hashed}) as _row_hash from {source})))"
        )

    layered = layered_over(s.temp)
    columns = [_quote(c.name) for c in present]
    this = f"_delivery_id = {_lit(delivery_id)}"
    inserted = con.execute(
        f"""insert into {target} (_delivery_id, _period, _record, _source_line, _sheet,
                {"".join(c + ", " for c in columns)}_extra, _row_hash, _issue_level)
            select * from (
                select ?, ?, _row, _line, _sheet{"".join(", " + c for c in columns)}, {extra_json}, _row_hash,
                    case when {errors} then 2 when {warnings} then 1 else 0 end as level
                from {layered}
                limit {NO_LIMIT})
            where level < 2  -- rows with an error stay out; their issues are recorded below""",
        [delivery_id, period],
    ).fetchall()[0][0]
    pause_point("load:inserted")
    rejected = s.rows - inserted  # rows with an error in some cell
    sheet = _lit(s.sheet) if s.sheet else "null"
    if len(s.cell_issues):  # what the reader found (a formula with no value, an XML schema error)
        con.register(f"_cell_issues_in_{tag}", s.cell_issues.astype({"_row": "int64"}))
        con.execute(
            f"""update {target} t set _issue_level = c.level
                from (select _row, max(case when severity = 'error' then 2 else 1 end) as level
                      from _cell_issues_in_{tag} group by _row) c
                where t.{this} and t._record = c._row and c.level > t._issue_level"""
        )
    # exact repeats of an earlier row: by hash, then in full over the typed values (hash collisions)
    full = ", ".join(["_row_hash", *columns, "_extra::varchar"])
    con.execute(
        f"""create or replace temp table _dups_{tag} as
            with repeated as (
                select _row_hash from {target} where {this} group by _row_hash having count(*) > 1)
            select _record from (
                select _record, row_number() over (partition by {full} order by _record) as n
                from {target} where {this} and _row_hash in (select _row_hash from repeated))
            where n > 1"""
    )
    warned, reader_rejected, duplicate = con.execute(
        f"""select count(*) filter (where _issue_level = 1), count(*) filter (where _issue_level = 2),
                   (select count(*) from _dups_{tag})
            from {target} where {this} and _record not in (select _record from _dups_{tag})"""
    ).fetchall()[0]
    con.execute(
        f"create or replace temp table _issues_{tag}"
        " (line bigint, c varchar, r varchar, s varchar, v varchar, m varchar)"
    )
    if rejected or warned:
        structs = ", ".join(f"case when {c} then {st} end" for c, st, _ in checks) or "null"
        # the rows with an error (the rows not loaded) and the rows loaded with a warning, not repeats: only
        # those are read again, typed and checked, to say each of their issues
        with_issues = (
            f"(select * from {s.temp} where _row not in (select _record from {target} where {this}"
            f" and (_issue_level <> 1 or _record in (select _record from _dups_{tag}))))"
        )
        con.execute(
            f"""insert into _issues_{tag}
                select _line, i.c, i.r, i.s, i.v, i.m from (
                    select _row, _line, unnest(list_filter([{structs}], lambda x: x is not null)) as i
                    from {layered_over(with_issues)})"""
        )
    if len(s.cell_issues):
        con.execute(
            f"""insert into _issues_{tag}
                select t._source_line, c.column_name, c.rule, c.severity, c.value, c.message
                from _cell_issues_in_{tag} c join {target} t on t.{this} and t._record = c._row
                where c._row not in (select _record from _dups_{tag})"""
        )
        con.unregister(f"_cell_issues_in_{tag}")
    con.execute(
        f"""insert into ingest.quarantine
            select ?, ?, ?, {sheet}, line, c, r, s, v, m from _issues_{tag} order by line, c, r""",
        [delivery_id, contract.dataset, file_name],
    )
    for row in s.malformed.itertuples(index=False):
        con.execute(
            "insert into ingest.quarantine values (?, ?, ?, ?, ?, null, ?, 'error', null, ?)",
            [delivery_id, contract.dataset, file_name, s.sheet, int(row.line), row.rule, row.message],
        )
    if reader_rejected or duplicate:
        con.execute(
            f"""delete from {target} where {this}
                and (_issue_level = 2 or _record in (select _record from _dups_{tag}))"""
        )
    loaded = con.execute(f"select count(*) from {target} where {this}").fetchall()[0][0]
    for name in (f"_dups_{tag}", f"_issues_{tag}"):
        con.execute(f"drop table if exists {name}")
    quarantined = rejected + reader_rejected + len(s.malformed)
    # the rows in the file: for a CSV, counted from its bytes apart from the reader, so a row the reader
    # lost without a word leaves the delivery not adding up (the row_accounting check) instead of unseen
    in_file = s.records if s.records is not None else s.rows + len(s.malformed)
    return _TableCounts(in_file, loaded, quarantined, duplicate), []


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
    deadline = None
    try:
        with time_limit(con, Limits.from_env().seconds, file_name) as deadline:
            result = read(con, contract, archive_path, file_name, scratch, xsd, deadline)
            staged = [s for s in result.staged if not s.absent]
            return _load_staged(
                con,
                versions,
                contract,
                staged,
                delivery_id,
                period,
                file_name,
                list(notes or []) + result.notes,
                deadline,
            )
    except FileProblem as problem:
        return _fail(con, contract, delivery_id, file_name, problem.rows, str(problem), problem.rule)
    except OverLimit as exc:
        with contextlib.suppress(duckdb.Error):
            con.execute("rollback")
        return _fail(con, contract, delivery_id, file_name, 0, str(exc), "over_limit")
    except Exception as exc:
        if deadline is not None and deadline.expired:  # DuckDB interrupted at the deadline
            with contextlib.suppress(duckdb.Error):
                con.execute("rollback")
            return _fail(con, contract, delivery_id, file_name, 0, deadline.message(), "over_limit")
        # the boundary of one file: whatever else a file does to a reader (an XSD validator's internal
        # error, a parser's), it fails that delivery with its reason, never the run, nor every later
        # ingest (as a delivery left "received" would)
        with contextlib.suppress(duckdb.Error):
            con.execute("rollback")  # a load cut short inside its transaction
        reason = f"{file_name}: could not be read ({type(exc).__name__}: {str(exc).splitlines()[0][:300]})"
        return _fail(con, contract, delivery_id, file_name, 0, reason, "unreadable")
    finally:
        # the staged text of a large file is held in memory until dropped
        for (name,) in con.execute(
            "select table_name from duckdb_tables() where temporary"
            " and (starts_with(table_name, '_src_') or starts_with(table_name, '_lines_'))"
        ).fetchall():
            con.execute(f"drop table if exists temp.{_quote(name)}")


def _load_staged(
    con: duckdb.DuckDBPyConnection,
    versions: ContractVersions,
    contract: Contract,
    staged: list[Staged],
    delivery_id: str,
    period: str,
    file_name: str,
    notes: list[str],
    deadline: Deadline | None = None,
) -> LoadOutcome:
    for s in staged:  # a row id the file does not have: each row is identified by its delivery and line
        for column in [c for c in s.table.columns if c.surrogate and c.name not in s.names]:
            s.temp = f"(select *, {_lit(delivery_id + ':')} || _line::varchar as {_quote(column.name)} from {s.temp})"
            s.names = [*s.names, column.name]
            s.filled = [*s.filled, column.name]  # not the file's: left out when finding exact duplicates
            s.missing_required = [m for m in s.missing_required if m != column.name]
            notes.append(
                f"no {column.name} column (the extract's own row id): each row is identified by its delivery and "
                "line instead"
            )
    if len(contract.tables) == 1 and staged and staged[0].missing_required:
        missing = ", ".join(staged[0].missing_required)
        first = staged[0]
        rows = first.records if first.records is not None else first.rows + len(first.malformed)
        return _fail(
            con,
            contract,
            delivery_id,
            file_name,
            rows,
            f"{file_name}: required column(s) missing from the header: {missing}",
            "missing_required_column",
        )
    extras = sorted({h for s in staged for h in s.extras.values()})
    if extras:
        notes.append(f"unknown extra columns kept: {', '.join(extras)}")
    now = datetime.now(UTC).replace(tzinfo=None)

    con.execute("begin transaction")
    try:
        _supersede(con, versions, contract.dataset, period, delivery_id)
        totals = _TableCounts(0, 0, 0, 0)
        for index, s in enumerate(staged):
            if deadline is not None:
                deadline.check()
            counts, table_notes = _load_table(con, contract, s, str(index), delivery_id, period, file_name)
            notes += table_notes
            totals = _TableCounts(
                *(a + b for a, b in zip(vars(totals).values(), vars(counts).values(), strict=True))
            )
        if totals.parsed == 0:
            notes.append("the file has a header but no rows")
        detail = "; ".join(dict.fromkeys(notes)) or None
        con.execute(
            """update ingest.deliveries set status = ?, status_detail = ?, rows_in_file = ?, rows_loaded = ?,
                   rows_quarantined = ?, rows_duplicate = ?, loaded_at = ? where delivery_id = ?""",
            [
                STATUS_LOADED,
                detail,
                totals.parsed,
                totals.loaded,
                totals.quarantined,
                totals.duplicate,
                now,
                delivery_id,
            ],
        )
        if deadline is not None:
            deadline.check()  # the interrupt can miss work done between DuckDB's statements
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return LoadOutcome(
        delivery_id, STATUS_LOADED, totals.parsed, totals.loaded, totals.quarantined, totals.duplicate, detail
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
