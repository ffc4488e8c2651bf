"""The in-year worklist's marking of findings against last month's (orchestration/returns/worklist.py)."""

import pandas as pd

from orchestration.returns.worklist import COLUMNS, compare, in_progress_year, items, source_of


def _finding(rule, child, field, row="2", value="x", table="episodes", explained=""):
    return {"return": "ssda903", "stage": "validator", "rule": rule, "severity": "error",
            "message": f"message of {rule}", "child": child, "table": table, "field": field, "row": row,
            "value": value, "explained_by": explained}  # fmt: skip


def test_lines_are_new_still_open_or_fixed_by_return_rule_child_table_and_field():
    last_month = compare(
        items(pd.DataFrame([_finding("103", "C1", "DECOM"), _finding("145", "C2", "PLACE")])), None
    )
    assert set(last_month.status) == {"new"} and list(last_month.columns) == COLUMNS
    this_month = items(
        pd.DataFrame(
            [
                _finding(
                    "103", "C1", "DECOM", row="9", value="y"
                ),  # moved row, other value: the same finding
                _finding("103", "C3", "DECOM"),
                _finding("1001", "C4", "IN_TOUCH", table="oc3", explained="validator defect (rule 1001)"),
            ]
        )
    )
    marked = compare(this_month, last_month)
    status = dict(zip(zip(marked.rule, marked.child, strict=True), marked.status, strict=True))
    assert status == {("103", "C1"): "still open", ("103", "C3"): "new", ("145", "C2"): "fixed"}
    assert list(marked.status) == ["new", "still open", "fixed"]  # the team reads the new first
    # a fixed line is not carried into the month after: fixed once, then gone
    assert set(compare(this_month, marked).status) == {"still open"}


def test_each_line_says_where_in_the_ssd_its_value_comes_from():
    assert source_of("ssda903", "episodes", "DECOM") == "ssd_cla_episodes.clae_cla_episode_start_date"
    assert source_of("ssda903", "oc2", "SDQ_SCORE, SDQ_REASON") == (
        "ssd_sdq_scores.csdq_sdq_score; ssd_sdq_scores.csdq_sdq_reason"
    )
    assert source_of("cin", "ChildIdentifiers", "UPN") == "ssd_person.pers_upn"
    assert source_of("cin", "(whole return)", "") == ""


def test_the_year_in_progress_is_the_one_the_extract_falls_in():
    from datetime import date

    assert in_progress_year(date(2026, 11, 30)) == 2027
    assert in_progress_year(date(2026, 3, 31)) == 2026
    assert in_progress_year(date(2026, 4, 1)) == 2027
