"""A sensor on the landing folder. It only looks at file names, sizes and times, never at DuckDB (a
reader would collide with a running pipeline's write lock).

Each new or changed file gets its own ingestion run, keyed by its path, size and modification time: Dagster
never starts two runs with the same key, so a file is processed once however often the sensor sees it
(even if its cursor is lost). Ingestion itself also recognises repeated content, so the same bytes under
another name load once too. Runs queue and take the warehouse one at a time (dagster.yaml), so runs for
files arriving together cannot overlap.
"""

import json

import dagster as dg

from orchestration.automation.jobs import ingest_deliveries
from orchestration.ingest.archive import scan_landing
from orchestration.settings import Paths

MAX_RUNS_PER_TICK = 200  # a folder of thousands of files is taken over several ticks


def landing_fingerprints(paths: Paths) -> dict[str, str]:
    """Run key -> the file's path in the landing folder, for every file there now."""
    return {f"{s.relative}|{s.size}|{s.modified_ns}": s.relative for s in scan_landing(paths.landing)}


@dg.sensor(
    job=ingest_deliveries,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Starts one ingestion run for each file that appears or changes in the landing folder.",
)
def landing_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    seen = set(json.loads(context.cursor)) if context.cursor else set()
    current = landing_fingerprints(Paths.from_env())
    new = sorted(set(current) - seen)[:MAX_RUNS_PER_TICK]
    if not new:
        return dg.SkipReason("no new or changed files in the landing folder")
    requests = [
        dg.RunRequest(
            run_key=key,
            run_config={"ops": {"ingest__deliveries": {"config": {"files": [current[key]]}}}},
            tags={"wholechild/file": current[key]},
        )
        for key in new
    ]
    # files still present that were seen before, plus those requested now (gone files drop out)
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(sorted((seen & set(current)) | set(new))))
