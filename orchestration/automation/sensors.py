"""A sensor on the landing folder. It only looks at file names, sizes and times, never at DuckDB (a
reader would collide with a running pipeline's write lock); ingestion itself recognises repeated content,
so a file seen twice still loads once."""

import hashlib
import json

import dagster as dg

from orchestration.automation.jobs import refresh_all
from orchestration.ingest.archive import scan_landing
from orchestration.settings import Paths


def landing_fingerprints(paths: Paths) -> list[str]:
    return [f"{s.relative}|{s.size}|{s.modified_ns}" for s in scan_landing(paths.landing)]


@dg.sensor(
    job=refresh_all,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Starts a refresh when files appear or change in the landing folder.",
)
def landing_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    seen = set(json.loads(context.cursor)) if context.cursor else set()
    current = landing_fingerprints(Paths.from_env())
    new = sorted(set(current) - seen)
    if not new:
        return dg.SkipReason("no new or changed files in the landing folder")
    run_key = hashlib.sha256("\n".join(new).encode()).hexdigest()[:20]
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=run_key, tags={"wholechild/new_files": str(len(new))})],
        cursor=json.dumps(sorted(set(current))),
    )
