"""``wholechild bench``: speed and memory of each stage, printed beside its target.

Each stage runs in a fresh process, so its peak memory is its own. Figures are measured, never asserted:
machines here are shared and noisy, so targets are read by people, not by tests.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

BENCH_AS_OF = date(2026, 3, 31)
RUN_TARGET_SECONDS = 60.0  # a whole authority, landing to published with its returns (issue 18)


@dataclass
class Measured:
    """One run of a stage: what is judged against its target, and the figures shown beside it."""

    figures: list[tuple[str, str]]  # (what, how much), printed in this order
    seconds: float  # the stage's own time
    target: tuple[
        str, float | None, str
    ]  # (what is judged, its limit or None for none at this scale, meaning)
    value: float | None = None  # what is judged, where it is not ``seconds`` (a ratio)
    unit: str = "s"  # of the value: "s", or "x" for a ratio
    peak_memory: int | None = None  # bytes; a stage that runs a command gives the command's
    wall: float = 0.0  # the stage's process, start-up included (set by ``run``)
    load: float = 0.0  # the machine's load average before it (set by ``run``)

    @property
    def judged(self) -> float:
        return self.seconds if self.value is None else self.value


def _peak_memory_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def stage_generate(scale: float, workdir: Path) -> Measured:
    from orchestration.synthetic import generate

    started = time.perf_counter()
    result = generate(workdir / "landing", scale=scale, seed=42, as_of=BENCH_AS_OF)
    seconds = time.perf_counter() - started
    return Measured(
        figures=[
            ("children simulated", f"{result.children:,}"),
            ("files written", f"{len(result.files):,}"),
            ("rows written", f"{result.rows:,}"),
            ("faults injected", f"{result.faults:,}"),
            ("rows per second", f"{result.rows / seconds:,.0f}"),
            ("by step", ", ".join(f"{k} {v:.1f} s" for k, v in result.stage_seconds.items())),
        ],
        seconds=seconds,
        target=(
            "wall time",
            120.0 if scale >= 1.0 else None,
            "a whole authority (scale 1.0) in under two minutes",
        ),
    )


def _health_extract(path: Path, rows: int, bad_share: float = 0.0) -> Path:
    """A community health trust's assessment extract as it arrives: UK dates, codes in words, valid NHS
    numbers from the never-issued 999 range; ``bad_share`` of the rows carry an impossible date (an
    error: quarantined) or a postcode that is not one (a warning: loaded)."""
    import duckdb
    import numpy as np
    import pandas as pd

    from orchestration.identifiers import nhs_numbers_from_serials

    numbers = nhs_numbers_from_serials(np.arange(0, 120_000))
    numbers = numbers[numbers != ""][:100_000]
    every = int(1 / bad_share) if bad_share else 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        con.register("nhs", pd.DataFrame({"k": np.arange(len(numbers)), "nhs_number": numbers}))
        bad_date = f"i % {every} = 0" if every else "false"
        bad_postcode = f"i % {every} = 1" if every else "false"
        con.execute(
            f"""copy (
                select 'HA' || lpad(i::varchar, 8, '0') as assessment_id, n.nhs_number,
                    (['Amelia', 'Oliver', 'Isla', 'Noah', 'Ava', 'Muhammad', 'Ivy', 'George'])[i % 8 + 1] as forename,
                    (['Smith', 'Jones', 'Khan', 'Patel', 'Brown', 'Taylor', 'Wilson', 'Evans'])[i % 7 + 1] as surname,
                    case when {bad_date} then '31/02/2015'
                         else strftime(date '2008-09-01' + (i * 7919 % 5800)::int, '%d/%m/%Y') end as date_of_birth,
                    (['F', 'M'])[i % 2 + 1] as sex,
                    case when {bad_postcode} then 'UNKNOWN'
                         else (['DY1 4QT', 'DY2 7BX', 'DY5 1HN', 'B63 3BL'])[i % 4 + 1] end as postcode,
                    case when i % 3 = 0 then 'Initial health assessment'
                         else 'Review health assessment' end as assessment_type,
                    strftime(date '2025-04-01' + (i % 364)::int, '%d/%m/%Y') as assessment_date,
                    case when i % 5 = 0 then strftime(date '2026-04-01' + (i % 180)::int, '%d/%m/%Y') end
                        as due_date,
                    (['Completed', 'Completed', 'Declined', 'Not brought'])[i % 4 + 1] as outcome,
                    (['Y', 'Y', 'Y', 'N'])[i % 4 + 1] as immunisations_up_to_date
                from range({rows}) t(i) join nhs n on n.k = i % {len(numbers)}
                order by i
            ) to '{path}' (header)"""
        )
    return path


def _floor_seconds(csv: Path, workdir: Path) -> float:
    """DuckDB's own plain read_csv of the file into a table of a new database file, closed (written out)."""
    import duckdb

    db = workdir / "floor.duckdb"
    db.unlink(missing_ok=True)
    started = time.perf_counter()
    con = duckdb.connect(str(db))
    con.execute(f"create table t as select * from read_csv('{csv}')")
    con.close()
    return time.perf_counter() - started


def _ingest_seconds(csv: Path, workdir: Path) -> tuple[float, Any, float]:
    """``wholechild ingest`` of the one file (``_landing_ingest_seconds``), and its load's outcome."""
    landing = workdir / "one_file" / "health" / "health_assessments"
    shutil.rmtree(workdir / "one_file", ignore_errors=True)
    landing.mkdir(parents=True)
    shutil.copyfile(csv, landing / csv.name)
    seconds, result, setup_seconds = _landing_ingest_seconds(workdir / "one_file", workdir, "home")
    return seconds, result.loads[0][1], setup_seconds


def stage_ingest(scale: float, workdir: Path) -> Measured:
    import statistics

    from orchestration.ingest.contracts import load_contract_versions, load_contracts

    rows = max(10_000, round(1_000_000 * scale))
    clean = _health_extract(workdir / "files" / "health_assessments_2026-03.csv", rows)
    faulty = _health_extract(
        workdir / "files_faulty" / "health_assessments_2026-03.csv", rows, bad_share=0.01
    )
    started = time.perf_counter()
    load_contracts(), load_contract_versions()  # once per process; cached after
    contracts_seconds = time.perf_counter() - started
    floors, ingests, setups = [], [], []
    for _ in range(5):  # alternate, so both see the same machine; the median of five
        floors.append(_floor_seconds(clean, workdir))
        seconds, outcome, setup = _ingest_seconds(clean, workdir)
        ingests.append(seconds)
        setups.append(setup)
    floor, ingested = statistics.median(floors), statistics.median(ingests)
    faulty_seconds, faulty_outcome, _ = _ingest_seconds(faulty, workdir)
    faulty_floor = _floor_seconds(faulty, workdir)
    ratio = ingested / floor
    return Measured(
        figures=[
            ("file", f"{rows:,} rows, {clean.stat().st_size / 2**20:.0f} MiB (health assessments, UK dates)"),
            ("DuckDB read_csv floor", f"{floor:.2f} s (median of {', '.join(f'{x:.2f}' for x in floors)})"),
            ("wholechild ingest", f"{ingested:.2f} s (median of {', '.join(f'{x:.2f}' for x in ingests)})"),
            ("rows per second", f"{rows / ingested:,.0f}"),
            (
                "accounted",
                f"{outcome.rows_loaded:,} loaded + {outcome.rows_quarantined:,} quarantined"
                f" + {outcome.rows_duplicate:,} duplicates of {outcome.rows_in_file:,}",
            ),
            (
                "with 1% bad rows",
                f"{faulty_seconds:.2f} s, {faulty_seconds / faulty_floor:.2f}x its floor of {faulty_floor:.2f} s; "
                f"{faulty_outcome.rows_quarantined:,} quarantined, "
                f"{faulty_outcome.rows_loaded:,} loaded (some with warnings)",
            ),
            ("contracts loaded once", f"{contracts_seconds:.2f} s per process (not in the figures above)"),
            (
                "new warehouse set up",
                f"{statistics.median(setups):.2f} s once per authority: manifest and every raw table"
                " (not in the figures above)",
            ),
        ],
        seconds=ingested,
        value=ratio,
        target=("ingest / read_csv floor", 2.0, "within 2x DuckDB's own plain read_csv into a table"),
        unit="x",
    )


def _csv_floor_seconds(files: list[Path], workdir: Path) -> float:
    """DuckDB's own read_csv of each file into a table of one new database file, closed: every cell as text,
    ragged rows padded and rows it cannot decode skipped (the synthetic authority's files carry faults a
    plain read stops at: a Windows-1252 file, a short row), so the floor does less than a typed read of
    every row would, and the ratio to it is the harder one."""
    import duckdb

    db = workdir / "floor.duckdb"
    db.unlink(missing_ok=True)
    started = time.perf_counter()
    con = duckdb.connect(str(db))
    for n, csv in enumerate(files):
        con.execute(
            f"create table t{n} as select * from read_csv('{csv}', all_varchar = true, null_padding = true, "
            "strict_mode = false, ignore_errors = true)"
        )
    con.close()
    return time.perf_counter() - started


def _landing_ingest_seconds(landing: Path, workdir: Path, name: str) -> tuple[float, Any, float]:
    """``wholechild ingest`` of a landing folder into a warehouse that holds no data yet but has been set up
    (its manifest and empty raw tables made by an ingest of an empty landing folder, as every ingest after an
    authority's first finds them): archive, recognise, read, type, check, load, row accounting and the
    partners' error reports, the vault closed (written out). Also returns the seconds the set-up took."""
    from orchestration.duckdb_files import connect
    from orchestration.ingest.service import ingest
    from orchestration.settings import Paths

    home = workdir / name
    shutil.rmtree(home, ignore_errors=True)
    paths = Paths(home).ensure()
    started = time.perf_counter()
    con = connect(paths.vault_db)
    ingest(con, paths)  # nothing has landed yet: this only sets the warehouse up
    con.close()
    setup_seconds = time.perf_counter() - started
    shutil.rmtree(paths.landing)
    shutil.copytree(landing, paths.landing)
    started = time.perf_counter()
    con = connect(paths.vault_db)
    result = ingest(con, paths)
    con.close()
    return time.perf_counter() - started, result, setup_seconds


def stage_authority(scale: float, workdir: Path) -> Measured:
    """A whole authority's landing folder, received and loaded with every row accounted for, beside
    DuckDB's own read of the same files: the CSVs (231 files at any scale, most of the rows) against
    their floor, then everything (the CIN census XML and the Annex A workbooks too, which DuckDB cannot
    read alone, so have no floor here)."""
    from orchestration.synthetic import generate

    landing = workdir / "landing"
    generate(landing, scale=scale, seed=42, as_of=BENCH_AS_OF)
    csv_only = workdir / "landing_csv"
    files = sorted(landing.rglob("*.csv"))
    for f in files:
        target = csv_only / f.relative_to(landing)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, target)
    others = [f for f in landing.rglob("*") if f.is_file() and f.suffix.lower() != ".csv"]
    floor = _csv_floor_seconds(sorted(csv_only.rglob("*.csv")), workdir)
    csv_seconds, csv_result, _ = _landing_ingest_seconds(csv_only, workdir, "home_csv")
    all_seconds, all_result, _ = _landing_ingest_seconds(landing, workdir, "home_all")
    rows = sum(o.rows_in_file or 0 for _, o in csv_result.loads)
    size = sum(f.stat().st_size for f in files) / 2**20
    ratio = csv_seconds / floor
    return Measured(
        figures=[
            ("CSV files", f"{len(files)} files, {size:.0f} MiB, {rows:,} rows"),
            ("DuckDB read_csv floor", f"{floor:.1f} s (each file into a table of one database, closed)"),
            ("wholechild ingest, CSVs", f"{csv_seconds:.1f} s, {ratio:.2f}x the floor"),
            (
                "wholechild ingest, all",
                f"{all_seconds:.1f} s for {len(files) + len(others)} files "
                f"({len(others)} XML and workbooks: no DuckDB floor)",
            ),
            ("deliveries", f"{len(all_result.loads)} loaded or reported"),
        ],
        seconds=csv_seconds,
        value=ratio,
        target=("ingest / read_csv floor", 2.0, "a whole authority's CSVs within 2x DuckDB's own read"),
        unit="x",
    )


def _prepare_authority(scale: float, workdir: str) -> None:
    """Generate and ingest an authority (in a process of its own, so the link stage's memory is its own)."""
    from orchestration.duckdb_files import connect
    from orchestration.ingest.service import ingest
    from orchestration.settings import Paths
    from orchestration.synthetic import generate

    paths = Paths(Path(workdir) / "home").ensure()
    generate(paths.landing, scale=scale, seed=42, as_of=BENCH_AS_OF)
    with connect(paths.vault_db) as con:
        ingest(con, paths)


def stage_link(scale: float, workdir: Path) -> Measured:
    from orchestration.duckdb_files import connect
    from orchestration.identity.evaluate import evaluate
    from orchestration.identity.linkage import _profiles, link
    from orchestration.identity.model import blocked_pairs
    from orchestration.ingest.contracts import load_contracts
    from orchestration.settings import Paths

    started = time.perf_counter()
    prepare = mp.get_context("spawn").Process(target=_prepare_authority, args=(scale, str(workdir)))
    prepare.start()
    prepare.join()
    if prepare.exitcode != 0:
        raise RuntimeError("generating and ingesting the authority failed")
    prepared = time.perf_counter() - started
    paths = Paths(workdir / "home")
    contracts = load_contracts()
    started = time.perf_counter()
    with connect(paths.vault_db) as con:
        summary = link(con, contracts, paths.identity)
        seconds = time.perf_counter() - started
        blocked = blocked_pairs(_profiles(con))  # after the timing: counting them is not linkage's work
    quality = evaluate(paths.vault_db, paths.ground_truth, contracts).overall.iloc[0]
    return Measured(
        figures=[
            ("records", f"{summary.records:,} describing a child, from every partner"),
            (
                "strong-identifier groups",
                f"{summary.deterministic_groups:,} ({summary.contested_identifiers:,} identifiers two children "
                "of one census carry: joined only where date of birth and sex agree)",
            ),
            (
                "descriptions compared",
                f"{summary.profiles:,}; {blocked:,} pairs from the blocking rules, {summary.scored_pairs:,} of "
                "them at or above the review threshold",
            ),
            ("persons", f"{summary.persons:,} ({summary.to_review:,} pairs left for clerical review)"),
            ("records per second", f"{summary.records / seconds:,.0f}"),
            (
                "quality (ground truth)",
                f"pairwise F1 {quality.pair_f1:.4f}, cluster F1 {quality.cluster_f1:.4f}, cluster precision "
                f"{quality.cluster_precision:.4f}, persons joining two children "
                f"{int(quality.persons_joining_children)}",
            ),
            ("generate and ingest", f"{prepared:.0f} s (a separate process, not in the figures above)"),
        ],
        seconds=seconds,
        target=(
            "link wall time",
            120.0 if scale >= 1.0 else None,
            "a whole authority in under two minutes",
        ),
    )


def _prepare_analytics(scale: float, workdir: str) -> None:
    """An authority generated, ingested, linked and pseudonymised: what dbt builds from."""
    from orchestration.duckdb_files import connect
    from orchestration.identity.linkage import link
    from orchestration.identity.pseudonymise import publish_to_analytics
    from orchestration.ingest.contracts import load_contract_versions, load_contracts

    _prepare_authority(scale, workdir)
    from orchestration.settings import Paths

    paths = Paths(Path(workdir) / "home")
    with connect(paths.vault_db) as con:
        link(con, load_contracts(), paths.identity)
    with connect(paths.analytics_db) as con:
        con.execute(f"attach '{paths.vault_db}' as vault (read_only)")
        for versions in load_contract_versions().values():
            publish_to_analytics(con, versions)


def stage_transform(scale: float, workdir: Path) -> Measured:
    import json
    import subprocess

    from orchestration.settings import DBT_PROJECT_DIR
    from orchestration.transform.assets import dbt_executable

    started = time.perf_counter()
    prepare = mp.get_context("spawn").Process(target=_prepare_analytics, args=(scale, str(workdir)))
    prepare.start()
    prepare.join()
    if prepare.exitcode != 0:
        raise RuntimeError("preparing the analytics file failed")
    prepared = time.perf_counter() - started
    analytics = workdir / "home" / "warehouse" / "analytics.duckdb"
    target = workdir / "dbt_target"
    env = os.environ | {"WHOLECHILD_ANALYTICS_DB": str(analytics), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    command = [dbt_executable(), "build", "--quiet", "--target-path", str(target)]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"dbt build failed: {done.stdout[-2000:]}")
    results = json.loads((target / "run_results.json").read_text())["results"]
    kinds: dict[str, int] = {}
    for r in results:
        kind = r["unique_id"].split(".")[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    slowest = sorted(results, key=lambda r: -r["execution_time"])[:3]
    import duckdb

    with duckdb.connect(str(analytics), read_only=True) as con:
        rows = con.execute("select count(*) from marts.fct_child_outcomes_by_year").fetchall()[0][0]
    return Measured(
        figures=[
            ("nodes built and tested", ", ".join(f"{n} {k}s" for k, n in sorted(kinds.items()))),
            ("outcome rows", f"{rows:,} child-years"),
            (
                "slowest",
                ", ".join(f"{r['unique_id'].split('.')[-1]} {r['execution_time']:.1f} s" for r in slowest),
            ),
            ("prepare", f"{prepared:.0f} s: generate, ingest, link, pseudonymise (not in the figures above)"),
        ],
        seconds=seconds,
        target=(
            "dbt build wall time",
            30.0 if scale >= 1.0 else None,
            "a whole authority in under 30 seconds",
        ),
    )


def _link_floor_seconds(vault: Path, workdir: Path) -> tuple[float, int]:
    """Splink's own scoring of the run's descriptions (the same model, blocking rules and threshold), on a
    copy of the vault: what the link stage does beyond it is reading records, the strong identifiers and
    the clustering."""
    from orchestration.duckdb_files import connect
    from orchestration.identity import model as linkage_model
    from orchestration.identity.linkage import _contested_identifiers, _deterministic_groups, _profiles

    copy = workdir / "floor_link" / "vault.duckdb"
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(vault, copy)
    model = linkage_model.load_model()
    with connect(copy) as con:  # the link stage's steps before Splink, as it takes them
        _contested_identifiers(con)
        _deterministic_groups(con)
        profiles = _profiles(con)
    started = time.perf_counter()
    pairs = linkage_model.predict(profiles, model, threshold=model["wholechild"]["review_threshold"])
    return time.perf_counter() - started, len(pairs)


def _dbt_floor_seconds(analytics: Path, workdir: Path) -> tuple[float, dict[str, int]]:
    """The SQL dbt ran, compiled by dbt, run straight on a copy of the analytics file: every table and view
    made in dependency order, every data test's query counted. Leaves out what dbt does around it (its
    start, parsing, rendering each node, recording results), the seeds (small CSVs dbt loads) and the unit
    tests (dbt's own fixtures)."""
    import json
    import subprocess

    import duckdb

    from orchestration.returns.common import Authority
    from orchestration.settings import DBT_PROJECT_DIR
    from orchestration.transform.assets import dbt_executable

    copy = workdir / "floor_dbt" / analytics.name  # the same file name: the same catalogue in the SQL
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(analytics, copy)
    target = workdir / "floor_dbt" / "target"
    env = os.environ | {"WHOLECHILD_ANALYTICS_DB": str(copy), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    command = [dbt_executable(), "compile", "--quiet", "--target-path", str(target)]
    command += ["--vars", json.dumps(Authority.from_env().dbt_vars())]
    done = subprocess.run(command, cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"dbt compile failed: {done.stdout[-2000:]}")
    nodes = json.loads((target / "manifest.json").read_text())["nodes"]
    models = {u: n for u, n in nodes.items() if n["resource_type"] == "model"}
    order: list[str] = []
    seen: set[str] = set()

    def visit(uid: str) -> None:
        if uid in seen or uid not in models:
            return
        seen.add(uid)
        for parent in models[uid]["depends_on"]["nodes"]:
            visit(parent)
        order.append(uid)

    for uid in sorted(models):
        visit(uid)
    tests = [n for n in nodes.values() if n["resource_type"] == "test"]
    con = duckdb.connect(str(copy))
    started = time.perf_counter()
    for uid in order:
        node = models[uid]
        kind = "view" if node["config"]["materialized"] == "view" else "table"
        con.execute(f"create or replace {kind} {node['relation_name']} as {node['compiled_code']}")
    for node in tests:
        con.execute(f"select count(*) from ({node['compiled_code']}) as t").fetchall()
    seconds = time.perf_counter() - started
    con.close()
    counts = {"models": len(order), "tests": len(tests)}
    counts["seeds"] = sum(1 for n in nodes.values() if n["resource_type"] == "seed")
    return seconds, counts


VALIDATORS_AS_SHIPPED = """
import contextlib, io, json, logging, sys, time
import xml.etree.ElementTree as ET
from pathlib import Path

logging.disable(logging.CRITICAL)
year, la, csv_folder, xml = sys.argv[1:5]
with contextlib.redirect_stdout(io.StringIO()):
    from lac_validator.lac_validator import LacValidator
    from lac_validator.rules.ruleset_utils import get_year_ruleset as ruleset_903
    from lac_validator.utils import process_uploaded_files
    from cin_validator import cin_validator
    from cin_validator.rules.ruleset_utils import get_year_ruleset as ruleset_cin

    started = time.perf_counter()
    files = process_uploaded_files({"This year": sorted(str(p) for p in Path(csv_folder).glob("*.csv"))})
    LacValidator(metadata={"collectionYear": year, "localAuthority": la}, files=files, registry=ruleset_903(year))
    ssda903 = time.perf_counter() - started
    started = time.perf_counter()
    tables = cin_validator.process_data(cin_validator.convert_data(ET.parse(xml).getroot()))
    cin_validator.CinValidator(tables, ruleset_cin(year), selected_rules=None)
    cin = time.perf_counter() - started
print(json.dumps({"ssda903": ssda903, "cin": cin}))
"""


def _validators_floor_seconds(home: Path, year: str) -> dict[str, float]:
    """The DfE's two validators as they ship, once each, on this year's published return: the SSDA903's
    tables (without last year's, which the run also gives it) and the CIN census XML read whole."""
    import json
    import subprocess

    from orchestration.returns.common import Authority
    from orchestration.returns.validation import dfe_python

    returns = home / "published" / "returns"
    ssda903 = returns / "ssda903" / year / "last_attempt"
    cin = next((returns / "cin" / year / "last_attempt").glob("*.xml"))
    done = subprocess.run(
        [
            str(dfe_python()),
            "-c",
            VALIDATORS_AS_SHIPPED,
            year,
            Authority.from_env().ons_code,
            str(ssda903),
            str(cin),
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the validators failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _waited(
    args: list[str], out: Any, env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[int, Any]:
    """Run one command, what it says to ``out``, and return its exit code and the kernel's account of that one
    child (``wait4``: its CPU time and every process it waited for, its largest process's peak memory), not
    this process's other children, as getrusage would mix in."""
    import subprocess

    proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage


def _cpu_seconds(
    args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[float, str]:
    """CPU time (user and system) of one command and every process it waited for, and the last line it said;
    a failure is raised with the end of what it said."""
    with tempfile.TemporaryFile() as out:
        code, usage = _waited(args, out, env, cwd)
        out.seek(0)
        said = out.read().decode(errors="replace")
    if code != 0:
        raise RuntimeError(f"{' '.join(args[:3])} failed: {said[-2000:]}")
    return usage.ru_utime + usage.ru_stime, (said.strip().splitlines() or [""])[-1]


def hmac_record_ids(vault: Path) -> int:
    """Work out the pseudonym of every source record id in the vault's raw tables, as pseudonymising does
    (the keyed HMAC, per kind of id), keeping none of them; returns how many there were."""
    from orchestration.duckdb_files import connect
    from orchestration.identity.pseudonymise import RECORD_ID_HEX
    from orchestration.identity.pseudonyms import hmac_sql, install_hmac
    from orchestration.ingest.contracts import load_contract_versions

    ids = 0
    with connect(vault, read_only=True) as con:
        install_hmac(con)
        for versions in load_contract_versions().values():
            for table in versions.latest.tables:
                union = versions.union_table(table.name)
                columns = [c for c in union.columns if c.privacy == "record_id"]
                if not columns:
                    continue
                quoted = [f'"{c.name}"' for c in columns]
                pseudonyms = [
                    f"max(left({hmac_sql(f'trim({q}::varchar)', f'record:{c.id_domain}')}, {RECORD_ID_HEX}))"
                    for q, c in zip(quoted, columns, strict=True)
                ]
                counts = [f"count({q})" for q in quoted]
                row = con.execute(
                    f"select {', '.join(counts + pseudonyms)} from {versions.latest.raw_table(union)}"
                ).fetchall()[0]
                ids += sum(row[: len(counts)])
    return ids


def _least_cpu(home: Path, workdir: Path, year: str) -> list[tuple[str, float]]:
    """CPU seconds of what a run cannot do without, each in a process of its own on the run's data: the tools
    the project is built on doing only their own part (DuckDB reading the landing CSVs, dbt building every
    model and data test, the DfE's validators, the libraries' own start) and the privacy rule's keyed hash of
    every record id. Not all of it (Splink's scoring, rendering, the returns' building are left out): the
    least a run costs on this machine, whatever Whole Child's own code does."""
    import json
    import sys

    from orchestration.returns.common import Authority
    from orchestration.returns.validation import SCRIPTS, dfe_python
    from orchestration.settings import DBT_PROJECT_DIR
    from orchestration.transform.assets import UNIT_TESTS, dbt_executable
    from orchestration.transform.docs import PARSE_FILE

    env = os.environ | {"WHOLECHILD_HOME": str(home), "WHOLECHILD_DEMO": "1"}
    python = [sys.executable, "-c"]
    landing, vault = str(home / "landing"), str(home / "warehouse" / "vault.duckdb")
    read = "import sys; from pathlib import Path; from orchestration.bench import _csv_floor_seconds as f; "
    read += "f(sorted(Path(sys.argv[1]).rglob('*.csv')), Path(sys.argv[2]))"
    # dbt as the run calls it (events as JSON lines for Dagster, its log file at warnings), on the run's own
    # analytics file and from the parse the run kept: the same models built again from the same tables
    target = workdir / "least_dbt"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    shutil.copyfile(home / "dbt_target" / PARSE_FILE, target / PARSE_FILE)
    dbt_env = env | {
        "WHOLECHILD_ANALYTICS_DB": str(home / "warehouse" / "analytics.duckdb"),
        "DBT_TARGET_PATH": str(target),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    dbt = [dbt_executable(), "--log-level-file", "warn", "--log-format", "json", "build", "--no-write-json"]
    dbt += ["--vars", json.dumps(Authority.from_env().dbt_vars()), "--exclude", UNIT_TESTS]
    returns = home / "published" / "returns"
    dfe = str(dfe_python())
    validate_903 = [dfe, str(SCRIPTS / "run_903.py"), "--year", year, "--la", Authority.from_env().ons_code]
    validate_903 += ["--this", str(returns / "ssda903" / year / "last_attempt")]
    validate_903 += ["--out", str(workdir / "least_903.json"), "--not-supplied", "the benchmark"]
    cin_xml = next((returns / "cin" / year / "last_attempt").glob("*.xml"))
    validate_cin = [dfe, str(SCRIPTS / "run_cin.py"), "--year", year, "--xml", str(cin_xml)]
    validate_cin += ["--out", str(workdir / "least_cin.json")]
    hmac = "import sys; from pathlib import Path; from orchestration.bench import hmac_record_ids as h; "
    hmac += "print(h(Path(sys.argv[1])))"
    hmac_cpu, ids = _cpu_seconds([*python, hmac, vault], env)
    gx_start = "import great_expectations as gx; gx.get_context(mode='ephemeral')"
    return [
        ("DuckDB's read of the landing CSVs", _cpu_seconds([*python, read, landing, str(workdir)], env)[0]),
        ("dbt building every model and data test", _cpu_seconds(dbt, dbt_env, cwd=DBT_PROJECT_DIR)[0]),
        ("the SSDA903 validator (this year)", _cpu_seconds(validate_903, env)[0]),
        ("the CIN census validator", _cpu_seconds(validate_cin, env)[0]),
        (f"the keyed hash of each of the {int(ids):,} record ids", hmac_cpu),
        (
            "Dagster and the pipeline's definitions loaded",
            _cpu_seconds([*python, "from orchestration.definitions import defs"], env)[0],
        ),
        ("Great Expectations' start (one context)", _cpu_seconds([*python, gx_start], env)[0]),
        (
            "the renderers' start (matplotlib, fpdf)",
            _cpu_seconds([*python, "from orchestration.reports import packs; packs.preload()"], env)[0],
        ),
    ]


def _generate(scale: float, home: str) -> None:
    from orchestration.synthetic import generate

    landing = Path(home) / "landing"
    generate(landing, scale=scale, seed=42, as_of=BENCH_AS_OF, truth_out=landing.parent / "ground_truth")


def stage_run(scale: float, workdir: Path) -> Measured:
    """A whole authority from landing to published, returns included: ``wholechild run --demo`` in a new
    home, as a person runs it, in a process of its own (its peak memory is the largest process it started).
    Each stage's time is printed beside its floor, measured here on the same data after the run: DuckDB's
    own read of the same CSVs (loading), Splink's own scoring of the same descriptions (linking), the SQL dbt
    ran, run straight (dbt), and the DfE's validators as they ship (the returns)."""
    import json

    from orchestration.cli import STAGES as RUN_STAGES
    from orchestration.cli import TIMINGS_FILE

    home = workdir / "home"
    # generated in a process of its own, so that the run starts from a small process
    prepare = mp.get_context("spawn").Process(target=_generate, args=(scale, str(home)))
    prepare.start()
    prepare.join()
    if prepare.exitcode != 0:
        raise RuntimeError("generating the authority failed")
    seconds, _, peak, cpu = _wholechild_run(home, "--demo")
    csvs = sorted((home / "landing").rglob("*.csv"))  # as landed: the run archives copies
    load_floor = _csv_floor_seconds(csvs, workdir)
    timings = json.loads((home / "logs" / TIMINGS_FILE).read_text())
    if not timings["succeeded"]:
        raise RuntimeError("the run did not succeed")
    link_floor, pairs = _link_floor_seconds(home / "warehouse" / "vault.duckdb", workdir)
    dbt_floor, nodes = _dbt_floor_seconds(home / "warehouse" / "analytics.duckdb", workdir)
    year = next(r["year"] for r in timings["returns"] if r["return"] == "ssda903")
    validators = _validators_floor_seconds(home, year)
    least = _least_cpu(home, workdir, year)
    floors = {
        RUN_STAGES[1][0]: (load_floor, f"DuckDB's read of the {len(csvs)} CSVs (XML and workbooks: none)"),
        RUN_STAGES[2][0]: (link_floor, f"Splink's own scoring of the same descriptions ({pairs:,} pairs)"),
        RUN_STAGES[4][0]: (
            dbt_floor,
            f"the SQL dbt ran, run straight ({nodes['models']} models, {nodes['tests']} tests; "
            f"not its {nodes['seeds']} seeds or unit tests)",
        ),
    }
    rows = []
    for name, took in timings["stages"].items():
        floor = floors.get(name)
        beside = f", {took / floor[0]:.1f}x the floor: {floor[0]:.1f} s, {floor[1]}" if floor else ""
        rows.append((name, f"{took:.1f} s{beside}"))
    rows.append(("start-up and between", f"{timings['start_up_seconds']:.1f} s"))
    rows.append(("run, landing to published", f"{timings['run_seconds']:.1f} s"))
    for r in timings["returns"]:
        floor = validators.get(r["return"])
        beside = f"; the DfE validator as it ships, alone: {floor:.1f} s" if floor is not None else ""
        rows.append((f"return {r['return']} {r['year']}", f"{r['seconds']:.1f} s ({r['status']}){beside}"))
    rows.append(("whole command", f"{seconds:.1f} s, returns included (the returns run beside the stages)"))
    rows.append(
        (
            "CPU time",
            f"{cpu:.1f} s (user and system, the command and every process it waited for): on average"
            f" {cpu / seconds:.2f} of the machine's {os.cpu_count()} cores busy",
        )
    )
    # what the tools must do at least, against the CPU the target's 60 s holds on this machine's cores: how
    # much of it is left for the rest of the run (Whole Child's own work, and what these leave out)
    least_cpu, budget = sum(cpu for _, cpu in least), RUN_TARGET_SECONDS * (os.cpu_count() or 1)
    rows.append(
        (
            "least CPU a run needs",
            f"{least_cpu:.1f} s, {least_cpu / budget:.0%} of the {budget:.0f} CPU s that {RUN_TARGET_SECONDS:.0f} s"
            f" on {os.cpu_count()} cores holds, before any of Whole Child's own work:",
        )
    )
    rows += [(f"  {what}", f"{cpu:.1f} s") for what, cpu in least]
    rows.append(
        (
            "peak memory, target",
            "at most 2 GiB in any one process" + (" (within)" if peak <= 2**31 else " (OVER)"),
        )
    )
    return Measured(
        peak_memory=peak,
        figures=rows,
        seconds=seconds,
        target=(
            "landing to published",
            RUN_TARGET_SECONDS if scale >= 1.0 else None,
            "a whole authority, returns included, in at most 60 s",
        ),
    )


class Ran(NamedTuple):
    """One ``wholechild run``: its wall time, what it said, the peak memory of its largest process, and the
    CPU time (user and system) of the command and every process it waited for (dbt, the returns' process,
    the validators it waited for in turn): on a shared machine whose speed varies from hour to hour, the
    figure that says what the run costs."""

    seconds: float
    said: str
    peak: int
    cpu: float


def _wholechild_run(home: Path, *extra: str) -> Ran:
    """``wholechild run`` on the demo home ``home``, measured from the kernel's account of that one child
    (not this process's other children, the generator)."""
    import sys

    env = os.environ | {"WHOLECHILD_HOME": str(home), "WHOLECHILD_DEMO": "1"}
    said = home.parent / "run.out"
    started = time.perf_counter()
    with said.open("w", encoding="utf-8") as out:
        code, usage = _waited([sys.executable, "-m", "orchestration.cli", "run", *extra], out, env)
    seconds = time.perf_counter() - started
    text = said.read_text(encoding="utf-8")
    if code != 0:
        raise RuntimeError(f"wholechild run failed: {text[-3000:]}")
    # Linux reports the peak in KiB
    return Ran(seconds, text, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime)


def _attempts(home: Path) -> int:
    return sum(1 for p in (home / "published" / "returns").glob("*/*/2*") if p.is_dir())


def _month_before(extract: Path, earlier: Path, share: float = 0.03) -> int:
    """The SSD extract a month earlier, as far as the generator's authority can say: the same tables
    without the children social care met last (the ``share`` of children whose first contact is latest),
    so that the month's extract adds children to every table that holds them, changes the person index
    and every return, as a real month does. Returns the number of children held back."""
    import pandas as pd

    frames = {t.stem: pd.read_csv(t, dtype=str, keep_default_na=False) for t in sorted(extract.glob("*.csv"))}
    contacts = frames["ssd_contacts"]
    first = contacts.groupby("cont_person_id").cont_contact_date.min().sort_values()
    newest = set(first.index[-max(1, int(len(first) * share)) :])
    removed_ids: set[str] = set()
    earlier.mkdir(parents=True)
    held_back = {}
    for name, frame in frames.items():
        person = [c for c in frame.columns if c.endswith("person_id")]
        if person:
            gone = frame[person[0]].isin(newest)
            removed_ids |= set(frame.loc[gone, frame.columns[0]])
            held_back[name] = gone
    for name, frame in frames.items():
        gone = held_back.get(name)
        if gone is None:  # a table about a child's records, not the child: by the ids of those it refers to
            refs = [c for c in frame.columns[1:] if c.endswith("_id")]
            gone = frame[refs].isin(removed_ids).any(axis=1) if refs else pd.Series(False, index=frame.index)
        frame[~gone].to_csv(earlier / f"{name}.csv", index=False)
    return len(newest)


def stage_rerun(scale: float, workdir: Path) -> Measured:
    """``wholechild run`` as an authority runs it, through the command: a full run from empty; the same
    again with nothing new; then the next month's SSD extract (every SSD table, as the extract is a
    snapshot) dropped into landing, and a run for it."""
    import shutil

    from orchestration.reports.publish import current_release
    from orchestration.synthetic import generate

    home = workdir / "home"
    generate(home / "landing", scale=scale, seed=42, as_of=BENCH_AS_OF, truth_out=home / "ground_truth")
    # the generator cannot continue an authority by a month (a later as-of date simulates different
    # children), so the full run reads February's extract, made from March's by holding back the children
    # met last, and the month's run reads March's: new children in every table, every return changed
    ssd = home / "landing" / "social_care" / "ssd"
    march = workdir / "next_month"
    shutil.move(ssd / BENCH_AS_OF.isoformat(), march)
    new_children = _month_before(march, ssd / date(2026, 2, 28).isoformat())
    full = _wholechild_run(home).seconds
    release = current_release(home / "published")
    attempts = _attempts(home)
    idle, said, _, _ = _wholechild_run(home)
    idle_ok = "Nothing new since release" in said and current_release(home / "published") == release
    idle_ok = idle_ok and _attempts(home) == attempts
    extract = ssd / BENCH_AS_OF.isoformat()
    shutil.move(march, extract)
    monthly = _wholechild_run(home).seconds
    republished = current_release(home / "published") != release
    return Measured(
        figures=[
            ("full run", f"{full:.1f} s (landing to published, returns included)"),
            (
                "idle rerun",
                f"{idle:.1f} s ({'within' if idle < 10 else 'OVER'} target: under 10 s); "
                + ("said nothing new, no new release or return attempt" if idle_ok else "REBUILT something"),
            ),
            (
                "new monthly extract",
                f"{monthly:.1f} s: {len(list(extract.iterdir()))} SSD tables, {new_children} children new "
                "since the month before; " + ("a new release" if republished else "NO new release"),
            ),
        ],
        seconds=monthly,
        value=monthly / full,
        unit="x",
        target=("new extract / full run", 0.5, "one new monthly SSD extract in under half a full run"),
    )


# the twelve West Midlands authorities a regional bench's members take the codes of
REGION_OF_TWELVE = ("332", "330", "331", "333", "334", "335", "336", "860", "861", "884", "885", "893")
REGION_OVERLAP = 0.03  # of each copied member's children, the share kept as the first member's own


def _generate_member(scale: float, home: str) -> None:
    from orchestration.region.synthetic import MEMBERS
    from orchestration.synthetic.authority import MemberOf, generate

    member, home_path = MEMBERS[0], Path(home)
    generate(
        home_path / "landing", truth_out=home_path / "ground_truth", scale=scale, seed=42, as_of=BENCH_AS_OF,
        member=MemberOf({"name": member.name, "la_number": member.la_number, "ons_code": member.ons_code},
                        (0, 1_000_000)),
    )  # fmt: skip


def stage_region(scale: float, workdir: Path) -> Measured:
    """A region of twelve authorities of the given scale, built on DuckDB from what its members send. One
    member is generated and run through its own pipeline (`wholechild run`), and exports its marts under
    the regional key; the other eleven are that export under their own codes, each child's keys made
    another's (an HMAC of the member's code and the key) but for 3% kept as the first member's children
    (children the two share). The region's dbt build over the twelve is timed against 10 minutes: the
    members' own runs are each member's, on its own machine, and are shown beside it."""
    import duckdb

    from orchestration.region import build as region_build
    from orchestration.region.export import export_member, regional_key
    from orchestration.region.synthetic import MEMBERS, member_home
    from orchestration.settings import Paths

    root = workdir / "region"
    member = MEMBERS[0]
    home = member_home(root, member)
    # generated in a process of its own, so that the member's run starts from a small process
    prepare = mp.get_context("spawn").Process(target=_generate_member, args=(scale, str(home)))
    prepare.start()
    prepare.join()
    if prepare.exitcode != 0:
        raise RuntimeError("generating the member failed")
    os.environ.update(member.env())
    member_seconds, _, member_peak, _ = _wholechild_run(home, "--demo")
    key = regional_key(root, demo=True)
    t = time.perf_counter()
    sent = export_member(Paths(home), member.la_number, root / "sent", key)
    export_seconds = time.perf_counter() - t
    inbox = root / "inbox"
    with duckdb.connect() as con:
        for mart in ("dim_children", "fct_child_outcomes_by_year", "child_descriptions"):
            relation = f"read_parquet('{root / 'sent' / mart}/**/*.parquet', hive_partitioning = true)"
            keyed = ("regional_key", "description_key") if mart == "child_descriptions" else ("regional_key",)
            for code in REGION_OF_TWELVE:
                # the first member's own; for the others, a child kept as the first member's where the hash of
                # its regional key falls in the overlap share, else keys of the member's own
                own = f"hash(regional_key) % 1000 >= {int(REGION_OVERLAP * 1000)}"
                moved = ", ".join(
                    f"case when {own} then sha256('{code}' || {c}) else {c} end as {c}" for c in keyed
                )
                select = (
                    f"select * exclude (authority) from {relation}"
                    if code == member.la_number
                    else f"select * exclude (authority, {', '.join(keyed)}), {moved} from {relation}"
                )
                partition = ", partition_by (collection_year)" if mart == "fct_child_outcomes_by_year" else ""
                target = inbox / mart / f"authority={code}"
                target.mkdir(parents=True, exist_ok=True)
                out = target if partition else target / "part-0.parquet"
                con.execute(
                    f"copy ({select}) to '{out}' (format parquet{partition}, overwrite_or_ignore true)"
                )
        children = con.execute(
            f"select count(*) from read_parquet('{inbox}/dim_children/**/*.parquet')"
        ).fetchone()[0]
        child_years = con.execute(
            f"select count(*) from read_parquet('{inbox}/fct_child_outcomes_by_year/**/*.parquet')"
        ).fetchone()[0]
    # the dbt build's peak is known only when it is the largest of this process's children so far (getrusage
    # keeps their maximum): else it is at most that
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    t = time.perf_counter()
    built = region_build.build(root, "duckdb")
    build_seconds = time.perf_counter() - t
    if built.returncode != 0:
        raise RuntimeError(f"the region's dbt build failed: see {root / 'logs' / 'dbt-duckdb.log'}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    dbt_peak = f"{after / 2**30:.2f} GiB" if after > before else f"at most {before / 2**30:.2f} GiB"
    with duckdb.connect(str(root / "region.duckdb"), read_only=True) as con:
        shared = con.execute("select count(*) from region_children where authorities > 1").fetchone()[0]
    return Measured(
        figures=[
            ("one member's own run", f"{member_seconds:.1f} s (wholechild run, scale {scale}: on its own machine)"),
            ("one member's export", f"{export_seconds:.1f} s: {sent.children:,} children, "
                                    f"{sent.rows['fct_child_outcomes_by_year']:,} child-years"),
            ("the region's inbox", f"{len(REGION_OF_TWELVE)} members, {children:,} children, "
                                   f"{child_years:,} child-years"),
            ("children in two or more", f"{shared:,}"),
            ("peak memory, by process",
             f"the member's run {member_peak / 2**30:.2f} GiB; the region's dbt build {dbt_peak}"),
        ],
        seconds=build_seconds,
        target=("the region's dbt build", 600.0, "twelve authorities' marts built in at most 10 minutes"),
    )  # fmt: skip


STAGES: dict[str, Callable[[float, Path], Measured]] = {
    "generate": stage_generate,
    "ingest": stage_ingest,
    "authority": stage_authority,
    "run": stage_run,
    "link": stage_link,
    "transform": stage_transform,
    "rerun": stage_rerun,
    "region": stage_region,
}


def _run_in_child(name: str, scale: float, workdir: str, queue: mp.Queue) -> None:
    try:
        out = STAGES[name](scale, Path(workdir))
        if out.peak_memory is None:
            out.peak_memory = _peak_memory_bytes()
        queue.put(out)
    except BaseException as exc:  # reported by the parent
        queue.put(f"{type(exc).__name__}: {exc}")


def run(stages: list[str], scale: float, keep: Path | None = None, repeat: int = 1) -> int:
    """Each stage in a process of its own, ``repeat`` times; the median run is judged against the target
    (and its figures shown), every run's value beside it, with the machine's load before each."""
    print(
        f"Whole Child benchmark: scale {scale} on {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.machine()}" + (f", median of {repeat} runs" if repeat > 1 else "")
    )
    failures = 0
    ctx = mp.get_context("spawn")
    for name in stages:
        runs = []
        for _ in range(repeat):
            workdir = Path(tempfile.mkdtemp(prefix=f"wholechild-bench-{name}-")) if keep is None else keep
            queue: mp.Queue = ctx.Queue()
            proc = ctx.Process(target=_run_in_child, args=(name, scale, str(workdir), queue))
            load = os.getloadavg()[0]
            started = time.perf_counter()
            proc.start()
            out = queue.get()
            proc.join()
            if isinstance(out, Measured):
                out.wall, out.load = time.perf_counter() - started, load
            if keep is None:
                shutil.rmtree(workdir, ignore_errors=True)
            runs.append(out)
        print(f"\n{name}")
        failed = [r for r in runs if not isinstance(r, Measured)]
        if failed:
            print(f"  FAILED: {failed[0]}")
            failures += 1
            continue
        median = sorted(r.judged for r in runs)[len(runs) // 2]
        out = next(r for r in runs if r.judged == median)
        label, limit, meaning = out.target
        unit = out.unit

        def shown(v: float, unit: str = unit) -> str:
            return f"{v:.2f}{unit}" if unit == "x" else f"{v:.1f} {unit}"

        verdict = "" if limit is None else (" (within target)" if median <= limit else " (OVER target)")
        width = max(24, *(len(key) for key, _ in out.figures))
        print(f"  {label:<{width}} {shown(median)}{verdict}   target: {meaning}")
        if repeat > 1:
            each = ", ".join(f"{shown(r.judged)} (load {r.load:.1f})" for r in runs)
            print(f"  {'each run':<{width}} {each}")
        print(f"  {'process wall time':<{width}} {out.wall:.1f} s (including start-up)")
        print(f"  {'peak memory':<{width}} {out.peak_memory / 2**30:.2f} GiB")
        for key, value in out.figures:
            print(f"  {key:<{width}} {value}")
    return 1 if failures else 0
