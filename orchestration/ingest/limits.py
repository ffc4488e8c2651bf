"""How much work one file may cost, so that no file can hold up the others or a run.

Every limit is configuration (an environment variable), with a default that fits the largest English
authority's extracts with a wide margin (a Dudley-sized authority's largest file, a term's school census
session details, is under 10 MB and 200,000 rows; the largest authorities are about three times Dudley).
A file over a limit is a failed delivery that says which limit, by how much, and which variable raises
it; nothing of it is loaded, and every other file and the run go on.

- ``WHOLECHILD_MAX_FILE_BYTES``: the size of a file as delivered (default 4 GiB).
- ``WHOLECHILD_MAX_UNPACKED_BYTES``: what a workbook (a zip of XML parts) holds once unpacked, read from
  its zip directory before anything is parsed (default 1 GiB). A 10 MB workbook can unpack to 2 GB of
  sheet XML, which no parser gets through in reasonable time or memory.
- ``WHOLECHILD_MAX_ROWS``: rows in one file (default 20 million).
- ``WHOLECHILD_MAX_SECONDS_PER_FILE``: time to read and load one file (default 900 s); the DuckDB work
  is interrupted at the deadline and the delivery fails.
- ``WHOLECHILD_MAX_RECORD_BYTES``: the longest record (line) of a CSV (default 2 MiB, DuckDB's own line
  limit). A longer record is quarantined with its line and the column that makes it so; the rest of the
  file loads.
"""

from __future__ import annotations

import os
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

GIB = 1 << 30
DEFAULTS = {
    "WHOLECHILD_MAX_FILE_BYTES": 4 * GIB,
    "WHOLECHILD_MAX_UNPACKED_BYTES": 1 * GIB,
    "WHOLECHILD_MAX_ROWS": 20_000_000,
    "WHOLECHILD_MAX_SECONDS_PER_FILE": 900,
    "WHOLECHILD_MAX_RECORD_BYTES": 2 * (1 << 20),
}


def _size(n: float) -> str:
    for unit, scale in (("GiB", GIB), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} bytes"


class OverLimit(Exception):
    """A file costs more than the configuration allows; the message names the limit and its variable."""


@dataclass(frozen=True)
class Limits:
    file_bytes: int
    unpacked_bytes: int
    rows: int
    seconds: float
    record_bytes: int = DEFAULTS["WHOLECHILD_MAX_RECORD_BYTES"]

    @classmethod
    def from_env(cls) -> Limits:
        values = {}
        for name, default in DEFAULTS.items():
            text = os.environ.get(name, "").strip()
            try:
                value = float(text) if text else default
            except ValueError:
                raise ValueError(f"{name} must be a number, not {text!r}") from None
            if value <= 0:
                raise ValueError(f"{name} must be more than 0, not {text}")
            values[name] = value
        return cls(
            file_bytes=int(values["WHOLECHILD_MAX_FILE_BYTES"]),
            unpacked_bytes=int(values["WHOLECHILD_MAX_UNPACKED_BYTES"]),
            rows=int(values["WHOLECHILD_MAX_ROWS"]),
            seconds=values["WHOLECHILD_MAX_SECONDS_PER_FILE"],
            record_bytes=int(values["WHOLECHILD_MAX_RECORD_BYTES"]),
        )

    def file_size_problem(self, size: int) -> str | None:
        if size > self.file_bytes:
            return (
                f"{_size(size)}, over the limit of {_size(self.file_bytes)} for one file "
                "(WHOLECHILD_MAX_FILE_BYTES): split it, or raise the limit if it is genuine"
            )
        return None

    def check_workbook(self, path: Path, file_name: str) -> None:
        """Raise OverLimit if a workbook unpacks to more than the limit, judged from its zip directory
        alone (nothing is decompressed)."""
        try:
            with zipfile.ZipFile(path) as book:
                parts = book.infolist()
        except (zipfile.BadZipFile, OSError):
            return  # not a readable zip: the workbook reader says so in its own words
        unpacked = sum(p.file_size for p in parts)
        if unpacked > self.unpacked_bytes:
            biggest = max(parts, key=lambda p: p.file_size)
            raise OverLimit(
                f"{file_name}: the workbook unpacks to {_size(unpacked)} ({biggest.filename} alone "
                f"{_size(biggest.file_size)}), over the limit of {_size(self.unpacked_bytes)} "
                "(WHOLECHILD_MAX_UNPACKED_BYTES); nothing of it was read"
            )

    def check_rows(self, rows: int, file_name: str) -> None:
        if rows > self.rows:
            raise OverLimit(
                f"{file_name}: more than {self.rows:,} rows, over the limit for one file "
                "(WHOLECHILD_MAX_ROWS); nothing of it was loaded"
            )

    def capped(self, rows: Iterator, file_name: str, deadline: Deadline | None = None) -> Iterator:
        """Rows from a reader, stopping with OverLimit at one past the limit (and at the deadline)."""
        for n, row in enumerate(rows, start=1):
            if n > self.rows:
                self.check_rows(n, file_name)
            if deadline is not None and n % 4096 == 0:
                deadline.check()
            yield row


class Deadline:
    """The time one file may take. Python readers call ``check()`` as they go; DuckDB's work on the
    connection is interrupted when the time is up."""

    def __init__(self, seconds: float, file_name: str) -> None:
        self.seconds = seconds
        self.file_name = file_name
        self.ends = time.monotonic() + seconds
        self.expired = False

    def message(self) -> str:
        return (
            f"{self.file_name}: reading and loading it took longer than {self.seconds:.0f} s, the limit for one "
            "file (WHOLECHILD_MAX_SECONDS_PER_FILE); nothing of it was loaded"
        )

    def check(self) -> None:
        if self.expired or time.monotonic() > self.ends:
            self.expired = True
            raise OverLimit(self.message())


@contextmanager
def time_limit(con: duckdb.DuckDBPyConnection, seconds: float, file_name: str) -> Iterator[Deadline]:
    """A deadline for one file: when it passes, whatever DuckDB is doing on ``con`` is interrupted."""
    deadline = Deadline(seconds, file_name)

    def expire() -> None:
        deadline.expired = True
        con.interrupt()

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield deadline
    finally:
        timer.cancel()


__all__ = ["DEFAULTS", "Deadline", "Limits", "OverLimit", "time_limit"]
