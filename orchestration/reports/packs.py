"""The scheduled reports: each a set of tidy tables computed from the marts, protected by disclosure
control, and written as explore education statistics open data (CSV + .meta.csv), HTML with charts and
PDF. The partner data quality report reads the delivery manifest instead (it counts rows, not children).

Every figure comes from a dbt model of the reports layer (``reports.rpt_<table>``, dbt_project/models/
reports: documented, tested, with lineage from the landing files in dbt's docs and the Dagster UI) or, for
partner data quality, from the manifest; this module holds no SQL over the marts.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from orchestration.quality.gx import validate
from orchestration.reports.disclosure import NOT_AVAILABLE, SUPPRESSED, TableSpec, cell_keys, protect
from orchestration.returns.common import Authority

PDF_COLUMNS = 7  # indicator columns per table slice in the PDF
HTML_COLUMNS = 9  # and in the HTML, so that a table fits a 1280-pixel screen
REGION = ("E12000005", "West Midlands")


@dataclass(frozen=True)
class Chart:
    kind: str  # "line" (indicator over time) or "bar" (indicator by a filter, latest period)
    indicator: str
    by: str | None = None
    title: str = ""
    y_label: str = ""
    x: str = "time_period"


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    sql: str
    spec: TableSpec
    labels: dict[str, str]
    units: dict[str, str] = field(default_factory=dict)  # indicator -> "%" or ""
    charts: tuple[Chart, ...] = ()
    time_identifier: str = "Financial year"
    protect: bool = True
    hidden: tuple[str, ...] = ()  # used only to compute a rate; not published
    # a count -> the columns shown as x (not available) in a time period where it is 0 in every row: no
    # result of that kind was recorded at all that year (key stage results not yet received), not a zero
    not_collected: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Headline:
    """A key message of a report's first page: one indicator of one of its tables (of the row whose second
    key is ``row``, for a table keyed by more than its period), its latest published figure, its change
    since the year before and England's figure beside it."""

    table: str
    indicator: str
    row: str | None = None


@dataclass(frozen=True)
class Report:
    name: str
    title: str
    audience: str
    cadence: str
    summary: str
    tables: tuple[Table, ...]
    headlines: tuple[Headline, ...] = ()


def _model(name: str, order: str | None = None) -> str:
    """A report table's figures: its dbt model in the reports layer (dbt_project/models/reports), where
    every published figure is computed, documented and tested; a model whose rows need an order of their
    own (bands, the total last) carries it as ``row_order``."""
    if order is None:
        return f"select * exclude (row_order) from reports.rpt_{name} order by row_order"
    return f"select * from reports.rpt_{name} order by {order}"


CSC_HEADLINE = Table(
    name="csc_headline",
    title="Referrals, assessments, child protection and children looked after, by year",
    sql=_model("csc_headline", "time_period"),
    spec=TableSpec(
        keys=("time_period",),
        additive=(),
        counts=(
            "referrals",
            "re_referrals",
            "assessments",
            "assessments_in_time",
            "icpcs",
            "icpcs_in_time",
            "cp_plans_started",
            "repeat_cp_plans",
            "looked_after_at_31_march",
            "looked_after_during_year",
            "three_or_more_placements",
            "missing_incidents",
            "children_missing",
        ),
        rates=(
            ("re_referral_rate", "re_referrals", "referrals"),
            ("assessments_in_time_rate", "assessments_in_time", "assessments"),
            ("icpcs_in_time_rate", "icpcs_in_time", "icpcs"),
            ("repeat_cp_plan_rate", "repeat_cp_plans", "cp_plans_started"),
            ("three_or_more_placements_rate", "three_or_more_placements", "looked_after_at_31_march"),
        ),
    ),
    labels={
        "referrals": "Referrals",
        "re_referrals": "Re-referrals within 12 months",
        "re_referral_rate": "Re-referral rate (%)",
        "assessments": "Assessments completed",
        "assessments_in_time": "Assessments completed within 45 working days",
        "assessments_in_time_rate": "Assessments within 45 working days (%)",
        "icpcs": "Initial child protection conferences",
        "icpcs_in_time": "ICPCs within 15 working days of the strategy discussion",
        "icpcs_in_time_rate": "ICPCs within 15 working days (%)",
        "cp_plans_started": "Child protection plans started",
        "repeat_cp_plans": "Plans started that were the child's second or subsequent plan",
        "repeat_cp_plan_rate": "Repeat child protection plans (%)",
        "looked_after_at_31_march": "Children looked after at 31 March",
        "looked_after_during_year": "Children looked after during the year",
        "three_or_more_placements": "Looked after at 31 March with 3 or more placements in the year",
        "three_or_more_placements_rate": "Looked after at 31 March with 3 or more placements (%)",
        "missing_incidents": "Missing incidents of children looked after",
        "children_missing": "Children looked after who went missing",
    },
    charts=(
        Chart("line", "referrals", title="Referrals by year", y_label="referrals"),
        Chart("line", "re_referral_rate", title="Re-referrals within 12 months", y_label="% of referrals"),
        Chart("line", "assessments_in_time_rate", title="Assessments within 45 working days", y_label="%"),
        Chart(
            "line", "looked_after_at_31_march", title="Children looked after at 31 March", y_label="children"
        ),
    ),
)

CSC_MONTHLY = Table(
    name="csc_by_month",
    title="Month by month: referrals, assessments, section 47 enquiries, conferences, plans and entries to care",
    sql=_model("csc_by_month", "month"),
    spec=TableSpec(
        keys=("time_period", "month"),
        additive=(),
        counts=(
            "referrals",
            "assessments_completed",
            "s47_enquiries",
            "icpcs",
            "cp_plans_started",
            "care_episodes_started",
            "missing_incidents",
        ),
    ),
    labels={
        "month": "Month",
        "referrals": "Referrals",
        "assessments_completed": "Assessments completed",
        "s47_enquiries": "Section 47 enquiries started",
        "icpcs": "Initial child protection conferences",
        "cp_plans_started": "Child protection plans started",
        "care_episodes_started": "Care episodes started (new placements and legal statuses included)",
        "missing_incidents": "Missing incidents",
    },
    charts=(
        Chart(
            "line", "referrals", title="Referrals by month (last 24 months)", y_label="referrals", x="month"
        ),
    ),
)

LOOKED_AFTER_BY_AGE = Table(
    name="looked_after_by_age",
    title="Children looked after at 31 March, by age",
    sql=_model("looked_after_by_age"),
    spec=TableSpec(
        keys=("time_period", "age_group"),
        additive=("age_group",),
        counts=("children",),
        # each band's share of the year's children, as the DfE publishes the bands (number and percentage):
        # the figure an authority compares with England's, whose counts are a thousand times its own
        rates=(("children_share", "children", "children_all_ages"),),
    ),
    labels={
        "age_group": "Age at 31 March",
        "children": "Children looked after at 31 March",
        "children_share": "Share of all children looked after (%)",
    },
    charts=(Chart("bar", "children", by="age_group", title="Children looked after by age (latest year)"),),
    hidden=("children_all_ages",),
)

_KS_COUNTS = ("ks2_pupils", "ks2_expected", "ks4_pupils", "ks4_grade_4")
_KS_RATES = (
    ("ks2_expected_rate", "ks2_expected", "ks2_pupils"),
    ("ks4_grade_4_rate", "ks4_grade_4", "ks4_pupils"),
)
_KS_NOT_COLLECTED = {
    "ks2_pupils": ("ks2_pupils", "ks2_expected", "ks2_expected_rate"),
    "ks4_pupils": ("ks4_pupils", "ks4_grade_4", "ks4_grade_4_rate"),
}
_KS_LABELS = {
    "ks2_pupils": "Pupils with KS2 results",
    "ks2_expected": "Reaching the expected standard in reading, writing and maths (KS2)",
    "ks2_expected_rate": "KS2 expected standard in RWM (%)",
    "ks4_pupils": "Pupils with KS4 results",
    "ks4_grade_4": "Grade 4 or above in English and maths (KS4)",
    "ks4_grade_4_rate": "KS4 grade 4+ in English and maths (%)",
}

VIRTUAL_SCHOOL = Table(
    name="virtual_school_education",
    title="Attendance, suspensions and attainment of children looked after, compared with all pupils",
    sql=_model("virtual_school_education", "time_period, pupil_group"),
    spec=TableSpec(
        keys=("time_period", "pupil_group"),
        additive=(),
        counts=(
            "pupils",
            "persistently_absent",
            "pupils_suspended",
            *_KS_COUNTS,
        ),
        rates=(
            ("absence_rate", "sessions_missed", "sessions_possible"),
            ("persistent_absence_rate", "persistently_absent", "pupils"),
            ("suspension_rate", "pupils_suspended", "pupils"),
            *_KS_RATES,
        ),
    ),
    labels={
        "pupil_group": "Pupils",
        "pupils": "Pupils with sessions recorded",
        "absence_rate": "Overall absence rate (% of sessions)",
        "persistently_absent": "Persistently absent pupils (10%+ sessions missed)",
        "persistent_absence_rate": "Persistently absent (%)",
        "pupils_suspended": "Pupils with one or more suspensions",
        "suspension_rate": "Pupils suspended (%)",
        **_KS_LABELS,
    },
    charts=(
        Chart(
            "line", "absence_rate", by="pupil_group", title="Overall absence rate", y_label="% of sessions"
        ),
        Chart("line", "persistent_absence_rate", by="pupil_group", title="Persistent absence", y_label="%"),
    ),
    time_identifier="Academic year",
    hidden=("sessions_possible", "sessions_missed"),
    not_collected=_KS_NOT_COLLECTED,
)

OC2_HEALTH = Table(
    name="looked_after_health",
    title="Health of children looked after for at least 12 months at 31 March",
    sql=_model("looked_after_health", "time_period"),
    spec=TableSpec(
        keys=("time_period",),
        additive=(),
        counts=(
            "children",
            "health_assessment",
            "immunisations",
            "immunisations_not_recorded",
            "dental_check",
            "substance_misuse",
            "under_five",
            "development_check",
        ),
        rates=(
            ("health_assessment_rate", "health_assessment", "children"),
            ("immunisations_rate", "immunisations", "children"),
            ("dental_check_rate", "dental_check", "children"),
            ("development_check_rate", "development_check", "under_five"),
        ),
    ),
    labels={
        "children": "Looked after continuously for 12 months",
        "health_assessment": "With a health assessment in the year",
        "health_assessment_rate": "Health assessment (%)",
        "immunisations": "Immunisations up to date",
        "immunisations_rate": "Immunisations up to date (%)",
        "immunisations_not_recorded": "Immunisation status not recorded by 31 March (counted as not up to date, "
        "as in the SSDA903)",
        "dental_check": "Teeth checked by a dentist",
        "dental_check_rate": "Dental check (%)",
        "substance_misuse": "Identified as having a substance misuse problem",
        "under_five": "Of them, aged under 5 at 31 March",
        "development_check": "Under 5 with a development assessment in the year",
        "development_check_rate": "Development assessments, under 5s (%)",
    },
    charts=(Chart("line", "health_assessment_rate", title="Health assessments", y_label="%"),),
)

SDQ_BANDS = Table(
    name="sdq_bands",
    title="Emotional and behavioural health (SDQ bands) of children looked after for 12 months, aged 5 to 16",
    sql=_model("sdq_bands"),
    spec=TableSpec(keys=("time_period", "sdq_band"), additive=("sdq_band",), counts=("children",)),
    labels={"sdq_band": "SDQ band", "children": "Children with an SDQ score"},
    charts=(Chart("bar", "children", by="sdq_band", title="SDQ bands (latest year)"),),
)

CARE_LEAVERS = Table(
    name="care_leaver_outcomes",
    title="Care leavers followed up around their 17th to 21st birthdays: in touch, in education, employment or "
    "training, suitably accommodated",
    sql=_model("care_leaver_outcomes", "time_period"),
    spec=TableSpec(
        keys=("time_period",),
        additive=(),
        counts=("care_leavers", "in_touch", "in_eet", "suitably_accommodated"),
        rates=(
            ("in_touch_rate", "in_touch", "care_leavers"),
            ("in_eet_rate", "in_eet", "care_leavers"),
            ("suitably_accommodated_rate", "suitably_accommodated", "care_leavers"),
        ),
    ),
    labels={
        "care_leavers": "Care leavers with their 17th to 21st birthday in the year",
        "in_touch": "In touch with the authority",
        "in_touch_rate": "In touch (%)",
        "in_eet": "In education, employment or training",
        "in_eet_rate": "In education, employment or training (%)",
        "suitably_accommodated": "In suitable accommodation",
        "suitably_accommodated_rate": "In suitable accommodation (%)",
    },
    charts=(
        Chart("line", "in_eet_rate", title="Care leavers in education, employment or training", y_label="%"),
    ),
)

KEY_STAGES = Table(
    name="key_stage_outcomes",
    title="Key stage 2 and 4 outcomes of children looked after for 12 months, compared with all pupils",
    sql=_model("key_stage_outcomes", "time_period, pupil_group"),
    not_collected=_KS_NOT_COLLECTED,
    spec=TableSpec(
        keys=("time_period", "pupil_group"),
        additive=(),
        counts=_KS_COUNTS,
        rates=_KS_RATES,
    ),
    labels={
        "pupil_group": "Pupils",
        **_KS_LABELS,
    },
    charts=(
        Chart(
            "line",
            "ks4_grade_4_rate",
            by="pupil_group",
            title="KS4 grade 4+ in English and maths",
            y_label="%",
        ),
    ),
    time_identifier="Academic year",
)

PARTNER_QUALITY = Table(
    name="partner_data_quality",
    title="Deliveries and rows received, loaded, quarantined and repeated, by partner, dataset and year (the trend)",
    sql="""
        select coalesce(left(period, 4), strftime(received_at, '%Y')) as time_period,
               coalesce(partner, 'not known') as partner,
               coalesce(dataset, 'not recognised') as dataset,
               count(*) as deliveries, coalesce(max(period), '') as latest_period,
               coalesce(sum(rows_in_file), 0) as rows_received, coalesce(sum(rows_loaded), 0) as rows_loaded,
               coalesce(sum(rows_quarantined), 0) as rows_quarantined,
               coalesce(sum(rows_duplicate), 0) as exact_duplicates,
               count(*) filter (where status <> 'loaded') as deliveries_not_loaded
        from (
            select period, received_at, partner, dataset, status, rows_in_file, rows_loaded, rows_quarantined,
                   rows_duplicate
            from ingest.deliveries
            union all  -- files turned away unread (a link, a pipe, over the size limit): findings too
            select null, received_at, null, 'refused (not read)', 'refused', null, null, null, null
            from ingest.receipts where starts_with(outcome, 'refused:')
        ) group by all order by partner, dataset, time_period""",
    spec=TableSpec(
        keys=("time_period", "partner", "dataset"),
        additive=(),
        counts=(
            "deliveries",
            "rows_received",
            "rows_loaded",
            "rows_quarantined",
            "exact_duplicates",
            "deliveries_not_loaded",
        ),
        rates=(("quarantine_rate", "rows_quarantined", "rows_received"),),
        decimals=2,
    ),
    labels={
        "partner": "Partner",
        "dataset": "Dataset",
        "latest_period": "Latest period received",
        "deliveries": "Deliveries",
        "rows_received": "Rows received",
        "rows_loaded": "Rows loaded",
        "rows_quarantined": "Rows quarantined (with a reason, in the partner's error report)",
        "quarantine_rate": "Rows quarantined (%)",
        "exact_duplicates": "Exact duplicate rows",
        "deliveries_not_loaded": "Deliveries not loaded",
    },
    time_identifier="Calendar year",
    protect=False,  # counts of file rows, not of children: nothing about a child can be disclosed
)

REPORTS = (
    Report(
        "csc_performance_pack",
        "Children's social care performance pack",
        "Director of children's services, senior leaders, partnership board",
        "monthly",
        "Front door, assessment, child protection and children in care: the last 24 months month by month, and "
        "the last six years to date.",
        (CSC_HEADLINE, CSC_MONTHLY, LOOKED_AFTER_BY_AGE),
        (
            Headline("csc_headline", "referrals"),
            Headline("csc_headline", "re_referral_rate"),
            Headline("csc_headline", "assessments_in_time_rate"),
            Headline("csc_headline", "icpcs_in_time_rate"),
            Headline("csc_headline", "repeat_cp_plan_rate"),
            Headline("csc_headline", "looked_after_at_31_march"),
            Headline("csc_headline", "three_or_more_placements_rate"),
            Headline("csc_headline", "children_missing"),
        ),
    ),
    Report(
        "virtual_school",
        "Virtual school report: the education of children looked after",
        "Virtual school head, corporate parenting board",
        "termly",
        "Attendance, persistent absence, suspensions and attainment of children looked after and children in "
        "need, beside all pupils in the authority.",
        (VIRTUAL_SCHOOL,),
        (
            Headline("virtual_school_education", "absence_rate", "Looked after"),
            Headline("virtual_school_education", "absence_rate", "All pupils"),
            Headline("virtual_school_education", "persistent_absence_rate", "Looked after"),
            Headline("virtual_school_education", "persistent_absence_rate", "All pupils"),
            Headline("virtual_school_education", "suspension_rate", "Looked after"),
            Headline("virtual_school_education", "ks2_expected_rate", "Looked after"),
            Headline("virtual_school_education", "ks4_grade_4_rate", "Looked after"),
        ),
    ),
    Report(
        "annual_outcomes",
        "Annual outcomes report for children looked after and care leavers",
        "Corporate parenting board, health partners",
        "annual",
        "The OC2 health measures, SDQ bands, care leaver outcomes and key stage results the DfE collects, year by "
        "year.",
        (OC2_HEALTH, SDQ_BANDS, CARE_LEAVERS, KEY_STAGES),
        (
            Headline("looked_after_health", "health_assessment_rate"),
            Headline("looked_after_health", "immunisations_rate"),
            Headline("looked_after_health", "dental_check_rate"),
            Headline("looked_after_health", "development_check_rate"),
            Headline("care_leaver_outcomes", "in_touch_rate"),
            Headline("care_leaver_outcomes", "in_eet_rate"),
            Headline("care_leaver_outcomes", "suitably_accommodated_rate"),
            Headline("key_stage_outcomes", "ks4_grade_4_rate", "Looked after 12 months"),
        ),
    ),
    Report(
        "partner_data_quality",
        "Data quality report for partners",
        "Each partner's data officer (restricted: not for publication)",
        "monthly",
        "What each partner sent, what loaded, and what was quarantined and why (see the feedback files).",
        (PARTNER_QUALITY,),
        (  # every partner and dataset together, year by year
            Headline("partner_data_quality", "deliveries"),
            Headline("partner_data_quality", "rows_received"),
            Headline("partner_data_quality", "rows_loaded"),
            Headline("partner_data_quality", "rows_quarantined"),
            Headline("partner_data_quality", "quarantine_rate"),
            Headline("partner_data_quality", "deliveries_not_loaded"),
        ),
    ),
)


# the DfE's published figures beside the authority's (dbt model rpt_comparators): England, the region, the
# statistical neighbours' mean, in that order wherever they are shown
COMPARATOR_COLUMNS = [
    "report_table", "indicator", "row_key", "row_value", "time_period", "comparator", "area_code", "area_name",
    "published_value", "source", "citation",
]  # fmt: skip
COMPARATOR_ORDER = ("England", "Region", "Statistical neighbours")
COMPARATORS_FILE = "comparators.csv"  # in each report's folder of a release, with each figure's source
NO_COMPARATORS = pd.DataFrame(columns=COMPARATOR_COLUMNS, dtype=str)


@dataclass
class Built:
    report: Report
    tables: dict[str, pd.DataFrame]  # as published (text cells)
    suppressed: int
    gate_failures: list[str] = field(default_factory=list)  # the tables' Great Expectations suites
    comparators: pd.DataFrame = field(default_factory=NO_COMPARATORS.copy)  # the DfE's, as published


@dataclass
class Queried:
    """A report's tables as figures, before disclosure control."""

    report: Report
    frames: dict[str, pd.DataFrame]
    complete: dict[str, np.ndarray | None]
    gate_failures: list[str]
    comparators: pd.DataFrame = field(default_factory=NO_COMPARATORS.copy)


def query(report: Report, analytics: duckdb.DuckDBPyConnection, vault: duckdb.DuckDBPyConnection) -> Queried:
    """The report's tables as figures, each checked by its Great Expectations suite."""
    frames, complete, failures = {}, {}, []
    for table in report.tables:
        con = vault if table.name == "partner_data_quality" else analytics
        frame = con.execute(table.sql).df()
        complete[table.name] = (
            frame.pop("is_complete").astype(bool).to_numpy() if "is_complete" in frame else None
        )
        frame["time_period"] = _time_period(frame["time_period"].astype(str), table.time_identifier)
        gate = validate(_with_rates(frame, table), f"report_{table.name}")
        if not gate.success:
            failures.append(gate.summary())
        frames[table.name] = frame
    return Queried(report, frames, complete, failures, comparators(report, analytics))


def comparators(report: Report, analytics: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The DfE's published figures for the report's tables (dbt model reports.rpt_comparators), as text."""
    names = [t.name for t in report.tables]
    frame = analytics.execute(
        f"select {', '.join(COMPARATOR_COLUMNS)} from reports.rpt_comparators where report_table in "
        f"({', '.join('?' * len(names))}) order by report_table, indicator, row_value, time_period",
        names,
    ).df()
    return frame.astype(object).where(frame.notna(), None)


def protect_report(
    queried: Queried, previous: Path | None = None, forced: dict[str, dict[str, np.ndarray]] | None = None
) -> Built:
    """The report's tables after disclosure control, in the EES layout. ``previous``: the release before,
    whose suppressions carry forward; ``forced``: per table and count column, cells to suppress because
    another table of the release suppresses the same cell."""
    authority = Authority.from_env()
    tables, suppressed = {}, 0
    for table in queried.report.tables:
        frame = queried.frames[table.name]
        before = previous / queried.report.name / f"{table.name}.csv" if previous is not None else None
        before_frame = (
            pd.read_csv(before, dtype=str, keep_default_na=False)
            if before is not None and before.exists()
            else None
        )
        if table.protect:
            published, n = protect(frame, table.spec, before_frame, (forced or {}).get(table.name))
        else:
            published, n = _whole_counts(frame, table).astype(str), 0
        published = _not_available(published, frame, table, queried.complete[table.name]).drop(
            columns=list(table.hidden)
        )
        suppressed += n
        tables[table.name] = _ees(published, table, authority)
    return Built(queried.report, tables, suppressed, queried.gate_failures, queried.comparators)


def _whole_counts(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    """Counts as whole numbers: a SQL sum arrives as a float, and 733 was published as '733.0'."""
    out = frame.copy()
    for column in (c for c in table.spec.counts if c in out):
        values = pd.to_numeric(out[column], errors="coerce")
        if values.notna().all() and (values == values.round()).all():
            out[column] = values.astype("int64")
    return out


def label_of(table: Table, column: str) -> str:
    """An indicator's label, as the .meta.csv gives it: what the cell counts, in any table."""
    return table.labels.get(column, column.replace("_", " ").capitalize())


def protect_release(
    queried: list[Queried], previous: Path | None = None, hidden_elsewhere: set[str] | None = None
) -> tuple[list[Built], set[str]]:
    """Every report of a release protected together: a cell one table suppresses (matched by its label,
    period and filters) is suppressed wherever else it is published, and each table's own protection is
    then run again around it, until no table publishes what another suppresses. ``hidden_elsewhere``:
    cells suppressed by a table outside the packs (the outcomes summary). Returns the reports and every
    cell they suppress."""
    forced: dict[str, dict[str, np.ndarray]] = {}
    for _ in range(10):
        built = [protect_report(q, previous, forced) for q in queried]
        keys: dict[tuple[str, str], list[str]] = {}
        hidden: set[str] = set(hidden_elsewhere or ())
        for b in built:
            for table in b.report.tables:
                if not table.protect:
                    continue
                frame = b.tables[table.name]
                for column in table.spec.counts:
                    if column not in frame.columns:
                        continue
                    cells = cell_keys(frame, table.spec, label_of(table, column))
                    keys[(table.name, column)] = cells
                    hidden |= {
                        k for k, v in zip(cells, frame[column].astype(str), strict=True) if v == SUPPRESSED
                    }
        grew = False
        for b in built:
            for table in b.report.tables:
                for column in table.spec.counts:
                    cells = keys.get((table.name, column))
                    if cells is None:
                        continue
                    shown = pd.to_numeric(b.tables[table.name][column], errors="coerce").notna().to_numpy()
                    mask = np.isin(cells, list(hidden)) & shown
                    if mask.any():
                        old = forced.setdefault(table.name, {}).get(column, np.zeros(len(cells), bool))
                        forced[table.name][column] = old | mask
                        grew = True
        if not grew:
            return built, hidden
    return built, hidden  # the audit will say what is left


def _not_available(
    published: pd.DataFrame, frame: pd.DataFrame, table: Table, complete: np.ndarray | None
) -> pd.DataFrame:
    """x (not available) for every figure of a part year, and for the figures of a kind of result that was
    not recorded at all in a period: never a figure beside full years, never 0 for "not received"."""
    out = published.copy()
    if complete is not None:
        out.loc[~complete, _indicators(table)] = NOT_AVAILABLE
    for basis, columns in table.not_collected.items():
        none = pd.to_numeric(frame[basis]).groupby(frame["time_period"]).transform("sum").eq(0).to_numpy()
        out.loc[none, list(columns)] = NOT_AVAILABLE
    return out


def _with_rates(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    """The table with its percentages as numbers (before suppression), for its suite."""
    out = frame.copy()
    for rate, numerator, denominator in table.spec.rates:
        den = out[denominator].astype("float64")
        out[rate] = 100.0 * out[numerator].astype("float64") / den.where(den > 0)
    return out


def _time_period(values: pd.Series, identifier: str) -> pd.Series:
    """EES time periods: a collection year 2026 is financial year 202526, academic year 2024/25 is 202425."""
    if identifier == "Financial year":
        year = values.astype(int)
        return (year - 1).astype(str) + (year % 100).astype(str).str.zfill(2)
    if identifier == "Academic year":
        return values.str.replace("/", "", regex=False)
    return values


def _ees(frame: pd.DataFrame, table: Table, authority: Authority) -> pd.DataFrame:
    """The explore education statistics layout: time and geography columns first."""
    front = pd.DataFrame(
        {
            "time_period": frame["time_period"],
            "time_identifier": table.time_identifier,
            "geographic_level": "Local authority",
            "country_code": "E92000001",
            "country_name": "England",
            "region_code": REGION[0],
            "region_name": REGION[1],
            "new_la_code": authority.ons_code,
            "old_la_code": authority.la_number,
            "la_name": authority.name,
        }
    )
    rest = [c for c in frame.columns if c != "time_period"]
    ordered = [c for c in rest if c not in _indicators(table)] + [c for c in _indicators(table) if c in rest]
    return pd.concat([front, frame[ordered].reset_index(drop=True)], axis=1)


def _indicators(table: Table) -> list[str]:
    return [*table.spec.counts, *(r[0] for r in table.spec.rates)]


def metadata(table: Table, published: pd.DataFrame) -> pd.DataFrame:
    """The EES .meta.csv: one row per filter and indicator."""
    indicators = _indicators(table)
    percentages = {rate for rate, _, _ in table.spec.rates}
    rows = []
    for column in published.columns[10:]:
        is_indicator = column in indicators
        rows.append(
            {
                "col_name": column,
                "col_type": "Indicator" if is_indicator else "Filter",
                "label": label_of(table, column),
                "indicator_grouping": "",
                "indicator_unit": "%" if column in percentages else "",
                "indicator_dp": (table.spec.decimals if column in percentages else 0) if is_indicator else "",
                "filter_hint": "",
                "filter_grouping_column": "",
            }
        )
    return pd.DataFrame(rows)


# --- rendering -------------------------------------------------------------------------------------


def _series(frame: pd.DataFrame, chart: Chart) -> dict[str, pd.Series]:
    values = pd.to_numeric(frame[chart.indicator], errors="coerce")
    if chart.kind == "bar":
        latest = frame["time_period"].max()
        part = frame[frame.time_period.eq(latest) & frame[chart.by].ne("Total")]
        return {str(latest): pd.Series(values[part.index].to_numpy(), index=part[chart.by].to_numpy())}
    if chart.by:
        return {
            str(level): pd.Series(values[g.index].to_numpy(), index=g[chart.x].to_numpy())
            for level, g in frame.groupby(chart.by, sort=True)
        }
    return {"": pd.Series(values.to_numpy(), index=frame[chart.x].to_numpy())}


def drawable(frame: pd.DataFrame, chart: Chart) -> bool:
    """Whether a chart has a figure to draw (not every one suppressed or not available)."""
    return any(np.isfinite(series.to_numpy(dtype=float)).any() for series in _series(frame, chart).values())


def _nothing_to_draw(chart: Chart, table: Table) -> str:
    title = chart.title or table.labels.get(chart.indicator, chart.indicator)
    return f"{title}: no chart, as every figure is suppressed (c) or not available (x); the table below says which."


# a report's charts are drawn once and saved in both formats (SVG for its page, PNG for its PDF), which are
# rendered one after the other: the last few drawn, by what they show
_DRAWN: dict[tuple, dict[str, bytes]] = {}


def chart_image(
    frame: pd.DataFrame, chart: Chart, table: Table, fmt: str, benchmarks: pd.DataFrame | None = None
) -> bytes:
    """A labelled chart of published (protected) figures: suppressed points are gaps, never zeros. A
    percentage over time has the DfE's published figures (``benchmarks``: rpt_comparators rows) as dashed
    benchmark lines; a count has none (England's thousands would flatten the authority's line)."""
    lines = _benchmark_lines(frame, chart, table, benchmarks)
    key = (
        chart,
        table.name,
        tuple(frame.columns),
        int(pd.util.hash_pandas_object(frame, index=False).sum()),
        tuple((name, tuple(series.items())) for name, series in lines.items()),
    )
    if key not in _DRAWN:
        if len(_DRAWN) >= 16:
            _DRAWN.pop(next(iter(_DRAWN)))
        _DRAWN[key] = _draw(frame, chart, table, lines)
    return _DRAWN[key][fmt]


def _benchmark_lines(
    frame: pd.DataFrame, chart: Chart, table: Table, benchmarks: pd.DataFrame | None
) -> dict[str, pd.Series]:
    """The comparators' series of a line chart of a percentage over the periods the chart shows, by name
    (England; England: Looked after 12 months for a chart by pupil group), in the order England, region,
    neighbours; none where no published figure falls in those periods."""
    rates = {r[0] for r in table.spec.rates}
    if benchmarks is None or benchmarks.empty or chart.kind != "line" or chart.x != "time_period":
        return {}
    if chart.indicator not in rates:
        return {}
    rows = benchmarks[benchmarks.report_table.eq(table.name) & benchmarks.indicator.eq(chart.indicator)]
    periods = list(dict.fromkeys(frame["time_period"].astype(str)))
    lines: dict[str, pd.Series] = {}
    for comparator in COMPARATOR_ORDER:
        part = rows[rows.comparator.eq(comparator) & rows.time_period.isin(periods)]
        for row_value, group in part.groupby(part.row_value.fillna(""), sort=True):
            values = pd.to_numeric(group.published_value, errors="coerce")
            if values.notna().any():
                name = str(group.area_name.iloc[0]) + (f": {row_value}" if row_value and chart.by else "")
                lines[name] = pd.Series(values.to_numpy(), index=group.time_period.to_numpy())
    return lines


def preload() -> None:
    """Import the renderers (matplotlib on files, never a screen; fpdf) ahead of the reports, as
    ``quality.gx.preload`` does for the gates."""
    import matplotlib

    matplotlib.use("Agg")
    import fpdf  # noqa: F401
    import matplotlib.pyplot


def _draw(
    frame: pd.DataFrame, chart: Chart, table: Table, lines: dict[str, pd.Series] | None = None
) -> dict[str, bytes]:
    preload()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.2), dpi=110)
    tallest = 0.0
    lines = lines or {}
    authority = str(frame["la_name"].iloc[0]) if "la_name" in frame and len(frame) else ""
    for name, series in _series(frame, chart).items():
        if chart.kind == "bar":
            heights = series.to_numpy()
            labels = series.index.astype(str)
            ax.bar(labels, np.nan_to_num(heights), color="#1d70b8")
            ax.set_ylim(bottom=0, top=max(1.0, float(np.nanmax(heights, initial=0)) * 1.1))
            for x, h in zip(labels, heights, strict=True):
                if np.isnan(h):
                    ax.annotate("c", (x, 0), ha="center", va="bottom", fontsize=9, color="#505a5f")
            ax.set_xlabel(
                f"{table.labels.get(chart.by or '', chart.by or '')} ({_period_label(name)}; c = suppressed)"
            )
        elif not np.isfinite(series.to_numpy(dtype=float)).any():
            continue  # a series with nothing to draw gets no line, and no legend entry
        else:
            ax.plot(
                [_period_label(p) for p in series.index.astype(str)],
                series.to_numpy(),
                marker="o",
                label=name or (authority if lines else None),
            )
            x_name = table.time_identifier if chart.x == "time_period" else table.labels.get(chart.x, chart.x)
            ax.set_xlabel(f"{x_name} (gaps: suppressed)")
            tallest = max(tallest, float(np.nanmax(series.to_numpy(dtype=float), initial=0)))
            if len(series) > 8:
                ax.tick_params(axis="x", labelrotation=90, labelsize=7)
    for n, (name, series) in enumerate(
        lines.items()
    ):  # the DfE's figures: dashed, grey, after the authority's
        ax.plot(
            [_period_label(p) for p in series.index.astype(str)],
            series.to_numpy(),
            linestyle=("--", ":", "-.")[n % 3],
            marker="s",
            color=("#0b0c0c", "#505a5f", "#b1b4b6")[n % 3],
            label=name,
        )
        tallest = max(tallest, float(np.nanmax(series.to_numpy(dtype=float), initial=0)))
    if chart.kind == "line":
        # from zero, so that a change of three children does not look like a collapse
        ax.set_ylim(bottom=0, top=max(1.0, tallest * 1.1))
    ax.set_ylabel(chart.y_label or table.labels.get(chart.indicator, chart.indicator))
    ax.set_title(chart.title or table.labels.get(chart.indicator, chart.indicator), fontsize=10)
    if chart.kind == "line" and (chart.by or lines):
        ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    images = {}
    for fmt in ("svg", "png"):
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
        images[fmt] = buffer.getvalue()
    plt.close(fig)
    return images


def _shown(built: Built, table: Table) -> tuple[pd.DataFrame, list[str], list[str], np.ndarray]:
    """The table as a page shows it: its period and filters, then (where the DfE publishes figures to
    compare) an Area column with England, the region and the neighbours' mean in rows beside the
    authority's of the same period and filter, then the indicators; blank where the DfE publishes no
    figure. Returns the frame, its key columns, its indicator columns and which rows are comparators."""
    frame = built.tables[table.name]
    shown = frame.drop(columns=list(frame.columns[1:10]))
    keys = [c for c in shown.columns if c not in _indicators(table)]
    values = [c for c in shown.columns if c in _indicators(table)]
    rows = built.comparators[built.comparators.report_table.eq(table.name)]
    if rows.empty or shown.empty:
        return shown, keys, values, np.zeros(len(shown), dtype=bool)
    own = shown.assign(area=str(frame["la_name"].iloc[0]), _order=np.arange(len(shown), dtype=float))
    second = keys[1] if len(keys) > 1 else None
    extra = []
    groups = rows.assign(row_value=rows.row_value.fillna("")).groupby(
        ["time_period", "row_value", "comparator", "area_name"], sort=False
    )
    for (period, row_value, comparator, area_name), group in groups:
        match = own.time_period.astype(str).eq(str(period))
        if not match.any():
            continue  # a period this table does not show
        if second is not None and row_value and (match & own[second].astype(str).eq(row_value)).any():
            match &= own[second].astype(str).eq(row_value)  # beside its group's row; else the period's last
        record = dict.fromkeys(own.columns, "")
        record.update(
            time_period=period,
            area=area_name,
            _order=own.loc[match, "_order"].max() + (1 + COMPARATOR_ORDER.index(comparator)) / 10,
        )
        if second is not None:
            record[second] = row_value or own.loc[match, second].iloc[-1]
        for indicator, value in zip(group.indicator, group.published_value, strict=True):
            if indicator in values:
                record[indicator] = str(value)
        extra.append(record)
    if not extra:
        return shown, keys, values, np.zeros(len(shown), dtype=bool)
    both = pd.concat([own, pd.DataFrame(extra)], ignore_index=True).sort_values("_order", kind="stable")
    is_comparator = both.index.to_numpy() >= len(own)
    both = both.reset_index(drop=True)
    columns = [*keys, "area"]
    return both[columns + values], columns, values, is_comparator


def _slice(
    shown: pd.DataFrame, keys: list[str], values: list[str], is_comparator: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray]:
    """A slice of a wide table (its keys and some of its indicators), without the comparator rows that have
    no figure in it."""
    part = shown[keys + values]
    keep = ~is_comparator | part[values].astype(str).ne("").any(axis=1).to_numpy()
    return part[keep].reset_index(drop=True), is_comparator[keep]


def key_messages(built: Built) -> list[dict[str, str]]:
    """The report's key messages (its headlines), from the figures as published: each with its latest
    published figure and year, its change since the year before (only between two published figures: a
    suppressed or not available one is named, never differenced), and England's published figure beside it."""
    messages = []
    tables = {t.name: t for t in built.report.tables}
    for headline in built.report.headlines:
        table = tables[headline.table]
        frame = built.tables[table.name]
        if headline.row is not None:
            frame = frame[frame[table.spec.keys[1]].astype(str).eq(headline.row)]
        rate = headline.indicator in {r[0] for r in table.spec.rates}
        if len(table.spec.keys) > 1 and headline.row is None:  # one figure per period: the rows summed
            frame = _totals(frame, table)
        frame = frame.sort_values("time_period", kind="stable")
        numbers = pd.to_numeric(frame[headline.indicator], errors="coerce")
        label = label_of(table, headline.indicator) + (f" ({headline.row})" if headline.row else "")
        # the latest year with a figure to say (a suppressed one included: "c" that year, never an older
        # figure in its place); x is a part year or a result not yet received
        said = frame[frame[headline.indicator].astype(str).ne(NOT_AVAILABLE)]
        if said.empty:
            messages.append(
                {"measure": label, "year": "", "value": "not available (x)", "change": "", "england": ""}
            )
            continue
        latest = said.index[-1]
        period = str(frame.loc[latest, "time_period"])
        earlier = said[said.time_period.astype(str) < period]
        if earlier.empty:
            change = "the first year shown"
        else:
            before = earlier.iloc[-1]
            before_value = pd.to_numeric(before[headline.indicator], errors="coerce")
            before_label = _period_label(str(before["time_period"]))
            if pd.isna(numbers[latest]):
                change = "not shown: this year's figure is suppressed"
            elif pd.isna(before_value):
                change = f"{before_label}: {before[headline.indicator]} (see the key)"
            else:
                change = _change(float(numbers[latest]), float(before_value), rate) + f" {before_label}"
        england = built.comparators[
            built.comparators.report_table.eq(table.name)
            & built.comparators.indicator.eq(headline.indicator)
            & built.comparators.comparator.eq("England")
            & (
                built.comparators.row_value.eq(headline.row)
                if headline.row
                else built.comparators.row_value.isna()
            )
        ].sort_values("time_period")
        same = england[england.time_period.astype(str).eq(period)]
        shown_england = same if not same.empty else england[england.time_period.astype(str) < period].tail(1)
        england_text = (
            "no DfE equivalent"
            if not table.protect  # counts of the authority's own files
            else f"{_figure(shown_england.published_value.iloc[0], rate)}"
            + ("" if not same.empty else f" ({_period_label(str(shown_england.time_period.iloc[0]))})")
            if not shown_england.empty or not table.protect
            else "none published yet"
        )
        messages.append(
            {
                "measure": label,
                "year": _period_label(period),
                "value": _figure(frame.loc[latest, headline.indicator], rate),
                "change": change,
                "england": england_text,
            }
        )
    return messages


def _totals(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    """A table keyed by more than its period, one row per period: its counts summed (where every row's is
    a number) and its percentages worked out again from the sums."""
    counts = [c for c in table.spec.counts if c in frame]
    numbers = frame[counts].apply(pd.to_numeric, errors="coerce")
    sums = numbers.groupby(frame["time_period"]).sum(min_count=1)
    complete = numbers.notna().groupby(frame["time_period"]).all()
    sums = sums.where(complete)
    for rate, numerator, denominator in table.spec.rates:
        if numerator in sums and denominator in sums:
            den = sums[denominator].where(sums[denominator] > 0)
            sums[rate] = (100 * sums[numerator] / den).round(table.spec.decimals)
    out = sums.reset_index()
    percentages = {rate for rate, _, _ in table.spec.rates}
    for column in out.columns[1:]:
        out[column] = [
            (
                "x"
                if pd.isna(v)
                else (f"{v:.{table.spec.decimals}f}" if column in percentages else f"{int(v)}")
            )
            for v in out[column]
        ]
    return out


def _figure(value, rate: bool) -> str:
    """A published figure for a sentence: 83530 -> 83,530; a percentage with its sign; a symbol as it is."""
    number = pd.to_numeric(value, errors="coerce")
    if pd.isna(number):
        return str(value)
    if rate:
        return f"{str(value).strip()}%"
    return f"{int(number):,}" if float(number).is_integer() else f"{number:,}"


def _change(now: float, before: float, rate: bool) -> str:
    difference = now - before
    if abs(difference) < 1e-9:
        return "no change since"
    direction = "up" if difference > 0 else "down"
    if rate:
        return f"{direction} {abs(difference):.1f} points since"
    return f"{direction} {abs(difference):,.0f} since"


def _heading(table: Table, column: str) -> str:
    if column == "area":
        return "Area"
    return table.time_identifier if column == "time_period" else table.labels.get(column, column)


def _period_label(period: str) -> str:
    return f"{period[:4]}/{period[4:]}" if len(period) == 6 and period.isdigit() else period


SYNTHETIC = "Synthetic data: a made-up authority generated for the demonstration. No real child is in it."
SYMBOLS = (
    "Symbols: c = suppressed (1 to 5, or to protect another suppressed cell), z = not applicable, x = not "
    "available. Rows in italics are the DfE's published figures (England, the region, the statistical "
    "neighbours' mean), blank where the DfE publishes none to compare."
)


def _key_messages_html(built: Built) -> list[str]:
    messages = key_messages(built)
    if not messages:
        return []
    authority = Authority.from_env().name
    head = ["Measure", "Year", authority, "Change since the year before", "England"]
    return [
        "<h2>Key messages</h2><table class='key'><tr>"
        + "".join(f"<th>{html.escape(h)}</th>" for h in head)
        + "</tr>",
        *(
            "<tr>"
            + "".join(
                f"<td>{html.escape(m[k])}</td>" for k in ("measure", "year", "value", "change", "england")
            )
            + "</tr>"
            for m in messages
        ),
        "</table>",
    ]


def _comparator_notes(built: Built, table: Table) -> list[str]:
    """Where the table's comparators come from (each publication once), and its open data files."""
    periods = set(built.tables[table.name]["time_period"].astype(str))
    rows = built.comparators[
        built.comparators.report_table.eq(table.name) & built.comparators.time_period.isin(periods)
    ]
    notes = [f"Open data: {table.name}.csv with {table.name}.meta.csv."]
    if not rows.empty:
        notes.append(
            "The DfE's figures beside the authority's, from "
            + "; ".join(sorted(set("; ".join(rows.citation).split("; "))))
            + ". Each figure's source is in comparators.csv."
        )
    return notes


def _masthead(built: Built) -> str:
    """The authority and the years the report's first table covers, for its first lines."""
    authority = Authority.from_env()
    first = built.tables[built.report.tables[0].name]
    periods = sorted({_period_label(str(p)) for p in first.get("time_period", [])})
    span = f"{periods[0]} to {periods[-1]}" if len(periods) > 1 else (periods[0] if periods else "")
    return f"{authority.name} ({authority.ons_code})" + (f": {span}" if span else "")


def render_html(
    built: Built, freshness: list[dict], checks: list[str], release: str, synthetic: bool = False
) -> str:
    report = built.report
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(report.title)}</title>",
        "<style>body{font-family:Arial,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;"
        "font-size:85%;margin:1em 0}td,th{border:1px solid #bbb;padding:3px 6px;text-align:right}"
        "th{background:#f3f2f1}td:first-child,th:first-child{text-align:left}.note{color:#505a5f}"
        ".synthetic{position:sticky;top:0;background:#fff4c2;border:2px solid #b58105;padding:4px 8px;"
        "font-weight:bold}tr.comparator td{background:#f8f8f8;color:#383f43;font-style:italic}"
        ".key td:nth-child(n+2),td.area{white-space:nowrap}</style>",
        "</head><body>",
        *([f"<p class='synthetic'>{html.escape(SYNTHETIC)}</p>"] if synthetic else []),
        f"<h1>{html.escape(report.title)}</h1>",
        f"<p><strong>{html.escape(_masthead(built))}</strong></p>",
        f"<p>{html.escape(report.summary)}</p>",
        *_key_messages_html(built),
        f"<p class='note'>For: {html.escape(report.audience)}. Refreshed {html.escape(report.cadence)}; release "
        f"{html.escape(release)}. {html.escape(SYMBOLS)}</p>",
    ]
    for table in report.tables:
        frame = built.tables[table.name]
        out.append(f"<h2>{html.escape(table.title)}</h2>")
        for chart in table.charts:
            if not drawable(frame, chart):
                out.append(f"<p class='note'>{html.escape(_nothing_to_draw(chart, table))}</p>")
                continue
            svg = chart_image(frame, chart, table, "svg", built.comparators).decode("utf-8")
            out.append(svg[svg.index("<svg") :])
        shown, keys, values, is_comparator = _shown(built, table)
        # a wide table in slices that fit the page, each repeating the row's keys (as the PDF does)
        per_slice = HTML_COLUMNS - (len(keys) - 1)
        for start in range(0, max(len(values), 1), per_slice):
            part, comparators = _slice(shown, keys, values[start : start + per_slice], is_comparator)
            out.append(
                "<table><tr>" + "".join(f"<th>{html.escape(_heading(table, c))}</th>" for c in part.columns)
            )
            out.append("</tr>")
            for row, comparator in zip(part.itertuples(index=False), comparators, strict=True):
                cells = [_period_label(str(row[0])), *(str(v) for v in row[1:])]
                out.append(
                    ("<tr class='comparator'>" if comparator else "<tr>")
                    + "".join(
                        f"<td class='area'>{html.escape(v)}</td>"
                        if c == "area"
                        else f"<td>{html.escape(v)}</td>"
                        for c, v in zip(part.columns, cells, strict=True)
                    )
                    + "</tr>"
                )
            out.append("</table>")
        for note in _comparator_notes(built, table):
            out.append(f"<p class='note'>{html.escape(note)}</p>")
    # where the figures come from and what they passed: after the figures, for whoever checks them
    out += [
        "<h2>Checks passed before publication</h2><ul>",
        *(f"<li>{html.escape(c)}</li>" for c in checks),
        "</ul><h2>Data freshness</h2><table><tr><th>Partner</th><th>Dataset</th><th>Latest period</th>"
        "<th>Received</th></tr>",
        *(
            f"<tr><td>{html.escape(str(f['partner']))}</td><td>{html.escape(str(f['dataset']))}</td>"
            f"<td>{html.escape(str(f['latest_period']))}</td>"
            f"<td>{html.escape(str(f['received_at'])[:16])}</td></tr>"
            for f in freshness
        ),
        "</table>",
    ]
    out.append("</body></html>")
    return "\n".join(out)


def render_pdf(
    built: Built, freshness: list[dict], checks: list[str], release: str, synthetic: bool = False
) -> bytes:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    class Pages(FPDF):
        def header(self) -> None:  # on every page, however the tables break
            if synthetic:
                self.set_font("Helvetica", "B", 9)
                self.set_text_color(150, 90, 0)
                self.cell(0, 5, _latin(SYNTHETIC), new_x="LMARGIN", new_y="NEXT")
                self.set_text_color(0, 0, 0)

    report = built.report
    pdf = Pages(orientation="L", format="A4")
    pdf.set_auto_page_break(auto=True, margin=12)
    # a title page: what, about which authority and years, the key messages, for whom, the symbols, and what
    # follows
    pdf.add_page()
    pdf.ln(6)
    pdf.set_font("Helvetica", "B", 22)
    pdf.multi_cell(0, 11, _latin(report.title), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    pdf.set_font("Helvetica", "B", 14)
    pdf.multi_cell(0, 8, _latin(_masthead(built)), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("Helvetica", size=10)
    pdf.multi_cell(0, 5, _latin(report.summary), new_x="LMARGIN", new_y="NEXT")
    messages = key_messages(built)
    if messages:
        pdf.ln(3)
        pdf.set_font("Helvetica", "B", 12)
        pdf.cell(0, 7, "Key messages", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=9)
        widths = (34, 9, 12, 22, 14)
        head = ["Measure", "Year", Authority.from_env().name, "Change since the year before", "England"]
        with pdf.table(text_align="LEFT", first_row_as_headings=True, col_widths=widths) as grid:
            grid.row([_latin(h) for h in head])
            for m in messages:
                grid.row([_latin(m[k]) for k in ("measure", "year", "value", "change", "england")])
    pdf.ln(3)
    pdf.set_font("Helvetica", size=9)
    for line in (f"For: {report.audience}. Refreshed {report.cadence}; release {release}.", SYMBOLS):
        pdf.multi_cell(0, 5, _latin(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(0, 6, "Contents", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    for title in [t.title for t in report.tables] + ["Checks passed before publication, and data freshness"]:
        pdf.multi_cell(0, 5, _latin(f"- {title}"), new_x="LMARGIN", new_y="NEXT")
    comparator_row = FontFace(emphasis="ITALICS", fill_color=(244, 244, 244))
    for table in report.tables:
        frame = built.tables[table.name]
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 12)
        pdf.multi_cell(0, 7, _latin(table.title), new_x="LMARGIN", new_y="NEXT")
        for chart in table.charts:
            if not drawable(frame, chart):
                pdf.set_font("Helvetica", size=9)
                pdf.multi_cell(0, 5, _latin(_nothing_to_draw(chart, table)), new_x="LMARGIN", new_y="NEXT")
                continue
            pdf.image(io.BytesIO(chart_image(frame, chart, table, "png", built.comparators)), w=150)
        shown, keys, values, is_comparator = _shown(built, table)
        pdf.set_font("Helvetica", size=7)
        per_slice = PDF_COLUMNS - (len(keys) - 1)
        for start in range(0, max(len(values), 1), per_slice):  # wide tables in readable slices
            part, comparators = _slice(shown, keys, values[start : start + per_slice], is_comparator)
            cells = [[_latin(_heading(table, c)) for c in part.columns]] + [
                [_latin(_period_label(str(row[0])))] + [_latin(str(v)) for v in row[1:]]
                for row in part.itertuples(index=False)
            ]
            done = 0
            for rows in _paged(pdf, cells):
                with pdf.table(text_align="RIGHT", first_row_as_headings=True) as grid:
                    grid.row(cells[0])
                    for row in rows:
                        grid.row(row, style=comparator_row if comparators[done] else None)
                        done += 1
            pdf.ln(3)
        pdf.set_font("Helvetica", size=8)
        for note in _comparator_notes(built, table)[1:]:
            pdf.multi_cell(0, 4, _latin(note), new_x="LMARGIN", new_y="NEXT")
    # where the figures come from and what they passed: after the figures, as in the HTML
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 12)
    pdf.multi_cell(0, 7, "Checks passed before publication", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    for check in checks:
        pdf.multi_cell(0, 5, _latin(f"- {check}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 12)
    pdf.multi_cell(0, 7, "Data freshness", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=7)
    widths = [15, 45, 15, 20]
    cells = [["Partner", "Dataset", "Latest period", "Received"]] + [
        [_latin(str(f[k])) for k in ("partner", "dataset", "latest_period")]
        + [_latin(str(f["received_at"])[:16])]  # to the minute
        for f in freshness
    ]
    for rows in _paged(pdf, cells, widths):
        with pdf.table(text_align="LEFT", first_row_as_headings=True, col_widths=tuple(widths)) as grid:
            grid.row(cells[0])
            for row in rows:
                grid.row(row)
    return bytes(pdf.output())


def page_chunks(heights: list[float], first: float, per_page: float, least: int = 3) -> list[int]:
    """How many rows of a table go on each page, from each row's height: rows fill the room left on the
    page the table starts on (``first``), then whole pages (``per_page``); no page holds fewer than
    ``least`` rows of it (no orphaned rows), unless the whole table has fewer. A table that fits on one page
    but not in the room left on this one starts a page (a 0 first)."""
    total = sum(heights)
    if total <= first:
        return [len(heights)]
    if total <= per_page:
        return [0, len(heights)]
    chunks, room, used, count = [], first, 0.0, 0
    for h in heights:
        if used + h > room:
            chunks.append(count)  # 0 when not one row fitted where the table starts
            room, used, count = per_page, 0.0, 0
        used += h
        count += 1
    chunks.append(count)
    if 0 < chunks[0] < least:  # too little room where it starts: begin on the next page
        return [0, *page_chunks(heights, per_page, per_page, least)]
    if chunks[-1] < least:  # move rows down from the page before, so the last page is not an orphan
        moved = least - chunks[-1]
        chunks[-2] -= moved
        chunks[-1] += moved
    return chunks


def _row_heights(pdf, rows: list[list[str]], widths: list[float] | None = None) -> list[float]:
    """Each row's height as fpdf's table will draw it at the current font: its tallest cell's wrapped
    lines (a cell's width is its share of the page, less its padding; a little slack for word breaks)."""
    import math

    columns = len(rows[0]) if rows else 1
    share = widths or [1.0] * columns
    cell = [pdf.epw * w / sum(share) - 2 for w in share]
    line = 2 * pdf.font_size
    return [
        line
        * max(
            math.ceil(1.1 * pdf.get_string_width(text) / width) or 1
            for text, width in zip(r, cell, strict=True)
        )
        for r in rows
    ]


def _paged(pdf, rows: list[list[str]], widths: list[float] | None = None):
    """The table's body rows (headings first in ``rows``), a page's worth at a time: a new page before each
    part after the first (and before the first when it goes on the next page)."""
    heading, *body = _row_heights(pdf, rows, widths)
    first = pdf.h - pdf.b_margin - pdf.get_y() - heading
    per_page = pdf.eph - 6 - heading  # 6 mm: the page header line
    start = 0
    for i, size in enumerate(page_chunks(body, first, per_page)):
        if size == 0:
            pdf.add_page()
            continue
        if i > 0 and start > 0:
            pdf.add_page()
        yield rows[1 + start : 1 + start + size]
        start += size


def _latin(text: str) -> str:
    return text.replace("\u2019", "'").replace("\u2013", "-").encode("latin-1", "replace").decode("latin-1")
