import pytest

from orchestration.reports.disclosure import count_cell, rate_cell
from orchestration.reports.publish import building_release, current_release, point_current_at


def test_counts_of_one_to_five_are_suppressed_and_zero_is_shown():
    assert [count_cell(n) for n in (0, 1, 5, 6, None)] == ["0", "c", "c", "6", "z"]


def test_rates_built_on_small_counts_are_suppressed():
    assert rate_cell(3, 100) == "c"
    assert rate_cell(30, 4) == "c"
    assert rate_cell(30, 100) == "30.0"
    assert rate_cell(0, 0) == "z"


def test_a_release_becomes_current_only_when_complete(tmp_path):
    published = tmp_path / "published"
    with building_release(published, "r1") as folder:
        (folder / "report.html").write_text("one")
    point_current_at(published, "r1")
    assert (published / "current" / "report.html").read_text() == "one"

    with pytest.raises(RuntimeError), building_release(published, "r2") as folder:
        (folder / "report.html").write_text("half")
        raise RuntimeError("check failed while building")
    assert current_release(published) == "r1"
    assert not (published / "r2").exists()
    assert not any(p.name.startswith(".building") for p in published.iterdir())

    with building_release(published, "r3") as folder:
        (folder / "report.html").write_text("three")
    point_current_at(published, "r3")
    assert (published / "current" / "report.html").read_text() == "three"
    assert (published / "r1" / "report.html").read_text() == "one"  # earlier releases kept


def test_a_chart_with_nothing_to_draw_is_said_in_a_sentence():
    import pandas as pd

    from orchestration.reports import packs

    frame = pd.DataFrame(
        {
            "time_period": ["202324", "202425", "202324", "202425"],
            "group": ["All pupils", "All pupils", "Looked after", "Looked after"],
            "rate": ["48.2", "49.0", "c", "c"],
        }
    )
    by_group = packs.Chart("line", "rate", by="group", title="Grade 4 or above")
    assert packs.drawable(frame, by_group)  # one of its series has figures
    suppressed = frame[frame.group.eq("Looked after")]
    assert not packs.drawable(suppressed, packs.Chart("line", "rate", title="Grade 4 or above"))
    table = packs.LOOKED_AFTER_BY_AGE
    said = packs._nothing_to_draw(by_group, table)
    assert said.startswith("Grade 4 or above: no chart") and "suppressed (c)" in said


def test_counts_of_a_table_published_unprotected_are_whole_numbers():
    import pandas as pd

    from orchestration.reports import packs

    counts = list(packs.PARTNER_QUALITY.spec.counts)
    frame = pd.DataFrame({"time_period": ["2026"], "partner": ["health"], "dataset": ["camhs_referrals"]})
    for n, column in enumerate(counts):
        frame[column] = [733.0 + n]  # as a SQL sum arrives
    shown = packs._whole_counts(frame, packs.PARTNER_QUALITY).astype(str)
    assert shown[counts].iloc[0].tolist() == [str(733 + n) for n in range(len(counts))]
    # a fraction is never rounded away
    frame[counts[0]] = [2.5]
    assert packs._whole_counts(frame, packs.PARTNER_QUALITY)[counts[0]].iloc[0] == 2.5


def _built_with_comparators():
    """A one-table report as published (text cells, EES layout) and the DfE's figures beside it."""
    import pandas as pd

    from orchestration.reports import packs
    from orchestration.reports.disclosure import TableSpec
    from orchestration.returns.common import Authority

    table = packs.Table(
        name="plans",
        title="Plans",
        sql="",
        spec=TableSpec(
            keys=("time_period",),
            additive=(),
            counts=("plans", "children"),
            rates=(("plan_rate", "plans", "children"),),
        ),
        labels={"plans": "Plans", "children": "Children", "plan_rate": "Children with a plan (%)"},
    )
    figures = pd.DataFrame(
        {
            "time_period": ["202223", "202324", "202425", "202526"],
            "plans": ["40", "c", "45", "x"],
            "children": ["100", "100", "100", "x"],
            "plan_rate": ["40.0", "c", "45.0", "x"],
        }
    )
    report = packs.Report(
        "r", "R", "A director", "monthly", "Plans.", (table,),
        (packs.Headline("plans", "plan_rate"), packs.Headline("plans", "plans")),
    )  # fmt: skip
    rows = [
        (*plan, period, comparator, code, name, value, f"DfE, {release}", f"DfE {release}")
        for plan in [("plans", "plan_rate", None, None)]
        for period, comparator, code, name, value, release in (
            ("202425", "England", "E92000001", "England", "41", "2025"),
            ("202425", "Region", "E12000005", "West Midlands", "43", "2025"),
            ("202324", "England", "E92000001", "England", "39", "2024"),
            ("201920", "England", "E92000001", "England", "30", "2020"),
        )
    ]
    comparators = pd.DataFrame(rows, columns=packs.COMPARATOR_COLUMNS)
    published = packs._ees(figures, table, Authority.from_env())
    return packs.Built(report, {"plans": published}, 0, [], comparators), table


def test_key_messages_say_the_latest_figure_its_change_and_england_beside_it():
    from orchestration.reports import packs

    built, _ = _built_with_comparators()
    rate, plans = packs.key_messages(built)
    # 2025/26 is not available (x, a part year): the latest said is 2024/25, against 2023/24's suppressed c
    assert rate == {
        "measure": "Children with a plan (%)",
        "year": "2024/25",
        "value": "45.0%",
        "change": "2023/24: c (see the key)",
        "england": "41%",
    }
    assert plans["value"] == "45" and plans["england"] == "none published yet"
    # a change is only ever between two published figures
    built.tables["plans"].loc[1, ["plans", "plan_rate"]] = ["38", "38.0"]
    rate, plans = packs.key_messages(built)
    assert rate["change"] == "up 7.0 points since 2023/24" and plans["change"] == "up 7 since 2023/24"
    built.tables["plans"].loc[2, ["plans", "plan_rate"]] = ["c", "c"]
    rate, _ = packs.key_messages(built)
    assert (rate["value"], rate["change"]) == ("c", "not shown: this year's figure is suppressed")
    assert rate["england"] == "41%"


def test_the_dfe_figures_sit_in_rows_beside_the_same_period_and_only_where_there_is_one():
    from orchestration.reports import packs

    built, table = _built_with_comparators()
    shown, keys, values, is_comparator = packs._shown(built, table)
    assert keys == ["time_period", "area"] and values == ["plans", "children", "plan_rate"]
    listed = list(zip(shown.time_period, shown.area, shown.plan_rate, is_comparator, strict=True))
    assert listed == [
        ("202223", "Synthetic Metropolitan Borough", "40.0", False),
        ("202324", "Synthetic Metropolitan Borough", "c", False),
        ("202324", "England", "39", True),
        ("202425", "Synthetic Metropolitan Borough", "45.0", False),
        ("202425", "England", "41", True),
        ("202425", "West Midlands", "43", True),
        ("202526", "Synthetic Metropolitan Borough", "x", False),
    ]  # 2019/20's England figure: a year the table does not show
    assert shown.loc[2, "plans"] == ""  # the DfE publishes no count to compare: blank, not 0
    part, comparators = packs._slice(shown, keys, ["plans", "children"], is_comparator)
    assert not comparators.any() and len(part) == 4  # no comparator row where it has nothing to show
    html = packs.render_html(built, [], [], "r1")
    assert "<tr class='comparator'>" in html and "from DfE 2024; DfE 2025." in html
    assert html.index("Key messages") < html.index("<h2>Plans</h2>")


def test_a_benchmark_line_is_drawn_for_a_percentage_and_never_for_a_count():
    from orchestration.reports import packs

    built, table = _built_with_comparators()
    frame = built.tables["plans"]
    lines = packs._benchmark_lines(frame, packs.Chart("line", "plan_rate"), table, built.comparators)
    assert list(lines) == ["England", "West Midlands"]
    assert lines["England"].to_dict() == {"202324": 39.0, "202425": 41.0}
    assert packs._benchmark_lines(frame, packs.Chart("line", "plans"), table, built.comparators) == {}


def test_every_shipped_dfe_figure_is_cited_and_names_a_published_indicator():
    """The figures shipped as comparators (seed dfe_published_figures) and the map from the DfE's files:
    each names a report table and one of its indicators, each shipped value is cited to a page of explore
    education statistics, and the regions' counts add up to England's (the DfE rounds each to 10)."""
    import pandas as pd

    from orchestration.reports import packs
    from orchestration.settings import DBT_PROJECT_DIR

    indicators = {(t.name, i) for r in packs.REPORTS for t in r.tables for i in packs._indicators(t)}
    shipped = pd.read_csv(DBT_PROJECT_DIR / "seeds" / "dfe_published_figures.csv", dtype=str)
    mapped = pd.read_csv(DBT_PROJECT_DIR / "seeds" / "dfe_indicator_map.csv", dtype=str)
    for frame in (shipped, mapped):
        assert set(zip(frame.report_table, frame.indicator, strict=True)) <= indicators
    assert shipped.source_url.str.startswith("https://explore-education-statistics.service.gov.uk/").all()
    assert shipped.publication.notna().all() and shipped.release.str.match(r"Reporting year \d{4}").all()
    assert pd.to_numeric(shipped.value, errors="coerce").notna().all()  # figures, no symbol shipped
    tables = {t.name: t for r in packs.REPORTS for t in r.tables}
    percentages = {(t, rate) for t, table in tables.items() for rate, _, _ in table.spec.rates}
    is_count = [pair not in percentages for pair in zip(shipped.report_table, shipped.indicator, strict=True)]
    counts = shipped[is_count].assign(value=lambda f: f.value.astype(int))
    regions = counts[counts.geographic_level.eq("Regional")]
    checked = 0
    for (indicator, period), group in regions.groupby(["indicator", "time_period"]):
        england = counts[
            counts.indicator.eq(indicator) & counts.time_period.eq(period) & counts.area_code.eq("E92000001")
        ]
        assert len(group) == 9 and len(england) == 1, (indicator, period)
        # the DfE rounds each region to 10, and England counts children no region claims (KS4 2024/25:
        # 6,120 pupils in England, 5,950 in its regions)
        total = england.value.iloc[0]
        assert abs(group.value.sum() - total) <= max(10 * 9, 0.03 * total), (indicator, period)
        checked += 1
    # and each shipped percentage is its own count over its own total, to the DfE's rounding: a figure
    # copied wrongly into the seed breaks one of the two
    keys = ["report_table", "indicator", "row_value", "time_period", "area_code"]
    figures = shipped.assign(row_value=shipped.row_value.fillna("")).set_index(keys).value
    assert figures.index.is_unique
    for (table, indicator, row, period, area), value in figures.items():
        rate = next((r for r in tables[table].spec.rates if r[0] == indicator), None)
        if rate is None:
            continue  # a count
        numerator, denominator = (figures.get((table, r, row, period, area)) for r in rate[1:])
        if denominator is None and rate[2] in tables[table].hidden:
            # a share of the year's total (children looked after by age): the total row's count
            denominator = figures.get((table, rate[1], "Total", period, area))
        if numerator is None or denominator is None:
            continue
        n, d, slack = int(numerator), int(denominator), 5  # national and regional counts: to the nearest 10
        low, high = 100 * max(n - slack, 0) / (d + slack), 100 * (n + slack) / max(d - slack, 1)
        assert low - 0.5 <= float(value) <= high + 0.5, (table, indicator, period, area, value, n, d)
        checked += 1
    assert checked >= 60


def test_a_comparator_for_a_group_the_authority_has_no_row_for_that_year_still_shows():
    """England's figure for looked-after pupils sits beside the authority's row of that group, or, in a year
    the authority has no such row (no result recorded), at the end of that year's rows, never dropped."""
    import pandas as pd

    from orchestration.reports import packs
    from orchestration.returns.common import Authority

    table = packs.KEY_STAGES
    figures = pd.DataFrame(
        {
            "time_period": ["202324", "202425", "202425"],
            "pupil_group": ["All pupils", "All pupils", "Looked after 12 months"],
            **{c: ["10", "11", "c"] for c in packs._indicators(table)},
        }
    )
    rows = [
        ("key_stage_outcomes", "ks2_expected_rate", "pupil_group", "Looked after 12 months", period,
         "England", "E92000001", "England", value, "DfE", "DfE")
        for period, value in (("202324", "34"), ("202425", "36"))
    ]  # fmt: skip
    built = packs.Built(
        packs.Report("r", "R", "A", "termly", "S.", (table,)),
        {table.name: packs._ees(figures, table, Authority.from_env())},
        0,
        [],
        pd.DataFrame(rows, columns=packs.COMPARATOR_COLUMNS),
    )
    shown, _, _, is_comparator = packs._shown(built, table)
    listed = list(zip(shown.time_period, shown.pupil_group, shown.area, shown.ks2_expected_rate, strict=True))
    authority = Authority.from_env().name
    assert listed == [
        ("202324", "All pupils", authority, "10"),
        (
            "202324",
            "Looked after 12 months",
            "England",
            "34",
        ),  # no row of the group that year: after the year's
        ("202425", "All pupils", authority, "11"),
        ("202425", "Looked after 12 months", authority, "c"),
        ("202425", "Looked after 12 months", "England", "36"),
    ]
    assert is_comparator.tolist() == [False, True, False, False, True]


def test_the_open_data_metadata_marks_every_percentage_and_only_them():
    """Each table's .meta.csv (the EES layout) says which indicators are percentages (unit %, the table's
    decimal places) from the table's own spec, whatever a column is called: a share named otherwise than
    *_rate (children looked after by age) was once published as a whole-number count."""
    import pandas as pd

    from orchestration.reports import packs

    checked = 0
    for report in packs.REPORTS:
        for table in report.tables:
            filters = [k for k in table.spec.keys if k != "time_period"]
            columns = [f"geo_{n}" for n in range(10)] + filters + packs._indicators(table)
            meta = packs.metadata(table, pd.DataFrame(columns=columns)).set_index("col_name")
            percentages = {rate for rate, _, _ in table.spec.rates}
            for column in packs._indicators(table):
                unit, dp = meta.loc[column, ["indicator_unit", "indicator_dp"]]
                expected = ("%", table.spec.decimals) if column in percentages else ("", 0)
                assert (unit, dp) == expected, (table.name, column, unit, dp)
                checked += 1
            assert (meta.loc[filters, "col_type"] == "Filter").all()
    assert checked > 40
    age = next(t for r in packs.REPORTS for t in r.tables if t.name == "looked_after_by_age")
    assert "children_share" in {rate for rate, _, _ in age.spec.rates}
