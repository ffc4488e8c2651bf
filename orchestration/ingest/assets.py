"""Ingestion assets: receive the landing folder, then one raw table per dataset contract."""

from pathlib import Path

import dagster as dg

from orchestration.ingest.archive import receive
from orchestration.ingest.contracts import Contract, load_contracts
from orchestration.ingest.load import ensure_raw_table, load_delivery, raw_table
from orchestration.ingest.manifest import STATUS_RECEIVED, ensure_manifest
from orchestration.resources import WAREHOUSE_POOL, Warehouse

DELIVERIES = dg.AssetKey(["ingest", "deliveries"])


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
def deliveries(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    paths = warehouse.paths
    with warehouse.vault() as con:
        receipts = receive(con, paths.landing, paths.archive, load_contracts())
        totals = dict(
            con.execute("select status, count(*) from ingest.deliveries group by status").fetchall()
        )
    for r in receipts:
        if r.outcome != "new delivery":
            context.log.info(f"{r.relative}: {r.outcome}; nothing to load")
        elif r.detail:
            context.log.warning(f"{r.relative}: {r.status}: {r.detail}")
    new = [r for r in receipts if r.outcome == "new delivery"]
    return dg.MaterializeResult(
        metadata={
            "files_seen": len(receipts),
            "new_deliveries": len(new),
            "repeat_sightings": len(receipts) - len(new),
            "unrecognised": sum(1 for r in new if r.status == "unrecognised"),
            "manifest_by_status": dg.MetadataValue.json(totals),
        }
    )


def build_raw_asset(contract: Contract) -> dg.AssetsDefinition:
    @dg.asset(
        key=raw_key(contract),
        deps=[DELIVERIES],
        group_name=contract.partner,
        pool=WAREHOUSE_POOL,
        kinds={"duckdb"},
        description=f"{contract.description} Loaded by contract into the vault ({raw_table(contract)}).",
    )
    def _raw(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        paths = warehouse.paths
        outcomes = []
        with warehouse.vault() as con:
            ensure_manifest(con)
            ensure_raw_table(con, contract)
            pending = con.execute(
                """select delivery_id, archive_path, period, file_name from ingest.deliveries
                   where dataset = ? and status = ? order by received_at, landing_path""",
                [contract.dataset, STATUS_RECEIVED],
            ).fetchall()
            for delivery_id, archive_path, period, file_name in pending:
                outcome = load_delivery(
                    con, contract, delivery_id, Path(archive_path), period, file_name, paths.warehouse
                )
                outcomes.append(outcome)
                level = (
                    context.log.warning if outcome.rows_quarantined or outcome.detail else context.log.info
                )
                level(
                    f"{file_name}: {outcome.status}; {outcome.rows_in_file} rows = {outcome.rows_loaded} loaded"
                    f" + {outcome.rows_quarantined} quarantined + {outcome.rows_duplicate} duplicate"
                    + (f"; {outcome.detail}" if outcome.detail else "")
                )
            rows = con.execute(f"select count(*) from {raw_table(contract)}").fetchall()[0][0]
        return dg.MaterializeResult(
            metadata={
                "deliveries_loaded": len(outcomes),
                "rows_in_table": rows,
                "rows_loaded_now": sum(o.rows_loaded for o in outcomes),
                "rows_quarantined_now": sum(o.rows_quarantined for o in outcomes),
                "rows_duplicate_now": sum(o.rows_duplicate for o in outcomes),
            }
        )

    return _raw


def build_row_accounting_check(contract: Contract) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=raw_key(contract),
        name="row_accounting",
        blocking=True,
        pool=WAREHOUSE_POOL,
        description="For every delivery: rows loaded + quarantined + exact duplicates = rows in the "
        "file, and the raw table holds exactly the rows recorded as loaded.",
    )
    def _check(warehouse: Warehouse) -> dg.AssetCheckResult:
        with warehouse.vault(read_only=True) as con:
            broken = con.execute(
                f"""select d.file_name, d.status, d.rows_in_file, d.rows_loaded, d.rows_quarantined,
                           d.rows_duplicate, coalesce(t.n, 0) as rows_in_table
                    from ingest.deliveries d
                    left join (select _delivery_id, count(*) as n from {raw_table(contract)}
                               group by _delivery_id) t on t._delivery_id = d.delivery_id
                    where d.dataset = ? and d.status in ('loaded', 'failed', 'superseded')
                      and (d.rows_in_file is distinct from d.rows_loaded + d.rows_quarantined + d.rows_duplicate
                           or (d.status = 'loaded' and coalesce(t.n, 0) <> d.rows_loaded)
                           or (d.status <> 'loaded' and coalesce(t.n, 0) <> 0))""",
                [contract.dataset],
            ).df()
        return dg.AssetCheckResult(
            passed=broken.empty,
            severity=dg.AssetCheckSeverity.ERROR,
            description=None
            if broken.empty
            else f"{len(broken)} deliveries whose rows do not add up: " + "; ".join(broken.file_name),
            metadata={"deliveries_not_adding_up": len(broken)},
        )

    return _check


def ingest_definitions() -> dg.Definitions:
    contracts = load_contracts().values()
    return dg.Definitions(
        assets=[deliveries, *(build_raw_asset(c) for c in contracts)],
        asset_checks=[build_row_accounting_check(c) for c in contracts],
    )
