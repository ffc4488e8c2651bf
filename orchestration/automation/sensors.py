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


# --- alerts --------------------------------------------------------------------------------------


def write_alert(paths: Paths, run_id: str, job: str, message: str) -> dict:
    """Append the alert to $WHOLECHILD_HOME/alerts/alerts.jsonl and, when WHOLECHILD_ALERT_EMAIL_TO and
    WHOLECHILD_SMTP_HOST are set, send it by email (WHOLECHILD_SMTP_PORT, _USER, _PASSWORD, _STARTTLS)."""
    import os
    import smtplib
    from datetime import UTC, datetime
    from email.message import EmailMessage

    alert = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "run_id": run_id,
        "job": job,
        "message": message[:4000],
        "emailed_to": None,
    }
    recipient, host = os.environ.get("WHOLECHILD_ALERT_EMAIL_TO"), os.environ.get("WHOLECHILD_SMTP_HOST")
    if recipient and host:
        email = EmailMessage()
        email["Subject"] = f"Whole Child: run of {job} failed"
        email["From"] = os.environ.get("WHOLECHILD_ALERT_EMAIL_FROM", "wholechild@localhost")
        email["To"] = recipient
        email.set_content(f"Run {run_id} of {job} failed at {alert['at']}.\n\n{message}")
        with smtplib.SMTP(host, int(os.environ.get("WHOLECHILD_SMTP_PORT", "25")), timeout=30) as smtp:
            if os.environ.get("WHOLECHILD_SMTP_STARTTLS") == "1":
                smtp.starttls()
            if os.environ.get("WHOLECHILD_SMTP_USER"):
                smtp.login(os.environ["WHOLECHILD_SMTP_USER"], os.environ.get("WHOLECHILD_SMTP_PASSWORD", ""))
            smtp.send_message(email)
        alert["emailed_to"] = recipient
    folder = paths.home / "alerts"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "alerts.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(alert) + "\n")
    return alert


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Any failed run (a gate, a crashed step, a return not ready): an alert line in "
    "alerts/alerts.jsonl, and an email when WHOLECHILD_ALERT_EMAIL_TO and WHOLECHILD_SMTP_HOST are set.",
)
def alert_on_run_failure(context: dg.RunFailureSensorContext) -> None:
    message = context.failure_event.message or "run failed"
    write_alert(Paths.from_env(), context.dagster_run.run_id, context.dagster_run.job_name, message)
