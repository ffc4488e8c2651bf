"""Reading a delivered text file as a person would: its encoding, and where each record starts."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np

BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class DecodedFile:
    text_bytes: bytes  # UTF-8, without a byte-order mark
    encoding: str  # as delivered: utf-8, utf-8-sig or cp1252
    transcoded: bool


def decode(data: bytes) -> DecodedFile:
    """UTF-8 (with or without a BOM) as it is; UTF-16 (which Excel writes as "Unicode text") by its BOM;
    anything else is taken as Windows-1252, what Excel writes by default on English Windows. All become
    UTF-8 for reading."""
    if data.startswith(BOM):
        return DecodedFile(data[len(BOM) :], "utf-8-sig", True)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return DecodedFile(data.decode("utf-16", errors="replace").encode("utf-8"), "utf-16", True)
    try:
        data.decode("utf-8")
        return DecodedFile(data, "utf-8", False)
    except UnicodeDecodeError:
        return DecodedFile(data.decode("cp1252", errors="replace").encode("utf-8"), "cp1252", True)


def record_start_lines(data: bytes) -> np.ndarray:
    """Physical line number (1-based, as an editor or Excel numbers them) of every non-blank CSV record.

    A newline inside double quotes does not end a record. Works on the whole file at once.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    if buf.size == 0:
        return np.array([], dtype=np.int64)
    newline = buf == ord("\n")
    inside_quotes = (np.cumsum(buf == ord('"')) % 2) == 1
    ends = np.flatnonzero(newline & ~inside_quotes)
    starts = np.concatenate(([0], ends + 1))
    stops = np.concatenate((ends, [buf.size]))
    lines_before = np.concatenate(([0], np.cumsum(newline)))  # newlines strictly before each byte offset
    length = stops - starts
    # a record that is empty, or only a carriage return, is a blank line: CSV readers skip it
    only_cr = (length == 1) & (buf[np.minimum(starts, buf.size - 1)] == ord("\r"))
    keep = (length > 0) & ~only_cr
    return lines_before[starts[keep]] + 1


def header_fields(data: bytes) -> list[str]:
    """The first non-blank record, split as CSV."""
    text = data[: 1 << 20].decode("utf-8", errors="replace")
    for row in csv.reader(io.StringIO(text), skipinitialspace=True):
        if any(cell.strip() for cell in row):
            return [cell.strip() for cell in row]
    return []
