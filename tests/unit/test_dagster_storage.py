"""Dagster's run history kept open between writes (orchestration/dagster_storage.py): the same files in the
same places as Dagster's own SQLite storage, so a home written by either is read by the other, and a run's
events, its asset materialisations and checks are all there."""

import shutil
import sqlite3
import threading
from pathlib import Path

import dagster as dg

from orchestration.dagster_storage import PooledSqliteEventLogStorage, PooledSqliteRunStorage

PROJECT_YAML = Path(__file__).resolve().parents[2] / "orchestration" / "dagster.yaml"


@dg.asset(check_specs=[dg.AssetCheckSpec("positive", asset="numbers")])
def numbers() -> dg.MaterializeResult:
    return dg.MaterializeResult(
        metadata={"rows": 3}, check_results=[dg.AssetCheckResult(check_name="positive", passed=True)]
    )


JOB = dg.Definitions(assets=[numbers], jobs=[dg.define_asset_job("numbers_job")]).resolve_job_def(
    "numbers_job"
)


def _instance(home: Path, monkeypatch, project: bool) -> dg.DagsterInstance:
    home.mkdir(exist_ok=True)
    if project:
        shutil.copyfile(PROJECT_YAML, home / "dagster.yaml")
    else:
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return dg.DagsterInstance.from_config(str(home))


def test_the_project_instance_uses_the_pooled_storages_in_dagsters_own_files(tmp_path, monkeypatch):
    with _instance(tmp_path / "home", monkeypatch, project=True) as instance:
        assert isinstance(instance.run_storage, PooledSqliteRunStorage)
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        result = JOB.execute_in_process(instance=instance)
        assert result.success
        run_id = result.run_id
        assert instance.get_latest_materialization_event(dg.AssetKey("numbers")) is not None
    home = tmp_path / "home"
    assert (home / "history" / "runs.db").exists()
    assert (home / "history" / "runs" / f"{run_id}.db").exists()
    assert (home / "history" / "runs" / "index.db").exists()
    with sqlite3.connect(home / "history" / "runs" / f"{run_id}.db") as con:
        assert con.execute("pragma journal_mode").fetchone()[0] == "wal"
        assert con.execute("select count(*) from event_logs").fetchone()[0] > 5


def test_a_home_written_by_either_storage_is_read_by_the_other(tmp_path, monkeypatch):
    home = tmp_path / "home"
    with _instance(home, monkeypatch, project=False) as plain:
        first = JOB.execute_in_process(instance=plain).run_id
    with _instance(home, monkeypatch, project=True) as pooled:
        assert pooled.get_run_by_id(first) is not None
        assert len(pooled.all_logs(first)) > 5
        second = JOB.execute_in_process(instance=pooled).run_id
        # the check's result is in the cross-run index, as the UI reads it
        check = pooled.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey("numbers"), "positive")]
        )
        assert check and next(iter(check.values())).run_id == second
    with _instance(home, monkeypatch, project=False) as plain:
        assert {r.run_id for r in plain.get_runs()} == {first, second}
        assert plain.get_latest_materialization_event(dg.AssetKey("numbers")).run_id == second


def test_another_thread_reads_a_run_while_it_is_written(tmp_path, monkeypatch):
    """A run's progress is followed from another thread (the terminal's progress, the returns waiting
    for the vault): the pooled connections are shared across threads safely."""
    seen: list[int] = []
    stop = threading.Event()
    with _instance(tmp_path / "home", monkeypatch, project=True) as instance:
        run_id = "6f1c0e5e-0000-4000-8000-000000000001"

        def follow() -> None:
            while not stop.is_set():
                try:
                    seen.append(len(instance.all_logs(run_id)))
                except Exception as exc:  # any error here is the failure this test looks for
                    seen.append(-1)
                    raise exc
                stop.wait(0.01)

        reader = threading.Thread(target=follow)
        reader.start()
        try:
            for _ in range(3):
                assert JOB.execute_in_process(instance=instance, run_id=None).success
            assert JOB.execute_in_process(instance=instance, run_id=run_id).success
        finally:
            stop.set()
            reader.join()
        assert -1 not in seen
        assert len(instance.all_logs(run_id)) > 5


def test_a_watcher_of_the_run_sees_each_event_as_it_is_written(tmp_path, monkeypatch):
    """The UI follows a run another process writes through Dagster's watcher, which waits for the run's
    shard file to change: each event written through a kept-open connection must still change it."""
    import time

    home = tmp_path / "home"
    with _instance(home, monkeypatch, project=True) as writer:
        run = writer.create_run_for_job(JOB, run_id="6f1c0e5e-0000-4000-8000-000000000002")
        writer.report_engine_event("first", run)
        seen: list[str] = []
        # the watcher is another instance on the same files, as the UI's process has
        with dg.DagsterInstance.from_config(str(home)) as ui:
            ui.event_log_storage.watch(run.run_id, None, lambda event, cursor: seen.append(event.message))
            time.sleep(0.5)  # the watch is set before the event it should see
            writer.report_engine_event("second", run)
            deadline = time.monotonic() + 10
            while "second" not in seen and time.monotonic() < deadline:
                time.sleep(0.05)
            ui.event_log_storage.end_watch(run.run_id, seen.append)
            ui.event_log_storage.dispose()
        assert "second" in seen, seen
