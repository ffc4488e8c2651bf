"""What a run read (orchestration/run_state.py): with nothing new it says so; otherwise it says what
changed since the last release, naming a changed setting without ever writing its value."""

import json

import duckdb

from orchestration.ingest.manifest import ensure_manifest
from orchestration.run_state import fingerprint, forget_run, nothing_new, record_run, what_changed


def _leaves(value):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from _leaves(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _leaves(inner)
    else:
        yield value


def _warehouse(home) -> None:
    with duckdb.connect(str(home.vault_db)) as con:
        ensure_manifest(con)


def test_a_run_says_nothing_is_new_or_names_what_changed(home, monkeypatch):
    _warehouse(home)
    monkeypatch.setenv("WHOLECHILD_LA_NUMBER", "332")
    monkeypatch.setenv("WHOLECHILD_PSEUDONYM_KEY", "a-secret-key-of-the-tests-" + "s" * 20)
    record_run(home, fingerprint(home), "r1")
    assert nothing_new(home, fingerprint(home), "r1").startswith("Nothing new since release r1")
    assert what_changed(home, fingerprint(home), "r1") is None
    state = (home.home / "state" / "last_run.json").read_text()
    # values are never written: not as a value, nor inside one (a digest may hold the digits 332 by chance)
    written = list(_leaves(json.loads(state)))
    assert "332" not in written and not any("a-secret-key-of-the-tests" in str(v) for v in written)

    monkeypatch.setenv("WHOLECHILD_LA_NUMBER", "333")
    (home.landing / "health").mkdir(parents=True)
    (home.landing / "health" / "new.csv").write_text("a,b\n1,2\n")
    now = fingerprint(home)
    assert nothing_new(home, now, "r1") is None
    said = what_changed(home, now, "r1")
    assert "1 new file in landing" in said and "settings changed: WHOLECHILD_LA_NUMBER" in said, said

    # limits per file and waits are not outputs: changing one is not a reason to build again
    (home.landing / "health" / "new.csv").unlink()
    monkeypatch.setenv("WHOLECHILD_LA_NUMBER", "332")
    monkeypatch.setenv("WHOLECHILD_MAX_ROWS", "5")
    assert nothing_new(home, fingerprint(home), "r1") is not None

    forget_run(home)  # a run started and was killed
    assert nothing_new(home, fingerprint(home), "r1") is None
    assert "the last run did not finish" in what_changed(home, fingerprint(home), "r1")


def test_the_dagster_instance_of_a_home_has_telemetry_and_the_first_visit_prompt_off(tmp_path, monkeypatch):
    import dagster as dg

    from orchestration.settings import Paths

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))  # restored after: ensure_dagster_home sets it
    home = Paths(tmp_path / "home").ensure()
    folder = home.ensure_dagster_home()
    with dg.DagsterInstance.from_config(str(folder)) as instance:
        assert instance.nux_enabled is False
        assert instance.telemetry_enabled is False


def test_the_dagster_ui_groups_assets_by_stage_in_the_pipelines_order():
    from orchestration.definitions import defs

    groups = {node.group_name for node in defs.resolve_asset_graph().asset_nodes}
    assert groups == {"landing", "raw", "identity", "analytics", "marts", "reports", "returns"}
