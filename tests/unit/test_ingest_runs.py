"""Ingestion as users start it: the landing sensor, ``wholechild ingest``, overlapping processes, and a
process killed in the middle of an ingest."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

HEADER = (
    "assessment_id,nhs_number,forename,surname,date_of_birth,sex,postcode,assessment_type,assessment_date,"
    "due_date,outcome\n"
)


def _row(i: int, dob: str = "01/02/2015") -> str:
    return f"A{i},9990000018,Amy,Khan,{dob},F,DY1 4QT,Initial health assessment,03/04/2024,,Completed\n"


def _write(path: Path, rows: int, bad_every: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(
        _row(i, "31/02/2015" if bad_every and i % bad_every == 0 else "01/02/2015") for i in range(rows)
    )
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def _wholechild(home: Path, *args: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args],
        env=os.environ | {"WHOLECHILD_HOME": str(home)} | (env or {}),
        capture_output=True,
        text=True,
        **kwargs,
    )


def _state(vault: Path) -> dict:
    """Everything ingestion writes, without the clocks: what a rerun must reproduce exactly."""
    with duckdb.connect(str(vault), read_only=True) as con:
        return {
            "deliveries": con.execute(
                "select * exclude (received_at, loaded_at, archive_path) from ingest.deliveries order by delivery_id"
            ).fetchall(),
            "quarantine": con.execute("select * from ingest.quarantine order by all").fetchall(),
            "receipts": con.execute(
                "select * exclude (received_at) from ingest.receipts order by all"
            ).fetchall(),
            "raw": con.execute("select * from raw.health_assessments order by all").fetchall(),
        }


# --- the landing sensor -----------------------------------------------------------------------------


def test_sensor_starts_one_keyed_run_per_new_file_and_none_twice(home):
    from orchestration.automation.sensors import landing_sensor

    a = _write(home.landing / "health/health_assessments/health_assessments_2024-04.csv", 3)
    _write(home.landing / "health/health_assessments/health_assessments_2024-05.csv", 3)
    with dg.instance_for_test() as instance:
        first = landing_sensor(dg.build_sensor_context(instance=instance))
        assert sorted(r.tags["wholechild/file"] for r in first.run_requests) == [
            "health/health_assessments/health_assessments_2024-04.csv",
            "health/health_assessments/health_assessments_2024-05.csv",
        ]
        assert len({r.run_key for r in first.run_requests}) == 2
        again = landing_sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor))
        assert isinstance(again, dg.SkipReason)
        # a changed file is a new delivery: one run, with a new key
        a.write_text(a.read_text() + _row(99), encoding="utf-8")
        os.utime(a, ns=(time.time_ns(), time.time_ns() + 1_000_000))
        changed = landing_sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor))
        assert [r.tags["wholechild/file"] for r in changed.run_requests] == [
            "health/health_assessments/health_assessments_2024-04.csv"
        ]
        assert changed.run_requests[0].run_key not in {r.run_key for r in first.run_requests}


def test_a_sensor_run_ingests_only_its_own_file(home):
    from orchestration.automation.sensors import landing_sensor
    from orchestration.definitions import defs

    _write(home.landing / "health/health_assessments/health_assessments_2024-04.csv", 3)
    _write(home.landing / "health/health_assessments/health_assessments_2024-05.csv", 4)
    with dg.instance_for_test() as instance:
        request = landing_sensor(dg.build_sensor_context(instance=instance)).run_requests[0]
        result = defs.resolve_job_def("ingest_deliveries").execute_in_process(
            run_config=request.run_config, instance=instance
        )
    assert result.success
    with duckdb.connect(str(home.vault_db), read_only=True) as con:
        rows = con.execute("select file_name, status, rows_loaded from ingest.deliveries").fetchall()
    assert rows == [("health_assessments_2024-04.csv", "loaded", 3)]


# --- the command line -------------------------------------------------------------------------------


def test_ingest_command_says_what_happened_to_each_file(home, tmp_path):
    drop = tmp_path / "drop"
    _write(drop / "health/health_assessments/health_assessments_2024-04.csv", 5, bad_every=2)
    (drop / "notes.txt").write_text("not a dataset\n", encoding="utf-8")
    done = _wholechild(home.home, "ingest", str(drop))
    assert done.returncode == 1, done.stderr  # something needs a person's attention
    assert "health_assessments_2024-04.csv: loaded; 5 rows = 2 loaded + 3 quarantined" in done.stdout
    assert "notes.txt\n  unrecognised:" in done.stdout
    assert "Error reports for partners" in done.stdout
    again = _wholechild(home.home, "ingest", str(drop / "health"))
    assert again.returncode == 0, again.stderr
    assert "already received: same content as delivery" in again.stdout
    listing = _wholechild(home.home, "deliveries")
    assert "health_assessments_2024-04.csv" in listing.stdout and "unrecognised" in listing.stdout


def test_ingest_command_names_a_missing_path(home):
    done = _wholechild(home.home, "ingest", "/no/such/file.csv")
    assert done.returncode == 2
    assert "/no/such/file.csv: no such file or folder" in done.stderr


# --- overlapping processes and killed processes ---------------------------------------------------


def test_overlapping_ingests_wait_for_each_other_and_both_land(home, tmp_path):
    first = _write(tmp_path / "one/health/health_assessments/health_assessments_2024-04.csv", 200_000)
    second = _write(tmp_path / "two/health/health_assessments/health_assessments_2024-05.csv", 1_000)
    env = os.environ | {"WHOLECHILD_HOME": str(home.home)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "orchestration.cli", "ingest", str(p)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for p in (first, second)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    with duckdb.connect(str(home.vault_db), read_only=True) as con:
        assert con.execute(
            "select period, rows_loaded from ingest.deliveries order by period"
        ).fetchall() == [("2024-04", 200_000), ("2024-05", 1_000)]
        assert con.execute("select count(*) from raw.health_assessments").fetchall() == [(201_000,)]


@pytest.mark.parametrize("stage", ["receive:copied", "load:inserted"])
def test_a_killed_ingest_leaves_nothing_a_rerun_would_not(home, tmp_path, stage):
    """Kill the process at a point inside an ingest, rerun: the warehouse and the manifest end exactly as
    if the first run had never started (compared with a clean run, clocks aside)."""
    drop = tmp_path / "drop"
    _write(drop / "health/health_assessments/health_assessments_2024-04.csv", 50_000, bad_every=1000)
    marker = tmp_path / "paused"
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "ingest", str(drop)],
        env=os.environ
        | {
            "WHOLECHILD_HOME": str(home.home),
            "WHOLECHILD_PAUSE_AT": stage,
            "WHOLECHILD_PAUSE_MARKER": str(marker),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "the ingest never reached its pause point"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    rerun = _wholechild(home.home, "ingest", str(drop))
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr

    clean = tmp_path / "clean"
    done = _wholechild(clean, "ingest", str(drop))
    assert done.returncode == 0, done.stdout + done.stderr
    assert _state(home.vault_db) == _state(clean / "warehouse" / "vault.duckdb")
    archived = sorted(p.relative_to(home.archive).as_posix() for p in home.archive.rglob("*") if p.is_file())
    clean_archived = sorted(
        p.relative_to(clean / "archive").as_posix() for p in (clean / "archive").rglob("*") if p.is_file()
    )
    assert archived == clean_archived


def test_a_run_killed_part_way_is_marked_failed_and_frees_the_warehouse(tmp_path):
    """kill -9 leaves a run STARTED, holding its slot in the warehouse pool: every later run would wait
    for ever. The next run's sweep frees it, and removes the release folder it was building."""
    import subprocess

    import dagster as dg
    from dagster._core.test_utils import create_run_for_test

    from orchestration.recovery import (
        HOST_TAG,
        PID_TAG,
        clear_unfinished_releases,
        recover_dead_runs,
        run_tags,
    )

    gone = subprocess.Popen(["true"])
    gone.wait()  # a process id that no longer exists
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots("duckdb_warehouse", 1)
        dead = create_run_for_test(
            instance, status=dg.DagsterRunStatus.STARTED, tags={**run_tags(), PID_TAG: str(gone.pid)}
        )
        alive = create_run_for_test(instance, status=dg.DagsterRunStatus.STARTED, tags=run_tags())
        elsewhere = create_run_for_test(
            instance,
            status=dg.DagsterRunStatus.STARTED,
            tags={HOST_TAG: "another-host", PID_TAG: str(gone.pid)},
        )
        assert storage.claim_concurrency_slot("duckdb_warehouse", dead.run_id, "load").is_claimed
        published = tmp_path / "published"
        (published / f".building-20260101T000000Z-{dead.run_id.replace('-', '')[:8]}").mkdir(parents=True)
        (published / f".building-20260101T000001Z-{alive.run_id.replace('-', '')[:8]}").mkdir()

        recovered = recover_dead_runs(instance)
        assert [(r.run_id, r.pid, r.slots_freed) for r in recovered] == [(dead.run_id, gone.pid, 1)]
        assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(alive.run_id).status == dg.DagsterRunStatus.STARTED  # this process
        assert (
            instance.get_run_by_id(elsewhere.run_id).status == dg.DagsterRunStatus.STARTED
        )  # not ours to judge
        assert storage.get_concurrency_info("duckdb_warehouse").active_slot_count == 0
        removed = clear_unfinished_releases(published, instance)
        assert [p.name.rsplit("-", 1)[-1] for p in removed] == [dead.run_id.replace("-", "")[:8]]
        assert len(list(published.glob(".building-*"))) == 1  # the live run's is left alone


def test_datasets_loaded_side_by_side_end_exactly_as_loaded_one_after_another(tmp_path, monkeypatch):
    """The load shares the datasets between two threads, each on its own connection: every delivery,
    quarantined cell and raw row must be what one thread loading them in turn gives."""
    from datetime import date

    from orchestration.duckdb_files import connect
    from orchestration.ingest import service
    from orchestration.settings import Paths
    from orchestration.synthetic import generate

    generate(tmp_path / "landing", scale=0.01, seed=3, as_of=date(2026, 3, 31), truth_out=tmp_path / "truth")
    states, datasets = [], []
    for threads in (1, 2):
        monkeypatch.setenv("WHOLECHILD_THREADS", str(threads))
        paths = Paths(tmp_path / f"home{threads}").ensure()
        shutil.copytree(tmp_path / "landing", paths.landing, dirs_exist_ok=True)
        with connect(paths.vault_db) as con:
            result = service.ingest(con, paths)
        datasets.append({o.delivery_id for _, o in result.loads})
        with duckdb.connect(str(paths.vault_db), read_only=True) as con:
            raw = [
                t
                for (t,) in con.execute(
                    "select table_name from duckdb_tables() where schema_name = 'raw'"
                ).fetchall()
            ]
            states.append(
                {
                    "deliveries": con.execute(
                        "select * exclude (received_at, loaded_at, archive_path, landing_path)"
                        " from ingest.deliveries order by delivery_id"
                    ).fetchall(),
                    "quarantine": con.execute("select * from ingest.quarantine order by all").fetchall(),
                    **{t: con.execute(f"select * from raw.{t} order by all").fetchall() for t in raw},
                }
            )
    assert len(datasets[0]) > 20 and datasets[0] == datasets[1]
    assert len(states[0]["quarantine"]) > 0  # the demo's faults, caught either way
    assert states[0] == states[1]


def test_work_shared_among_threads_keeps_each_items_result_or_error_in_order(tmp_path):
    """One item's failure is returned in its place, not raised over the others': every other item's work
    is done and committed, each on a cursor of its own."""
    from orchestration.duckdb_files import on_cursors

    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:

        def write(cursor, n):
            if n == 3:
                raise ValueError("three is refused")
            cursor.execute(f"create table t{n} as select range as x from range({n})")
            return cursor.execute(f"select sum(x) from t{n}").fetchone()[0]

        for threads in (1, 2):
            con.execute("select 1")  # the same connection, used again after its cursors closed
            results = on_cursors(con, [5, 3, 4, 1], write, threads, "test")
            assert results[0] == 10 and results[2] == 6 and results[3] == 0
            assert isinstance(results[1], ValueError) and "three" in str(results[1])
            assert sorted(r[0] for r in con.execute("show tables").fetchall()) == ["t1", "t4", "t5"]
            for n in (5, 4, 1):
                con.execute(f"drop table t{n}")


def test_duckdb_holds_at_most_the_memory_it_is_given_for_a_warehouse_file(tmp_path, monkeypatch):
    """Every warehouse file opened through ``connect`` has DuckDB's memory bounded by the setting (not 80%
    of the machine, DuckDB's own default), and a plain connection to the same file in the process shares it
    rather than being refused for asking with another configuration."""
    from orchestration.duckdb_files import connect

    for setting, shown in (("", "953.6 MiB"), ("1.5gb", "1.3 GiB"), ("512MiB", "512.0 MiB")):
        monkeypatch.setenv("WHOLECHILD_DUCKDB_MEMORY", setting)
        with connect(tmp_path / f"w{len(setting)}.duckdb") as con:
            assert con.execute("select current_setting('memory_limit')").fetchone()[0] == shown
            with duckdb.connect(str(tmp_path / f"w{len(setting)}.duckdb")) as other:
                assert other.execute("select current_setting('memory_limit')").fetchone()[0] == shown
