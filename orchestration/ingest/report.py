"""Error reports for partners: one per delivery with problems, as CSV and as an Excel workbook that a
data officer can open, filter and fix from. Values of identifiers are masked; rows are numbered as the
officer finds them (the line of a text file, the row of a worksheet)."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb

from orchestration.cells import safe_row, string_cell

# A workbook is for reading and filtering by a person; past this many problems the Summary sheet's counts by
# kind are what to act on, and the CSV beside it has every one.
MAX_WORKBOOK_ROWS = 10_000

COLUMNS = [
    "File",
    "Sheet",
    "Row",
    "Column",
    "Problem",
    "Value (masked if an identifier)",
    "What happened",
    "Rule",
]


def write_error_report(
    con: duckdb.DuckDBPyConnection, delivery_id: str, folder: Path
) -> tuple[Path, Path] | None:
    """Write ``<file>-<delivery>-errors.csv`` and ``.xlsx`` under ``folder``; None when there is nothing
    to report."""
    summary = con.execute(
        """select file_name, dataset, period, status, rows_in_file, rows_loaded, rows_quarantined, rows_duplicate,
                  received_at::varchar, coalesce(status_detail, ''), coalesce(recognition_notes, '')
           from ingest.deliveries where delivery_id = ?""",
        [delivery_id],
    ).fetchall()
    if not summary:
        return None
    (file_name, dataset, period, status, rows, loaded, quarantined, duplicates, received, detail, notes) = (
        summary[0]
    )
    kinds = con.execute(
        """select coalesce(column_name, '(whole row)'), message,
                  case when severity = 'error' then 'Row not loaded' else 'Row loaded; please check' end,
                  count(*), min(line_number)
           from ingest.quarantine where delivery_id = ?
           group by all order by count(*) desc, min(line_number)""",
        [delivery_id],
    ).fetchall()
    issues = con.execute(
        """select file_name, coalesce(sheet, ''), line_number, coalesce(column_name, ''), message, coalesce(value, ''),
                  case when severity = 'error' then 'Row not loaded' else 'Row loaded; please check' end, rule
           from ingest.quarantine where delivery_id = ?
           order by sheet nulls first, line_number nulls first, column_name""",
        [delivery_id],
    ).fetchall()
    if not issues and status == "loaded" and not duplicates:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{Path(file_name).stem}-{delivery_id}-errors"
    csv_path, xlsx_path = folder / f"{stem}.csv", folder / f"{stem}.xlsx"
    with csv_path.open("w", newline="", encoding="utf-8-sig") as fh:  # the BOM makes Excel read UTF-8
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        writer.writerows(safe_row(row) for row in issues)  # a partner's value is never a live formula

    import openpyxl
    from openpyxl.styles import Font

    book = openpyxl.Workbook(write_only=True)
    about = book.create_sheet("Summary")
    bold = Font(bold=True)
    facts = [
        ("File", file_name),
        ("Dataset", dataset),
        ("Period", period),
        ("Received", received),
        ("Status", status),
        ("Rows in the file", rows),
        ("Rows loaded", loaded),
        ("Rows not loaded (see Problems)", quarantined),
        ("Rows that repeat an earlier row exactly (counted once)", duplicates),
        ("Notes", "; ".join(x for x in (detail, notes) if x)),
    ]
    if len(issues) > MAX_WORKBOOK_ROWS:
        facts.append(
            (
                "Problems sheet",
                f"the first {MAX_WORKBOOK_ROWS:,} of {len(issues):,} problems; every one is in {csv_path.name}",
            )
        )
    for label, value in facts:
        about.append([_bold(about, label, bold), string_cell(about, value)])
    about.append([])
    about.append([_bold(about, h, bold) for h in ("Column", "Problem", "What happened", "Rows", "First row")])
    for kind in kinds:
        about.append([string_cell(about, v) for v in kind])
    sheet = book.create_sheet("Problems")
    sheet.append([_bold(sheet, c, bold) for c in COLUMNS])
    for row in issues[:MAX_WORKBOOK_ROWS]:
        sheet.append([string_cell(sheet, v) for v in row])
    book.save(xlsx_path)
    return csv_path, xlsx_path


def _bold(sheet, text: str, font):
    cell = string_cell(sheet, text)
    cell.font = font
    return cell
