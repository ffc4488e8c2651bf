"""Statutory returns as Dagster assets: SSDA903 and CIN census partitioned by collection year, Annex A
refreshed weekly. Each carries a blocking check that passes only when the return is ready to submit."""

from datetime import date, datetime

import dagster as dg

from orchestration.ingest.assets import raw_key
from orchestration.ingest.contracts import load_contracts
from orchestration.resources import WAREHOUSE_POOL, Warehouse

SSDA903 = dg.AssetKey(["returns", "ssda903"])
CIN = dg.AssetKey(["returns", "cin"])
ANNEX_A = dg.AssetKey(["returns", "annex_a"])
EVENTS_MART = dg.AssetKey(["marts", "fct_child_events"])
OUTCOMES_MART = dg.AssetKey(["marts", "fct_child_outcomes_by_year"])
RECONCILES = "reconciles_with_returns"
READY = "ready_to_submit"

collection_years = dg.StaticPartitionsDefinition([str(year) for year in range(2022, 2031)])


def _ssd_inputs() -> list[dg.AssetKey]:
    return sorted(
        (raw_key(c) for c in load_contracts().values() if c.dataset.startswith("ssd_")),
        key=lambda k: k.to_user_string(),
    )


def _result(outcome, check_asset: dg.AssetKey) -> dg.MaterializeResult:
    summary = outcome.summary
    description = (
        "ready to submit"
        if outcome.passed
        else f"{outcome.blocking} blocking finding(s): see {outcome.folder / 'validation'}"
    )
    if outcome.reused:
        description = f"unchanged since its last attempt ({outcome.folder.name}): {description}"
    return dg.MaterializeResult(
        metadata={
            "folder": dg.MetadataValue.path(str(outcome.folder)),
            "reused_last_attempt": outcome.reused,
            "blocking_errors": outcome.blocking,
            **{
                k: dg.MetadataValue.json(v) if isinstance(v, dict) else v
                for k, v in summary.items()
                if v is not None
            },
        },
        check_results=[
            dg.AssetCheckResult(
                asset_key=check_asset,
                check_name=READY,
                passed=outcome.passed,
                severity=dg.AssetCheckSeverity.ERROR,
                description=description,
                metadata={"blocking_errors": outcome.blocking},
            )
        ],
    )


def _check(key: dg.AssetKey, what: str) -> list[dg.AssetCheckSpec]:
    return [dg.AssetCheckSpec(READY, asset=key, blocking=True, description=what)]


@dg.asset(
    key=SSDA903,
    deps=_ssd_inputs(),
    partitions_def=collection_years,
    group_name="returns",
    # reads only the vault (attached read-only, waiting while another process writes it) and writes files:
    # built beside the analytics stages, which never write the vault (returns/due.py)
    kinds={"csv", "xml"},
    check_specs=_check(
        SSDA903, "no pre-check error and no DfE validator error other than a proven validator defect"
    ),
    description="The SSDA903 for a collection year (11 CSVs and the XML), validated by the project's pre-checks "
    "and csc-validator-be-903 with last year's episodes, published with its validation report.",
)
def ssda903_return(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    from orchestration.returns import service

    return _result(service.ssda903(warehouse.paths, int(context.partition_key)), SSDA903)


@dg.asset(
    key=CIN,
    deps=_ssd_inputs(),
    partitions_def=collection_years,
    group_name="returns",
    # reads only the vault (attached read-only, waiting while another process writes it) and writes files:
    # built beside the analytics stages, which never write the vault (returns/due.py)
    kinds={"xml"},
    check_specs=_check(
        CIN, "valid against the year's XSD, no pre-check error, no csc-validator-be-cin error"
    ),
    description="The CIN census XML for a collection year, checked against that year's XSD, pre-checked and "
    "validated by csc-validator-be-cin, published with its validation report (queries listed).",
)
def cin_return(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    from orchestration.returns import service

    return _result(service.cin(warehouse.paths, int(context.partition_key)), CIN)


class AnnexAConfig(dg.Config):
    inspection_date: str = ""  # YYYY-MM-DD; default: the SSD extract's date
    months: int = 6


@dg.asset(
    key=ANNEX_A,
    deps=[*_ssd_inputs(), EVENTS_MART],
    group_name="returns",
    pool=WAREHOUSE_POOL,
    kinds={"excel"},
    check_specs=_check(ANNEX_A, "every list's row count agrees with the marts for the same window"),
    description="Ofsted Annex A lists 1-11 for an inspection date and look-back window, reconciled with the "
    "marts (fct_child_events) list by list.",
)
def annex_a_return(config: AnnexAConfig, warehouse: Warehouse) -> dg.MaterializeResult:
    from orchestration.returns import service

    inspection = date.fromisoformat(config.inspection_date) if config.inspection_date else None
    return _result(service.annex_a(warehouse.paths, inspection, config.months), ANNEX_A)


@dg.asset_check(
    asset=OUTCOMES_MART,
    name=RECONCILES,
    blocking=True,
    pool=WAREHOUSE_POOL,
    additional_deps=_ssd_inputs(),
    description="The DfE's headline figures worked out from the SSDA903 and CIN census returns of every year "
    "the extract holds whole (orchestration/returns/figures.py) agree with the marts child by child; a "
    "difference the pipeline cannot explain blocks publication. Every difference, with its child and reason: "
    "quality/reconciliation_with_returns.csv.",
)
def reconciles_with_returns(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse
) -> dg.AssetCheckResult:
    from orchestration.returns.reconcile import reconcile_with_returns, write_report

    paths = warehouse.paths
    reconciliation = reconcile_with_returns(paths.vault_db, paths.analytics_db)
    summary = write_report(reconciliation, paths.quality)
    unexplained = reconciliation.unexplained
    description = (
        f"{summary['comparisons']} measure-years reconciled with the returns ({len(summary['years'])} years): "
        f"{summary['differences']} differences, {summary['unexplained']} unexplained"
    )
    if not unexplained.empty:
        first = unexplained.drop_duplicates(["measure", "collection_year"]).head(5)
        description += "; e.g. " + "; ".join(
            f"{r.measure} {r.collection_year} {r.person_key}: {r.reason}" for r in first.itertuples()
        )
    (context.log.info if reconciliation.passed else context.log.error)(description)
    return dg.AssetCheckResult(
        passed=reconciliation.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata={
            "differences": summary["differences"],
            "unexplained": summary["unexplained"],
            "differences_file": dg.MetadataValue.path(str(paths.quality / "reconciliation_with_returns.csv")),
        },
    )


WORKLIST = dg.AssetKey(["returns", "in_year_worklist"])


@dg.asset(
    key=WORKLIST,
    deps=_ssd_inputs(),
    group_name="returns",
    kinds={"csv", "html"},
    description="The returns team's in-year worklist: the year so far's SSDA903 and CIN census built from the "
    "latest extract and validated; every error and query per child, with the SSD table and field to correct, "
    "marked new, still open or fixed since the last extract's worklist (orchestration/returns/worklist.py).",
)
def in_year_worklist(warehouse: Warehouse) -> dg.MaterializeResult:
    from orchestration.returns import worklist

    made = worklist.build(warehouse.paths)
    return dg.MaterializeResult(
        metadata={
            "collection_year": made.year,
            "extract": made.extract.isoformat(),
            "compared_with": made.compared_with.isoformat() if made.compared_with else "",
            **{status.replace(" ", "_"): n for status, n in made.counts().items()},
            "worklist": dg.MetadataValue.path(str(made.folder / "worklist.html")),
        }
    )


ssda903_job = dg.define_asset_job("ssda903_return", selection=[SSDA903], partitions_def=collection_years)
worklist_job = dg.define_asset_job("in_year_worklist", selection=[WORKLIST])
cin_job = dg.define_asset_job("cin_census_return", selection=[CIN], partitions_def=collection_years)
annex_a_job = dg.define_asset_job("annex_a_return", selection=[ANNEX_A])


def last_ended_collection_year(when: datetime) -> int:
    """The collection year that ended on the most recent 31 March (in April 2026: 2026)."""
    return when.year if when.month > 3 else when.year - 1


def _statutory(job, name: str, description: str) -> dg.ScheduleDefinition:
    # every Monday from April to July: the submission window after 31 March, re-validated as fixes land
    @dg.schedule(
        name=name,
        job=job,
        cron_schedule="0 7 * 4-7 1",
        execution_timezone="Europe/London",
        description=description,
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        year = str(last_ended_collection_year(context.scheduled_execution_time))
        return dg.RunRequest(
            run_key=f"{name}:{context.scheduled_execution_time:%Y-%m-%d}", partition_key=year
        )

    return _schedule


ssda903_schedule = _statutory(
    ssda903_job,
    "ssda903_after_31_march",
    "Mondays 07:00, April to July: the SSDA903 for the year just ended.",
)
cin_schedule = _statutory(
    cin_job,
    "cin_census_after_31_march",
    "Mondays 07:00, April to July: the CIN census for the year just ended.",
)
annex_a_schedule = dg.ScheduleDefinition(
    name="annex_a_weekly",
    job=annex_a_job,
    cron_schedule="0 6 * * 1",
    execution_timezone="Europe/London",
    description="Mondays 06:00: Annex A refreshed, ready for an inspection at short notice.",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)


worklist_schedule = dg.ScheduleDefinition(
    name="in_year_worklist_monthly",
    job=worklist_job,
    cron_schedule="0 7 2 * *",
    execution_timezone="Europe/London",
    description="The 2nd of each month, 07:00 (after the month-end extract): the year so far's SSDA903 and CIN "
    "census validated, and the returns team's worklist marked against last month's.",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)


def returns_definitions() -> dg.Definitions:
    return dg.Definitions(
        assets=[ssda903_return, cin_return, annex_a_return, in_year_worklist],
        asset_checks=[reconciles_with_returns],
        jobs=[ssda903_job, cin_job, annex_a_job, worklist_job],
        schedules=[ssda903_schedule, cin_schedule, annex_a_schedule, worklist_schedule],
    )
