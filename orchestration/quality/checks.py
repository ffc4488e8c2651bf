"""Blocking asset checks that gate publication: a mart's Great Expectations suite, read from the
analytics file read-only. The outcome (pass or fail) is written to the quality folder either way."""

import json
from datetime import UTC, datetime

import dagster as dg

from orchestration.quality.gx import validate
from orchestration.resources import WAREHOUSE_POOL, Warehouse


def build_gx_check(asset_key: dg.AssetKey, table: str, suite: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset_key,
        name=f"gx_{suite}",
        blocking=True,
        pool=WAREHOUSE_POOL,
        description=f"Great Expectations suite expectations/{suite}.json: nothing downstream is "
        f"published unless every expectation holds.",
    )
    def _gx(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        with warehouse.analytics(read_only=True) as con:
            df = con.execute(f"select * from {table}").df()
        result = validate(df, suite)
        out = warehouse.paths.quality / f"{suite}.json"
        out.write_text(
            json.dumps(
                result.to_json()
                | {
                    "checked_at": datetime.now(UTC).isoformat(),
                    "run_id": context.op_execution_context.run_id,
                },
                indent=2,
                default=str,
            ),
            encoding="utf-8",
        )
        (context.log.info if result.success else context.log.error)(result.summary())
        return dg.AssetCheckResult(
            passed=result.success,
            severity=dg.AssetCheckSeverity.ERROR,
            description=result.summary(),
            metadata={
                "rows": result.rows,
                "failed_expectations": len(result.failures),
                "validation_output": dg.MetadataValue.path(str(out)),
            },
        )

    return _gx
