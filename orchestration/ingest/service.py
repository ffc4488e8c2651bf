"""Ingestion as plain functions, shared by the Dagster assets and the ``wholechild ingest`` command."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.duckdb_files import on_cursors
from orchestration.ingest.archive import Receipt, receive, sightings_of
from orchestration.ingest.contracts import (
    Contract,
    ContractVersions,
    load_contract_versions,
    load_contracts,
    period_year,
)
from orchestration.ingest.load import LoadOutcome, ensure_raw_tables, load_delivery
from orchestration.ingest.manifest import STATUS_RECEIVED, ensure_manifest
from orchestration.ingest.report import write_error_report
from orchestration.settings import CONTRACTS_DIR, Paths, work_threads


def xsd_for(contract: Contract, period: str | None, contracts_dir: Path = CONTRACTS_DIR) -> Path | None:
    """The XSD of the delivery's collection year, or the nearest year there is one for."""
    if not contract.xsd:
        return None
    folder = contracts_dir / contract.dataset
    pattern = re.escape(contract.xsd).replace(r"\{year\}", r"(\d{4})")
    available = {
        int(m.group(1)): p
        for p in folder.rglob("*.xsd")
        if (m := re.fullmatch(pattern, p.relative_to(folder).as_posix()))
    }
    if not available:
        return None
    year = period_year(period)
    nearest = min(available, key=lambda y: (abs(y - year), -y))
    return available[nearest]


def load_pending(
    con: duckdb.DuckDBPyConnection, versions: ContractVersions, scratch: Path, feedback: Path | None = None
) -> list[tuple[str, LoadOutcome]]:
    """Load every received, not yet loaded, delivery of one dataset, oldest first."""
    ensure_manifest(con)
    ensure_raw_tables(con, versions)
    pending = con.execute(
        """select delivery_id, archive_path, period, file_name, recognition_notes from ingest.deliveries
           where dataset = ? and status = ? order by received_at, landing_path""",
        [versions.dataset, STATUS_RECEIVED],
    ).fetchall()
    out = []
    for delivery_id, archive_path, period, file_name, notes in pending:
        contract = versions.for_period(period)
        outcome = load_delivery(
            con,
            versions,
            delivery_id,
            Path(archive_path),
            period,
            file_name,
            scratch,
            xsd=xsd_for(contract, period),
            notes=[notes] if notes else None,
        )
        out.append((file_name, outcome))
        if feedback is not None:
            write_error_report(con, delivery_id, feedback / versions.latest.partner / str(period))
    return out


def load_datasets(
    con: duckdb.DuckDBPyConnection,
    datasets: list[ContractVersions],
    scratch: Path,
    feedback: Path | None = None,
) -> dict[str, list[tuple[str, LoadOutcome]] | Exception]:
    """Every waiting delivery of each dataset loaded (``load_pending``), the datasets shared among
    ``WHOLECHILD_THREADS`` threads (``on_cursors``), the largest datasets first. One dataset's deliveries
    are loaded by one thread, in order, so that a later delivery supersedes an earlier one as it would
    alone; each delivery is still its own transaction, and two datasets write different rows. Returns each
    dataset's outcomes, or the error that stopped it (one dataset's fault does not stop the others')."""
    sizes = dict(
        con.execute(
            "select dataset, sum(size_bytes) from ingest.deliveries where status = ? group by dataset",
            [STATUS_RECEIVED],
        ).fetchall()
    )
    ordered = sorted(datasets, key=lambda v: -(sizes.get(v.dataset) or 0))
    outcomes = on_cursors(
        con, ordered, lambda cur, v: load_pending(cur, v, scratch, feedback), work_threads(), "load"
    )
    return dict(zip((v.dataset for v in ordered), outcomes, strict=True))


def describe(file_name: str, outcome: LoadOutcome) -> str:
    text = (
        f"{file_name}: {outcome.status}; {outcome.rows_in_file} rows = {outcome.rows_loaded} loaded"
        f" + {outcome.rows_quarantined} quarantined + {outcome.rows_duplicate} exact duplicates"
    )
    return text + (f" ({outcome.detail})" if outcome.detail else "")


@dataclass(frozen=True)
class IngestResult:
    receipts: list[Receipt]
    loads: list[tuple[str, LoadOutcome]]


INGEST_CHECKPOINT_THRESHOLD = "512MB"


def keep_log_while_loading(con: duckdb.DuckDBPyConnection) -> None:
    """Each delivery commits on its own (a file is loaded whole or not at all), but DuckDB would also
    checkpoint the database into its file whenever its log passes 16 MB: several times over a whole
    authority's files, each rewriting what changed. Up to 512 MB of log is kept (a crash replays it):
    at scale 1 the load took 27.2 s instead of 33.4 s, at the same peak memory; 4 GB gained no more and
    held 0.5 GiB more (docs/scale.md)."""
    con.execute(f"set checkpoint_threshold = '{INGEST_CHECKPOINT_THRESHOLD}'")


def ingest(
    con: duckdb.DuckDBPyConnection, paths: Paths, files: list[Path] | None = None, period: str | None = None
) -> IngestResult:
    """Receive the landing folder (or the named files, for ``period`` if given) and load every delivery
    waiting to be loaded."""
    contracts = load_contracts()
    versions = load_contract_versions()
    keep_log_while_loading(con)
    sightings = None if files is None else sightings_of(files, paths.landing)
    receipts = receive(con, paths.landing, paths.archive, contracts, sightings, paths.feedback, period)
    ensure_raw_tables(con, *versions.values())  # every dataset has its raw tables, delivered yet or not
    waiting = [
        d
        for (d,) in con.execute(
            "select distinct dataset from ingest.deliveries where status = ? order by 1", [STATUS_RECEIVED]
        ).fetchall()
    ]
    loads = []
    loaded = load_datasets(con, [versions[d] for d in waiting], paths.warehouse, paths.feedback)
    for dataset in waiting:  # said in the datasets' order, whichever thread finished first
        outcome = loaded[dataset]
        if isinstance(outcome, Exception):
            raise outcome
        loads += outcome
    return IngestResult(receipts, loads)
