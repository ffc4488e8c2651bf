"""dbt models as assets: asset keys by layer (the model's schema), groups by stage (analytics for staging,
intermediate and seeds; marts for the marts; reports for the report models)."""

import json
import shutil
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from orchestration.pause_points import pause_point
from orchestration.recovery import rebuild_everything
from orchestration.resources import WAREHOUSE_POOL, Warehouse
from orchestration.run_state import settings_fingerprint
from orchestration.transform.docs import PARSE_FILE, PARSE_STAMP, stamp
from orchestration.transform.project import dbt_project


class WholeChildTranslator(DagsterDbtTranslator):
    """dbt's models in the stage groups the Dagster UI shows left to right (landing, raw, identity,
    analytics, marts, reports, returns): staging, intermediate and seeds beside the pseudonymised copies
    they read (analytics), the marts as marts, the report models (rpt_) beside the reports they feed."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return None
        fqn = dbt_resource_props.get("fqn", [])
        layer = fqn[1] if len(fqn) > 1 else ""
        return layer if layer in ("marts", "reports") else "analytics"


def _downstream_of(manifest: dict, roots: set[str]) -> set[str]:
    """Every node that reads, directly or not, one of ``roots``."""
    children = manifest.get("child_map", {})
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def dbt_executable() -> str:
    """dbt from this interpreter's environment, whether or not the virtual environment is activated."""
    for candidate in (Path(sys.prefix) / "bin" / "dbt", Path(sys.executable).with_name("dbt")):
        if candidate.exists():
            return str(candidate)
    return shutil.which("dbt") or "dbt"


class WholeChildDbt(DbtCliResource):
    """dagster-dbt's dbt CLI resource without two costs of every invocation that this project never uses
    (about 3.5 s of each run that builds): asking the dbt executable its version (a ``dbt --version``
    subprocess), when the executable is this environment's own dbt-core, pinned; and setting up a dbt adapter
    in this process, which serves only the optional row count and column metadata fetches."""

    @property
    def _cli_version(self):
        from importlib.metadata import version as installed

        from packaging import version

        return version.parse(installed("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):
        return None


def dbt_resource() -> DbtCliResource:
    # dbt's own log file (every statement, at debug level) goes into each invocation's target folder, which
    # is removed after a build that succeeds: warnings and errors only (about a second less of each build);
    # what dbt prints, node by node, still reaches Dagster and the run's log
    return WholeChildDbt(
        project_dir=dbt_project,
        dbt_executable=dbt_executable(),
        global_config_flags=["--log-level-file", "warn"],
    )


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=WholeChildTranslator(),
    pool=WAREHOUSE_POOL,
)
def whole_child_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse) -> Iterator:
    paths = warehouse.paths
    paths.export_env()  # dbt (a subprocess) must write the same analytics file
    manifest = json.loads(dbt_project.manifest_path.read_text())
    docs_key = _docs_key()  # every code file hashed once: the build's key and the docs' share it
    code = f"{docs_key} {settings_fingerprint()}"
    # a run of some models only (chosen in the UI) builds what it was asked for and records nothing: only a
    # whole build says what every model was built from
    whole = set(context.selected_asset_keys) == set(context.assets_def.keys)
    with warehouse.analytics(read_only=True) as con:
        now = source_fingerprints(con, manifest)
        if not whole:
            plan = BuildPlan(True, [], "dbt builds the models chosen")
        elif rebuild_everything(context):
            plan = BuildPlan(True, [], "dbt builds everything: asked to (--force)")
        else:
            plan = plan_build(con, manifest, now, code)
    context.log.info(plan.why)
    print(plan.why, flush=True)  # beside dbt's own lines: in the run's log file, or on the terminal with -v
    # a model not built again read nothing that changed since it was built: it is current as it stands. Said
    # first, upstream before downstream, as Dagster asks of a multi-asset's outputs
    unique_ids = {spec.metadata["dagster_dbt/unique_id"]: spec.key for spec in context.assets_def.specs}
    not_built = [u for u in unique_ids if not plan.will_build(u)]
    # a view kept downstream of what dbt builds (a report model over a mart) is said after the build
    after = _downstream_of(manifest, {u for u in unique_ids if plan.will_build(u)}) & set(not_built)

    def unchanged(uids: list[str]) -> Iterator[dg.Output]:
        for uid in _in_build_order(manifest, uids):
            key = unique_ids[uid]
            if key in context.selected_asset_keys:
                why = VIEW_KEPT if uid in plan.views_kept else "nothing it reads changed since its last build"
                yield dg.Output(
                    None,
                    output_name=context.assets_def.get_output_name_for_asset_key(key),
                    metadata={"built_again": False, "why": why},
                )

    yield from unchanged([u for u in not_built if u not in after])
    if plan.builds:
        # dbt's JSON artifacts of the build (a 1.6 MB manifest, run results) are never read: its target folder
        # is removed below, and its results reach Dagster as the events streamed here
        # dbt's unit tests read fixtures, not data, so they judge the code, and run with the test suite
        # (tests/integration/test_pipeline.py), not on every build of the data: as dbt advises, and 31 nodes
        # (about 3 s) less of a whole build
        arguments = plan.arguments or ["--exclude", UNIT_TESTS]
        build = dbt.cli(["build", "--no-write-json", *_authority_vars(), *arguments], context=context)
        from orchestration.quality import gx
        from orchestration.reports import packs

        gx.preload()  # while dbt starts in its own process (see gx.preload)
        packs.preload()
        try:
            for n, event in enumerate(build.stream()):
                if n == 10:
                    pause_point("dbt:building")
                yield event
        finally:
            # a step that stops early (an error here, the run cancelled) must not leave dbt holding the
            # analytics file: every later command would wait for it
            if build.process.poll() is None:
                build.process.terminate()
    yield from unchanged(sorted(after))
    if whole:
        with warehouse.analytics(read_only=False) as con:
            record_build(con, now, code)
    if not plan.builds:
        return
    # dbt parses the project again whenever its profile differs from the last parse's, and the profile
    # names this home's analytics file: the parse this build made is kept in the home (DBT_TARGET_PATH, set
    # by Paths.export_env), so the next build here starts from it instead of parsing everything again
    fresh = build.target_path / PARSE_FILE
    if fresh.exists():
        # and the docs written after the run start from it too (transform/docs.py): stamped with the code
        # and vars it was made for, the stamp written last
        (paths.dbt_target / PARSE_STAMP).unlink(missing_ok=True)
        shutil.copyfile(fresh, paths.dbt_target / PARSE_FILE)
        (paths.dbt_target / PARSE_STAMP).write_text(stamp(docs_key, _authority_vars()[1]), encoding="utf-8")
    shutil.rmtree(build.target_path, ignore_errors=True)
    # the documentation site of what was just built (models, columns, tests, lineage), served by make dev.
    # It describes the code (models, their columns and types, tests, lineage), not the rows: written again
    # only when the code or dbt changed since it was last written here (about 6 s saved on every other run)
    if not docs_stale(paths, docs_key):
        context.log.info(
            f"dbt docs unchanged (the same code as when written): {paths.dbt_docs / 'index.html'}"
        )
        return
    if context.run.tags.get(DOCS_TAG) == DOCS_AFTER_RUN:
        # wholechild run writes them once the run is over, beside the returns it waits for: not in the way
        # of the gates and the reports
        context.log.info("dbt docs are written after the run, beside the returns")
        return
    docs = dbt.cli(
        ["docs", "generate", *_authority_vars()],
        target_path=paths.dbt_docs,
        manifest=dbt_project.manifest_path,
    )
    docs.wait()
    (paths.dbt_docs / DOCS_STAMP).write_text(docs_key)
    context.log.info(f"dbt docs written to {paths.dbt_docs / 'index.html'}")


DOCS_STAMP = ".written_for"
# a run tagged so leaves the docs to whoever started it, who writes them once the run is over (start_docs)
DOCS_TAG = "wholechild/dbt_docs"
DOCS_AFTER_RUN = "after-run"


def docs_stale(paths, docs_key: str | None = None) -> bool:
    """Whether the documentation site was written for other code (or not at all)."""
    stamp = paths.dbt_docs / DOCS_STAMP
    fresh = (paths.dbt_docs / "index.html").exists() and stamp.exists()
    return not (fresh and stamp.read_text() == (docs_key or _docs_key()))


@dataclass
class DocsWriting:
    process: Any  # subprocess.Popen
    key: str
    folder: Path
    log: Any  # the file its lines go to, or None (the terminal)

    def finish(self) -> bool:
        """Wait for it; the stamp is written only when it succeeded (else the next run writes them)."""
        try:
            if self.process.wait() != 0:
                return False
        finally:
            if self.log is not None:
                self.log.close()
        (self.folder / DOCS_STAMP).write_text(self.key)
        return True


def start_docs(paths, log: Path | None = None) -> DocsWriting | None:
    """``dbt docs generate`` of the analytics file as it now stands, in a process of its own, reading the file
    beside its other readers (the profile's docs target opens it read-only), when the docs are stale; None
    when they are current or there is nothing built to describe. Its lines go to ``log`` (appended), or
    the terminal."""
    import subprocess

    key = _docs_key()
    if not docs_stale(paths, key) or not paths.analytics_db.exists():
        return None
    (paths.dbt_docs / DOCS_STAMP).unlink(missing_ok=True)
    # dbt in a process of its own, from the parse the build kept when it serves (transform/docs.py)
    command = [sys.executable, "-m", "orchestration.transform.docs", "--target-path", str(paths.dbt_docs)]
    command += ["--vars", _authority_vars()[1], "--parse", str(paths.dbt_target), "--code-key", key]
    out = log.open("a", encoding="utf-8") if log is not None else None
    process = subprocess.Popen(
        command, cwd=dbt_project.project_dir, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
    )
    return DocsWriting(process, key, paths.dbt_docs, out)


UNIT_TESTS = "resource_type:unit_test"


def _authority_vars() -> list[str]:
    """The authority's settings the models read (its region and statistical neighbours: the reports'
    comparators), as dbt vars; their environment variables are in the settings fingerprint, so a change
    builds the models again."""
    from orchestration.returns.common import Authority

    return ["--vars", json.dumps(Authority.from_env().dbt_vars())]


# the sources each model was last built from, in the analytics file beside the models (a file made again from
# nothing has none, and everything is built)
BUILT_FROM = "pipeline_state.dbt_built_from"

VIEW_KEPT = "a view of the same definition: it reads the changed rows when queried (its tests ran again)"


@dataclass(frozen=True)
class BuildPlan:
    builds: bool
    arguments: list[str]
    why: str
    only: frozenset[str] | None = None  # the nodes built, when not all
    views_kept: frozenset[str] = frozenset()  # downstream of a change, but a view of the same definition

    def will_build(self, unique_id: str) -> bool:
        return self.builds and (self.only is None or unique_id in self.only)


def _in_build_order(manifest: dict, unique_ids: list[str]) -> list[str]:
    """These nodes, each after every one of them it reads from."""
    wanted, done, order = set(unique_ids), set(), []

    def visit(uid: str) -> None:
        if uid in done:
            return
        done.add(uid)
        for parent in manifest["parent_map"].get(uid, []):
            if parent in wanted:
                visit(parent)
        order.append(uid)

    for uid in sorted(wanted):
        visit(uid)
    return order


def source_fingerprints(con, manifest: dict) -> dict[str, str]:
    """Each dbt source's content as an order-free fingerprint (rows and the sum of their hashes)."""
    present = {
        (schema, name)
        for schema, name in con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = current_database()"
        ).fetchall()
    }
    out = {}
    queries = []
    for uid, source in manifest["sources"].items():
        schema, table = source["schema"], source["identifier"]
        if (schema, table) in present:
            queries.append(
                f"select '{uid}', count(*) || ':' || coalesce(sum(hash(t)), 0) from {schema}.{table} t"
            )
        else:
            out[uid] = "missing"
    if queries:
        out.update(dict(con.execute(" union all ".join(queries)).fetchall()))
    return out


def _built_from(con) -> tuple[str | None, dict[str, str]]:
    tables = {
        n
        for (n,) in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'pipeline_state'"
        ).fetchall()
    }
    if "dbt_built_from" not in tables:
        return None, {}
    rows = con.execute(f"select source, fingerprint from {BUILT_FROM}").fetchall()
    recorded = dict(rows)
    return recorded.pop("(code)", None), recorded


def _models_missing(con, manifest: dict) -> list[str]:
    present = {
        (schema, name)
        for schema, name in con.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()
    }
    return [
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "seed")
        and node["config"].get("materialized") != "ephemeral"
        and (node["schema"], node.get("alias") or node["name"]) not in present
    ]


def plan_build(con, manifest: dict, now: dict[str, str], code: str) -> BuildPlan:
    """Everything, unless the last build in this analytics file succeeded with the same code and settings
    and every model is there: then only what is downstream of a source whose content changed since (its
    models, and the tests on them), or nothing when none did."""
    built_with, before = _built_from(con)
    if built_with is None:
        return BuildPlan(True, [], "dbt builds everything: no build has succeeded in this analytics file")
    if built_with != code:
        return BuildPlan(True, [], "dbt builds everything: the code or settings changed since its last build")
    missing = _models_missing(con, manifest)
    if missing:
        return BuildPlan(
            True, [], f"dbt builds everything: {len(missing)} models are missing ({missing[0]}, ...)"
        )
    changed = sorted(uid for uid, fingerprint in now.items() if before.get(uid) != fingerprint)
    if not changed:
        return BuildPlan(False, [], "dbt builds nothing: no source changed since its last build", frozenset())
    reached, queue = set(changed), list(changed)
    while queue:
        for child in manifest["child_map"].get(queue.pop(), []):
            if child not in reached:
                reached.add(child)
                queue.append(child)
    nodes = manifest["nodes"]
    buildable = {
        uid for uid, node in nodes.items() if node["resource_type"] in ("model", "seed", "test", "snapshot")
    }
    # a view is a stored query: with the code as it was at the last build, a view downstream of a change is
    # already what building it would make, and it reads the changed rows whenever it is queried. Not made
    # again (dbt's view materialisation creates, renames and drops: about 80 ms a view); its tests still run
    kept = frozenset(
        uid
        for uid in reached & buildable
        if nodes[uid]["resource_type"] == "model" and nodes[uid]["config"].get("materialized") == "view"
    )
    build = (reached & buildable) - kept
    left = sorted(nodes[uid]["name"] for uid in buildable - reached)
    names = ", ".join(
        manifest["sources"][uid]["source_name"] + "." + manifest["sources"][uid]["name"] for uid in changed
    )
    if not build:  # (dbt would be asked to build what is left: nothing)
        why = f"dbt builds nothing: {len(changed)} changed sources ({names}) are read only by views kept"
        return BuildPlan(False, [], why, frozenset(), kept)
    views = sorted(nodes[uid]["name"] for uid in kept)
    return BuildPlan(
        True,
        # everything (dagster-dbt selects fqn:*) but what read nothing that changed and the views kept. Indirect
        # selection empty: a test is left out only when named, so the tests on a view kept run, and so does a
        # relationship between a changed mart and an unchanged seed (dbt's default would leave out both). Unit
        # tests read fixtures, not data: with the code unchanged they pass as they did
        ["--exclude", " ".join([UNIT_TESTS, *left, *views]), "--indirect-selection", "empty"],
        f"dbt builds what is downstream of {len(changed)} changed sources ({names}); {len(left)} models, seeds "
        f"and tests read nothing that changed; {len(kept)} views downstream are kept as they are (the same "
        "definition), their tests run",
        frozenset(build),
        kept,
    )


def record_build(con, fingerprints: dict[str, str], code: str) -> None:
    con.execute("create schema if not exists pipeline_state")
    con.execute(f"create table if not exists {BUILT_FROM} (source varchar primary key, fingerprint varchar)")
    con.execute("begin transaction")
    con.execute(f"delete from {BUILT_FROM}")
    con.executemany(f"insert into {BUILT_FROM} values (?, ?)", [("(code)", code), *fingerprints.items()])
    con.execute("commit")


def _docs_key() -> str:
    from importlib.metadata import version

    from orchestration.run_state import code_fingerprint

    return f"{code_fingerprint()} dbt-core {version('dbt-core')} dbt-duckdb {version('dbt-duckdb')}"
