"""One writer of the warehouse at a time, across commands: a run, an ingest, a return built by hand.

Dagster's pool keeps one run's steps from writing the warehouse at once, and ``duckdb_files.connect``
waits for a file another process holds. But two runs started together would interleave their steps, an
ingest could slip between a run's linkage and its pseudonymisation, and a reader holding the analytics
file open would make dbt (which opens it itself) fail. So every command that writes the warehouse takes
this lock exclusively for its whole length, and every command that reads it (a subject access search, the
delivery manifest, the privacy scan) takes it shared: readers read together, never during a write. The
one that comes second says whom it is waiting for, and waits (``WHOLECHILD_RUN_WAIT_SECONDS``, default
two hours). The kernel lets go of the lock when its process ends, however it ends: a run killed with
kill -9 never leaves it held. Analysts do not take it: they read their own copy (analysts/).
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from orchestration.duckdb_files import WarehouseBusyError

DEFAULT_WAIT_SECONDS = 7200.0
LOCK_FILE = ".writer.lock"


@contextmanager
def hold_warehouse(
    warehouse: Path, what: str, shared: bool = False, wait_seconds: float | None = None
) -> Iterator[None]:
    """Hold the warehouse for ``what`` (e.g. "wholechild run"): exclusively to write, ``shared`` to read;
    waiting for whoever holds it now in a way that excludes this."""
    if wait_seconds is None:
        wait_seconds = float(os.environ.get("WHOLECHILD_RUN_WAIT_SECONDS", DEFAULT_WAIT_SECONDS))
    warehouse.mkdir(parents=True, exist_ok=True)
    fd = os.open(warehouse / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait_seconds
        said = False
        while True:
            try:
                fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not said:
                    holder = os.pread(fd, 300, 0).decode("utf-8", "replace").strip() or "another command"
                    print(
                        f"Waiting for {holder} to finish with the warehouse ...",
                        file=sys.stderr,
                        flush=True,
                    )
                    said = True
                if time.monotonic() >= deadline:
                    raise WarehouseBusyError(
                        f"the warehouse stayed in use for {wait_seconds:.0f} s "
                        f"({os.pread(fd, 300, 0).decode('utf-8', 'replace').strip()}); try again when it has finished"
                    ) from None
                time.sleep(0.5)
        stamp = datetime.now(UTC).strftime("%H:%M:%S UTC")  # who holds it, for whoever waits
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{what} (process {os.getpid()}, since {stamp})".encode(), 0)
        yield
    finally:
        os.close(fd)  # lets go of the lock


__all__ = ["hold_warehouse"]
