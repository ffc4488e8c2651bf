"""Opening the warehouse's DuckDB files when another process may hold them.

DuckDB lets one process write a database file (or several read it). Dagster's pool keeps the pipeline's
own steps to one at a time; this covers everything else (``wholechild ingest`` while a run is going, two
people running the command at once): the second waits for the first to finish instead of failing, and
since every change is one transaction, neither can leave the other's work half done.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import duckdb

DEFAULT_WAIT_SECONDS = 600.0

T = TypeVar("T")
R = TypeVar("R")


class WarehouseBusyError(RuntimeError):
    """Another process held the file for longer than we were willing to wait."""


def _held_by_another_process(exc: duckdb.Error) -> bool:
    return "lock" in str(exc).lower()


def _waiting(path: Path, wait_seconds: float | None, open_it):
    """``open_it()``, again and again (up to ``WHOLECHILD_LOCK_WAIT_SECONDS``, default 600) while another
    process holds ``path``'s lock."""
    if wait_seconds is None:
        wait_seconds = float(os.environ.get("WHOLECHILD_LOCK_WAIT_SECONDS", DEFAULT_WAIT_SECONDS))
    deadline = time.monotonic() + wait_seconds
    delay = 0.05
    while True:
        try:
            return open_it()
        except duckdb.IOException as exc:
            if not _held_by_another_process(exc):
                raise
            if delay == 0.05:  # said once, where a person waiting would look
                print(
                    f"{path.name} is in use by another process (a pipeline run or another command):"
                    f" waiting for it, up to {wait_seconds:.0f} s ...",
                    file=sys.stderr,
                    flush=True,
                )
            if time.monotonic() >= deadline:
                raise WarehouseBusyError(
                    f"{path} is in use by another process (a pipeline run or another command) and stayed "
                    f"so for {wait_seconds:.0f} s; try again when it has finished"
                ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def connect(
    path: Path, read_only: bool = False, wait_seconds: float | None = None
) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect``, waiting (up to ``WHOLECHILD_LOCK_WAIT_SECONDS``, default 600) while another
    process holds the file's lock, with DuckDB's memory for the file bounded (``WHOLECHILD_DUCKDB_MEMORY``)."""
    from orchestration.settings import duckdb_memory_limit

    limit = duckdb_memory_limit()
    con = _waiting(path, wait_seconds, lambda: duckdb.connect(str(path), read_only=read_only))
    # set on the database once open, not passed as its configuration: another connection to the same file
    # in this process (a test's, a plain duckdb.connect) then shares it instead of being refused for asking
    # with another configuration
    con.execute(f"set memory_limit = '{limit}'")
    return con


def attach_read_only(
    con: duckdb.DuckDBPyConnection, path: Path, alias: str, wait_seconds: float | None = None
) -> None:
    """``attach ... (read_only)`` on ``con``, waiting as ``connect`` does while another process writes the
    file."""
    _waiting(path, wait_seconds, lambda: con.execute(f"attach '{path}' as {alias} (read_only)"))


def publish_copy(source: Path, target: Path, mode: int = 0o600) -> Path:
    """Copy a DuckDB file for readers, swapped into place atomically: a reader with the old copy open
    keeps reading it (its inode lives on), the next one opens the new; neither can hold up the writer of
    ``source``. The copy is taken holding ``source``'s write lock, after a checkpoint, so it is whole."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    with connect(source) as con:
        con.execute("checkpoint")
        shutil.copyfile(source, partial)
    partial.chmod(mode)
    partial.replace(target)
    return target


_DONE: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, set] = weakref.WeakKeyDictionary()


def first_time(con: duckdb.DuckDBPyConnection, what: object) -> bool:
    """True the first time ``what`` is asked about on this connection: for set-up (schemas, macros) that
    need not be repeated for every file a connection loads. Only for set-up done outside a transaction,
    so that a rollback cannot undo what is remembered as done."""
    done = _DONE.setdefault(con, set())
    if what in done:
        return False
    done.add(what)
    return True


def on_cursors(
    con: duckdb.DuckDBPyConnection,
    items: Sequence[T],
    work: Callable[[duckdb.DuckDBPyConnection, T], R],
    threads: int,
    name: str,
) -> list[R | Exception]:
    """``work(cursor, item)`` for every item, ``threads`` at a time, each on a cursor of its own (a
    connection to the same database, sharing its catalogue, attachments and cache). A query runs outside
    Python's lock, so two threads keep two cores busy where one query alone would not. Returns each item's
    result, or the exception it raised, in the items' order: every item is tried, whatever another's fate,
    and the caller says what failed."""
    from concurrent.futures import ThreadPoolExecutor

    def run(item: T) -> R | Exception:
        cursor = con.cursor()
        try:
            return work(cursor, item)
        except Exception as exc:  # returned, for the caller to say beside what the others did
            return exc
        finally:
            cursor.close()

    if threads <= 1 or len(items) <= 1:
        return [run(item) for item in items]
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name) as pool:
        return list(pool.map(run, items))
