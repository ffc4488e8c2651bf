import json

import pandas as pd
import pytest

from orchestration.quality.gx import SuiteError, validate
from orchestration.settings import EXPECTATIONS_DIR


@pytest.mark.parametrize("suite", sorted(p.stem for p in EXPECTATIONS_DIR.glob("*.json")))
def test_every_suite_builds_completely(suite):
    from orchestration.quality.gx import build_expectations, load_suite_spec

    spec = load_suite_spec(suite)
    assert len(build_expectations(spec, suite)) == len(spec["expectations"]) > 0


def _mart(**overrides):
    row = {
        "person_key": "pk_0123456789abcdef",
        "collection_year": 2025,
        "academic_year": "2024/25",
        "is_looked_after_during_year": True,
        "is_looked_after_at_31_march": True,
        "days_looked_after_in_year": 365,
        "placements_in_year": 1,
        "has_three_or_more_placements": False,
        "sessions_possible": 380,
        "sessions_authorised_absence": 10,
        "sessions_unauthorised_absence": 5,
        "overall_absence_rate": 15 / 380,
        "authorised_absence_rate": 10 / 380,
        "unauthorised_absence_rate": 5 / 380,
        "is_persistently_absent": False,
        "age_at_31_march": 12,
        "sdq_score": 14,
        "ks4_attainment_8": 45.0,
        "has_health_assessment_in_year": True,
    }
    row.update(overrides)
    return pd.DataFrame([row])


def test_outcomes_suite_passes_good_rows_and_fails_impossible_absence():
    assert validate(_mart(), "fct_child_outcomes_by_year").success
    bad = validate(
        _mart(sessions_authorised_absence=400, overall_absence_rate=405 / 380), "fct_child_outcomes_by_year"
    )
    assert not bad.success
    failed = {o.expectation for o in bad.failures}
    assert "expect_column_values_to_be_between" in failed
    assert all(o.error is None for o in bad.outcomes), "a failure must be the data's, not the gate's"
    assert "sessions" in bad.summary()


def test_identifier_shaped_keys_fail_the_gate():
    assert not validate(_mart(person_key="9990000018"), "fct_child_outcomes_by_year").success


def test_a_suite_naming_an_unknown_expectation_is_an_error_not_a_pass(tmp_path):
    (tmp_path / "broken.json").write_text(
        json.dumps(
            {
                "name": "broken",
                "expectations": [
                    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}},
                    {"type": "expect_column_to_be_wonderful", "kwargs": {"column": "a"}},
                ],
            }
        )
    )
    with pytest.raises(SuiteError, match="expectation 2"):
        validate(pd.DataFrame({"a": [1]}), "broken", directory=tmp_path)


def test_a_mart_that_halves_since_the_last_good_release_fails_its_volume_check(tmp_path):
    import json

    from orchestration.quality.checks import volume_against_last_release

    last = tmp_path / "suite.json"
    assert volume_against_last_release(last, 100, 0.5) is None  # no release yet: nothing to compare
    last.write_text(json.dumps({"rows": 10_000, "success": True}))
    assert volume_against_last_release(last, 12_000, 0.5) is None
    assert "10,000 to 4,000" in volume_against_last_release(last, 4_000, 0.5)
    last.write_text(json.dumps({"rows": 10_000, "success": False}))
    assert volume_against_last_release(last, 4_000, 0.5) is None  # only a passing run is a baseline


def test_a_source_that_stopped_arriving_fails_the_freshness_gate():
    import pandas as pd

    from orchestration.quality.gx import validate
    from orchestration.reports.outcomes import _days_behind

    fresh = [{"partner": "schools", "dataset": "ks2_results", "latest_period": "2025", "received_at": "x",
              "days_behind_newest": 0}]  # fmt: skip
    assert validate(_days_behind(fresh), "source_freshness").success
    stale = [*fresh, {**fresh[0], "dataset": "dental_checks", "days_behind_newest": 200}]
    result = validate(_days_behind(stale), "source_freshness")
    assert not result.success and "stopped arriving" in result.summary()
    assert validate(pd.DataFrame(columns=["days_behind_newest"]), "source_freshness").success is False


def test_reference_lists_about_no_child_are_not_held_to_the_freshness_gate():
    from orchestration.reports.outcomes import about_children

    held = about_children()
    assert {"ssd_person", "ks2_results", "health_assessments", "ssda903_dolo"} <= set(held)
    # Ofsted's provider lists, downloaded now and then for the returns, never block a release
    assert not {"ofsted_childrens_homes", "ofsted_social_care_providers"} & set(held)


def test_a_gate_reads_only_the_columns_its_suite_names_and_judges_them_alike():
    from orchestration.quality.gx import columns_checked, load_suite_spec

    wanted = columns_checked(load_suite_spec("fct_child_outcomes_by_year"))
    assert {"person_key", "collection_year", "sessions_possible", "sessions_authorised_absence"} <= wanted
    assert "academic_year" not in wanted and "has_three_or_more_placements" not in wanted
    for frame in (_mart(), _mart(sessions_authorised_absence=400), _mart(person_key="9990000018")):
        narrow = frame[[c for c in frame.columns if c in wanted]]
        whole, read = (
            validate(frame, "fct_child_outcomes_by_year"),
            validate(narrow, "fct_child_outcomes_by_year"),
        )
        assert [(o.expectation, o.column, o.success, o.unexpected_count) for o in read.outcomes] == [
            (o.expectation, o.column, o.success, o.unexpected_count) for o in whole.outcomes
        ]


def test_a_suite_that_reads_the_table_as_a_whole_is_given_every_column():
    from orchestration.quality.gx import columns_checked

    def spec(*expectations):
        return {"expectations": [{"type": t, "kwargs": k} for t, k in expectations]}

    rows = ("expect_table_row_count_to_be_between", {"min_value": 1})
    a_column = ("expect_column_values_to_not_be_null", {"column": "a"})
    assert columns_checked(spec(rows, a_column)) == {"a"}
    pair = ("expect_column_pair_values_a_to_be_greater_than_b", {"column_A": "b", "column_B": "c"})
    assert columns_checked(spec(a_column, pair)) == {"a", "b", "c"}
    assert (
        columns_checked(spec(a_column, ("expect_table_columns_to_match_set", {"column_set": ["a"]}))) is None
    )
    assert (
        columns_checked(spec(a_column, ("expect_column_values_to_be_in_set", {"column_name": "x"}))) is None
    )
    assert columns_checked(spec(rows)) is None
