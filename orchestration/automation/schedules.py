"""Schedules on the statutory calendar (Europe/London)."""

import dagster as dg

from orchestration.automation.jobs import refresh_all

monthly_performance_pack = dg.ScheduleDefinition(
    name="monthly_performance_pack",
    job=refresh_all,
    cron_schedule="0 6 1 * *",
    execution_timezone="Europe/London",
    description="On the 1st of each month at 06:00: refresh everything and publish the month's pack.",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
