"""Ingestion assets: receive the landing folder, then one raw asset per dataset contract."""

import dagster as dg
from pydantic import Field

from orchestration.ingest.archive import receive, sightings_of
from orchestration.ingest.contracts import Contract, ContractVersions, load_contract_versions, load_contracts
from orchestration.ingest.manifest import ensure_manifest
from orchestration.ingest.service import describe, load_pending
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
    group_name="ingest",
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


def build_raw_asset(versions: ContractVersions) -> dg.AssetsDefinition:
    contract = versions.latest

    @dg.asset(
        key=raw_key(contract),
        deps=[DELIVERIES],
        group_name=contract.partner,
        pool=WAREHOUSE_POOL,
        kinds={"duckdb"},
        description=f"{contract.description} Loaded by contract into the vault ({_raw_tables(contract)}).",
    )
    def _raw(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        with warehouse.vault() as con:
            outcomes = load_pending(con, versions, warehouse.paths.warehouse, warehouse.paths.feedback)
            rows = sum(
                con.execute(f"select count(*) from {contract.raw_table(t)}").fetchall()[0][0]
                for t in contract.tables
            )
        for file_name, outcome in outcomes:
            # rows quarantined are routine, reported to the partner: a file that failed whole is worth a warning
            (context.log.info if outcome.status == "loaded" else context.log.warning)(
                describe(file_name, outcome)
            )
        return dg.MaterializeResult(
            metadata={
                "deliveries_loaded": len(outcomes),
                "rows_in_tables": rows,
                "rows_loaded_now": sum(o.rows_loaded for _, o in outcomes),
                "rows_quarantined_now": sum(o.rows_quarantined for _, o in outcomes),
                "rows_duplicate_now": sum(o.rows_duplicate for _, o in outcomes),
            }
        )

    return _raw


def build_row_accounting_check(versions: ContractVersions) -> dg.AssetChecksDefinition:
    contract = versions.latest
    counted = " union all ".join(f"select _delivery_id from {contract.raw_table(t)}" for t in contract.tables)

    @dg.asset_check(
        asset=raw_key(contract),
        name="row_accounting",
        blocking=True,
        pool=WAREHOUSE_POOL,
        description="For every delivery: rows loaded + quarantined + exact duplicates = rows in the "
        "file, and the raw tables hold exactly the rows recorded as loaded.",
    )
    def _check(warehouse: Warehouse) -> dg.AssetCheckResult:
        with warehouse.vault(read_only=True) as con:
            ensure = con.execute(
                "select count(*) from information_schema.tables where table_schema = 'ingest'"
                " and table_name = 'deliveries'"
            ).fetchall()[0][0]
            broken = (
                con.execute(
                    f"""select d.file_name, d.status, d.rows_in_file, d.rows_loaded, d.rows_quarantined,
                           d.rows_duplicate, coalesce(t.n, 0) as rows_in_table
                    from ingest.deliveries d
                    left join (select _delivery_id, count(*) as n from ({counted}) group by _delivery_id) t
                        on t._delivery_id = d.delivery_id
                    where d.dataset = ? and d.status in ('loaded', 'failed', 'superseded')
                      and (d.rows_in_file is distinct from d.rows_loaded + d.rows_quarantined + d.rows_duplicate
                           or (d.status = 'loaded' and coalesce(t.n, 0) <> d.rows_loaded)
                           or (d.status <> 'loaded' and coalesce(t.n, 0) <> 0))""",
                    [contract.dataset],
                ).df()
                if ensure
                else None
            )
        ok = broken is None or broken.empty
        return dg.AssetCheckResult(
            passed=ok,
            severity=dg.AssetCheckSeverity.ERROR,
            description=None
            if ok
            else f"{len(broken)} deliveries whose rows do not add up: " + "; ".join(broken.file_name),
            metadata={"deliveries_not_adding_up": 0 if ok else len(broken)},
        )

    return _check


def ingest_definitions() -> dg.Definitions:
    versions = load_contract_versions().values()
    return dg.Definitions(
        assets=[deliveries, *(build_raw_asset(v) for v in versions)],
        asset_checks=[build_row_accounting_check(v) for v in versions],
    )


__all__ = ["DELIVERIES", "ensure_manifest", "ingest_definitions", "raw_key"]
