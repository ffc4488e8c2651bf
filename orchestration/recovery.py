"""Recovery without a person: what a run killed part-way left behind is cleared by the next one.

A run that dies (kill -9, a lost machine) keeps its slot in the ``duckdb_warehouse`` pool and its status
STARTED in Dagster's run storage; every later run would wait for that slot forever. Each run
``wholechild run`` starts is tagged with its host and process id; before the next run starts, a run
still marked as started whose process no longer exists on this host is marked failed and its slots are
freed, and a release folder it was building is removed. Runs launched from the Dagster UI carry no
process id; Dagster's default run launcher cannot tell whether their process died, so a killed UI run is
marked failed from the UI (its slots are then freed by Dagster).
"""

from __future__ import annotations

import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

HOST_TAG = "wholechild/host"
PID_TAG = "wholechild/pid"


# a run with this tag (`wholechild run --force`, or set in the UI's launchpad) writes every pseudonymised
# table and builds every dbt model again, whether or not what they read changed
REBUILD_TAG = "wholechild/rebuild"


def rebuild_everything(context) -> bool:
    return context.run.tags.get(REBUILD_TAG) == "all"


def run_tags() -> dict[str, str]:
    """Tags for a run this process starts, so that a later process can tell whether it is still alive."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another account's process: alive
    return True


@dataclass(frozen=True)
class Recovered:
    run_id: str
    pid: int
    slots_freed: int


def recover_dead_runs(instance) -> list[Recovered]:
    """Mark failed every run this host started whose process is gone, and free its pool slots."""
    import dagster as dg

    recovered = []
    unfinished = instance.get_runs(
        filters=dg.RunsFilter(
            statuses=[
                dg.DagsterRunStatus.STARTED,
                dg.DagsterRunStatus.STARTING,
                dg.DagsterRunStatus.CANCELING,
            ]
        )
    )
    for run in unfinished:
        host, pid = run.tags.get(HOST_TAG), run.tags.get(PID_TAG)
        if host != socket.gethostname() or not (pid or "").isdigit() or _alive(int(pid)):
            continue
        held = sum(
            1
            for pool in instance.event_log_storage.get_concurrency_keys()
            for slot in instance.event_log_storage.get_concurrency_info(pool).claimed_slots
            if slot.run_id == run.run_id
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        instance.report_run_failed(
            run, f"its process {pid} no longer exists (killed); cleared by the next run"
        )
        recovered.append(Recovered(run.run_id, int(pid), held))
    return recovered


def clear_unfinished_releases(published: Path, instance) -> list[Path]:
    """Remove ``.building-*`` release folders no live run is writing (a run's release id ends with the
    first eight characters of its run id)."""
    import dagster as dg

    if not published.exists():
        return []
    live = {
        run.run_id.replace("-", "")[:8]
        for run in instance.get_runs(
            filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING])
        )
    }
    removed = []
    for folder in published.glob(".building-*"):
        if folder.name.rsplit("-", 1)[-1] not in live:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


__all__ = ["Recovered", "clear_unfinished_releases", "recover_dead_runs", "run_tags"]
