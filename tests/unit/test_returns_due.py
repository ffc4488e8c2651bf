"""The SSDA903 and CIN census are started as soon as the run's vault stages have all succeeded, never when
one failed (orchestration/returns/due.py)."""

import threading
from types import SimpleNamespace

from dagster import DagsterEventType

from orchestration.returns.due import WhenStepsSucceed


def _record(step: str, kind: DagsterEventType):
    event = SimpleNamespace(event_type=kind, is_step_failure=kind == DagsterEventType.STEP_FAILURE)
    return SimpleNamespace(step_key=step, dagster_event=event)


class _Run:
    """A run's event log as it grows: each look sees one more record."""

    def __init__(self, records):
        self.records, self.looks = records, 0

    def all_logs(self, run_id, of_type=None):
        self.looks += 1
        return self.records[: self.looks]


def _watch(records, steps=("ingest__deliveries", "raw__load", "identity__person_index")):
    started = threading.Event()
    run = _Run(records)
    watcher = WhenStepsSucceed(run, "run", steps, started.set)
    watcher.start()
    watcher.join(timeout=10)
    return started.is_set(), watcher, run


def test_started_once_every_vault_step_has_succeeded_and_not_before():
    ok = DagsterEventType.STEP_SUCCESS
    records = [
        _record("ingest__deliveries", ok),
        _record("raw__load", ok),
        _record("some_other_step", ok),
        _record("identity__person_index", ok),
    ]
    started, watcher, run = _watch(records)
    assert started and not watcher.is_alive()
    assert run.looks == 4  # not before the last vault step's success was seen


def test_never_started_when_a_vault_step_failed():
    records = [
        _record("ingest__deliveries", DagsterEventType.STEP_SUCCESS),
        _record("raw__load", DagsterEventType.STEP_FAILURE),
        _record("identity__person_index", DagsterEventType.STEP_SUCCESS),
    ]
    started, watcher, _ = _watch(records)
    assert not started and not watcher.is_alive()


def test_stops_without_starting_when_the_run_is_over():
    run = _Run([_record("ingest__deliveries", DagsterEventType.STEP_SUCCESS)])
    started = threading.Event()
    watcher = WhenStepsSucceed(run, "run", ["ingest__deliveries", "raw__load"], started.set)
    watcher.start()
    watcher.stop.set()
    watcher.join(timeout=5)
    assert not watcher.is_alive() and not started.is_set()


_CHILD = """
import json, sys
print("importing", file=sys.stderr, flush=True)
word = sys.stdin.readline().strip()
print("told " + word, file=sys.stderr, flush=True)
if word == "go":
    for name in ("ssda903", "cin"):
        print(json.dumps({"attempt": [name, "2026", 1.0, "/published/" + name, "ready to submit"]}), flush=True)
"""


def _from_the_vault(tmp_path):
    import sys

    from orchestration.returns.due import FromTheVault

    log = tmp_path / "logs" / "run.log"
    return FromTheVault("CRITICAL", lines_to=log, command=[sys.executable, "-c", _CHILD]), log


def test_the_returns_process_is_prepared_early_and_builds_only_once_told(tmp_path):
    """Started before the run (its imports on an idle core), the returns' process waits; told to go, its
    attempts come back one by one; its own lines go to the run's log, not the terminal."""
    from_the_vault, log = _from_the_vault(tmp_path)
    from_the_vault.prepare()
    said = []
    done = from_the_vault.attempts(said.append)  # (lets it build: nothing else did)
    assert [d[0] for d in done] == ["ssda903", "cin"] and said == done
    assert log.read_text().splitlines() == ["importing", "told go"]


def test_the_returns_process_leaves_with_nothing_built_when_the_vault_failed(tmp_path):
    from_the_vault, log = _from_the_vault(tmp_path)
    from_the_vault.prepare()
    from_the_vault.cancel()
    assert from_the_vault._process.returncode == 0
    assert log.read_text().splitlines() == ["importing", "told stop"]
    from_the_vault.start()  # told once: a late go changes nothing
    assert log.read_text().splitlines() == ["importing", "told stop"]


def test_the_reconciliation_waits_for_returns_being_built_ahead_but_never_for_a_dead_process(tmp_path):
    """While the returns' process builds the returns ahead (its pid in a marker beside the vault), the
    reconciliation waits for it rather than build them again; a marker whose process is gone, or a wait
    past its limit, does not hold it."""
    import os
    import subprocess
    import threading

    from orchestration.returns.reconcile import BUILDING_FILE, _wait_for_building

    vault = tmp_path / "vault.duckdb"
    marker = vault.with_name(BUILDING_FILE)
    assert _wait_for_building(vault, limit=5) < 0.5  # nothing being built
    marker.write_text(str(os.getpid()))
    threading.Timer(0.6, marker.unlink).start()  # the build finishes
    waited = _wait_for_building(vault, limit=5)
    assert 0.5 <= waited < 3
    gone = subprocess.Popen(["true"])
    gone.wait()
    marker.write_text(str(gone.pid))  # a returns' process killed part-way
    assert _wait_for_building(vault, limit=5) < 0.5
    marker.write_text(str(os.getpid()))  # alive, but too slow: the limit holds
    assert 0.4 <= _wait_for_building(vault, limit=0.4) < 2
