import pytest

from orchestration.ingest.contracts import load_contracts, normalise_header
from orchestration.ingest.recognise import recognise


def test_every_contract_loads_and_declares_a_person_link():
    contracts = load_contracts()
    assert {
        "ssd_person",
        "ssd_cla_episodes",
        "ssd_cla_placement",
        "school_census_pupil_on_roll",
        "school_census_termly_sessions",
        "health_assessments",
    } <= set(contracts)
    # tables about teams, workers, adopters, a return's header, or a parent record reach a child another way;
    # Ofsted's lists of providers and the DfE's published statistics are about no person
    not_about_a_person = {
        "dfe_statistics",
        "ssd_assessment_factors",
        "ssd_department",
        "ssd_professionals",
        "cin_census.header",
        "annex_a.list_11",
        "ofsted_childrens_homes",
        "ofsted_social_care_providers.current",
        "ofsted_social_care_providers.closed",
    }
    for contract in contracts.values():
        for table in contract.tables:
            name = contract.dataset if len(contract.tables) == 1 else f"{contract.dataset}.{table.name}"
            assert (table.person is None) == (name in not_about_a_person), name
            assert table.required or name == "cin_census.header", f"{name} has no required column"


def test_header_spellings_ignore_case_spacing_and_punctuation():
    assert normalise_header("\ufeffNHS Number") == normalise_header("nhs_number") == "nhsnumber"
    contract = load_contracts()["health_assessments"]
    matched = contract.match_headers(
        ["Assessment ID", "NHS_No", "Date of Birth", "assessment type", "Assessment-Date", "something else"]
    )
    assert matched == {
        0: "assessment_id",
        1: "nhs_number",
        2: "date_of_birth",
        3: "assessment_type",
        4: "assessment_date",
    }


def test_period_from_path():
    contracts = load_contracts()
    assert (
        contracts["school_census_pupil_on_roll"].period_of("schools/x/2024_autumn_pupilonroll.csv")
        == "2024-autumn"
    )
    assert contracts["ssd_person"].period_of("social_care/ssd/2026-03-31/ssd_person.csv") == "2026-03-31"
    assert contracts["ssd_person"].period_of("ssd_person.csv") is None


def test_reference_school_census_sample_is_recognised(shared_reference):
    samples = shared_reference / "samples" / "school_census_2024_autumn"
    contracts = load_contracts()
    pupil = recognise(samples / "2024_autumn_pupilonroll.csv", "2024_autumn_pupilonroll.csv", contracts)
    sessions = recognise(samples / "2024_autumn_termlysessiondetailsonroll.csv", "x.csv", contracts)
    assert pupil.contract.dataset == "school_census_pupil_on_roll"
    assert sessions.contract.dataset == "school_census_termly_sessions"


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "empty"),
        (b"colour,flavour\nred,sweet\n", "match no known dataset"),
    ],
)
def test_unrecognised_files_are_never_guessed(tmp_path, content, reason):
    path = tmp_path / "mystery.csv"
    path.write_bytes(content)
    match = recognise(path, "health/health_assessments/mystery.csv", load_contracts())
    assert match.contract is None
    assert reason in match.reason
    assert "mystery.csv" in match.reason
