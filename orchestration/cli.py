"""``wholechild``: the command line for data engineers, analysts and the returns team.

Each command is a function ``cmd_<name>``; ``build_parser`` describes every command and option (``wholechild
--help``, ``wholechild COMMAND --help``). Impossible arguments are one-line errors that say what is
possible; a command that needs a key it has not got stops with one line (``_check_keys``).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import re
import sys
import time
import uuid
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from orchestration.settings import Paths, restrict_new_files

# the collection years csc-validator-be-903 and -cin have rule sets for (2022/23 to 2026/27), named by
# their 31 March
VALIDATOR_YEARS = range(2023, 2028)


def _period(text: str) -> str:
    if not re.fullmatch(
        r"(19|20)\d{2}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?|-(autumn|spring|summer))?", text
    ):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a period: give a collection year (2025), a month (2025-01), a date (2025-03-31)"
            " or a census term (2025-spring)"
        )
    return text


def _bounded(kind, low, high, what: str):
    """An argparse type: a number of ``kind`` from ``low`` to ``high``, or a one-line error saying so."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is out of range: {what} from {low} to {high}")
        return value

    return parse


DBT_STAGE = "dbt build (models and tests)"
STAGES = [  # (stage, how to recognise its steps), in pipeline order
    ("receive deliveries", lambda k: k.startswith("ingest__deliveries")),
    ("load raw tables (rows accounted for)", lambda k: k.startswith("raw__")),
    ("link persons", lambda k: k.startswith("identity__")),
    ("pseudonymise to analytics", lambda k: k.startswith("pseudonymised__")),
    (DBT_STAGE, lambda k: "dbt" in k),
    ("quality gates (Great Expectations)", lambda k: "gx_" in k),
    ("reconcile marts with the returns", lambda k: "reconciles_with_returns" in k),
    ("publish reports", lambda k: k.startswith("reports__")),
]


# the stages whose output the statutory returns read (the vault)
VAULT_STAGES = ("receive deliveries", "load raw tables (rows accounted for)", "link persons")


def _stage_of(step_key: str) -> str:
    for name, matches in STAGES:
        if matches(step_key):
            return name
    return "other"


def _stage_timings(instance, run_id: str) -> tuple[dict[str, float], dict[str, int], list[str]]:
    """Wall time of each stage, from the run's event log (step start to step end)."""
    started: dict[str, float] = {}
    durations: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    failed = []
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or not event.step_key:
            continue
        if event.event_type_value == "STEP_START":
            started[event.step_key] = entry.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in started:
            stage = _stage_of(event.step_key)
            durations[stage] += entry.timestamp - started[event.step_key]
            counts[stage] += 1
            if event.event_type_value == "STEP_FAILURE":
                failed.append(event.step_key)
    return durations, counts, failed


def cmd_generate(args: argparse.Namespace) -> int:
    from orchestration.synthetic import generate

    paths = Paths.from_env()
    out = Path(args.out).resolve() if args.out else paths.landing
    truth = Path(args.truth_out).resolve() if args.truth_out else out.parent / "ground_truth"
    as_of = date.fromisoformat(args.as_of) if args.as_of else None
    result = generate(out, scale=args.scale, seed=args.seed, faults=args.faults, as_of=as_of, truth_out=truth)
    print(
        f"Synthetic authority: {result.children:,} children, {len(result.files)} files, {result.rows:,} rows, "
        f"{result.faults:,} injected faults, in {result.seconds:.1f} s"
    )
    print(f"  landing files  {result.landing}")
    print(f"  ground truth   {result.ground_truth}  (never read by the pipeline)")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from orchestration import run_state
    from orchestration.reports.publish import current_release

    paths = Paths.from_env().ensure()
    empty = _nothing_to_run_on(paths)
    if empty:
        print(f"wholechild run: {empty}", file=sys.stderr)
        return 2
    paths.export_env()
    paths.ensure_dagster_home()
    started = time.perf_counter()
    before = current_release(paths.published)
    now = run_state.fingerprint(paths)
    if not args.force:  # before anything heavy is imported: an idle run takes a second or two
        idle = run_state.nothing_new(paths, now, before)
        if idle:
            print(idle)
            return 0
    why = "--force" if args.force else run_state.what_changed(paths, now, before)
    if why:
        print(f"Building again ({why}).", flush=True)
    run_state.forget_run(paths)  # a run killed part-way must not leave the next believing nothing changed
    log_level = "DEBUG" if args.verbose else "WARNING"
    returns_log_level = log_level if args.verbose else "CRITICAL"  # a return not ready is said below
    # the SSDA903 and CIN census read only the vault: once it is complete they are built by a process of
    # their own while this one goes on (returns/due.py). Started now, it imports what it needs on the core
    # that receiving, loading and linking leave idle, then waits to be told
    from orchestration.returns.due import FromTheVault

    log = paths.home / "logs" / f"run-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.log"
    from_the_vault = FromTheVault(returns_log_level, lines_to=None if args.verbose else log)
    from_the_vault.prepare()
    import dagster as dg

    from orchestration.definitions import defs
    from orchestration.recovery import REBUILD_TAG, clear_unfinished_releases, recover_dead_runs, run_tags
    from orchestration.transform.assets import DOCS_AFTER_RUN, DOCS_TAG, start_docs

    instance = dg.DagsterInstance.get()
    for dead in recover_dead_runs(instance):  # a run killed part-way would hold the warehouse for ever
        print(
            f"Run {dead.run_id} was killed part-way (its process {dead.pid} no longer exists): marked failed,"
            f" {dead.slots_freed} warehouse slot{'s' if dead.slots_freed != 1 else ''} freed.",
            flush=True,
        )
    for folder in clear_unfinished_releases(paths.published, instance):
        print(f"Removed {folder.name}, a release a killed run had not finished.", flush=True)
    job = defs.resolve_job_def("refresh_all")
    print(
        f"Running the whole graph in-process (home {paths.home}) ..."
        + ("" if args.verbose else f"\n  dbt's lines, warnings and stack traces go to {log}"),
        flush=True,
    )
    from orchestration.progress import Progress, failure_reason

    run_id = str(uuid.uuid4())  # known before the run starts, so that its progress can be followed
    steps = Counter(_stage_of(node.name) for node in job.graph.nodes)
    with _output_to(None if args.verbose else log) as terminal:
        watching = (
            Progress(
                instance, run_id, [(n, steps[n]) for n, _ in STAGES], _stage_of, terminal, _live(terminal)
            )
            if not args.verbose
            else contextlib.nullcontext()
        )
        from orchestration.returns.due import WhenStepsSucceed
        from orchestration.returns.reconcile import AHEAD_FILE, BUILDING_FILE

        # returns a run built ahead and never used (it failed before its reconciliation) are not kept: they
        # are as identifiable as the vault, and made again from it when wanted
        paths.vault_db.with_name(AHEAD_FILE).unlink(missing_ok=True)
        paths.vault_db.with_name(BUILDING_FILE).unlink(missing_ok=True)  # left by a returns' process killed

        vault_steps = [node.name for node in job.graph.nodes if _stage_of(node.name) in VAULT_STAGES]
        vault_complete = WhenStepsSucceed(instance, run_id, vault_steps, from_the_vault.start)
        vault_complete.start()
        with watching:
            result = job.execute_in_process(
                instance=instance,
                # --force builds everything again, whatever did or did not change
                tags=run_tags()
                | ({REBUILD_TAG: "all"} if args.force else {})
                | {DOCS_TAG: DOCS_AFTER_RUN},  # written below, beside the returns
                raise_on_error=False,
                run_id=run_id,
                run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
            )
    vault_complete.stop.set()
    elapsed = time.perf_counter() - started

    durations, counts, failed_steps = _stage_timings(instance, result.run_id)
    # the documentation site of the models just built, written while the returns are finished (it only reads
    # the analytics file), when the code changed since it was last written
    built = counts.get(DBT_STAGE) and not any(_stage_of(s) == DBT_STAGE for s in failed_steps)
    docs = start_docs(paths, None if args.verbose else log) if built else None
    check_failures = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.asset_check_evaluation_data.passed
    ]

    if args.verbose:  # the stages were shown as they went, unless Dagster's own lines were
        print("\nStage timings:")
        for name, _ in [*STAGES, ("other", None)]:
            if counts.get(name):
                n = counts[name]
                print(f"  {name:<38} {durations[name]:7.1f} s  ({n} step{'s' if n > 1 else ''})")
    print(
        f"Run {result.run_id} {'succeeded' if result.success else 'FAILED'} in {elapsed:.1f} s "
        f"(including {elapsed - sum(durations.values()):.1f} s start-up)"
    )

    for failure in check_failures:
        print(
            f"\nGate failed: {failure.asset_key.to_user_string()} / {failure.check_name}: {failure.description}"
        )
    reasons = {
        e.step_key: failure_reason(e.step_failure_data.error) for e in result.all_events if e.is_step_failure
    }
    for step in failed_steps:
        print(f"Step failed: {step}" + (f": {reasons[step]}" if step in reasons else ""))
    if failed_steps and not args.verbose:
        print(f"The whole story of the failure (dbt's lines, stack traces): {log}")

    # the returns come from the vault, not from the marts or the reports: a failed report gate or dbt test
    # does not hold them back, only a failure in what they read (receiving, loading, linking)
    vault_failures = [s for s in failed_steps if _stage_of(s) in VAULT_STAGES]
    read = run_state.fingerprint(paths)  # what this run read, now that it has received and loaded
    if not vault_failures:
        print("\nStatutory returns (built from the vault, whatever the report gates said):", flush=True)
    with _output_to(None if args.verbose else log) as terminal:
        returns = []
        if not vault_failures:
            from orchestration.returns.due import AFTER_THE_MARTS, attempt

            # Annex A first: it follows the marts, not the returns' process, and is built while that finishes
            after_the_marts = [
                attempt(defs, instance, paths, job_name, name, None, returns_log_level, read)
                for job_name, name in AFTER_THE_MARTS
            ]
            # a return that is not ready is said so, with where its validation report is
            returns = from_the_vault.attempts(lambda done: _say_return(terminal, *done))
            for done in after_the_marts:
                returns.append(done)
                _say_return(terminal, *done)
    if vault_failures:
        from_the_vault.cancel()
        print(f"\nReturns not built: what they read failed ({', '.join(vault_failures)}).")

    if docs is not None:
        written = docs.finish()
        print(
            f"\ndbt docs {'written' if written else 'NOT written (the next run tries again)'}: "
            f"{paths.dbt_docs / 'index.html'}" + ("" if written else f"; why: {log}")
        )
    after = current_release(paths.published)
    _write_timings(paths, result.run_id, result.success, elapsed, durations, counts, returns, started)
    run_state.record_run(
        paths,
        read if result.success else None,
        after,
        {
            f"{name}/{year or 'window'}": {
                "fingerprint": read.for_returns(),
                "folder": folder,
                "status": status,
            }
            for name, year, _, folder, status in returns
            if folder and read is not None and not status.startswith("unchanged")
        },
    )
    print("\nOutputs:")
    if after and after != before:
        print(f"  reports            release {after}, published now; under {paths.current_release}:")
    elif after:
        print(
            f"  reports            NOT republished: release {after} stays current; under {paths.current_release}:"
        )
    else:
        print("  reports            none yet (nothing has passed the gates)")
    pages = _report_pages(paths) if after else []
    width = max((len(title) for title, _ in pages), default=0)
    for title, page in pages:
        print(f"    {title:<{width}}  {page.relative_to(paths.current_release)}")
    print(f"  quality gates      {paths.quality}  (each gate's result, passed or not)")
    print(f"  marts              {paths.analyst_copy}  (schema marts; the copy analysts open)")
    print(f"  vault              {paths.vault_db}  (identifiable: pipeline account only)")
    print("  delivery manifest  wholechild deliveries")
    if any(status.startswith("NOT") for *_, status in returns) and os.environ.get("WHOLECHILD_DEMO") == "1":
        print(
            "  (the demo authority is generated with faults injected on purpose, listed in "
            f"{paths.ground_truth / 'faults.csv'}: a return NOT ready is them being caught)"
        )
    return 0 if result.success else 1


TIMINGS_FILE = "last_run_timings.json"  # in the home's logs folder: where the last run's time went


def _write_timings(
    paths: Paths,
    run_id: str,
    succeeded: bool,
    run_seconds: float,
    durations: dict[str, float],
    counts: dict[str, int],
    returns: list,
    started: float,
) -> None:
    """The last run's time, stage by stage, for a person asking where it went and for ``wholechild bench``:
    each stage's wall time (its steps' start to end), the returns' own, and the whole command's so far."""
    import json

    record = {
        "run_id": run_id,
        "succeeded": succeeded,
        "stages": {
            name: round(durations[name], 3) for name, _ in [*STAGES, ("other", None)] if counts.get(name)
        },
        "start_up_seconds": round(run_seconds - sum(durations.values()), 3),
        "run_seconds": round(run_seconds, 3),
        "returns": [
            {"return": name, "year": year, "seconds": round(seconds, 3), "status": status}
            for name, year, seconds, _, status in returns
        ],
        "whole_seconds": round(time.perf_counter() - started, 3),
    }
    logs = paths.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    (logs / TIMINGS_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def _report_pages(paths: Paths) -> list[tuple[str, Path]]:
    """Each report of the current release, by title, where a reader opens it."""
    from orchestration.reports.packs import REPORTS

    current = paths.current_release
    pages = [("Outcomes summary", current / "outcomes_summary.html")]
    for report in REPORTS:
        for place in (current / report.name, current / "restricted" / report.name):
            if (place / f"{report.name}.html").exists():
                restricted = " (restricted)" if place.parent.name == "restricted" else ""
                pages.append((report.title + restricted, place / f"{report.name}.html"))
    return [(title, page) for title, page in pages if page.exists()]


def _say_return(fd: int, name: str, year: str, seconds: float, folder: str, status: str) -> None:
    took = "" if status.startswith("unchanged") else f" in {seconds:.1f} s"
    line = f"  return {name:<11} {year:<5} {status}{took}" + (f": {folder}" if folder else "")
    os.write(fd, (line + "\n").encode())


def _live(fd: int) -> bool:
    """Whether progress can be drawn in place: a terminal that understands it."""
    return os.isatty(fd) and os.environ.get("TERM", "") not in ("", "dumb")


@contextlib.contextmanager
def _output_to(log: Path | None):
    """Everything written to stdout and stderr (dbt's node lines, Dagster's warnings and stack traces,
    by this process and its children) goes to ``log`` meanwhile, uncoloured; None leaves it on the
    terminal (--verbose)."""
    if log is None:
        yield sys.stdout.fileno()
        return
    log.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    colours = os.environ.get("DBT_USE_COLORS")
    os.environ["DBT_USE_COLORS"] = "false"
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    try:
        yield saved[0]  # the terminal, for what the user should still see meanwhile
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
        if colours is None:
            os.environ.pop("DBT_USE_COLORS", None)
        else:
            os.environ["DBT_USE_COLORS"] = colours


def _warehouse(command: str) -> Paths | None:
    """The home's paths when it has a warehouse; otherwise None, having said what to do."""
    paths = Paths.from_env().ensure()
    if paths.vault_db.exists():
        return paths
    print(
        f"wholechild {command}: no warehouse at {paths.vault_db}: run `wholechild run` first", file=sys.stderr
    )
    return None


def cmd_returns(args: argparse.Namespace) -> int:
    from orchestration.returns import service
    from orchestration.returns.common import latest_ended_collection_year
    from orchestration.returns.validation import ValidatorUnavailable

    paths = _warehouse("returns")
    if paths is None:
        return 2
    latest = latest_ended_collection_year(paths.vault_db)
    year = args.year or latest
    if args.which != "annex-a":
        possible = [y for y in VALIDATOR_YEARS if y <= latest]
        if year not in possible:
            print(
                f"wholechild returns {args.which}: --year {year} is not a collection year that can be built here:"
                f" choose one of {', '.join(map(str, possible))} (years the DfE validator knows that the SSD"
                f" extract of {latest} has ended)",
                file=sys.stderr,
            )
            return 2
    try:
        if args.which == "ssda903":
            outcome = service.ssda903(paths, year, again=True)  # asked for by name: a new attempt
        elif args.which == "cin":
            outcome = service.cin(paths, year, again=True)
        else:
            try:
                inspection = date.fromisoformat(args.inspection_date) if args.inspection_date else None
            except ValueError:
                print(
                    f"wholechild returns annex-a: --inspection-date {args.inspection_date!r} is not a date:"
                    " give it as YYYY-MM-DD",
                    file=sys.stderr,
                )
                return 2
            if inspection is None and args.year:
                inspection = date(args.year, 3, 31)
            outcome = service.annex_a(paths, inspection, args.months)
    except (FileNotFoundError, ValidatorUnavailable, ValueError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(f"{outcome.return_name} {outcome.year}: {'READY to submit' if outcome.passed else 'NOT ready'}")
    for key, value in outcome.summary.items():
        if key in ("return", "collection_year"):
            continue
        if key == "xsd_valid":
            value = {True: "yes", False: "NO", None: "not applicable (a CSV return)"}.get(value, value)
        elif isinstance(value, dict):
            natural = sorted(
                value.items(),
                key=lambda kv: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", kv[0])],
            )
            value = "; ".join(f"{k}: {v}" for k, v in natural) or "none"
        print(f"  {key.replace('_', ' '):<45} {value}")
    print(f"  files                                         {outcome.folder}")
    if (outcome.folder / "validation" / "validation.html").exists():
        print(
            f"  validation report                             {outcome.folder / 'validation' / 'validation.html'}"
        )
    return 0 if outcome.passed else 1


def cmd_reconcile(args: argparse.Namespace) -> int:
    from orchestration.duckdb_files import WarehouseBusyError
    from orchestration.returns.reconcile import reconcile_with_returns, write_report

    paths = Paths.from_env()
    if not paths.analytics_db.exists():
        print(f"No marts at {paths.analytics_db} yet: run `wholechild run` first.", file=sys.stderr)
        return 2
    try:
        reconciliation = reconcile_with_returns(paths.vault_db, paths.analytics_db)
    except (FileNotFoundError, WarehouseBusyError, ValueError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    summary = write_report(reconciliation, paths.quality)
    figures = reconciliation.summary.rename(columns={"return": "from_returns"})
    years = summary["years"]
    if args.year is not None and args.year not in years:
        shown = ", ".join(map(str, years)) or "none"
        print(f"{args.year} is not a year the extract holds whole (those it does: {shown})", file=sys.stderr)
        return 2
    year = args.year or (years[-1] if years else None)
    print(
        f"The marts against the DfE's figures worked out from the SSDA903 and CIN census returns: "
        f"{summary['comparisons']} measure-years over {len(years)} years, {summary['differences']} differences, "
        f"{summary['unexplained']} unexplained."
    )
    if year is not None:
        print(f"\n{year} (children, or a count per child summed)    return   marts   differences")
        for row in figures[figures.collection_year == year].itertuples():
            print(f"  {row.measure:<49} {row.from_returns:>6} {row.marts:>7} {row.differences:>13}")
    differences = reconciliation.differences
    unexplained = reconciliation.unexplained
    explained = differences[differences.explained & (differences.collection_year == year)]
    for title, rows in (
        ("Unexplained, every year (these block publication)", unexplained),
        (f"Explained, {year}", explained),
    ):
        if rows.empty:
            continue
        print(f"\n{title}: {len(rows)}")
        for row in rows.head(20).itertuples():
            print(f"  {row.measure} {row.collection_year} {row.person_key}: {row.reason}")
        if len(rows) > 20:
            print(f"  ... and {len(rows) - 20} more")
    print(
        f"\nEvery difference with its child and reason: {paths.quality / 'reconciliation_with_returns.csv'}"
    )
    return 0 if reconciliation.passed else 1


def cmd_ingest(args: argparse.Namespace) -> int:
    from orchestration.duckdb_files import WarehouseBusyError, connect
    from orchestration.ingest.service import describe, ingest

    paths = Paths.from_env().ensure()
    files = [Path(p) for p in args.paths] or None
    if args.period and not files:
        print(
            "wholechild ingest: --period applies to the files it is given with: name them"
            " (wholechild ingest --period 2025 header.csv episodes.csv)",
            file=sys.stderr,
        )
        return 2
    try:
        with connect(paths.vault_db) as con:
            result = ingest(con, paths, files, args.period)
    except (FileNotFoundError, WarehouseBusyError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if not result.receipts and not result.loads:
        print(f"Nothing new in {paths.landing}." if files is None else "Nothing to ingest.")
        return 0
    loaded = {outcome.delivery_id: (name, outcome) for name, outcome in result.loads}
    problems = 0
    for receipt in result.receipts:
        if receipt.delivery_id in loaded:
            name, outcome = loaded.pop(receipt.delivery_id)
            print(f"{receipt.relative}\n  {describe(name, outcome)}")
            problems += outcome.status != "loaded"
        elif receipt.status == "refused":
            print(f"{receipt.relative}\n  refused: {receipt.detail}")
            problems += 1
        elif receipt.outcome != "new delivery":
            print(f"{receipt.relative}\n  already received: {receipt.outcome}; nothing loaded again")
        else:
            print(f"{receipt.relative}\n  {receipt.status}: {receipt.detail or ''}".rstrip())
            problems += receipt.status in ("unrecognised", "failed")
    for name, outcome in loaded.values():  # received earlier, loaded now
        print(f"{name} (received earlier)\n  {describe(name, outcome)}")
        problems += outcome.status != "loaded"
    reports = paths.feedback
    if any(o.rows_quarantined or o.status != "loaded" for _, o in result.loads):
        print(f"\nError reports for partners: {reports}")
    return 1 if problems else 0


def cmd_deliveries(args: argparse.Namespace) -> int:
    from orchestration.duckdb_files import connect
    from orchestration.ingest.manifest import deliveries_frame

    paths = Paths.from_env()
    if not paths.vault_db.exists():
        print(f"No warehouse at {paths.vault_db} yet: run `wholechild run` first.", file=sys.stderr)
        return 1
    with connect(paths.vault_db, read_only=True) as con:
        frame = deliveries_frame(con)
        refused = con.execute(
            "select landing_path, outcome from ingest.receipts where starts_with(outcome, 'refused:') order by 1"
        ).fetchall()
    if frame.empty and not refused:
        print("No deliveries yet.")
        return 0
    columns = [
        "delivery_id",
        "dataset",
        "period",
        "file_name",
        "status",
        "rows_in_file",
        "rows_loaded",
        "rows_quarantined",
        "rows_duplicate",
    ]
    print(frame[columns].to_string(index=False, na_rep=""))
    problems = frame[frame.status_detail.notna()]
    for row in problems.itertuples():
        print(f"\n{row.file_name} ({row.status}): {row.status_detail}")
    for path, outcome in refused:  # never archived, so no delivery: turned away unread
        print(f"\n{path} ({outcome})")
    return 0


def cmd_linkage_train(args: argparse.Namespace) -> int:
    import json

    from orchestration.duckdb_files import connect
    from orchestration.identity import model as linkage_model
    from orchestration.identity.linkage import _deterministic_groups, _profiles
    from orchestration.identity.records import build_person_records
    from orchestration.identity.review import DECISIONS_DDL
    from orchestration.ingest.contracts import load_contracts

    paths = Paths.from_env()
    if not paths.vault_db.exists():
        print(f"No warehouse at {paths.vault_db}: ingest an authority's files first.", file=sys.stderr)
        return 1
    with connect(paths.vault_db) as con:
        build_person_records(con, load_contracts())
        con.execute(DECISIONS_DDL)
        _deterministic_groups(con)
        profiles = _profiles(con)
    started = time.perf_counter()
    trained = linkage_model.train(profiles)
    out = Path(args.out) if args.out else linkage_model.MODEL_PATH
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(trained, indent=2) + "\n", encoding="utf-8")
    print(f"Trained on {len(profiles):,} descriptions in {time.perf_counter() - started:.1f} s; wrote {out}")
    return 0


def cmd_linkage_report(args: argparse.Namespace) -> int:
    from orchestration.identity.evaluate import evaluate, format_report
    from orchestration.ingest.contracts import load_contracts

    paths = Paths.from_env()
    truth = Path(args.truth) if args.truth else paths.ground_truth
    if not (truth / "records.csv").exists():
        print(f"No ground truth at {truth}: the report needs a synthetic authority.", file=sys.stderr)
        return 1
    if not paths.vault_db.exists():
        print(f"No warehouse at {paths.vault_db}: run `wholechild run` first.", file=sys.stderr)
        return 1
    print(format_report(evaluate(paths.vault_db, truth, load_contracts())))
    return 0


def cmd_sar(args: argparse.Namespace) -> int:
    from orchestration.audit import AuditLogError
    from orchestration.identity.sar import SearchError, export, search
    from orchestration.ingest.contracts import load_contracts

    paths = Paths.from_env()
    given = [
        (k, v)
        for k, v in (
            ("upn", args.upn),
            ("nhs_number", args.nhs_number),
            ("la_person_id", args.la_person_id),
            ("name_dob", args.name),
        )
        if v
    ]
    if len(given) != 1:
        print("Search by exactly one of --upn, --nhs-number, --la-person-id, --name.", file=sys.stderr)
        return 2
    kind, term = given[0]
    if kind == "name_dob":
        if not args.dob:
            print("A search by --name needs --dob (yyyy-mm-dd).", file=sys.stderr)
            return 2
        term = f"{term} {args.dob}"
    if not paths.vault_db.exists():
        print(f"No warehouse at {paths.vault_db}.", file=sys.stderr)
        return 1
    try:
        found = search(
            paths.vault_db,
            paths.analytics_db,
            paths.audit_log,
            load_contracts(),
            kind,
            term,
            args.reason or "",
        )
    except (SearchError, AuditLogError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(f"Search logged to {paths.audit_log}.")
    if not found.person_keys:
        print("No child found.")
        return 0
    print(
        f"{len(found.person_keys)} person{'s' if len(found.person_keys) > 1 else ''} found "
        f"({', '.join(found.person_keys)}); {found.total_rows:,} rows held:"
    )
    for (tier, table), frame in sorted(found.rows.items()):
        print(f"  {tier:<10} {table:<55} {len(frame):>6} rows")
    print("  published  (counts after disclosure control only: no row about any child)")
    if args.export:
        written = export(found, Path(args.export), paths.vault_db, paths.audit_log, args.reason)
        print(f"Wrote {len(written)} files to {args.export} (export logged).")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from orchestration.audit import AuditLogError, anchor_path, verify
    from orchestration.duckdb_files import connect

    paths = Paths.from_env()
    if not paths.audit_log.exists() and not anchor_path(paths.audit_log).exists():
        print(f"No subject access log at {paths.audit_log}: no search has been made.")
        return 0
    if not paths.vault_db.exists():
        print(
            f"{paths.audit_log} cannot be verified: the vault ({paths.vault_db}) is missing",
            file=sys.stderr,
        )
        return 1
    try:
        with connect(paths.vault_db, read_only=True) as con:
            state = verify(paths.audit_log, con)
    except AuditLogError as exc:
        print(f"AUDIT LOG ALTERED: {exc}", file=sys.stderr)
        return 1
    print(
        f"{paths.audit_log}: {state.entries} entries, chain intact (keyed), heads in the vault and"
        f" {anchor_path(paths.audit_log)} agree."
    )
    if state.behind:
        print(
            f"  entry {state.entries} was written but a crash stopped its head reaching the"
            f" {' and the '.join(state.behind)}; the next search records it, and says so in its entry."
        )
    if state.torn_tail:
        print(
            f"  the last line ({len(state.torn_tail)} bytes) was cut short by a crash while it was written;"
            " the next search moves it aside and says so in its entry."
        )
    return 0


def cmd_privacy_scan(args: argparse.Namespace) -> int:
    from orchestration.identity.privacy_scan import scan

    paths = Paths.from_env()
    missing = [p for p in (paths.vault_db, paths.analytics_db) if not p.exists()]
    if missing:
        print(f"Nothing to scan: {missing[0]} does not exist (run `wholechild run` first).", file=sys.stderr)
        return 1
    result = scan(paths.analytics_db, paths.vault_db, paths.landing)
    print(
        f"Scanned {result.columns_scanned:,} columns of {paths.analytics_db} for "
        f"{result.identifier_values:,} identifiers and source record ids (vault and landing)."
    )
    if not result.found:
        print("None found.")
        return 0
    for column, hits in result.found:
        print(f"  FOUND {hits:,} in {column}")
    return 1


def _int_list(low: int, high: int, what: str):
    """An argparse type: comma-separated whole numbers from ``low`` to ``high``, or a one-line error."""
    one = _bounded(int, low, high, what)

    def parse(text: str) -> list[int]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"{text!r} names no {what}")
        return sorted({one(t) for t in items})

    return parse


def cmd_worklist(args: argparse.Namespace) -> int:
    from orchestration.returns import worklist
    from orchestration.returns.common import extract_date
    from orchestration.returns.validation import ValidatorUnavailable

    paths = _warehouse("worklist")
    if paths is None:
        return 2
    extract = extract_date(paths.vault_db)
    in_progress = worklist.in_progress_year(extract)
    year = args.year or in_progress
    possible = [y for y in VALIDATOR_YEARS if y <= in_progress]
    if year not in possible:
        print(
            f"wholechild worklist: --year {year} cannot be worked on here: choose one of"
            f" {', '.join(map(str, possible))} (years the DfE validators know, up to the one the extract of"
            f" {extract} falls in, {in_progress})",
            file=sys.stderr,
        )
        return 2
    try:
        made = worklist.build(paths, year)
    except (FileNotFoundError, ValidatorUnavailable, ValueError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    counts = made.counts()
    against = f"against the extract of {made.compared_with}" if made.compared_with else "the year's first"
    print(
        f"In-year worklist {year - 1}/{str(year)[2:]} from the extract of {made.extract} ({against}):"
        f" {counts['new']} new, {counts['still open']} still open, {counts['fixed']} fixed"
    )
    print(f"  {made.folder / 'worklist.html'}")
    return 0


def cmd_returns_audit(args: argparse.Namespace) -> int:
    from orchestration.returns import audit
    from orchestration.returns.validation import ValidatorUnavailable, dfe_python

    try:
        dfe_python()
    except ValidatorUnavailable as exc:
        print(f"wholechild returns-audit: {exc}", file=sys.stderr)
        return 2
    print(
        f"Clean synthetic authorities (no injected faults), scale {args.scale}, seeds"
        f" {', '.join(map(str, args.seeds))}, as of 31 March {max(args.years)}: each year's SSDA903 and CIN"
        " census, pre-checked and validated by the DfE's validators\n",
        flush=True,
    )
    rows = audit.audit(args.seeds, args.scale, args.years, Path(args.keep) if args.keep else None)
    audit.print_rows(rows)
    return 0 if all(r["blocking"] == 0 for r in rows) else 1


def cmd_bench(args: argparse.Namespace) -> int:
    from orchestration import bench
    from orchestration.identity.pseudonyms import DEMO_ENV

    # every stage runs on a synthetic authority it generates in a folder of its own: throwaway keys
    os.environ[DEMO_ENV] = "1"

    stages = args.stage or list(bench.STAGES)
    unknown = set(stages) - set(bench.STAGES)
    if unknown:
        print(
            f"unknown stage(s): {', '.join(sorted(unknown))}; known: {', '.join(bench.STAGES)}",
            file=sys.stderr,
        )
        return 2
    return bench.run(stages, args.scale, repeat=args.repeat)


# commands that pseudonymise or write the audit log, and so need its keys (or --demo)
WRITERS = {"run", "ingest", "returns", "linkage-train"}  # commands that write the warehouse
READERS = {"sar", "deliveries", "reconcile", "privacy-scan", "linkage-report", "audit-verify"}
NEEDS_PSEUDONYM_KEY = {"run", "sar", "linkage-train"}
NEEDS_AUDIT_KEY = {"sar", "audit-verify"}


def _nothing_to_run_on(paths: Paths) -> str | None:
    """Why a run would have nothing to build from: no file in landing and none ever received (a new home).
    Said in one line, where the run would otherwise fail its gates on empty marts."""
    received = paths.archive.is_dir() and any(p.is_file() for p in paths.archive.rglob("*"))
    if received or any(p.is_file() for p in paths.landing.rglob("*")):
        return None
    return (
        f"nothing to run on: {paths.landing} is empty and nothing has been received into this home. Put the"
        " extracts there (README: Pointing it at real files), or run `wholechild generate` first for the synthetic demo"
        " authority (`make demo` does both)."
    )


def _scales(text: str) -> tuple[float, ...]:
    from orchestration.region.synthetic import MEMBERS

    try:
        scales = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of scales such as 0.1,0.2,0.1,0.1,0.3"
        ) from None
    if len(scales) != len(MEMBERS) or not all(0.005 <= s <= 2.0 for s in scales):
        raise argparse.ArgumentTypeError(
            f"{text!r}: give {len(MEMBERS)} scales from 0.005 to 2.0, one per member, separated by commas"
        )
    return scales


def _jobs(text: str) -> int:
    if not text.strip().isdigit() or not 1 <= int(text) <= 16:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of runs side by side, from 1 to 16")
    return int(text)


def cmd_region(args: argparse.Namespace) -> int:
    from orchestration.region.export import RegionalKeyError
    from orchestration.region.run import demo
    from orchestration.region.synthetic import DEFAULT_SCALES

    if not args.demo:
        print(
            "wholechild region: only the synthetic regional demo runs from here (--demo): a real region's"
            " members each run `wholechild run` and send their marts (docs/region.md)",
            file=sys.stderr,
        )
        return 2
    root = Path(args.root).resolve() if args.root else Paths.from_env().home / "region"
    try:
        engines = ("duckdb", "spark") if args.engine == "both" else (args.engine,)
        return demo(
            root, scales=args.scales or DEFAULT_SCALES, seed=args.seed, engines=engines, jobs=args.jobs
        )
    except RegionalKeyError as exc:
        print(f"wholechild region: {exc}", file=sys.stderr)
        return 2


def _check_settings(command: str) -> str | None:
    """A setting the command would trip over part-way, said before it starts."""
    from orchestration.ingest.limits import Limits
    from orchestration.returns.common import Authority
    from orchestration.settings import duckdb_memory_limit, share_analytics, work_threads

    try:
        if command in WRITERS:
            Limits.from_env()
            work_threads()
        share_analytics()
        duckdb_memory_limit()
        Authority.from_env()  # its region and statistical neighbours: read by the models and the returns
    except ValueError as exc:
        return str(exc)
    for name in ("WHOLECHILD_RUN_WAIT_SECONDS", "WHOLECHILD_LOCK_WAIT_SECONDS"):
        text = os.environ.get(name, "").strip()
        try:
            if text and float(text) < 0:
                raise ValueError
        except ValueError:
            return f"{name} must be a number of seconds, not {text!r}"
    return None


def _check_keys(command: str) -> str | None:
    """Why the command cannot run with the keys it has (None: it can)."""
    from orchestration.audit import AuditKeyError, audit_key
    from orchestration.identity.pseudonyms import PseudonymKeyError, pseudonym_key

    try:
        if command in NEEDS_PSEUDONYM_KEY:
            with warnings.catch_warnings(record=True) as said:
                warnings.simplefilter("always")
                pseudonym_key()
            for warning in said:  # the demo's throwaway key, said once and plainly
                print(f"wholechild {command}: {warning.message}", file=sys.stderr)
        if command in NEEDS_AUDIT_KEY:
            audit_key(Paths.from_env().audit_log)
    except (PseudonymKeyError, AuditKeyError) as exc:
        return str(exc)
    return None


class _DefaultsHelp(argparse.HelpFormatter):
    """Each option's default beside its description, unless the description says it or there is none."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS):
            return text
        return f"{text} (default: %(default)s)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wholechild",
        description="Whole Child: the command line for data engineers, analysts and the returns team.",
        epilog="`wholechild COMMAND --help` describes a command's options. Settings come from the environment:"
        " WHOLECHILD_HOME (default ./data), WHOLECHILD_PSEUDONYM_KEY, WHOLECHILD_AUDIT_KEY (see README.md).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # every command's --help shows each option's default beside its description
    sub.add_parser = functools.partial(sub.add_parser, formatter_class=_DefaultsHelp)
    demo = argparse.ArgumentParser(add_help=False)
    demo.add_argument(
        "--demo",
        action="store_true",
        help="the synthetic demo: without WHOLECHILD_PSEUDONYM_KEY or WHOLECHILD_AUDIT_KEY, use throwaway"
        " keys (never for real data)",
    )

    gen = sub.add_parser("generate", help="write a synthetic local authority in real file layouts")
    gen.add_argument(
        "--scale",
        type=_bounded(float, 0.001, 20.0, "a scale"),
        default=0.05,
        help="size: 1.0 is a whole Dudley-sized authority (default 0.05, the demo)",
    )
    gen.add_argument("--seed", type=int, default=42, help="random seed (default 42, the demo)")
    gen.add_argument(
        "--faults",
        type=_bounded(float, 0.0, 1.0, "a fault rate"),
        default=None,
        help="rate of injected faults (default: realistic; 0 gives clean data)",
    )
    gen.add_argument("--as-of", help="extract date, YYYY-MM-DD (default: the last 31 March)")
    gen.add_argument("--out", help="landing folder to write (default: $WHOLECHILD_HOME/landing)")
    gen.add_argument("--truth-out", help="ground truth folder (default: beside the landing folder)")
    gen.set_defaults(func=cmd_generate)

    run = sub.add_parser("run", parents=[demo], help="materialise the whole asset graph in-process")
    run.add_argument("--verbose", action="store_true", help="show every Dagster event, not only warnings")
    run.add_argument(
        "--force",
        action="store_true",
        help="build everything again (every pseudonymised table, every dbt model) even when nothing is new "
        "since the last release (by default such a run says so and stops, and a run builds only what read "
        "something that changed)",
    )
    run.set_defaults(func=cmd_run)

    ing = sub.add_parser(
        "ingest",
        help="archive and load files now, and say what happened to each (default: the landing folder)",
    )
    ing.add_argument(
        "paths", nargs="*", help="files or folders to ingest (default: everything new in landing)"
    )
    ing.add_argument(
        "--period",
        type=_period,
        help="the reporting period of the files named, when their names and content do not carry it: a "
        "collection year (2025), a month (2025-01), a date (2025-03-31) or a census term (2025-spring)",
    )
    ing.set_defaults(func=cmd_ingest)

    dl = sub.add_parser("deliveries", help="the delivery manifest with row accounting")
    dl.set_defaults(func=cmd_deliveries)

    train = sub.add_parser(
        "linkage-train",
        parents=[demo],
        help="estimate the linkage model's parameters from the warehouse's records (no labels)",
    )
    train.add_argument("--out", help="where to write the model (default: the one in the repository)")
    train.set_defaults(func=cmd_linkage_train)

    report = sub.add_parser(
        "linkage-report", help="linkage quality against a synthetic authority's ground truth"
    )
    report.add_argument("--truth", help="ground truth folder (default: $WHOLECHILD_HOME/ground_truth)")
    report.set_defaults(func=cmd_linkage_report)

    sar = sub.add_parser(
        "sar", parents=[demo], help="subject access: every row held about one child, in every tier (logged)"
    )
    sar.add_argument("--upn", help="the child's UPN (or a former UPN), any case")
    sar.add_argument("--nhs-number", help="the child's NHS number, spaces allowed")
    sar.add_argument("--la-person-id", help="the child's person id in the LA's case management system")
    sar.add_argument("--name", help="forename and surname, with --dob")
    sar.add_argument("--dob", help="date of birth, yyyy-mm-dd (with --name)")
    sar.add_argument("--reason", required=True, help="why the search is made (written to the audit log)")
    sar.add_argument("--export", help="write every row found to this folder, a CSV per table")
    sar.set_defaults(func=cmd_sar)

    scan = sub.add_parser(
        "privacy-scan",
        help="look for every identifier and source record id of the vault and landing in the analytics file",
    )
    scan.set_defaults(func=cmd_privacy_scan)

    av = sub.add_parser(
        "audit-verify", parents=[demo], help="check the subject access audit log has not been altered"
    )
    av.set_defaults(func=cmd_audit_verify)

    ret = sub.add_parser(
        "returns",
        help="build a statutory return, validate it (pre-checks, then the DfE validator) and publish it",
    )
    ret.add_argument("which", choices=["ssda903", "cin", "annex-a"], help="the return to build")
    ret.add_argument(
        "--year", type=int, help="collection year, named by its 31 March (default: the latest ended)"
    )
    ret.add_argument("--inspection-date", help="Annex A only: YYYY-MM-DD (default: the SSD extract's date)")
    ret.add_argument(
        "--months",
        type=_bounded(int, 1, 24, "a number of months"),
        default=6,
        help="Annex A only: look-back window in months, 1 to 24 (default 6, as Ofsted asks)",
    )
    ret.set_defaults(func=cmd_returns)

    rec = sub.add_parser(
        "reconcile",
        help="reconcile the marts child by child with the DfE's figures worked out from the returns",
    )
    rec.add_argument("--year", type=int, help="collection year whose figures to show (default: the latest)")
    rec.set_defaults(func=cmd_reconcile)

    work = sub.add_parser(
        "worklist",
        help="validate the year so far's SSDA903 and CIN census and write the returns team's worklist (new,"
        " still open and fixed since the last extract's)",
    )
    work.add_argument(
        "--year", type=int, help="collection year (default: the one the latest extract falls in)"
    )
    work.set_defaults(func=cmd_worklist)

    audit = sub.add_parser(
        "returns-audit",
        help="validate the SSDA903 and CIN census of clean synthetic authorities, year by year, and print"
        " what the DfE validators said",
    )
    audit.add_argument(
        "--seeds",
        type=_int_list(0, 2**31, "a seed"),
        default=[3, 5],
        help="comma-separated seeds, one authority each (default 3,5)",
    )
    audit.add_argument(
        "--years",
        type=_int_list(min(VALIDATOR_YEARS), max(VALIDATOR_YEARS), "a collection year"),
        default=[2025, 2026, 2027],
        help=f"comma-separated collection years, {min(VALIDATOR_YEARS)} to {max(VALIDATOR_YEARS)}"
        " (default 2025,2026,2027)",
    )
    audit.add_argument("--scale", type=_bounded(float, 0.01, 2.0, "a scale"), default=0.1, help="default 0.1")
    audit.add_argument("--keep", help="keep each authority's home under this folder")
    audit.set_defaults(func=cmd_returns_audit)

    from orchestration.bench import STAGES as BENCH_STAGES  # the standard library only, at import

    bench = sub.add_parser("bench", help="time each stage and measure its peak memory, beside its target")
    bench.add_argument(
        "--scale",
        type=_bounded(float, 0.001, 20.0, "a scale"),
        default=1.0,
        help="1.0 is a whole Dudley-sized authority",
    )
    bench.add_argument(
        "--stage",
        action="append",
        choices=list(BENCH_STAGES),
        help="a stage to run (repeatable; default: all)",
    )
    bench.add_argument(
        "--repeat",
        type=_bounded(int, 1, 9, "a number of runs"),
        default=1,
        help="run each stage this many times and judge the median (3 for a figure to quote)",
    )
    bench.set_defaults(func=cmd_bench)

    region = sub.add_parser(
        "region",
        parents=[demo],
        help="the regional demo: synthetic member authorities run their own pipelines, send their marts"
        " under a regional key, and the region builds and publishes cross-authority tables",
    )
    region.add_argument(
        "--root", help="the region's folder, its members' homes inside (default: $WHOLECHILD_HOME/region)"
    )
    region.add_argument(
        "--scales",
        type=_scales,
        default=None,
        help="each member's size, comma separated, one per member (default 0.3,0.1,0.15,0.2,0.5)",
    )
    region.add_argument("--seed", type=int, default=42, help="random seed of the first member (default 42)")
    region.add_argument(
        "--jobs",
        type=_jobs,
        default=2,
        help="how many members' own runs go side by side, each a whole pipeline in its own process (default"
        " 2: one a core; each run's DuckDB files hold at most WHOLECHILD_DUCKDB_MEMORY)",
    )
    region.add_argument(
        "--engine",
        choices=("duckdb", "spark", "both"),
        default="duckdb",
        help="build the region's marts on DuckDB, on Spark (a local PySpark, `make spark`), or on both and"
        " compare them row for row",
    )
    region.set_defaults(func=cmd_region)
    return parser


def main(argv: list[str] | None = None) -> int:
    restrict_new_files()  # whatever a command creates under the home is private (settings.py)
    args = build_parser().parse_args(argv)
    if getattr(args, "faults", 0) is None:
        from orchestration.synthetic import DEFAULT_FAULT_RATE

        args.faults = DEFAULT_FAULT_RATE
    if getattr(args, "demo", False):
        from orchestration.identity.pseudonyms import DEMO_ENV

        os.environ[DEMO_ENV] = "1"
    problem = _check_keys(args.command) or _check_settings(args.command)
    if problem:
        print(f"wholechild {args.command}: {problem}", file=sys.stderr)
        return 2
    try:
        if args.command in WRITERS | READERS:  # one writer at a time, never during a read (run_lock.py)
            from orchestration.duckdb_files import WarehouseBusyError
            from orchestration.run_lock import hold_warehouse

            try:
                with hold_warehouse(
                    Paths.from_env().ensure().warehouse,
                    f"wholechild {args.command}",
                    shared=args.command in READERS,
                ):
                    return args.func(args)
            except WarehouseBusyError as exc:
                print(f"wholechild {args.command}: {exc}", file=sys.stderr)
                return 2
        return args.func(args)
    except (
        BrokenPipeError
    ):  # the reader went away (`wholechild reconcile | head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def entry(command: Callable[[], int] | None = None) -> None:
    """The ``wholechild`` command (or another ``command``): ``main``, then out without the interpreter freeing
    its objects one by one (about 2 s after a run, with Dagster's and dbt's object graphs loaded). What
    registered to run at exit (log handlers, dbt's connections) still runs, and every file is closed and
    flushed first; only an error leaves the ordinary way."""
    import atexit

    code = (command or main)()
    sys.stdout.flush()
    sys.stderr.flush()
    atexit._run_exitfuncs()
    os._exit(code)


if __name__ == "__main__":
    entry()
