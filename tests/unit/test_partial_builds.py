"""A run rebuilds only what read something that changed: the pseudonymised tables whose inputs changed, the
dbt models downstream of a source whose content changed, and everything when the code did."""

import duckdb
import pytest

from orchestration.transform.assets import (
    _in_build_order,
    plan_build,
    record_build,
    source_fingerprints,
)

CODE = "code v1"


def _manifest():
    def node(uid, kind, name, schema="intermediate"):
        config = {"materialized": "view"} if schema == "staging" else {}
        return {"resource_type": kind, "name": name, "schema": schema, "alias": name, "config": config}

    nodes = {
        "seed.p.codes": node("seed.p.codes", "seed", "codes", "seeds"),
        "model.p.stg_a": node("model.p.stg_a", "model", "stg_a", "staging"),
        "model.p.stg_b": node("model.p.stg_b", "model", "stg_b", "staging"),
        "model.p.int_a": node("model.p.int_a", "model", "int_a"),
        "model.p.mart": node("model.p.mart", "model", "mart", "marts"),
        "test.p.not_null_stg_b_id": node("test.p.not_null_stg_b_id", "test", "not_null_stg_b_id"),
        "test.p.not_null_stg_a_id": node("test.p.not_null_stg_a_id", "test", "not_null_stg_a_id"),
        "test.p.unique_mart_id": node("test.p.unique_mart_id", "test", "unique_mart_id"),
        "test.p.relationships_mart_codes": node(
            "test.p.relationships_mart_codes", "test", "relationships_mart_codes"
        ),
    }
    parents = {
        "model.p.stg_a": ["source.p.src.a"],
        "model.p.stg_b": ["source.p.src.b"],
        "model.p.int_a": ["model.p.stg_a", "seed.p.codes"],
        "model.p.mart": ["model.p.int_a", "model.p.stg_b"],
        "test.p.not_null_stg_b_id": ["model.p.stg_b"],
        "test.p.not_null_stg_a_id": ["model.p.stg_a"],
        "test.p.unique_mart_id": ["model.p.mart"],
        "test.p.relationships_mart_codes": ["model.p.mart", "seed.p.codes"],
    }
    children: dict[str, list[str]] = {}
    for child, ps in parents.items():
        for parent in ps:
            children.setdefault(parent, []).append(child)
    sources = {
        f"source.p.src.{t}": {"schema": "pseudonymised", "identifier": t, "name": t, "source_name": "src"}
        for t in ("a", "b")
    }
    return {"nodes": nodes, "sources": sources, "parent_map": parents, "child_map": children}


@pytest.fixture
def con():
    con = duckdb.connect()
    for schema in ("pseudonymised", "seeds", "staging", "intermediate", "marts"):
        con.execute(f"create schema {schema}")
    con.execute("create table pseudonymised.a as select range as id from range(5)")
    con.execute("create table pseudonymised.b as select range as id from range(3)")
    for schema, name in (
        ("seeds", "codes"),
        ("staging", "stg_a"),
        ("staging", "stg_b"),
        ("intermediate", "int_a"),
        ("marts", "mart"),
    ):
        con.execute(f"create table {schema}.{name} (id int)")
    return con


def test_everything_is_built_until_a_build_has_succeeded_and_again_when_the_code_changes(con):
    manifest = _manifest()
    now = source_fingerprints(con, manifest)
    first = plan_build(con, manifest, now, CODE)
    assert first.builds and first.arguments == [] and first.will_build("model.p.stg_b")
    record_build(con, now, CODE)
    changed_code = plan_build(con, manifest, now, "code v2")
    assert changed_code.arguments == [] and "code or settings changed" in changed_code.why


def test_nothing_is_built_when_no_source_changed_even_if_rows_were_rewritten_in_another_order(con):
    manifest = _manifest()
    record_build(con, source_fingerprints(con, manifest), CODE)
    con.execute("create or replace table pseudonymised.a as select * from pseudonymised.a order by id desc")
    plan = plan_build(con, manifest, source_fingerprints(con, manifest), CODE)
    assert not plan.builds and not plan.will_build("model.p.mart")


def test_a_changed_source_builds_only_what_is_downstream_of_it_with_its_tests(con):
    manifest = _manifest()
    record_build(con, source_fingerprints(con, manifest), CODE)
    con.execute("insert into pseudonymised.a values (99)")
    plan = plan_build(con, manifest, source_fingerprints(con, manifest), CODE)
    built = {uid for uid in manifest["nodes"] if plan.will_build(uid)}
    # the relationship test runs although one of the nodes it reads (the seed) is not built again; the
    # staging view downstream is kept as it is (the same code), and the test on it runs
    assert built == {
        "model.p.int_a",
        "model.p.mart",
        "test.p.not_null_stg_a_id",
        "test.p.unique_mart_id",
        "test.p.relationships_mart_codes",
    }
    assert plan.views_kept == {"model.p.stg_a"}
    # the views kept and what read nothing that changed are left out by name, nothing else: the tests on them
    # are not left out with them (indirect selection empty)
    assert plan.arguments[0] == "--exclude"
    assert set(plan.arguments[1].split()) == {
        "resource_type:unit_test",
        "codes",
        "stg_b",
        "not_null_stg_b_id",
        "stg_a",
    }
    assert plan.arguments[2:] == ["--indirect-selection", "empty"]
    assert "src.a" in plan.why and "1 views downstream are kept" in plan.why


def test_a_change_read_only_by_a_view_without_tests_builds_nothing(con):
    manifest = _manifest()
    del manifest["nodes"]["test.p.not_null_stg_b_id"]
    manifest["child_map"]["model.p.stg_b"] = []
    record_build(con, source_fingerprints(con, manifest), CODE)
    con.execute("insert into pseudonymised.b values (99)")
    plan = plan_build(con, manifest, source_fingerprints(con, manifest), CODE)
    assert not plan.builds and plan.arguments == [] and plan.views_kept == {"model.p.stg_b"}


def test_a_missing_model_means_everything_is_built(con):
    manifest = _manifest()
    record_build(con, source_fingerprints(con, manifest), CODE)
    con.execute("drop table marts.mart")
    plan = plan_build(con, manifest, source_fingerprints(con, manifest), CODE)
    assert plan.builds and plan.arguments == [] and "missing" in plan.why


def test_models_not_built_are_said_upstream_first():
    manifest = _manifest()
    order = _in_build_order(manifest, ["model.p.mart", "model.p.stg_a", "seed.p.codes", "model.p.int_a"])
    assert order.index("model.p.stg_a") < order.index("model.p.int_a") < order.index("model.p.mart")
    assert order.index("seed.p.codes") < order.index("model.p.int_a")


def test_a_datasets_inputs_change_with_its_deliveries_and_its_records_person_keys_only():
    from orchestration.identity.pseudonymise import inputs_by_dataset
    from orchestration.ingest.contracts import load_contract_versions

    versions = load_contract_versions()
    chosen = [versions["health_assessments"], versions["ssd_person"], versions["ssd_department"]]
    con = duckdb.connect()
    con.execute("attach ':memory:' as vault")
    con.execute("create schema vault.ingest")
    con.execute("create schema vault.identity")
    con.execute("create table vault.ingest.deliveries (delivery_id varchar, dataset varchar, status varchar)")
    con.execute(
        "create table vault.identity.record_keys (namespace varchar, record_id varchar, person_key varchar)"
    )
    con.execute("insert into vault.ingest.deliveries values ('d1', 'ssd_person', 'loaded')")
    con.execute(
        "insert into vault.identity.record_keys values ('la_person', '1', 'pk_a'), ('health_assessment', 'H1', 'pk_b')"
    )
    first = inputs_by_dataset(con, chosen, CODE)
    # a child of social care linked to another person: social care's tables change, health's do not
    con.execute("update vault.identity.record_keys set person_key = 'pk_c' where namespace = 'la_person'")
    relinked = inputs_by_dataset(con, chosen, CODE)
    assert relinked["ssd_person"] != first["ssd_person"]
    assert relinked["health_assessments"] == first["health_assessments"]
    assert relinked["ssd_department"] == first["ssd_department"]  # no person in it
    # a new delivery of one dataset changes that dataset's inputs alone; new code changes every dataset's
    con.execute("insert into vault.ingest.deliveries values ('d2', 'ssd_department', 'loaded')")
    delivered = inputs_by_dataset(con, chosen, CODE)
    assert delivered["ssd_department"] != relinked["ssd_department"]
    assert delivered["ssd_person"] == relinked["ssd_person"]
    assert len(set(inputs_by_dataset(con, chosen, "code v2").values()) & set(delivered.values())) == 0


def test_dbt_selects_exactly_what_the_plan_builds(tmp_path, monkeypatch):
    """The real project, as dbt itself evaluates the plan's arguments after dagster-dbt's own ``--select
    fqn:*``: the nodes downstream of one changed source, the views among them left as they are with their
    tests run, nothing else."""
    import json
    import subprocess

    from orchestration.transform.assets import dbt_executable
    from orchestration.transform.project import dbt_project

    manifest = json.loads(dbt_project.manifest_path.read_text())
    con = duckdb.connect()
    for node in manifest["nodes"].values():
        if node["resource_type"] in ("model", "seed"):
            con.execute(f'create schema if not exists "{node["schema"]}"')
            con.execute(
                f'create table if not exists "{node["schema"]}"."{node.get("alias") or node["name"]}" (x int)'
            )
    changed = next(uid for uid, s in manifest["sources"].items() if s["name"] == "ssd_cla_placement")
    before = dict.fromkeys(manifest["sources"], "1:1")
    record_build(con, before, CODE)
    plan = plan_build(con, manifest, {**before, changed: "2:2"}, CODE)
    assert plan.builds and plan.views_kept
    monkeypatch.setenv("WHOLECHILD_ANALYTICS_DB", str(tmp_path / "analytics.duckdb"))
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    listed = subprocess.run(
        [
            dbt_executable(),
            "-q",
            "ls",
            *plan.arguments,
            "--select",
            "fqn:*",
            "--output",
            "json",
            "--output-keys",
            "unique_id",
            "--project-dir",
            str(dbt_project.project_dir),
            "--profiles-dir",
            str(dbt_project.project_dir),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    selected = {json.loads(line)["unique_id"] for line in listed.splitlines() if line.startswith("{")}
    assert selected == plan.only
    tests_on_kept = {
        uid
        for uid, parents in manifest["parent_map"].items()
        if uid.startswith("test.") and set(parents) & plan.views_kept
    }
    assert tests_on_kept and tests_on_kept <= selected and not plan.views_kept & selected
