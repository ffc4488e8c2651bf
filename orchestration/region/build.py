"""The region's side: build its marts from what the members sent (dbt, dbt_project/region), and publish
them as tables with the same disclosure control as any published table (reports/disclosure.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pandas as pd

from orchestration.duckdb_files import connect
from orchestration.reports.disclosure import TableSpec, protect
from orchestration.settings import DBT_PROJECT_DIR
from orchestration.transform.assets import dbt_executable

REGION_DBT_DIR = DBT_PROJECT_DIR / "region"

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
    }


def build(root: Path, target: str = "duckdb") -> subprocess.CompletedProcess:
    """`dbt build` of the regional project (models and their tests) against ``target``; its lines go to
    ``root/logs/dbt-<target>.log``."""
    (root / "logs").mkdir(parents=True, exist_ok=True)
    with (root / "logs" / f"dbt-{target}.log").open("w") as log:
        return subprocess.run(
            [
                dbt_executable(), "build", "--project-dir", str(REGION_DBT_DIR), "--profiles-dir",
                str(REGION_DBT_DIR), "--target", target, "--target-path", str(root / "dbt_target" / target),
                "--log-path", str(root / "logs"),
            ],
            env=region_env(root), stdout=log, stderr=subprocess.STDOUT, check=False,
        )  # fmt: skip


def publish(root: Path) -> dict[str, int]:
    """Each regional table, disclosure-controlled, as CSV under ``root/published``; returns the cells
    suppressed in each."""
    out = root / "published"
    out.mkdir(parents=True, exist_ok=True)
    suppressed = {}
    with connect(root / "region.duckdb", read_only=True) as con:
        for name, spec in PUBLISHED.items():
            frame = con.execute(f"select * from main.{name} order by all").df()
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
