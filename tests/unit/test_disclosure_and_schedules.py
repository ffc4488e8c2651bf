"""Disclosure control attacked the way an intruder would (solving for suppressed cells from published
totals), the report schedules' periods, and run-failure alerts."""

from datetime import datetime

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from orchestration.reports.disclosure import TableSpec, attack, protect

SPEC = TableSpec(keys=("time_period", "sex", "age"), additive=("sex", "age"), counts=("children",))


def _table(values: list[int]) -> pd.DataFrame:
    """A 2 x 3 table with its margins: sex x age, Total rows and columns computed from the cells."""
    cells = np.array(values).reshape(2, 3)
    rows = []
    for s, sex in enumerate(("Female", "Male")):
        for a, age in enumerate(("0-4", "5-9", "10-15")):
            rows.append(("2026", sex, age, cells[s, a]))
        rows.append(("2026", sex, "Total", cells[s].sum()))
    for a, age in enumerate(("0-4", "5-9", "10-15")):
        rows.append(("2026", "Total", age, cells[:, a].sum()))
    rows.append(("2026", "Total", "Total", cells.sum()))
    return pd.DataFrame(rows, columns=["time_period", "sex", "age", "children"])


def test_primary_suppression_alone_is_broken_by_differencing_the_totals():
    frame = _table([3, 40, 12, 7, 2, 30])
    naive = frame.assign(children=frame.children.map(lambda v: "c" if 1 <= v <= 5 else str(v)))
    found = attack(naive, SPEC)
    assert any("totals give 3" in p for p in found) and any("totals give 2" in p for p in found)


@pytest.mark.parametrize("seed", range(40))
def test_protected_tables_leave_no_cell_recoverable(seed):
    rng = np.random.default_rng(seed)
    values = rng.choice([0, 1, 2, 3, 4, 5, 6, 9, 15, 40], size=6).tolist()
    frame = _table(values)
    published, suppressed = protect(frame, SPEC)
    assert attack(published, SPEC) == []
    small = frame.children.between(1, 5)
    assert published.children[small].eq("c").all()  # every small count hidden
    assert suppressed == int(published.children.eq("c").sum())
    shown = pd.to_numeric(published.children, errors="coerce").dropna()
    assert (shown == frame.children[shown.index]).all()  # what is shown is the true figure


def test_rates_follow_their_counts_and_only_dfe_symbols_appear():
    frame = pd.DataFrame({"time_period": ["2025", "2026"], "looked_after": [40, 30], "moved": [3, 9]})
    spec = TableSpec(
        ("time_period",), (), ("looked_after", "moved"), rates=(("moved_rate", "moved", "looked_after"),)
    )
    published, _ = protect(frame, spec)
    assert published.moved_rate.tolist() == ["c", "30.0"]
    assert attack(published.assign(moved_rate=["c", "n/a"]), spec) == [
        "moved_rate row 1: 'n/a' is neither a number nor a DfE symbol"
    ]


def test_national_and_regional_figures_are_rounded_to_the_nearest_ten():
    frame = pd.DataFrame(
        {
            "time_period": ["2026"] * 2,
            "geographic_level": ["National", "Local authority"],
            "children": [83_247, 47],
        }
    )
    published, _ = protect(frame, TableSpec(("time_period", "geographic_level"), (), ("children",)))
    assert published.children.tolist() == ["83250", "47"]


@pytest.mark.parametrize(
    ("name", "when", "period"),
    [
        ("monthly_performance_pack", datetime(2026, 5, 1, 6), "2026-04"),
        ("monthly_performance_pack", datetime(2027, 1, 1, 6), "2026-12"),
        ("termly_virtual_school", datetime(2026, 11, 1, 6), "2026/27 autumn"),
        ("termly_virtual_school", datetime(2027, 2, 1, 6), "2026/27 spring"),
        ("termly_virtual_school", datetime(2027, 6, 1, 6), "2026/27 summer"),
        ("annual_outcomes", datetime(2026, 7, 1, 6), "2025/26"),
    ],
)
def test_report_schedules_ask_for_the_right_period(name, when, period):
    from orchestration.automation import schedules
    from orchestration.automation.schedules import PERIOD_TAG

    schedule = getattr(schedules, name)
    request = schedule(dg.build_schedule_context(scheduled_execution_time=when))
    assert request.tags[PERIOD_TAG] == period
    assert request.run_key.endswith(when.strftime("%Y-%m-%d"))
    minute, hour, day, months, _ = schedule.cron_schedule.split()
    assert (int(minute), int(hour), int(day)) == (when.minute, when.hour, when.day)
    assert months == "*" or str(when.month) in months.split(",")  # the cron fires on that date


def test_a_failed_run_writes_an_alert_and_emails_when_configured(home, monkeypatch):
    import json
    import smtplib

    from orchestration.automation.sensors import write_alert

    sent = []

    class FakeSMTP:
        def __init__(self, host, port, timeout):
            sent.append((host, port))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def send_message(self, message):
            sent.append(message["To"])

    write_alert(home, "run1", "refresh_all", "gate failed: sessions_possible")
    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    monkeypatch.setenv("WHOLECHILD_ALERT_EMAIL_TO", "data-team@example.org")
    monkeypatch.setenv("WHOLECHILD_SMTP_HOST", "smtp.example.org")
    write_alert(home, "run2", "refresh_all", "step failed")
    lines = [json.loads(x) for x in (home.home / "alerts" / "alerts.jsonl").read_text().splitlines()]
    assert [(a["run_id"], a["emailed_to"]) for a in lines] == [
        ("run1", None),
        ("run2", "data-team@example.org"),
    ]
    assert sent == [("smtp.example.org", 25), "data-team@example.org"]


def test_a_long_table_is_paged_without_orphaned_rows():
    from orchestration.reports.packs import page_chunks

    def rows(n, height=1.0):
        return [height] * n

    assert page_chunks(rows(10), first=20, per_page=30) == [10]  # fits where it starts
    assert page_chunks(rows(25), first=20, per_page=30) == [0, 25]  # fits a page: starts one, whole
    assert page_chunks(rows(61), first=20, per_page=30) == [20, 30, 11]
    # 51 rows from a page with room for 20: 20, 30 and 1 would orphan one row; the last page takes three
    assert page_chunks(rows(51), first=20, per_page=30) == [20, 28, 3]
    # room for two rows where it starts: it begins on the next page
    assert page_chunks(rows(70), first=2, per_page=30) == [0, 30, 30, 10]
    # rows of two lines take twice the room
    assert page_chunks(rows(40, 2.0), first=20, per_page=30) == [10, 15, 15]
    for n in range(1, 120):
        for first in range(-3, 31):
            chunks = page_chunks(rows(n), first, 30)
            assert sum(chunks) == n, (n, first, chunks)
            parts = [c for c in chunks if c]
            assert len(parts) == 1 or min(parts) >= 3, (n, first, chunks)
            assert chunks[0] <= max(first, 0) or len(chunks) == 1, (n, first, chunks)
            assert all(c <= 30 for c in chunks), (n, first, chunks)
