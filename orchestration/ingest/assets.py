"""Ingestion assets: receive the landing folder, then one raw asset per dataset contract."""

from collections.abc import Iterator

import dagster as dg
from pydantic import Field

from orchestration.ingest.archive import receive, sightings_of
from orchestration.ingest.contracts import Contract, ContractVersions, load_contract_versions, load_contracts
from orchestration.ingest.load import ensure_raw_tables
from orchestration.ingest.manifest import STATUS_RECEIVED, ensure_manifest
from orchestration.ingest.service import describe, keep_log_while_loading, load_datasets
from orchestration.resources import WAREHOUSE_POOL, Warehouse

DELIVERIES = dg.AssetKey(["ingest", "deliveries"])


class ReceiveConfig(dg.Config):
    """Which files to receive: by default every new file in the landing folder; the landing sensor names
    the one file each run is for (paths relative to the landing folder)."""

    files: list[str] = Field(default_factory=list)


def raw_key(contract: Contract) -> dg.AssetKey:
    return dg.AssetKey(["raw", contract.partner, contract.dataset])


@dg.asset(
    key=DELIVERIES,
    group_name="landing",
    pool=WAREHOUSE_POOL,
    kinds={"duckdb"},
    description="Every file in the landing folder archived under its sha256 and recorded once in the "
    "delivery manifest (vault: ingest.deliveries, ingest.receipts).",
)
def deliveries(
    context: dg.AssetExecutionContext, warehouse: Warehouse, config: ReceiveConfig
) -> dg.MaterializeResult:
    paths = warehouse.paths
    sightings = (
        sightings_of([paths.landing / f for f in config.files], paths.landing) if config.files else None
    )
    with warehouse.vault() as con:
        receipts = receive(con, paths.landing, paths.archive, load_contracts(), sightings, paths.feedback)
        totals = dict(
            con.execute("select status, count(*) from ingest.deliveries group by status").fetchall()
        )
    for r in receipts:
        if r.status == "refused":
            context.log.warning(f"{r.relative}: {r.outcome}")
        elif r.outcome != "new delivery":
            context.log.info(f"{r.relative}: {r.outcome}; nothing to load")
        elif r.detail:
            context.log.warning(f"{r.relative}: {r.status}: {r.detail}")
    new = [r for r in receipts if r.outcome == "new delivery"]
    return dg.MaterializeResult(
        metadata={
            "files_seen": len(receipts),
            "new_deliveries": len(new),
            "repeat_sightings": sum(1 for r in receipts if r.outcome.startswith("same content")),
            "unrecognised": sum(1 for r in new if r.status == "unrecognised"),
            "refused": sum(1 for r in receipts if r.status == "refused"),
            "manifest_by_status": dg.MetadataValue.json(totals),
        }
    )


def _raw_tables(contract: Contract) -> str:
    return ", ".join(contract.raw_table(t) for t in contract.tables)


ROW_ACCOUNTING = "row_accounting"


def _not_adding_up(con, contracts: list[Contract]):
    """Deliveries of these datasets whose rows do not add up (one query over every raw table)."""
    counted = " union all ".join(
        f"select _delivery_id from {c.raw_table(t)}" for c in contracts for t in c.tables
    )
    return con.execute(
        f"""select d.dataset, d.file_name
            from ingest.deliveries d
            left join (select _delivery_id, count(*) as n from ({counted}) group by _delivery_id) t
                on t._delivery_id = d.delivery_id
            where d.dataset in (select unnest(?)) and d.status in ('loaded', 'failed', 'superseded')
              and (d.rows_in_file is distinct from d.rows_loaded + d.rows_quarantined + d.rows_duplicate
                   or (d.status = 'loaded' and coalesce(t.n, 0) <> d.rows_loaded)
                   or (d.status <> 'loaded' and coalesce(t.n, 0) <> 0))
            order by 1, 2""",
        [[c.dataset for c in contracts]],
    ).fetchall()


def build_raw_assets(all_versions: list[ContractVersions]) -> dg.AssetsDefinition:
    """Every dataset's raw tables as its own asset (lineage, metadata and its row accounting check per
    dataset), loaded in one step: a step per dataset cost about 0.1 s of orchestration each, more than
    loading most datasets, and every run paid it for every dataset whether a file had come or not."""
    by_key = {raw_key(v.latest): v for v in all_versions}

    @dg.multi_asset(
        name="raw__load",
        specs=[
            dg.AssetSpec(
                key,
                deps=[DELIVERIES],
                group_name="raw",
                kinds={"duckdb"},
                description=f"{v.latest.description} Loaded by contract into the vault "
                f"({_raw_tables(v.latest)}).",
                skippable=True,
            )
            for key, v in by_key.items()
        ],
        check_specs=[
            dg.AssetCheckSpec(
                ROW_ACCOUNTING,
                asset=key,
                blocking=True,
                description="For every delivery: rows loaded + quarantined + exact duplicates = rows in "
                "the file, and the raw tables hold exactly the rows recorded as loaded.",
            )
            for key in by_key
        ],
        can_subset=True,
        pool=WAREHOUSE_POOL,
    )
    def _raw(context: dg.AssetExecutionContext, warehouse: Warehouse) -> Iterator:
        selected = [v for key, v in by_key.items() if key in context.selected_asset_keys]
        broken_datasets = []
        with warehouse.vault() as con:
            ensure_manifest(con)
            waiting = {
                d
                for (d,) in con.execute(
                    "select distinct dataset from ingest.deliveries where status = ?", [STATUS_RECEIVED]
                ).fetchall()
            }
            idle = [v for v in selected if v.dataset not in waiting]
            ensure_raw_tables(con, *idle)  # a dataset with nothing new still has its tables
            loaded: dict[str, list] = {v.dataset: [] for v in idle}
            keep_log_while_loading(con)
            outcomes = load_datasets(
                con,
                [v for v in selected if v.dataset in waiting],
                warehouse.paths.warehouse,
                warehouse.paths.feedback,
            )
            for versions in selected:
                outcome = outcomes.get(versions.dataset)
                if isinstance(outcome, Exception):  # one dataset's fault must not hide what the others loaded
                    context.log.error(
                        f"{versions.dataset}: loading failed: {type(outcome).__name__}: {outcome}"
                    )
                    broken_datasets.append(versions.dataset)
                elif outcome is not None:
                    loaded[versions.dataset] = outcome
            contracts = [v.latest for v in selected if v.dataset in loaded]
            rows = (
                dict(
                    con.execute(
                        "select dataset, sum(n) from ("
                        + " union all ".join(
                            f"select '{c.dataset}' as dataset, count(*) as n from {c.raw_table(t)}"
                            for c in contracts
                            for t in c.tables
                        )
                        + ") group by dataset"
                    ).fetchall()
                )
                if contracts
                else {}
            )
            not_adding_up = _not_adding_up(con, contracts) if contracts else []
        for versions in selected:
            outcomes = loaded.get(versions.dataset)
            if outcomes is None:
                continue
            for file_name, outcome in outcomes:
                # rows quarantined are routine, reported to the partner: a file that failed whole is worth
                # a warning
                (context.log.info if outcome.status == "loaded" else context.log.warning)(
                    describe(file_name, outcome)
                )
            key = raw_key(versions.latest)
            broken = [f for d, f in not_adding_up if d == versions.dataset]
            yield dg.MaterializeResult(
                asset_key=key,
                metadata={
                    "deliveries_loaded": len(outcomes),
                    "rows_in_tables": int(rows.get(versions.dataset, 0)),
                    "rows_loaded_now": sum(o.rows_loaded for _, o in outcomes),
                    "rows_quarantined_now": sum(o.rows_quarantined for _, o in outcomes),
                    "rows_duplicate_now": sum(o.rows_duplicate for _, o in outcomes),
                },
            )
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name=ROW_ACCOUNTING,
                passed=not broken,
                severity=dg.AssetCheckSeverity.ERROR,
                description=None
                if not broken
                else f"{len(broken)} deliveries whose rows do not add up: " + "; ".join(broken),
                metadata={"deliveries_not_adding_up": len(broken)},
            )
        if broken_datasets:
            raise RuntimeError(
                f"loading failed for {', '.join(broken_datasets)} (the reason is in the run's log); "
                "every other dataset was loaded"
            )

    return _raw


def ingest_definitions() -> dg.Definitions:
    versions = load_contract_versions().values()
    return dg.Definitions(assets=[deliveries, build_raw_assets(list(versions))])


__all__ = ["DELIVERIES", "ensure_manifest", "ingest_definitions", "raw_key"]
