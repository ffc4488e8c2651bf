"""The statutory returns a ``wholechild run`` builds, beside the analytics stages where they can be.

The SSDA903 and the CIN census read only the vault, and nothing writes the vault once persons are linked. So
as soon as the run's vault stages (receive, load, link) have all succeeded, those two are built, validated
and published by a process of their own (``python -m orchestration.returns.due``, started with the run so
that its imports use a core the first stages leave idle, then told to go), on the machine's other core,
while the run goes on with pseudonymising, dbt, the gates and the reports. Annex A is reconciled with
the marts (fct_child_events), so it is built after the run, in the run's own process. Each return is its
own Dagster run of its job, as when it is materialised from the UI.

A return not ready to submit is reported, not a failed run: its validation report says why. A return whose
inputs (what social care delivered, the code, the settings) are as they were at its last attempt is not
attempted again: that attempt stands.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from orchestration.progress import failure_reason
from orchestration.settings import Paths

# (job, return): read only the vault, built as soon as the vault is complete
FROM_THE_VAULT = (("ssda903_return", "ssda903"), ("cin_census_return", "cin"))
# reconciled with the marts: built once the run has built them
AFTER_THE_MARTS = (("annex_a_return", "annex_a"),)

# what one return's attempt comes to: (return, collection year or "", seconds, folder or "", status)
Attempt = tuple[str, str, float, str, str]


def attempt(
    defs, instance, paths: Paths, job_name: str, name: str, partition: str | None, log_level: str, read
):
    """One return: its last attempt when nothing it reads changed, else a Dagster run of its job."""
    from orchestration.run_state import returns_unchanged

    last = returns_unchanged(paths, name, partition or "window", read)
    if last is not None:
        return (
            name,
            partition or "",
            0.0,
            last["folder"],
            f"unchanged since its last attempt, {last['status']}",
        )

    def attempts() -> set[Path]:
        return {p.resolve() for p in (paths.published / "returns" / name).glob("*/last_attempt")}

    before = attempts()
    started = time.perf_counter()
    run = defs.resolve_job_def(job_name).execute_in_process(
        instance=instance,
        partition_key=partition,
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
    )
    seconds = time.perf_counter() - started
    made = sorted(attempts() - before, key=lambda p: p.name)
    metadata = next(
        (e.materialization.metadata for e in run.all_events if e.event_type_value == "ASSET_MATERIALIZATION"),
        {},
    )
    verdict = "ready to submit" if run.success else "NOT ready (see validation/ in the folder)"
    if made:
        folder, status = str(made[-1]), verdict
    elif "reused_last_attempt" in metadata and metadata["reused_last_attempt"].value:
        # built again from the vault, and the same to the byte: its last attempt's validation stands
        folder, status = str(metadata["folder"].value), f"the same as its last attempt, {verdict}"
    else:  # it failed before it wrote an attempt: say why here, there is no folder to look in
        errors = [e.step_failure_data.error for e in run.all_events if e.is_step_failure]
        folder, status = "", f"NOT built ({failure_reason(errors[0]) if errors else 'no step ran'})"
    return (name, partition or "", seconds, folder, status)


def collection_year(paths: Paths) -> str:
    from orchestration.returns.common import latest_ended_collection_year

    return str(latest_ended_collection_year(paths.vault_db))


class FromTheVault:
    """The returns that read only the vault, in a process of their own: ``prepare`` starts it at once (it
    imports what it needs on a core the run's first stages leave idle, then waits), ``start`` lets it build
    (once the vault is complete), ``cancel`` sends it away with nothing done (a vault stage failed); their
    attempts are read back by ``attempts`` (which lets it build then if nothing did)."""

    def __init__(self, log_level: str, lines_to: Path | None = None, command: list[str] | None = None):
        self.lines_to = lines_to  # its own lines (None: this process's stderr)
        self.command = command or [sys.executable, "-m", "orchestration.returns.due", log_level]
        self._process: subprocess.Popen | None = None
        self._told = False
        self._lock = threading.Lock()

    def prepare(self) -> None:
        with self._lock:
            if self._process is None:
                # its own lines (Dagster's, at this log level) go where the run's go: the log file, or the
                # terminal with --verbose; only its results come back, one JSON line per return
                lines = None
                if self.lines_to is not None:
                    self.lines_to.parent.mkdir(parents=True, exist_ok=True)
                    lines = os.open(self.lines_to, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                try:
                    self._process = subprocess.Popen(
                        self.command,
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        stderr=lines,
                        text=True,
                        env=os.environ.copy(),
                    )
                finally:
                    if lines is not None:
                        os.close(lines)

    def _tell(self, word: str) -> None:
        self.prepare()
        with self._lock:
            assert self._process is not None and self._process.stdin is not None
            if not self._told:
                self._told = True
                with contextlib.suppress(BrokenPipeError):  # it ended already: attempts says how
                    self._process.stdin.write(word + "\n")
                    self._process.stdin.close()

    def start(self) -> None:
        self._tell(GO)

    def cancel(self) -> None:
        """Nothing to build: the process leaves as soon as it is told (if it was ever prepared)."""
        if self._process is not None:
            self._tell("stop")
            self._process.wait()

    def attempts(self, say: Callable[[Attempt], None]) -> list[Attempt]:
        self.start()
        assert self._process is not None and self._process.stdout is not None
        done: list[Attempt] = []
        for line in self._process.stdout:
            if line.startswith("{"):
                result = json.loads(line)
                done.append(tuple(result["attempt"]))
                say(done[-1])
        code = self._process.wait()
        if code != 0 and len(done) < len(FROM_THE_VAULT):
            for _, name in FROM_THE_VAULT[len(done) :]:
                done.append(
                    (name, "", 0.0, "", f"NOT built (its process ended with code {code}; see the run's log)")
                )
                say(done[-1])
        return done


GO = "go"  # what the run tells the returns' process once the vault is complete


class WhenStepsSucceed(threading.Thread):
    """Calls ``then`` once every step of ``steps`` has succeeded in the run (the vault stages, for the returns
    that read the vault), polling its event log; never when one of them fails, or once ``stop`` is set (the
    run is over)."""

    def __init__(self, instance, run_id: str, steps: Iterable[str], then: Callable[[], None]):
        super().__init__(name="when-steps-succeed", daemon=True)
        self.instance, self.run_id, self.steps, self.then = instance, run_id, set(steps), then
        self.stop = threading.Event()

    def run(self) -> None:
        from dagster import DagsterEventType

        kinds = {DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE}
        while not self.stop.wait(0.25):
            try:
                records = self.instance.all_logs(self.run_id, of_type=kinds)
            except Exception:  # noqa: S112 (the run is not stored yet, or the storage is busy: look again)
                continue
            succeeded = {
                r.step_key for r in records if r.dagster_event.event_type == DagsterEventType.STEP_SUCCESS
            }
            if any(r.step_key in self.steps for r in records if r.dagster_event.is_step_failure):
                return
            if self.steps <= succeeded:
                self.then()
                return


def main(argv: list[str] | None = None) -> int:
    """The child process: each return that reads only the vault, one JSON line of its attempt on stdout."""
    # the run beside it (dbt, the gates, the reports) is what the user waits for: it goes first on a busy
    # machine, and these (with the validators they start, which inherit this) take the time it leaves
    os.nice(10)
    import dagster as dg

    from orchestration import run_state
    from orchestration.resources import Warehouse
    from orchestration.returns.assets import cin_job, cin_return, ssda903_job, ssda903_return

    # the two returns' own jobs, without the rest of the code location (dbt's above all): a second less of
    # importing, beside a run that is using the other core
    defs = dg.Definitions(
        assets=[ssda903_return, cin_return],
        jobs=[ssda903_job, cin_job],
        resources={"warehouse": Warehouse()},
        executor=dg.in_process_executor,
    )

    log_level = (argv or sys.argv[1:] or ["CRITICAL"])[0]
    paths = Paths.from_env()
    paths.export_env()
    paths.ensure_dagster_home()
    instance = dg.DagsterInstance.get()
    from orchestration.returns.reconcile import build_ahead

    # ready: now wait until the run's vault stages have all succeeded (anything else, or the run's end, and
    # there is nothing to do)
    if sys.stdin.readline().strip() != GO:
        return 0
    # first what the run will want soonest: the returns of every year its reconciliation with the marts
    # compares, built now from the vault (the run picks them up after dbt if the vault is unchanged)
    try:
        build_ahead(paths.vault_db, paths.quality)
    except Exception as exc:
        print(f"returns not built ahead for the reconciliation: {exc}", file=sys.stderr)
    read = run_state.fingerprint(paths)
    year = collection_year(paths)
    out = sys.stdout
    sys.stdout = sys.stderr  # anything else said on the way goes with the run's lines, not into the results
    for job_name, name in FROM_THE_VAULT:
        result = attempt(defs, instance, paths, job_name, name, year, log_level, read)
        out.write(json.dumps({"attempt": result}) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    from orchestration.cli import entry

    entry(main)  # out at once when done, as the wholechild command: the run waits for this process to end
