"""The region's side: build its marts from what the members sent (dbt, dbt_project/region), and publish
them as tables with the same disclosure control as any published table (reports/disclosure.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.reports.disclosure import TableSpec, protect
from orchestration.settings import DBT_PROJECT_DIR, REPO_ROOT
from orchestration.transform.assets import dbt_executable

REGION_DBT_DIR = DBT_PROJECT_DIR / "region"
# dbt-spark and PySpark live in an environment of their own (`make spark`), as the DfE validators do
SPARK_VENV = REPO_ROOT / ".venv-spark"

# each published regional table: how its rows are keyed, its counts, and its percentages
PUBLISHED = {
    "region_members": TableSpec(
        keys=("authority",),
        additive=(),
        counts=("children", "children_known_to_another_member"),
        rates=(("known_to_another_member_rate", "children_known_to_another_member", "children"),),
    ),
    "region_children_known_across_members": TableSpec(
        keys=("authority", "other_authority"), additive=(), counts=("children_known_to_both",)
    ),
    "region_looked_after_across_borders": TableSpec(
        keys=("authority", "collection_year"),
        additive=(),
        counts=(
            "looked_after_during_year",
            "known_to_another_member",
            "known_to_another_member_persistently_absent",
            "known_to_another_member_with_health_assessment",
        ),
        rates=(("known_to_another_member_rate", "known_to_another_member", "looked_after_during_year"),),
    ),
    "region_comparison": TableSpec(
        keys=("authority", "collection_year"),
        additive=(),
        counts=("in_need_during_year", "looked_after_at_31_march", "three_or_more_placements", "pupils",
                "persistently_absent"),
        rates=(
            ("three_or_more_placements_rate", "three_or_more_placements", "looked_after_at_31_march"),
            ("persistent_absence_rate", "persistently_absent", "pupils"),
        ),
    ),
}  # fmt: skip


def region_env(root: Path) -> dict[str, str]:
    return {
        **os.environ,
        "WHOLECHILD_REGION_INBOX": str(root / "inbox"),
        "WHOLECHILD_REGION_DB": str(root / "region.duckdb"),
        "WHOLECHILD_REGION_SPARK_WAREHOUSE": str(root / "spark" / "warehouse"),
    }


def spark_available() -> str | None:
    """Why the Spark target cannot run here (None: it can)."""
    if not (SPARK_VENV / "bin" / "dbt").exists():
        return f"no Spark environment at {SPARK_VENV}: `make spark` installs dbt-spark and PySpark there"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java: Spark needs a Java runtime (Debian's openjdk-17-jre-headless)"
    return None


def build(root: Path, target: str = "duckdb") -> subprocess.CompletedProcess:
    """`dbt build` of the regional project (models and their tests) against ``target``; its lines go to
    ``root/logs/dbt-<target>.log``."""
    (root / "logs").mkdir(parents=True, exist_ok=True)
    executable, cwd = dbt_executable(), None
    if target == "spark":
        executable, cwd = str(SPARK_VENV / "bin" / "dbt"), root / "spark"
        shutil.rmtree(cwd, ignore_errors=True)  # its tables are made again whole, as DuckDB's are
        cwd.mkdir(parents=True)
    with (root / "logs" / f"dbt-{target}.log").open("w") as log:
        return subprocess.run(
            [
                executable, "build", "--project-dir", str(REGION_DBT_DIR), "--profiles-dir",
                str(REGION_DBT_DIR), "--target", target, "--target-path", str(root / "dbt_target" / target),
                "--log-path", str(root / "logs"),
            ],
            env=region_env(root), stdout=log, stderr=subprocess.STDOUT, check=False, cwd=cwd,
        )  # fmt: skip


def open_region(
    root: Path, engine: str = "duckdb", con: duckdb.DuckDBPyConnection | None = None, schema: str = "main"
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection (``con``, or a new one) with a view in ``schema`` of each table the regional
    models built on ``engine``: the region's DuckDB file, or the parquet files Spark wrote."""
    con = con or duckdb.connect()
    con.execute(f"create schema if not exists {schema}")
    if engine == "duckdb":
        con.execute(f"attach '{root / 'region.duckdb'}' as region_{schema} (read_only)")
        tables = [t for (t,) in con.execute(
            f"select table_name from duckdb_tables() where database_name = 'region_{schema}'"
        ).fetchall()]  # fmt: skip
        for table in tables:
            con.execute(f"create view {schema}.{table} as select * from region_{schema}.main.{table}")
    else:
        for folder in sorted((root / "spark" / "warehouse" / "region.db").iterdir()):
            con.execute(
                f"create view {schema}.{folder.name} as select * from read_parquet('{folder}/*.parquet')"
            )
    return con


def publish(root: Path, engine: str = "duckdb") -> dict[str, int]:
    """Each regional table, disclosure-controlled, as CSV under ``root/published``; returns the cells
    suppressed in each."""
    out = root / "published"
    out.mkdir(parents=True, exist_ok=True)
    suppressed = {}
    with open_region(root, engine) as con:
        for name, spec in PUBLISHED.items():
            frame = con.execute(f"select * from {name} order by all").df()
            for key in spec.keys:
                frame[key] = frame[key].astype(str)
            table, cells = protect(frame, spec)
            columns = [
                *spec.keys,
                *(c for c in frame.columns if c not in spec.keys),
                *(r[0] for r in spec.rates),
            ]
            table[columns].to_csv(out / f"{name}.csv", index=False, lineterminator="\n")
            suppressed[name] = cells
    return suppressed


def read_published(root: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(root / "published" / f"{name}.csv", dtype=str, keep_default_na=False)


def compare_engines(root: Path) -> dict[str, tuple[int, int]]:
    """Every table the regional models build, on DuckDB (the region's file) and on Spark (its parquet
    files), row for row: per table, (rows on DuckDB, rows that differ either way). Each value is compared
    as text, so that DuckDB's 128-bit sums equal Spark's 64-bit ones."""
    out = {}
    with open_region(root, "duckdb", schema="duck") as con:
        open_region(root, "spark", con, schema="spark")
        tables = [
            t
            for (t,) in con.execute(
                "select view_name from duckdb_views() where schema_name = 'duck' order by 1"
            ).fetchall()
        ]
        for table in tables:
            columns = [
                c for (c,) in con.execute(f"select column_name from (describe duck.{table})").fetchall()
            ]
            as_text = ", ".join(f'cast("{c}" as varchar) as "{c}"' for c in columns)
            ours, theirs = f"select {as_text} from duck.{table}", f"select {as_text} from spark.{table}"
            rows = con.execute(f"select count(*) from duck.{table}").fetchone()[0]
            differ = con.execute(
                f"select (select count(*) from ({ours} except all {theirs}))"
                f" + (select count(*) from ({theirs} except all {ours}))"
            ).fetchone()[0]
            out[table] = (int(rows), int(differ))
    return out
