"""Reading a delivered text file as a person would: its encoding, and where each record starts."""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # little- and big-endian, as Excel's "Unicode text"


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
    if data.startswith(UTF16_BOMS):
        return DecodedFile(data.decode("utf-16", errors="replace").encode("utf-8"), "utf-16", True)
    if data.isascii():  # the usual case, checked far faster than decoding
        return DecodedFile(data, "utf-8", False)
    try:
        data.decode("utf-8")
        return DecodedFile(data, "utf-8", False)
    except UnicodeDecodeError:
        return DecodedFile(data.decode("cp1252", errors="replace").encode("utf-8"), "cp1252", True)


def line_count_if_simple(data: bytes) -> int | None:
    """The number of lines, unless a carriage return other than in CRLF could split them differently
    (then None, and the file must be scanned: record_start_lines). A reader finding one record fewer
    than this (the header) proves every line is one record: a blank line or a quoted newline would make
    fewer."""
    if not data:
        return None
    newlines = data.count(b"\n")
    if b"\r" in data and data.count(b"\r") != newlines:
        return None
    return newlines + (0 if data.endswith(b"\n") else 1)


@dataclass(frozen=True)
class PlainText:
    """What one streaming pass learns of a file that is UTF-8 as it stands (no BOM): its number of lines,
    as line_count_if_simple would say it."""

    lines: int | None


SCAN_CHUNK = 1 << 22


def scan_plain_utf8(path: Path) -> PlainText | None:
    """One pass over the file in blocks, none of it held whole: None unless it is UTF-8 without a
    byte-order mark (then decode() must read it whole). For the usual delivery, ASCII, this is several
    times quicker than reading the file into memory first."""
    newlines = returns = 0
    last = b""
    first = True
    utf8 = None  # an incremental decoder, from the first block that is not ASCII
    buffer = bytearray(SCAN_CHUNK)
    view = memoryview(buffer)
    with path.open("rb", buffering=0) as fh:
        while True:
            n = fh.readinto(buffer)
            if not n:
                break
            block = buffer if n == SCAN_CHUNK else bytes(view[:n])
            if first and block.startswith((BOM, *UTF16_BOMS)):
                return None
            first = False
            newlines += block.count(b"\n")
            if b"\r" in block:
                returns += block.count(b"\r")
            if utf8 is None and not block.isascii():
                utf8 = codecs.getincrementaldecoder("utf-8")()
            if utf8 is not None:
                try:
                    utf8.decode(block)
                except UnicodeDecodeError:
                    return None
            last = bytes(block[n - 1 : n])
    if utf8 is not None:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            return None
    if first:  # an empty file
        return PlainText(None)
    # the same answer line_count_if_simple gives for the whole file
    lines = None if returns and returns != newlines else newlines + (0 if last == b"\n" else 1)
    return PlainText(lines)


def record_spans(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Physical line number (1-based, as an editor or Excel numbers them) and length in bytes of every
    non-blank CSV record: the file's records as the dialect defines them, counted from the bytes alone.

    A newline inside double quotes does not end a record. Works on positions of quotes and newlines only,
    so a file of a million rows takes a fraction of a second.
    """
    if not data:
        return np.array([], dtype=np.int64), np.array([], dtype=np.int64)
    buf = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(buf == ord("\n"))
    quotes = np.flatnonzero(buf == ord('"')) if b'"' in data else np.array([], dtype=np.int64)
    # a newline ends a record when an even number of quotes precede it
    ends_record = (
        (np.searchsorted(quotes, newlines) % 2) == 0 if quotes.size else np.ones(newlines.size, bool)
    )
    ends = newlines[ends_record]
    starts = np.concatenate(([0], ends + 1))
    stops = np.concatenate((ends, [buf.size]))
    # the line a record starts on: one more than the newlines before it
    line_of_start = np.concatenate(([1], np.flatnonzero(ends_record) + 2))
    length = stops - starts
    # a record that is empty, or only a carriage return, is a blank line: CSV readers skip it
    first_byte = buf[np.minimum(starts, buf.size - 1)]
    only_cr = (length == 1) & (first_byte == ord("\r"))
    keep = (length > 0) & ~only_cr
    return line_of_start[keep], length[keep]


def record_start_lines(data: bytes) -> np.ndarray:
    """The line each non-blank CSV record starts on (record_spans without the lengths)."""
    return record_spans(data)[0]


def header_fields(data: bytes) -> list[str]:
    """The first non-blank record, split as CSV."""
    text = data[: 1 << 20].decode("utf-8", errors="replace")
    for row in csv.reader(io.StringIO(text), skipinitialspace=True):
        if any(cell.strip() for cell in row):
            return [cell.strip() for cell in row]
    return []
