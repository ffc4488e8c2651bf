"""The outcomes summary: a first report of how the authority's children are doing, year by year,
published only when the mart it reads has passed its gates."""

import csv
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import jinja2
import pandas as pd

from orchestration.cells import safe_frame, safe_text
from orchestration.duckdb_files import publish_copy
from orchestration.quality.gx import validate
from orchestration.reports import packs
from orchestration.reports.disclosure import (
    NOT_AVAILABLE,
    REVEAL_AFTER_SUPPRESSION,
    SUPPRESSED,
    TableSpec,
    attack_release,
    count_cell,
    rate_cell,
)
from orchestration.reports.publish import building_release, current_release, new_release_id, point_current_at
from orchestration.resources import WAREHOUSE_POOL, Warehouse
from orchestration.settings import REPORT_TEMPLATES_DIR, share_analytics

OUTCOMES_MART = dg.AssetKey(["marts", "fct_child_outcomes_by_year"])
# every mart a published report reads, each gated by its Great Expectations suite (expectations/<name>.json)
GATED_MARTS = ("fct_child_outcomes_by_year", "dim_children", "fct_child_events", "cohort_care_leavers_by_age")
REPORT_KEY = dg.AssetKey(["reports", "outcomes_summary"])
# the dbt models of the reports layer the release reads (dbt_project/models/reports)
REPORT_MODELS = [
    dg.AssetKey(["reports", f"rpt_{name}"])
    for name in (
        "outcomes_summary", "csc_headline", "csc_by_month", "looked_after_by_age", "virtual_school_education",
        "looked_after_health", "sdq_bands", "care_leaver_outcomes", "key_stage_outcomes",
    )
]  # fmt: skip
NOT_DISCLOSIVE = "not_disclosive"

# the summary's figures: the dbt model reports.rpt_outcomes_summary (dbt_project/models/reports)
FIGURES_SQL = "select * from reports.rpt_outcomes_summary order by collection_year"

INDICATORS = [
    ("children_recorded", "Children recorded by any partner", None),
    ("looked_after_during_year", "Children looked after at any time in the year", None),
    ("looked_after_at_31_march", "Children looked after at 31 March", None),
    (
        "three_or_more_placements",
        "Looked after at 31 March with 3 or more placements in the year",
        "looked_after_at_31_march",
    ),
    ("pupils_persistently_absent", "Pupils persistently absent (10%+ sessions missed)", "pupils"),
    (
        "looked_after_pupils_persistently_absent",
        "Looked after pupils persistently absent",
        "looked_after_pupils",
    ),
    ("looked_after_12_months", "Looked after continuously for 12 months at 31 March", None),
    (
        "looked_after_12_months_with_health_assessment",
        "Looked after for 12 months with a health assessment in the year",
        "looked_after_12_months",
    ),
]


# figures from the school census, complete when the academic year is; the rest when the collection year is
SCHOOL_INDICATORS = {"pupils_persistently_absent", "looked_after_pupils_persistently_absent"}


def render_figures(rows: list[dict]) -> list[dict]:
    """Each figure as published: counts and percentages after disclosure control; x for a part year."""
    out = []
    for row in rows:
        for key, label, denominator in INDICATORS:
            complete = row[
                "academic_year_complete" if key in SCHOOL_INDICATORS else "collection_year_complete"
            ]
            out.append(
                {
                    "time_period": row["collection_year"],
                    "academic_year": row["academic_year"],
                    "indicator": key,
                    "label": label,
                    "count": count_cell(row[key]) if complete else NOT_AVAILABLE,
                    "percent": (rate_cell(row[key], row[denominator]) if denominator else "z")
                    if complete
                    else NOT_AVAILABLE,
                }
            )
    return out


def protect_summary(figures: list[dict], previous: Path | None, hidden: set[str] | None = None) -> list[dict]:
    """Disclosure control beyond each figure's own: a count the previous release suppressed for the same
    year stays suppressed unless it is now 11 or more; a count another table of the release suppresses
    (``hidden``: cell keys) is suppressed here too; and a count (and its percentage) whose denominator is
    suppressed is suppressed too."""
    before = set()
    if previous is not None and (previous / "outcomes_summary.csv").exists():
        old = pd.read_csv(previous / "outcomes_summary.csv", dtype=str, keep_default_na=False)
        was = old["count"].eq(SUPPRESSED)
        before = set(zip(old.time_period[was], old.indicator[was], strict=True))
    out = [dict(f) for f in figures]
    for figure, key in zip(out, summary_keys(out), strict=True):
        count = pd.to_numeric(figure["count"], errors="coerce")
        elsewhere = key in (hidden or ()) and pd.notna(count)
        carried = (
            str(figure["time_period"]),
            figure["indicator"],
        ) in before and count < REVEAL_AFTER_SUPPRESSION
        if elsewhere or carried:
            figure["count"] = SUPPRESSED
            figure["percent"] = SUPPRESSED if figure["percent"] != "z" else "z"
    counts = {(f["time_period"], f["indicator"]): f["count"] for f in out}
    denominators = {key: denominator for key, _, denominator in INDICATORS}
    for figure in out:
        denominator = denominators[figure["indicator"]]
        if denominator and counts.get((figure["time_period"], denominator)) == SUPPRESSED:
            if pd.notna(pd.to_numeric(figure["count"], errors="coerce")):
                figure["count"] = SUPPRESSED
            figure["percent"] = SUPPRESSED
    return out


def _reconciled(summary: Path) -> list[str]:
    """The reconciliation of the marts with the returns, as a line of the checks passed."""
    if not summary.exists():
        return []
    r = json.loads(summary.read_text(encoding="utf-8"))
    return [
        f"every figure reconciled child by child with the DfE's figures worked out from the SSDA903 and CIN "
        f"census returns: {r['comparisons']} measure-years over {len(r['years'])} years, {r['differences']} "
        f"differences, {r['unexplained']} unexplained"
    ]


def _days_behind(freshness: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(
        freshness, columns=["partner", "dataset", "latest_period", "received_at", "days_behind_newest"]
    )


def about_children() -> list[str]:
    """The datasets whose records reach a child (a contract table with a person link): the sources the
    reports' figures are counted from. Reference lists that describe no child (Ofsted's provider lists,
    which only the returns read) are not held to the freshness gate: an authority that downloads them
    now and then must not find every release blocked."""
    from orchestration.ingest.contracts import load_contracts

    return sorted(c.dataset for c in load_contracts().values() if any(t.person is not None for t in c.tables))


def _freshness(warehouse: Warehouse) -> list[dict]:
    with warehouse.vault(read_only=True) as con:
        return [
            dict(
                zip(
                    ["partner", "dataset", "latest_period", "received_at", "days_behind_newest"],
                    r,
                    strict=True,
                )
            )
            for r in con.execute(
                """
                select partner, dataset, max(period), max(received_at)::varchar,
                       date_diff('day', max(received_at), max(max(received_at)) over ()) as days_behind_newest
                from ingest.deliveries where status = 'loaded' and list_contains(?, dataset)
                group by all order by all""",
                [about_children()],
            ).fetchall()
        ]


@dg.asset(
    key=REPORT_KEY,
    deps=[dg.AssetKey(["marts", name]) for name in GATED_MARTS] + REPORT_MODELS,
    group_name="reports",
    pool=WAREHOUSE_POOL,
    kinds={"html", "pdf", "csv"},
    check_specs=[
        dg.AssetCheckSpec(
            NOT_DISCLOSIVE,
            asset=REPORT_KEY,
            blocking=True,
            description="every published table re-read and attacked: no count of 1-5 shown, no suppressed cell "
            "recoverable from the totals, only DfE symbols",
        )
    ],
    description="The release: the outcomes summary and the scheduled reports (performance pack, virtual school, "
    "annual outcomes; partner data quality under restricted/), HTML, PDF and EES open data, built aside after the "
    "marts' gates pass and swapped in only if the disclosure audit passes; published/current then points at it.",
)
def outcomes_summary(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    paths = warehouse.paths
    with warehouse.analytics(read_only=True) as con:
        result = con.execute(FIGURES_SQL)
        names = [d[0] for d in result.description]
        rows = [dict(zip(names, r, strict=True)) for r in result.fetchall()]
    figures = render_figures(rows)
    checks = [
        check
        for p in sorted(paths.quality.glob("*.json"))
        if not p.name.endswith(".last_passed.json")
        and "suite" in (check := json.loads(p.read_text(encoding="utf-8")))
    ]
    template = jinja2.Environment(
        loader=jinja2.FileSystemLoader(REPORT_TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    ).get_template("outcomes_summary.html.j2")
    release_id = new_release_id(context.run_id)
    generated = datetime.now(UTC).strftime("%d %B %Y %H:%M UTC")
    checks_passed = [
        f"Great Expectations suite {c['suite']} ({len(c.get('expectations', []))} expectations): "
        + ("passed" if c.get("success") else "FAILED")
        for c in checks
    ]
    checks_passed += [
        "dbt tests and unit tests on every model: passed",
        *_reconciled(paths.quality / "reconciliation_with_returns.json"),
        "disclosure audit of every published file",
    ]
    freshness = _freshness(warehouse)
    fresh = validate(_days_behind(freshness), "source_freshness")
    if not fresh.success:
        raise dg.Failure(
            description=f"release not published: a source has stopped arriving. {fresh.summary()}",
            metadata={"stale": [f["dataset"] for f in freshness if f["days_behind_newest"] > 120]},
        )
    checks_passed.append(f"every source fresh ({fresh.summary()})")
    problems: list[str] = []
    last = current_release(paths.published)
    previous = paths.published / last if last and (paths.published / last).is_dir() else None
    with warehouse.analytics(read_only=True) as analytics, warehouse.vault(read_only=True) as vault:
        queried = [packs.query(report, analytics, vault) for report in packs.REPORTS]
    failures = [f for q in queried for f in q.gate_failures]
    if failures:
        raise dg.Failure(description="release not published: " + " | ".join(failures))
    figures, built = protect_together(figures, queried, previous)
    try:
        with building_release(paths.published, release_id) as folder:
            # a release built from the synthetic authority says so on every page (the generator leaves its
            # ground truth beside the landing folder; --demo says the same)
            synthetic = (
                os.environ.get("WHOLECHILD_DEMO") == "1" or (paths.ground_truth / "faults.csv").exists()
            )
            suppressed_in_packs = _write_packs(folder, built, freshness, checks_passed, release_id, synthetic)
            _write_outcomes_summary(
                folder, template, figures, rows, freshness, checks, generated, release_id, synthetic
            )
            problems = audit_release(folder, previous)
            if problems:
                raise DisclosiveRelease(problems)
    except DisclosiveRelease:
        context.log.error(f"release {release_id} NOT published: {len(problems)} disclosive cell(s)")
        return dg.MaterializeResult(
            metadata={"release": release_id, "published": False, "disclosive_cells": len(problems)},
            check_results=[
                dg.AssetCheckResult(
                    check_name=NOT_DISCLOSIVE,
                    passed=False,
                    description="; ".join(problems[:20]),
                    metadata={"problems": len(problems)},
                )
            ],
        )
    current = point_current_at(paths.published, release_id)
    context.log.info(f"published release {release_id}: {current / 'outcomes_summary.html'}")
    # the marts this release was made from, for analysts: a copy swapped in atomically, so that no
    # analyst's open connection can ever hold up the next build
    paths.analysts.mkdir(exist_ok=True)
    publish_copy(paths.analytics_db, paths.analyst_copy, 0o640 if share_analytics() else 0o600)
    paths.protect_warehouse()
    suppressed = sum(1 for f in figures for k in ("count", "percent") if f[k] == "c")
    return dg.MaterializeResult(
        metadata={
            "release": release_id,
            "published": True,
            "report": dg.MetadataValue.path(str(paths.published / release_id / "outcomes_summary.html")),
            "cells_suppressed": suppressed + suppressed_in_packs,
            "years": len(rows),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=NOT_DISCLOSIVE,
                passed=True,
                description="every published CSV re-read: no small count shown, no suppressed cell recoverable",
            )
        ],
    )


class DisclosiveRelease(Exception):
    pass


def _write_outcomes_summary(
    folder, template, figures, rows, freshness, checks, generated, release_id, synthetic=False
) -> None:
    (folder / "outcomes_summary.html").write_text(
        template.render(
            figures=figures,
            years=[r["collection_year"] for r in rows],
            indicators=INDICATORS,
            freshness=freshness,
            checks=checks,
            generated=generated,
            release_id=release_id,
            synthetic=packs.SYNTHETIC if synthetic else "",
        ),
        encoding="utf-8",
    )
    _write_csv(folder / "outcomes_summary.csv", figures)


def summary_keys(figures: list[dict]) -> list[str]:
    """Each figure of the outcomes summary as a cell of the release (disclosure.cell_keys): its label and
    period as the packs' tables name them (the summary's collection year 2021 is their 202021)."""
    return [f"indicator={f['label']}|time_period={str(f['academic_year']).replace('/', '')}" for f in figures]


def protect_together(
    figures: list[dict], queried: list[packs.Queried], previous: Path | None
) -> tuple[list[dict], list[packs.Built]]:
    """The outcomes summary and the packs protected together: a figure either suppresses is suppressed in
    both, until neither publishes what the other suppresses."""
    hidden: set[str] = set()
    for _ in range(10):
        summary = protect_summary(figures, previous, hidden)
        keys = summary_keys(summary)
        summary_hidden = {k for k, f in zip(keys, summary, strict=True) if f["count"] == SUPPRESSED}
        built, pack_hidden = packs.protect_release(queried, previous, summary_hidden)
        shown = {
            k
            for k, f in zip(keys, summary, strict=True)
            if pd.notna(pd.to_numeric(f["count"], errors="coerce"))
        }
        if not pack_hidden & shown:
            break
        hidden |= pack_hidden & shown
    return summary, built


def _write_packs(
    folder: Path,
    built: list[packs.Built],
    freshness: list[dict],
    checks: list[str],
    release: str,
    synthetic: bool = False,
) -> int:
    """Every scheduled report into the release: <report>/<report>.html and .pdf, and per table the EES
    open data (<table>.csv, <table>.meta.csv). The partner data quality report goes under restricted/."""
    suppressed = 0
    for report_built in built:
        report = report_built.report
        suppressed += report_built.suppressed
        base = folder / ("restricted" if report.name == "partner_data_quality" else "") / report.name
        base.mkdir(parents=True, exist_ok=True)
        if not report_built.comparators.empty:  # the DfE's figures shown beside the authority's, cited
            safe_frame(report_built.comparators.fillna("")).to_csv(
                base / packs.COMPARATORS_FILE, index=False, lineterminator="\n"
            )
        for table in report.tables:
            published = report_built.tables[table.name]
            safe_frame(published).to_csv(base / f"{table.name}.csv", index=False, lineterminator="\n")
            safe_frame(packs.metadata(table, published)).to_csv(
                base / f"{table.name}.meta.csv", index=False, lineterminator="\n"
            )
        (base / f"{report.name}.html").write_text(
            packs.render_html(report_built, freshness, checks, release, synthetic), encoding="utf-8"
        )
        (base / f"{report.name}.pdf").write_bytes(
            packs.render_pdf(report_built, freshness, checks, release, synthetic)
        )
    return suppressed


def _summary_as_table(frame: pd.DataFrame) -> tuple[pd.DataFrame, TableSpec, dict[str, str]]:
    """The outcomes summary (one row per year and indicator) as a table like the packs' (a column per
    indicator, its label from the summary), so the audit matches its cells with theirs."""
    wide = (
        frame.assign(time_period=frame["academic_year"].str.replace("/", "", regex=False))
        .pivot(index="time_period", columns="indicator", values="count")
        .reset_index()
        .fillna(NOT_AVAILABLE)
    )
    indicators = tuple(c for c in wide.columns if c != "time_period")
    labels = dict(zip(frame["indicator"], frame["label"], strict=True))
    return wide, TableSpec(keys=("time_period",), additive=(), counts=indicators), labels


def _published_tables(folder: Path) -> tuple[dict, dict, list[str]]:
    """Every published table of a release (not the restricted ones), by its path in the release, with its
    disclosure rules and its indicators' labels (from the .meta.csv beside it)."""
    specs = {t.name: t.spec for r in packs.REPORTS for t in r.tables if t.protect}
    tables, labels, problems = {}, {}, []
    for path in sorted(folder.rglob("*.csv")):
        if path.name.endswith(".meta.csv") or "restricted" in path.relative_to(folder).parts:
            continue
        if path.name == packs.COMPARATORS_FILE:
            continue  # the DfE's own published figures (England, regions, other authorities), none of ours
        name = str(path.relative_to(folder))
        if path.stem == "outcomes_summary":
            wide, spec, described = _summary_as_table(pd.read_csv(path, dtype=str, keep_default_na=False))
            tables[name], labels[name] = (wide, spec), described
            continue
        spec = specs.get(path.stem)
        if spec is None:
            problems.append(f"{name}: a published table with no disclosure rules")
            continue
        tables[name] = (pd.read_csv(path, dtype=str, keep_default_na=False), spec)
        meta = path.with_name(f"{path.stem}.meta.csv")
        if meta.exists():
            described = pd.read_csv(meta, dtype=str, keep_default_na=False)
            labels[name] = dict(zip(described.col_name, described.label, strict=True))
    return tables, labels, problems


def audit_release(folder: Path, previous: Path | None = None) -> list[str]:
    """The blocking check: re-read every published table (not the restricted ones) and attack them all
    together, and against the release before (``previous``)."""
    tables, labels, problems = _published_tables(folder)
    before = _published_tables(previous)[0] if previous is not None and previous.is_dir() else None
    return problems + attack_release(tables, before, labels)


def _write_csv(path: Path, figures: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(
            fh,
            fieldnames=["time_period", "academic_year", "indicator", "label", "count", "percent"],
            lineterminator="\n",
        )
        writer.writeheader()
        writer.writerows({k: safe_text(v) for k, v in row.items()} for row in figures)
