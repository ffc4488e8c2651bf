"""Schedules on the statutory calendar (Europe/London). Each release holds every report, so each schedule
runs the whole refresh; its tags say which report period the run is for (shown in the Dagster UI and in
the release's metadata)."""

from datetime import date, datetime

import dagster as dg

from orchestration.automation.jobs import refresh_all

PERIOD_TAG = "wholechild/report_period"
REPORT_TAG = "wholechild/report"


def month_reported(when: datetime) -> str:
    """On the 1st of a month, the month just ended (run 1 May 2026: "2026-04")."""
    first = date(when.year, when.month, 1)
    year, month = (first.year, first.month - 1) if first.month > 1 else (first.year - 1, 12)
    return f"{year}-{month:02d}"


def term_reported(when: datetime) -> str:
    """The school census just returned: the autumn census (October) is reported in November, spring
    (January) in February, summer (May) in June; academic years run September to August."""
    term = {11: "autumn", 2: "spring", 6: "summer"}[when.month]
    start = when.year if when.month >= 9 else when.year - 1
    return f"{start}/{(start + 1) % 100:02d} {term}"


def year_reported(when: datetime) -> str:
    """After 31 March: the collection year just ended (run July 2026: "2025/26")."""
    end = when.year if when.month > 3 else when.year - 1
    return f"{end - 1}/{end % 100:02d}"


def _schedule(name: str, cron: str, report: str, period, description: str) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=name,
        job=refresh_all,
        cron_schedule=cron,
        execution_timezone="Europe/London",
        description=description,
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
    def _evaluate(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        when = context.scheduled_execution_time
        return dg.RunRequest(
            run_key=f"{name}:{when:%Y-%m-%d}", tags={REPORT_TAG: report, PERIOD_TAG: period(when)}
        )

    return _evaluate


monthly_performance_pack = _schedule(
    "monthly_performance_pack",
    "0 6 1 * *",
    "csc_performance_pack",
    month_reported,
    "On the 1st of each month at 06:00: refresh everything and publish the month's performance pack "
    "(and the partners' data quality reports).",
)
termly_virtual_school = _schedule(
    "termly_virtual_school",
    "0 6 1 2,6,11 *",
    "virtual_school",
    term_reported,
    "1 November, 1 February and 1 June at 06:00, once each school census is in: the virtual school report.",
)
annual_outcomes = _schedule(
    "annual_outcomes",
    "0 6 1 7 *",
    "annual_outcomes",
    year_reported,
    "1 July at 06:00, after 31 March and the 903 (OC2, OC3) is complete: the annual outcomes report.",
)
