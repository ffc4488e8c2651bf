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
