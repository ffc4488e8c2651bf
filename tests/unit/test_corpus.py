"""The real-layout corpus (tests/corpus): every file is recognised as its true dataset and period, or
refused with a reason that says what to do; no file fails whole because of an id column."""

import shutil
from pathlib import Path

import pytest

from orchestration.duckdb_files import connect
from orchestration.ingest.service import ingest

CORPUS = Path(__file__).resolve().parents[1] / "corpus"

# file -> (status, dataset, period, a fragment of what the manifest says about it)
EXPECTED = {
    "schools/school_census/2024_autumn_pupilonroll.csv": (
        "loaded", "school_census_pupil_on_roll", "2024-autumn", ""),
    "schools/school_census/2025_autumn_pupilonroll.csv": (
        "loaded", "school_census_pupil_on_roll", "2025-autumn", ""),
    "schools/school_census/2025_autumn_termlysessiondetailsonroll.csv": (
        "loaded", "school_census_termly_sessions", "2025-autumn",
        "no termlysessiondetailsonrolltableid column (the extract's own row id)"),
    "social_care/ssda903/SSDA903_2020_episodes.csv": ("loaded", "ssda903_episodes", "2020", ""),
    "social_care/ssda903_la_export/episodes.csv": (
        "loaded", "ssda903_episodes", "2025", "its period, 2025, read from its content"),
    "social_care/ssda903_la_export/header.csv": (
        "failed", "ssda903_header", None, "wholechild ingest --period PERIOD header.csv"),
    # a 903-like table no contract knows: sharing CHILD and DOB with six, it is none of them
    "social_care/ssda903_la_export/care_orders.csv": (
        "unrecognised", None, None, "equally well, so it is not loaded as any of them"),
    # the 2026/27 collection's deprivation of liberty orders: its own table, never read as AD1
    "social_care/ssda903_la_export/dolo.csv": (
        "loaded", "ssda903_dolo", "2027", "its period, 2027, read from its content"),
    "social_care/annex_a/Annex_A_2024_Jan.xlsx": (
        "loaded", "annex_a", "2024-01-31", "read from the month in its name"),
    "social_care/cin_census/CIN_Census.xml": ("loaded", "cin_census", "2022-03-31", ""),
    "health/health_assessments/health_assessments_2024-05.csv": (
        "loaded", "health_assessments", "2024-05", ""),
    "health/health_assessments/health_assessments.csv": (
        "failed", "health_assessments", None, "--period PERIOD health_assessments.csv"),
}  # fmt: skip


def _manifest(paths) -> dict[str, tuple]:
    with connect(paths.vault_db, read_only=True) as con:
        rows = con.execute(
            """select landing_path, status, dataset, period,
                      concat_ws(' ', status_detail, recognition_notes), rows_in_file, rows_loaded
               from ingest.deliveries"""
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_every_file_of_the_corpus_is_its_true_dataset_and_period_or_says_what_to_do(home):
    shutil.copytree(CORPUS, home.landing, dirs_exist_ok=True, ignore=shutil.ignore_patterns("README.md"))
    with connect(home.vault_db) as con:
        ingest(con, home)
    found = _manifest(home)
    assert set(found) == set(EXPECTED)
    for path, (status, dataset, period, says) in EXPECTED.items():
        got_status, got_dataset, got_period, said, rows_in_file, rows_loaded = found[path]
        assert (got_status, got_dataset, got_period) == (status, dataset, period), (path, said)
        assert says in (said or ""), (path, said)
        assert "required column" not in (said or ""), f"{path} failed whole because of a column: {said}"
        if status == "loaded":  # the samples' own faults aside (a session row with no sessions; two rows of
            # the CIN sample outside its schema), their rows load
            assert rows_in_file > 0 and rows_loaded >= 0.8 * rows_in_file, (path, said)

    # a table named without its year is loaded once its period is given
    header = home.landing / "social_care" / "ssda903_la_export" / "header.csv"
    with connect(home.vault_db) as con:
        ingest(con, home, [header], period="2020")
    status, dataset, period, said, rows_in_file, rows_loaded = _manifest(home)[
        "social_care/ssda903_la_export/header.csv"
    ]
    assert (status, dataset, period) == ("loaded", "ssda903_header", "2020"), said
    assert "as given with --period" in said and rows_loaded == rows_in_file


@pytest.mark.parametrize(
    ("name", "pattern", "expected"),
    [
        ("Annex_A_2024_Jan.xlsx", r"(?P<period>\d{4}-\d{2}-\d{2})", "2024-01-31"),
        ("annex a february 2024.xlsx", r"(?P<period>\d{4}-\d{2}-\d{2})", "2024-02-29"),
        ("dental_Sept-2025.csv", r"(?P<period>\d{4}-\d{2})", "2025-09"),
        ("header_2025_jan.csv", r"(?P<period>(19|20)\d{2})", None),  # a collection year is not a month
        ("janet_2025.csv", r"(?P<period>\d{4}-\d{2})", None),  # "jan" inside a word is no month
    ],
)
def test_a_month_in_words_gives_a_period_of_the_contracts_kind(name, pattern, expected):
    from dataclasses import replace

    from orchestration.ingest.contracts import load_contracts

    contract = replace(load_contracts()["dental_checks"], period_pattern=pattern)
    assert contract.period_named_by_month(name) == expected
