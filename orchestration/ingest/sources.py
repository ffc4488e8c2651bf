"""Reading a delivered file into DuckDB as text, table by table, with each row's place in the file.

Three readers, one result: for every table of the contract, a temporary DuckDB table of text columns
(named by the contract where a header matched, ``_extra_<n>_<header>`` where it did not) with ``_row``
(1, 2, ...), ``_line`` (the line in a text file or the row in a worksheet, as a person finds it) and
``_sheet``. Typing and validation happen afterwards, in SQL, the same way for every format.

- CSV: DuckDB's own reader with every column as text and no type sniffing; rows it cannot read are
  reported with their line. Lines come from a vectorised scan of record starts.
- XLSX: openpyxl; a sheet per table, found by a pattern on its name, its header row found among the
  first rows. Cells are written back as the text a person sees (dates as ISO dates).
- XML: lxml; rows are elements found by a path, values by paths relative to them, checked against the
  XSD of the collection year when the contract names one.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from orchestration.ingest.contracts import Contract, Table, normalise_header
from orchestration.ingest.limits import Deadline, Limits
from orchestration.ingest.textfile import (
    BOM,
    UTF16_BOMS,
    decode,
    header_fields,
    line_count_if_simple,
    record_spans,
    scan_plain_utf8,
)

XLSX_MAGIC = b"PK\x03\x04"
HEADER_SEARCH_ROWS = 12
HEAD_BYTES = 1 << 20  # enough of a text file to hold its header


# the longest record the CSV reader takes (WHOLECHILD_MAX_RECORD_BYTES, by default DuckDB's own 2 MiB): a
# longer one is quarantined with its line. DuckDB reports one a little longer than this as rejected, but
# skips one longer than its read buffer (16 times this) without a word, so the records are also counted
# from the bytes and the two must agree.
def max_record_bytes() -> int:
    return Limits.from_env().record_bytes


MAX_LINES_NAMED = 10  # of rows a reader lost, in the message that fails the delivery
ISSUE_COLUMNS = ["_row", "column_name", "rule", "severity", "value", "message"]


@dataclass
class Staged:
    """One table of a delivery, as text in DuckDB: ``temp`` is something to select from, with columns
    ``_row``, ``_line``, ``_sheet`` and one text column per heading (a temporary table, or for a CSV, the
    reader itself, run once by the first pass of the load)."""

    table: Table
    temp: str
    names: list[str]
    extras: dict[str, str]
    rows: int
    sheet: str | None = None
    malformed: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["line", "rule", "message"]))
    cell_issues: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ISSUE_COLUMNS))
    missing_required: list[str] = field(default_factory=list)
    absent: bool = False  # the file has no such table at all (a workbook without that list)
    filled: list[str] = field(default_factory=list)  # columns the file lacks, filled by the loader
    # the rows the file holds, counted from its bytes apart from the reader (None: the reader's count is
    # the file's own, as for a workbook's sheet or an XML document's elements)
    records: int | None = None


@dataclass
class Read:
    staged: list[Staged]
    notes: list[str] = field(default_factory=list)


class FileProblem(Exception):
    """The file cannot be read as its contract says, as a whole; the message is for the partner."""

    def __init__(self, message: str, rule: str, rows: int = 0) -> None:
        super().__init__(message)
        self.rule = rule
        self.rows = rows


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def sniff_format(path: Path) -> str:
    with path.open("rb") as fh:
        head = fh.read(512)
    if head.startswith(XLSX_MAGIC):
        return "xlsx"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"<"):
        return "xml"
    return "csv"


def _names_for(table: Table, headers: list[str]) -> tuple[list[str], dict[str, str]]:
    matched = table.match_headers(headers)
    names, extras = [], {}
    for i, h in enumerate(headers):
        if i in matched:
            names.append(matched[i])
        else:
            name = f"_extra_{i}_{normalise_header(h or '') or 'blank'}"
            names.append(name)
            extras[name] = str(h or "")
    return names, extras


def _register(con: duckdb.DuckDBPyConnection, temp: str, frame: pd.DataFrame) -> None:
    con.register("_frame_in", frame)
    con.execute(f"create or replace temp table {temp} as select * from _frame_in")
    con.unregister("_frame_in")


# --- CSV ------------------------------------------------------------------------------------------


def _mixed_line_endings(data: bytes) -> bool:
    """Some lines end CRLF and others LF alone (a header saved on Windows above a body written elsewhere):
    DuckDB's reader takes one kind per file."""
    crlf = data.count(b"\r\n")
    return 0 < crlf < data.count(b"\n")


def _stage_text(con: duckdb.DuckDBPyConnection, temp: str, source: Path, names: list[str]) -> None:
    """DuckDB's reader, every column as text, no sniffing; rows it cannot read go to reject_errors."""
    columns = ", ".join(f"{_lit(n)}: 'VARCHAR'" for n in names)
    con.execute("drop table if exists reject_errors; drop table if exists reject_scans")
    con.execute(
        f"""create or replace temp table {temp}_text as select * from read_csv({_lit(str(source))},
            header = true, delim = ',', quote = '"', escape = '"', store_rejects = true, auto_detect = false,
            max_line_size = {max_record_bytes()}, columns = {{{columns}}})"""
    )


def read_csv(con: duckdb.DuckDBPyConnection, table: Table, path: Path, file_name: str, scratch: Path) -> Read:
    """Read a CSV into a temporary table, every column as text, no type sniffing. DuckDB reads it in
    parallel, keeping file order (so a row's rowid is its place); each row's line comes from a scan of
    where records start, less the lines the reader rejected.

    The usual delivery is UTF-8 as it stands: DuckDB reads it while a thread counts its lines in blocks
    (neither holds the file whole). Any other (a byte-order mark, UTF-16, Windows-1252) is read whole,
    decoded, and DuckDB reads the UTF-8 copy."""
    with path.open("rb") as fh:
        start = fh.read(HEAD_BYTES)
    if b"\x00" in start[:4096] and not start.startswith(UTF16_BOMS):
        raise FileProblem(f"{file_name}: this is not a text file (it contains binary data)", "not_text")
    tag = re.sub(r"\W", "_", table.name or "table")
    temp = f"_src_{tag}"
    text: bytes | None = None
    plain = failure = None
    if start.strip() and not start.startswith((BOM, *UTF16_BOMS)):
        names, extras = _names_for(table, header_fields(start))
        with ThreadPoolExecutor(1) as pool:
            scan = pool.submit(scan_plain_utf8, path)
            try:
                _stage_text(con, temp, path, names)
            except duckdb.Error as exc:  # raised below unless the file is not plain UTF-8 or has no rows
                failure = exc
            plain = scan.result()
        if failure is not None and plain is not None and _mixed_line_endings(path.read_bytes()):
            plain = failure = None  # DuckDB's reader takes one kind of line ending: read a copy, below
    mixed = False
    if plain is None:  # not UTF-8 as it stands (or mixed line endings): decode the whole file, and read that
        raw = path.read_bytes()
        if not raw.strip():
            raise FileProblem(f"{file_name}: the file is empty", "empty_file")
        decoded = decode(raw)
        del raw
        text, encoding = decoded.text_bytes, decoded.encoding
        mixed = _mixed_line_endings(text)
        if mixed:
            text = text.replace(b"\r\n", b"\n")
        simple = line_count_if_simple(text)
        spans = record_spans(text) if simple is None else None
        names, extras = _names_for(table, header_fields(text))
        source = path
        if decoded.transcoded or mixed:
            source = Path(tempfile.mkstemp(prefix="utf8-", suffix=".csv", dir=scratch)[1])
            source.write_bytes(text)
        try:
            if (len(spans[0]) - 1 if spans is not None else simple - 1) > 0:
                _stage_text(con, temp, source, names)
        finally:
            if source != path:
                source.unlink(missing_ok=True)
    else:
        encoding, simple = "utf-8", plain.lines
        spans = record_spans(path.read_bytes()) if simple is None else None
    notes = [] if encoding == "utf-8" else [f"read as {encoding}"]
    if mixed:
        notes.append(
            "lines end partly in CRLF (Windows) and partly in LF: read with every CRLF as LF, in values too"
        )
    missing = [c for c in table.required if c not in names]

    def whole_text() -> bytes:
        return text if text is not None else path.read_bytes()

    # the records the file holds, counted from its bytes alone (not from what the reader returned): the
    # lines, when that count proves to be the records, else a scan for where records start
    records = len(spans[0]) - 1 if spans is not None else simple - 1
    Limits.from_env().check_rows(records, file_name)
    if records <= 0:
        empty = "".join(f", null::varchar as {_q(n)}" for n in names)
        con.execute(
            f"create or replace temp table {temp} as"
            f" select null::bigint as _row, null::bigint as _line, null::varchar as _sheet{empty} where false"
        )
        return Read([Staged(table, temp, names, extras, 0, missing_required=missing, records=0)], notes)
    if failure is not None:
        raise failure
    rows = con.execute(f"select count(*) from {temp}_text").fetchall()[0][0]
    rejected = con.execute(
        """select line, any_value(error_type order by column_idx) as error_type,
                  any_value(error_message order by column_idx) as error_message
           from reject_errors group by line order by line"""
    ).df()
    if spans is None and (len(rejected) or rows != records):
        # a blank line, a quoted newline or a rejected line: scan for records
        spans = record_spans(whole_text())
    malformed = pd.DataFrame(
        {
            "line": rejected["line"].astype(int),
            "rule": "malformed:" + rejected["error_type"].astype(str),
            "message": [
                f"line {int(r.line)} could not be read as CSV: {r.error_message}"
                + (
                    " (the limit is WHOLECHILD_MAX_RECORD_BYTES)"
                    if "line size" in str(r.error_message).lower()
                    else ""
                )
                for r in rejected.itertuples()
            ],
        }
    )
    kept = None  # one line per record, after a one-line header
    if spans is not None:
        data_lines, lengths = spans[0][1:], spans[1][1:]
        records = len(data_lines)
        unread = np.isin(data_lines, rejected["line"].to_numpy(dtype=np.int64))
        if int((~unread).sum()) != rows:
            # the reader skipped records without a word: one too long for it is quarantined with its line
            skipped = ~unread & (lengths > max_record_bytes())
            if skipped.any():
                malformed = pd.concat(
                    [malformed, _oversized(whole_text(), spans, np.flatnonzero(skipped) + 1, names)],
                    ignore_index=True,
                ).sort_values("line", kind="stable", ignore_index=True)
                unread |= skipped
        kept = data_lines[~unread]
        if len(kept) != rows:
            raise FileProblem(
                _unaccounted(con, temp, file_name, whole_text(), data_lines, ~unread, rows),
                "records_unaccounted",
                records,
            )
        if np.array_equal(kept, np.arange(2, rows + 2)):
            kept = None
    if kept is None:
        line, join = "t.rowid + 2", ""
    else:
        _register(con, f"_lines_{tag}", pd.DataFrame({"_row": np.arange(1, rows + 1), "_line": kept}))
        line, join = "l._line", f" join _lines_{tag} l on l._row = t.rowid + 1"
    staged = Staged(
        table,
        f"(select t.rowid + 1 as _row, {line} as _line, null::varchar as _sheet, t.* from {temp}_text t{join})",
        names,
        extras,
        rows,
        missing_required=missing,
        records=records,
    )
    staged.malformed = malformed
    return Read([staged], notes)


@contextlib.contextmanager
def _any_field_size():
    """The csv module reading fields of any length, for the few records parsed on a failure path."""
    limit = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)
    try:
        yield
    finally:
        csv.field_size_limit(limit)


def _oversized(
    data: bytes, spans: tuple[np.ndarray, np.ndarray], which: np.ndarray, names: list[str]
) -> pd.DataFrame:
    """A quarantine entry for each record (by its index in spans) too long for the reader, naming the
    column whose value makes it so. Only these few records are parsed here."""
    newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n"))
    out = []
    with _any_field_size():
        for index in which:
            line, length = int(spans[0][index]), int(spans[1][index])
            offset = 0 if line == 1 else int(newlines[line - 2]) + 1
            record = data[offset : offset + length].decode("utf-8", errors="replace")
            fields = next(csv.reader(io.StringIO(record)), None) or [record]
            widest = int(np.argmax([len(f) for f in fields]))
            column = names[widest] if widest < len(names) else f"column {widest + 1}"
            out.append(
                {
                    "line": line,
                    "rule": "malformed:oversized_record",
                    "message": f"line {line} is {length:,} bytes long, more than the {max_record_bytes():,} a"
                    f" row may be (WHOLECHILD_MAX_RECORD_BYTES): its {column!r} holds"
                    f" {len(fields[widest].encode('utf-8')):,} bytes",
                }
            )
    return pd.DataFrame(out, columns=["line", "rule", "message"])


def _unaccounted(
    con: duckdb.DuckDBPyConnection,
    temp: str,
    file_name: str,
    data: bytes,
    data_lines: np.ndarray,
    expected: np.ndarray,
    rows: int,
) -> str:
    """Why a delivery fails when the reader's rows and the records counted from the bytes disagree,
    naming the lines of the rows it did not return (up to ten): the first field of each record the reader
    should have returned, as the csv module splits the file, against the first column it did return,
    taking out one record at each place they part (run only on this failure)."""
    with _any_field_size():
        parsed = csv.reader(io.StringIO(data.decode("utf-8", errors="replace")))
        firsts = [r[0] for r in parsed if r][1:]
    where = ""
    if len(firsts) == len(data_lines):
        want = np.array(firsts, dtype=object)[expected]
        lines = data_lines[expected]
        got = np.array(
            [r[0] for r in con.execute(f"select * from {temp}_text order by rowid").fetchall()], dtype=object
        )
        missing: list[int] = []
        while len(want) > len(got) and len(missing) < MAX_LINES_NAMED:
            n = len(got)
            differ = np.flatnonzero(got != want[:n])
            first = int(differ[0]) if differ.size else n
            missing.append(int(lines[first]))
            want, lines = np.delete(want, first), np.delete(lines, first)
        if missing:
            more = " and more" if len(want) > len(got) else ""
            where = f"; the rows it did not return are on line{'s' if len(missing) > 1 else ''} " + (
                ", ".join(map(str, missing)) + more
            )
    return (
        f"{file_name}: the file holds {len(data_lines):,} rows, but the CSV reader returned {rows:,} and"
        f" rejected {len(data_lines) - int(expected.sum()):,}, so not every row can be accounted for{where}."
        " Nothing was loaded"
    )


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value).replace("\xa0", " ")
    return text if text.strip() else None


def _header_row(rows: list[tuple], table: Table) -> int | None:
    """Index of the row that heads the table: the one among the first rows matching most columns."""
    best, best_score = None, 0
    for i, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        headers = [str(c) if c is not None else None for c in row]
        score = len(table.match_headers(headers))
        if score > best_score:
            best, best_score = i, score
    needed = max(1, min(len(table.required) or 1, len(table.columns) // 2))
    return best if best_score >= needed else None


def read_xlsx(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    path: Path,
    file_name: str,
    deadline: Deadline | None = None,
) -> Read:
    import openpyxl

    limits = Limits.from_env()
    limits.check_workbook(path, file_name)  # before any part of it is unpacked
    try:
        values = openpyxl.load_workbook(path, read_only=True, data_only=True)
        formulas = openpyxl.load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:
        raise FileProblem(
            f"{file_name}: cannot be opened as an Excel workbook ({exc})", "not_a_workbook"
        ) from exc
    notes = []
    out = []
    taken: set[str] = set()
    for index, table in enumerate(contract.tables):
        temp = f"_src_{table.name or 'table'}_{index}"
        sheet = None
        for ws in values.worksheets:
            pattern = table.sheet or ".*"
            if ws.title not in taken and re.search(pattern, ws.title.strip(), flags=re.IGNORECASE):
                sheet = ws
                break
        if sheet is None:
            names = table.column_names
            _register(
                con,
                temp,
                pd.DataFrame(
                    {
                        "_row": pd.Series(dtype="int64"),
                        "_line": pd.Series(dtype="int64"),
                        "_sheet": pd.Series(dtype=str),
                        **{n: pd.Series(dtype=str) for n in names},
                    }
                ),
            )
            out.append(Staged(table, temp, names, {}, 0, absent=True))
            notes.append(f"no sheet for {table.description or table.name}")
            continue
        taken.add(sheet.title)
        rows = list(limits.capped(sheet.iter_rows(values_only=True), file_name, deadline))
        raw_rows = list(limits.capped(formulas[sheet.title].iter_rows(values_only=True), file_name, deadline))
        header_at = _header_row(rows, table)
        if header_at is None:
            names = table.column_names
            _register(
                con,
                temp,
                pd.DataFrame(
                    {
                        "_row": pd.Series(dtype="int64"),
                        "_line": pd.Series(dtype="int64"),
                        "_sheet": pd.Series(dtype=str),
                        **{n: pd.Series(dtype=str) for n in names},
                    }
                ),
            )
            out.append(
                Staged(
                    table,
                    temp,
                    names,
                    {},
                    0,
                    sheet=sheet.title,
                    missing_required=table.required or [table.columns[0].name],
                )
            )
            notes.append(f"sheet '{sheet.title}': no row of column headings found")
            continue
        header = [str(c) if c is not None else None for c in rows[header_at]]
        width = max(len(header), max((len(r) for r in rows), default=0))
        header += [None] * (width - len(header))
        while (
            header
            and header[-1] is None
            and all(len(r) < len(header) or r[len(header) - 1] is None for r in rows[header_at + 1 :])
        ):
            header.pop()
        names, extras = _names_for(table, header)
        body = [(i + 1, r) for i, r in enumerate(rows) if i > header_at and any(c is not None for c in r)]
        frame = (
            pd.DataFrame(
                [[_cell_text(c) for c in (list(r) + [None] * len(names))[: len(names)]] for _, r in body],
                columns=names,
                dtype=object,
            )
            if body
            else pd.DataFrame({n: pd.Series(dtype=object) for n in names})
        )
        frame.insert(0, "_sheet", sheet.title)
        frame.insert(0, "_line", np.array([i for i, _ in body], dtype=np.int64))
        frame.insert(0, "_row", np.arange(1, len(body) + 1))
        issues = []
        for row_no, (excel_row, _) in enumerate(body, start=1):
            formula_row = raw_rows[excel_row - 1] if excel_row - 1 < len(raw_rows) else ()
            for col_idx, name in enumerate(names):
                cell = formula_row[col_idx] if col_idx < len(formula_row) else None
                if (
                    isinstance(cell, str)
                    and cell.startswith("=")
                    and frame.iat[row_no - 1, col_idx + 3] is None
                ):
                    issues.append(
                        (
                            row_no,
                            name,
                            "formula_without_value",
                            "warning",
                            cell,
                            f"{name} holds a formula ({cell}) with no saved value; open and save the workbook "
                            "in Excel so the value is stored",
                        )
                    )
        _register(con, temp, frame.astype(dict.fromkeys(names, "object")))
        out.append(
            Staged(
                table,
                temp,
                names,
                extras,
                len(frame),
                sheet=sheet.title,
                cell_issues=pd.DataFrame(issues, columns=ISSUE_COLUMNS),
                missing_required=[c for c in table.required if c not in names],
            )
        )
    return Read(out, notes)


# --- XML ------------------------------------------------------------------------------------------


def safe_xml_parser():
    """An lxml parser that never reads anything but the document: no entities resolved, no DTD loaded,
    nothing fetched from the network."""
    from lxml import etree

    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=True
    )


def xml_doctype_problem(file_name: str, doctype: str | None) -> str:
    return (
        f"{file_name}: the document declares a document type ({doctype or '<!DOCTYPE>'}): a DTD can define"
        " entities that read other files, so none is accepted. Send the document without its <!DOCTYPE>"
        " line, as the DfE's schema expects"
    )


def read_xml(
    con: duckdb.DuckDBPyConnection, contract: Contract, path: Path, file_name: str, xsd: Path | None
) -> Read:
    from lxml import etree

    try:
        tree = etree.parse(str(path), safe_xml_parser())
    except etree.XMLSyntaxError as exc:
        raise FileProblem(
            f"{file_name}: not well-formed XML at line {exc.lineno}: {exc.msg}", "bad_xml"
        ) from exc
    if tree.docinfo.internalDTD is not None or tree.docinfo.externalDTD is not None or tree.docinfo.doctype:
        raise FileProblem(xml_doctype_problem(file_name, tree.docinfo.doctype), "xml_doctype")
    root = tree.getroot()
    notes: list[str] = []
    errors: list[tuple[int, str]] = []
    if xsd is not None:
        schema = etree.XMLSchema(etree.parse(str(xsd)))
        if not schema.validate(tree):
            errors = [(e.line, e.message) for e in schema.error_log]
        notes.append(f"checked against {xsd.name}: {len(errors)} problem(s)")
    staged = []
    spans: list[tuple[int, int, int, int]] = []  # (first line, last line, staged index, row)
    for index, table in enumerate(contract.tables):
        temp = f"_src_{table.name}_{index}"
        elements = root.xpath(table.rows)
        Limits.from_env().check_rows(len(elements), file_name)
        data = {}
        for column in table.columns:
            finder = etree.XPath(column.path or column.name)
            data[column.name] = [_xml_value(finder(el)) for el in elements]
        frame = pd.DataFrame(data, dtype=object)
        lines = np.array([el.sourceline or 0 for el in elements], dtype=np.int64)
        ends = [max((d.sourceline or 0) for d in el.iter()) for el in elements] if errors else lines
        frame.insert(0, "_sheet", table.name)
        frame.insert(0, "_line", lines)
        frame.insert(0, "_row", np.arange(1, len(elements) + 1))
        _register(con, temp, frame)
        staged.append(Staged(table, temp, table.column_names, {}, len(frame), sheet=table.name))
        spans += [
            (int(a), int(b), index, row) for row, (a, b) in enumerate(zip(lines, ends, strict=True), start=1)
        ]
    # each schema problem belongs to the innermost row element around its line
    if errors:
        first = np.array([s[0] for s in spans])
        last = np.array([s[1] for s in spans])
        per_table: dict[int, list[tuple]] = {}
        for line, message in errors:
            around = np.flatnonzero((first <= line) & (last >= line))
            if len(around) == 0:
                notes.append(f"line {line}: {_plain_xsd(message)}")
                continue
            _, _, index, row = spans[around[np.argmin(last[around] - first[around])]]
            per_table.setdefault(index, []).append(
                (row, None, "xsd", "error", None, f"line {line}: {_plain_xsd(message)}")
            )
        for index, issues in per_table.items():
            staged[index].cell_issues = pd.DataFrame(issues, columns=ISSUE_COLUMNS)
    return Read(staged, notes)


def _xml_value(found: object) -> str | None:
    if isinstance(found, list):
        if not found:
            return None
        found = found[0]
    if isinstance(found, float):
        return str(int(found)) if found.is_integer() else str(found)
    if isinstance(found, str):
        return found.strip() or None
    text = getattr(found, "text", None)
    return text.strip() if text and text.strip() else None


def _plain_xsd(message: str) -> str:
    """lxml's schema messages without the namespace noise."""
    return re.sub(r"\{https?://[^}]*\}", "", message).replace("Element '", "'")


def read(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    path: Path,
    file_name: str,
    scratch: Path,
    xsd: Path | None = None,
    deadline: Deadline | None = None,
) -> Read:
    """Stage every table of a delivery as text; FileProblem when the file as a whole cannot be read,
    OverLimit when it costs more than the configuration allows (ingest/limits.py)."""
    kind = sniff_format(path)
    if contract.format == "xml":
        if kind != "xml":
            raise FileProblem(f"{file_name}: expected an XML document", "wrong_format")
        return read_xml(con, contract, path, file_name, xsd)
    if contract.format == "xlsx" or kind == "xlsx":
        if kind != "xlsx":
            raise FileProblem(f"{file_name}: expected an Excel workbook, got a text file", "wrong_format")
        result = read_xlsx(con, contract, path, file_name, deadline)
        if contract.format == "csv":
            result.notes.append(
                f"delivered as an Excel workbook, not CSV: read its sheet '{result.staged[0].sheet}'"
            )
        return result
    if kind == "xml":
        raise FileProblem(f"{file_name}: expected a CSV file, got an XML document", "wrong_format")
    return read_csv(con, contract.table, path, file_name, scratch)


__all__ = ["FileProblem", "Read", "Staged", "read", "sniff_format"]
