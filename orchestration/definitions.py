"""The Dagster code location: assembles the stages, nothing else."""

import dagster as dg

from orchestration.automation.jobs import ingest_deliveries, refresh_all
from orchestration.automation.schedules import (
    annual_outcomes,
    monthly_performance_pack,
    termly_virtual_school,
)
from orchestration.automation.sensors import alert_on_run_failure, landing_sensor
from orchestration.identity.assets import identity_definitions
from orchestration.ingest.assets import ingest_definitions
from orchestration.quality.checks import build_gx_check
from orchestration.reports.outcomes import GATED_MARTS, outcomes_summary
from orchestration.resources import Warehouse
from orchestration.returns.assets import returns_definitions
from orchestration.transform.assets import dbt_resource, whole_child_dbt

defs = dg.Definitions.merge(
    ingest_definitions(),
    identity_definitions(),
    returns_definitions(),
    dg.Definitions(
        assets=[whole_child_dbt, outcomes_summary],
        asset_checks=[
            build_gx_check(dg.AssetKey(["marts", name]), f"marts.{name}", name) for name in GATED_MARTS
        ],
        jobs=[refresh_all, ingest_deliveries],
        schedules=[monthly_performance_pack, termly_virtual_school, annual_outcomes],
        sensors=[landing_sensor, alert_on_run_failure],
        resources={"warehouse": Warehouse(), "dbt": dbt_resource()},
        executor=dg.in_process_executor,
    ),
)
