"""Cells a person opens in a spreadsheet: text that a spreadsheet would take for a formula is neutralised.

A partner's file may carry ``=HYPERLINK("http://x","y")``, ``+cmd|' /C calc'!A0`` or ``@SUM(1+1)`` in any
field, or in its own name; written verbatim into a feedback CSV or workbook, Excel and LibreOffice would
run it when the file is opened. As the OWASP guidance on CSV injection says
(https://owasp.org/www-community/attacks/CSV_Injection), a text value that starts with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return gets a leading single quote, so the spreadsheet shows it as text; in a
workbook every such cell is also written as a string, never a formula. A value that is a plain number
("-3", "+0.5") is no formula and is left as it is. The full-width forms of those signs, which some
spreadsheets also read as formula starts, are treated the same.

Used for every CSV and workbook Whole Child writes for a person to open: partners' error reports,
clerical review, subject access exports, validation and reconciliation reports, published tables and the
Annex A workbook. Not for the SSDA903 and CIN files themselves, which are data for the DfE's systems and
hold only codes, dates and ids.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def is_formula_like(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_START) and not _NUMBER.fullmatch(value)


def safe_text(value: Any) -> Any:
    """The value, with a leading quote if a spreadsheet would take it for a formula."""
    return "'" + value if is_formula_like(value) else value


def safe_row(row: list | tuple) -> list:
    return [safe_text(v) for v in row]


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells and column names are neutralised (numbers and dates untouched)."""
    out = frame.rename(columns={c: safe_text(c) for c in frame.columns if isinstance(c, str)})
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            values = out[column]
            mask = values.map(is_formula_like, na_action="ignore").fillna(False).astype(bool)
            if mask.any():
                out[column] = values.astype(object)
                out.loc[mask, column] = "'" + values[mask].astype(str)
    return out


def string_cell(sheet, value: Any):
    """An openpyxl write-only cell holding ``value``; text is neutralised and always stored as a string
    (openpyxl otherwise stores text starting with '=' as a formula)."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if not isinstance(value, str):
        return WriteOnlyCell(sheet, value=value)
    cell = WriteOnlyCell(sheet, value=None)
    cell.value = ILLEGAL_CHARACTERS_RE.sub("?", safe_text(value))
    cell.data_type = "s"
    return cell


__all__ = ["FORMULA_START", "is_formula_like", "safe_frame", "safe_row", "safe_text", "string_cell"]
