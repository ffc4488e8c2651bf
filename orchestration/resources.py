"""Dagster resources. Configuration comes only from the environment (orchestration/settings.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from orchestration.duckdb_files import connect
from orchestration.settings import Paths

# Every asset or check that writes a DuckDB file runs in this pool, limited to one step at a time
# (dagster_home/dagster.yaml). DuckDB allows one writing process per file.
WAREHOUSE_POOL = "duckdb_warehouse"


class Warehouse(dg.ConfigurableResource):
    """The vault and analytics DuckDB files and the folders around them.

    ``home`` defaults to ``WHOLECHILD_HOME`` (or ./data) when left empty.
    """

    home: str = ""

    @property
    def paths(self) -> Paths:
        paths = Paths(Path(self.home).expanduser().resolve()) if self.home else Paths.from_env()
        return paths.ensure()

    @contextmanager
    def vault(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with connect(self.paths.vault_db, read_only=read_only) as con:
            yield con

    @contextmanager
    def analytics_with_vault(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The analytics file for writing, with the vault attached read-only as ``vault``."""
        paths = self.paths
        with connect(paths.analytics_db) as con:
            con.execute(f"attach '{paths.vault_db}' as vault (read_only)")
            try:
                yield con
            finally:
                con.execute("detach vault")

    @contextmanager
    def analytics(self, read_only: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
        with connect(self.paths.analytics_db, read_only=read_only) as con:
            yield con
