"""dbt models as assets: asset keys by layer (the model's schema), groups by partner for staging and
``outcomes`` for what joins partners together."""

import shutil
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from orchestration.pause_points import pause_point
from orchestration.resources import WAREHOUSE_POOL, Warehouse
from orchestration.transform.project import dbt_project

PARTNER_FOLDERS = ("social_care", "schools", "health")


class WholeChildTranslator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return None
        fqn = dbt_resource_props.get("fqn", [])
        if len(fqn) > 2 and fqn[1] == "staging" and fqn[2] in PARTNER_FOLDERS:
            return fqn[2]
        return "outcomes"


def dbt_executable() -> str:
    """dbt from this interpreter's environment, whether or not the virtual environment is activated."""
    for candidate in (Path(sys.prefix) / "bin" / "dbt", Path(sys.executable).with_name("dbt")):
        if candidate.exists():
            return str(candidate)
    return shutil.which("dbt") or "dbt"


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=WholeChildTranslator(),
    pool=WAREHOUSE_POOL,
)
def whole_child_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse) -> Iterator:
    paths = warehouse.paths
    paths.export_env()  # dbt (a subprocess) must write the same analytics file
    build = dbt.cli(["build"], context=context)
    for n, event in enumerate(build.stream()):
        if n == 10:
            pause_point("dbt:building")
        yield event
    # dbt parses the project again whenever its profile differs from the last parse's, and the profile
    # names this home's analytics file: the parse this build made is kept in the home (DBT_TARGET_PATH, set
    # by Paths.export_env), so the next build here starts from it instead of parsing everything again
    fresh = build.target_path / "partial_parse.msgpack"
    if fresh.exists():
        shutil.copyfile(fresh, paths.dbt_target / "partial_parse.msgpack")
    shutil.rmtree(build.target_path, ignore_errors=True)
    # the documentation site of what was just built (models, columns, tests, lineage), served by make dev
    docs = dbt.cli(["docs", "generate"], target_path=paths.dbt_docs, manifest=dbt_project.manifest_path)
    docs.wait()
    context.log.info(f"dbt docs written to {paths.dbt_docs / 'index.html'}")
