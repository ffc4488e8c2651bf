"""Blocking asset checks that gate publication: a mart's Great Expectations suite, read from the
analytics file read-only. The outcome (pass or fail) is written to the quality folder either way."""

import json
from datetime import UTC, datetime

import dagster as dg
import duckdb

from orchestration.quality.gx import columns_checked, load_suite_spec, validate
from orchestration.resources import WAREHOUSE_POOL, Warehouse

VOLUME_TOLERANCE = 0.5  # a release may have half or one and a half times the rows of the last good one


def volume_against_last_release(last_output, rows: int, tolerance: float) -> str | None:
    """Why the row count is implausible against the last passing run of the same suite (None if fine, or if
    there is no passing run yet): a halved mart usually means a partner's delivery went missing."""
    if not last_output.exists():
        return None
    last = json.loads(last_output.read_text(encoding="utf-8"))
    if not last.get("success") or not last.get("rows"):
        return None
    before = int(last["rows"])
    if abs(rows - before) > tolerance * before:
        return (
            f"row count changed from {before:,} to {rows:,} since the last release that passed "
            f"(more than {tolerance:.0%}): check that every partner's delivery arrived"
        )
    return None


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
        # only the columns the suite reads (the outcomes mart has 63, its suite reads 14: 1.7 s against 3.1 s
        # at scale 1); one it names that the table lacks stays missing, for the suite to say so
        wanted = columns_checked(load_suite_spec(suite))
        with warehouse.analytics(read_only=True) as con:
            mart = con.table(table)
            chosen = (
                mart.columns if wanted is None else [c for c in mart.columns if c in wanted] or mart.columns
            )
            df = mart.select(*(duckdb.ColumnExpression(c) for c in chosen)).df()
        result = validate(df, suite)
        out = warehouse.paths.quality / f"{suite}.json"
        baseline = warehouse.paths.quality / f"{suite}.last_passed.json"
        volume = volume_against_last_release(baseline, result.rows, tolerance=VOLUME_TOLERANCE)
        passed = result.success and volume is None
        out.write_text(
            json.dumps(
                result.to_json()
                | {
                    "success": passed,
                    "volume_check": volume or "within tolerance of the last passing run",
                    "checked_at": datetime.now(UTC).isoformat(),
                    "run_id": context.op_execution_context.run_id,
                },
                indent=2,
                default=str,
            ),
            encoding="utf-8",
        )
        if passed:  # the baseline for the next run's volume check moves only with a passing run
            baseline.write_text(json.dumps({"rows": result.rows, "success": True}), encoding="utf-8")
        description = result.summary() + (f"; {volume}" if volume else "")
        (context.log.info if passed else context.log.error)(description)
        return dg.AssetCheckResult(
            passed=passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=description,
            metadata={
                "rows": result.rows,
                "failed_expectations": len(result.failures),
                "validation_output": dg.MetadataValue.path(str(out)),
            },
        )

    return _gx
