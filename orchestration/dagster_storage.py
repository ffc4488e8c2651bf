"""Dagster's own SQLite run and event storage, kept open between writes.

Dagster's SQLite storages open a new engine and connection for every event they write and close it after: a
close of the last connection to a WAL database checkpoints it, and every commit waits for the disk. A run of
the whole graph writes about 1,500 events (a planned event, an output and a materialisation per asset, a
planned event and a result per check), so that cost was about a fifth of a month's run on the demo authority
(measured with ``wholechild bench --stage rerun``: 43 s before, 36 s after).

These storages are Dagster's, with the same files in the same places under DAGSTER_HOME (``history/runs.db``,
``history/runs/<run>.db``, ``history/runs/index.db``), so a home written before reads the same. Only how
they connect differs: each database keeps a small pool of open connections, and commits use SQLite's
``synchronous=NORMAL``, the setting SQLite recommends with WAL. A process killed part-way loses nothing it
committed; a power cut can lose the last few events of the run history, never corrupt it, and never touches
the warehouse, whose files are DuckDB's.
"""

from __future__ import annotations

import contextlib
import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as db
from dagster import StringSource
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._serdes import ConfigurableClassData

# run shards a process keeps open at once (the webserver reads many runs; a command writes one or two)
OPEN_SHARDS = 8


def _engine(conn_string: str) -> db.Engine:
    engine = db.create_engine(
        conn_string,
        poolclass=db.pool.QueuePool,
        pool_size=1,
        max_overflow=4,
        # connections go back to the pool, and another thread (a run's progress on the terminal) may take one
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
    )

    @db.event.listens_for(engine, "connect")
    def _durable_enough(dbapi_connection, _record) -> None:
        dbapi_connection.execute("pragma synchronous=NORMAL")

    return engine


class PooledSqliteRunStorage(SqliteRunStorage):
    """Dagster's SQLite run storage (``history/runs.db``) on one engine with a pool."""

    def __init__(self, conn_string: str, inst_data: ConfigurableClassData | None = None):
        super().__init__(conn_string, inst_data)
        self._engine = _engine(conn_string)

    @classmethod
    def config_type(cls):
        return {"dagster_home": StringSource}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls.from_local(
            f"{Path(config_value['dagster_home']) / 'history'}{os.sep}", inst_data=inst_data
        )

    @contextmanager
    def connect(self) -> Iterator[db.Connection]:
        with self._engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        self._engine.dispose()
        super().dispose()


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log storage (an index shard and one shard per run, under ``history/runs``) with an
    engine and pool per shard, the most recently used few kept open."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, db.Engine] = OrderedDict()
        super().__init__(base_dir, inst_data)

    @classmethod
    def config_type(cls):
        return {"dagster_home": StringSource}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(f"{Path(config_value['dagster_home']) / 'history' / 'runs'}{os.sep}", inst_data=inst_data)

    def _shard_engine(self, shard: str) -> db.Engine:
        engine = self._engines.get(shard)
        if engine is None:
            engine = self._engines[shard] = _engine(self.conn_string_for_shard(shard))
            while len(self._engines) > OPEN_SHARDS:
                _, oldest = self._engines.popitem(last=False)
                oldest.dispose()
        else:
            self._engines.move_to_end(shard)
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[db.Connection]:
        with self._db_lock:
            engine = self._shard_engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def store_event(self, event) -> None:
        super().store_event(event)
        # Dagster's watchers (the UI following a run written by another process) wait for the run's shard
        # file to change; a commit to a connection kept open goes to the write-ahead log and leaves the file
        # as it was (Dagster's own storage changed it by checkpointing on every close): its time is set
        if event.run_id:
            with contextlib.suppress(FileNotFoundError):
                os.utime(self.path_for_shard(event.run_id))

    def _close_all(self) -> None:
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def wipe(self) -> None:
        self._close_all()  # the run shards' files are deleted: none may be held open
        super().wipe()

    def dispose(self) -> None:
        self._close_all()
        super().dispose()
