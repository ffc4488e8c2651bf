"""The outcomes summary: a first report of how the authority's children are doing, year by year,
published only when the mart it reads has passed its gates."""

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import jinja2

from orchestration.reports.disclosure import count_cell, rate_cell
from orchestration.reports.publish import building_release, new_release_id, point_current_at
from orchestration.resources import WAREHOUSE_POOL, Warehouse
from orchestration.settings import REPORT_TEMPLATES_DIR

REPORT_YEARS = 6  # the six collection years an SSD extract covers
OUTCOMES_MART = dg.AssetKey(["marts", "fct_child_outcomes_by_year"])
REPORT_KEY = dg.AssetKey(["reports", "outcomes_summary"])

FIGURES_SQL = """
select
    collection_year,
    any_value(academic_year) as academic_year,
    count(*) as children_recorded,
    count(*) filter (where is_looked_after_during_year) as looked_after_during_year,
    count(*) filter (where is_looked_after_at_31_march) as looked_after_at_31_march,
    count(*) filter (where has_three_or_more_placements) as three_or_more_placements,
    count(*) filter (where sessions_possible > 0) as pupils,
    count(*) filter (where sessions_possible > 0 and is_persistently_absent) as pupils_persistently_absent,
    count(*) filter (where sessions_possible > 0 and is_looked_after_during_year) as looked_after_pupils,
    count(*) filter (where sessions_possible > 0 and is_looked_after_during_year and is_persistently_absent)
        as looked_after_pupils_persistently_absent,
    count(*) filter (where is_looked_after_at_31_march and has_health_assessment_in_year)
        as looked_after_at_31_march_with_health_assessment
from marts.fct_child_outcomes_by_year
where collection_year > (select max(collection_year) from marts.fct_child_outcomes_by_year) - $years
group by collection_year
order by collection_year
"""

INDICATORS = [
    ("children_recorded", "Children recorded by any partner", None),
    ("looked_after_during_year", "Children looked after at any time in the year", None),
    ("looked_after_at_31_march", "Children looked after at 31 March", None),
    (
        "three_or_more_placements",
        "Looked after children with 3 or more placements in the year",
        "looked_after_during_year",
    ),
    ("pupils_persistently_absent", "Pupils persistently absent (10%+ sessions missed)", "pupils"),
    (
        "looked_after_pupils_persistently_absent",
        "Looked after pupils persistently absent",
        "looked_after_pupils",
    ),
    (
        "looked_after_at_31_march_with_health_assessment",
        "Looked after at 31 March with a health assessment in year",
        "looked_after_at_31_march",
    ),
]


def render_figures(rows: list[dict]) -> list[dict]:
    """Each figure as published: counts and percentages after disclosure control."""
    out = []
    for row in rows:
        for key, label, denominator in INDICATORS:
            out.append(
                {
                    "time_period": row["collection_year"],
                    "academic_year": row["academic_year"],
                    "indicator": key,
                    "label": label,
                    "count": count_cell(row[key]),
                    "percent": rate_cell(row[key], row[denominator]) if denominator else "z",
                }
            )
    return out


def _freshness(warehouse: Warehouse) -> list[dict]:
    with warehouse.vault(read_only=True) as con:
        return [
            dict(zip(["partner", "dataset", "latest_period", "received_at"], r, strict=True))
            for r in con.execute("""select partner, dataset, max(period), max(received_at)::varchar
                               from ingest.deliveries where status = 'loaded' group by all order by all""").fetchall()
        ]


@dg.asset(
    key=REPORT_KEY,
    deps=[OUTCOMES_MART],
    group_name="reports",
    pool=WAREHOUSE_POOL,
    kinds={"html"},
    description="Outcomes summary (HTML and a tidy CSV of its figures), published as a new release only "
    "after the mart's gates pass; published/current then points at it.",
)
def outcomes_summary(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    paths = warehouse.paths
    with warehouse.analytics(read_only=True) as con:
        result = con.execute(FIGURES_SQL, {"years": REPORT_YEARS})
        names = [d[0] for d in result.description]
        rows = [dict(zip(names, r, strict=True)) for r in result.fetchall()]
    figures = render_figures(rows)
    checks = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(paths.quality.glob("*.json"))]
    template = jinja2.Environment(
        loader=jinja2.FileSystemLoader(REPORT_TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    ).get_template("outcomes_summary.html.j2")
    release_id = new_release_id(context.run_id)
    generated = datetime.now(UTC).strftime("%d %B %Y %H:%M UTC")
    with building_release(paths.published, release_id) as folder:
        (folder / "outcomes_summary.html").write_text(
            template.render(
                figures=figures,
                years=[r["collection_year"] for r in rows],
                indicators=INDICATORS,
                freshness=_freshness(warehouse),
                checks=checks,
                generated=generated,
                release_id=release_id,
            ),
            encoding="utf-8",
        )
        _write_csv(folder / "outcomes_summary.csv", figures)
    current = point_current_at(paths.published, release_id)
    context.log.info(f"published release {release_id}: {current / 'outcomes_summary.html'}")
    suppressed = sum(1 for f in figures for k in ("count", "percent") if f[k] == "c")
    return dg.MaterializeResult(
        metadata={
            "release": release_id,
            "report": dg.MetadataValue.path(str(paths.published / release_id / "outcomes_summary.html")),
            "cells_suppressed": suppressed,
            "years": len(rows),
        }
    )


def _write_csv(path: Path, figures: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(
            fh,
            fieldnames=["time_period", "academic_year", "indicator", "label", "count", "percent"],
            lineterminator="\n",
        )
        writer.writeheader()
        writer.writerows(figures)
