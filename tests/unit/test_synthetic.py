"""The synthetic authority: deterministic, real layouts, identifiers valid except for injected faults."""

import hashlib
from datetime import date

import pandas as pd
import pytest

from orchestration.identifiers import is_valid_nhs_number, is_valid_upn
from orchestration.synthetic import generate

AS_OF = date(2026, 3, 31)


@pytest.fixture(scope="module")
def authority(tmp_path_factory):
    root = tmp_path_factory.mktemp("la")
    result = generate(root / "landing", scale=0.02, seed=7, faults=0.05, as_of=AS_OF)
    return result


def _digests(folder):
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_byte_identical_files(authority, tmp_path):
    again = generate(tmp_path / "landing", scale=0.02, seed=7, faults=0.05, as_of=AS_OF)
    assert _digests(authority.landing) == _digests(again.landing)
    assert _digests(authority.ground_truth) == _digests(again.ground_truth)


def test_a_different_seed_gives_a_different_authority(authority, tmp_path):
    other = generate(tmp_path / "landing", scale=0.02, seed=8, faults=0.05, as_of=AS_OF)
    assert _digests(authority.landing) != _digests(other.landing)


def test_school_census_tables_keep_the_reference_layout(authority, shared_reference):
    sample = shared_reference / "samples" / "school_census_2024_autumn" / "2024_autumn_pupilonroll.csv"
    reference_header = sample.read_text(encoding="utf-8").splitlines()[0].split(",")
    generated = next((authority.landing / "schools" / "school_census").glob("*_pupilonroll.csv"))
    assert generated.read_text(encoding="utf-8").splitlines()[0].split(",") == reference_header


def test_identifiers_are_valid_except_injected_faults(authority):
    faults = pd.read_csv(authority.ground_truth / "faults.csv", dtype=str, keep_default_na=False)
    bad_nhs = set(faults[faults.column == "nhs_number"].record_id)
    health = pd.read_csv(
        next((authority.landing / "health").rglob("*.csv")), dtype=str, keep_default_na=False
    )
    for row in health.itertuples():
        assert is_valid_nhs_number(row.nhs_number) or row.assessment_id in bad_nhs
    assert bad_nhs, "a 5% fault rate should have injected some NHS number faults"
    person = pd.read_csv(next((authority.landing / "social_care").rglob("ssd_person.csv")), dtype=str)
    assert person.pers_common_child_id.map(is_valid_nhs_number).all()
    assert person.pers_common_child_id.str.startswith("999").all()
    assert person.pers_upn.map(is_valid_upn).all()


def test_ground_truth_maps_every_person_record(authority):
    records = pd.read_csv(authority.ground_truth / "records.csv", dtype=str)
    person = pd.read_csv(next((authority.landing / "social_care").rglob("ssd_person.csv")), dtype=str)
    pupils = pd.concat(
        pd.read_csv(p, dtype=str) for p in (authority.landing / "schools").rglob("*pupilonroll.csv")
    )
    assert set(person.pers_person_id) <= set(records[records.dataset == "ssd_person"].record_id)
    assert set(pupils.pupilonrolltableid) <= set(
        records[records.dataset == "school_census_pupil_on_roll"].record_id
    )


def test_care_episodes_chain_within_each_period(authority):
    eps = pd.read_csv(
        next((authority.landing / "social_care").rglob("ssd_cla_episodes.csv")),
        dtype=str,
        keep_default_na=False,
    )
    for _, period in eps.groupby("clae_cla_id"):
        period = period.sort_values("clae_cla_episode_start_date")
        assert period.clae_cla_episode_start_reason.iloc[0] == "S"
        ends = period.clae_cla_episode_ceased_date.iloc[:-1].tolist()
        starts = period.clae_cla_episode_start_date.iloc[1:].tolist()
        assert ends == starts, "each episode must start the day the previous one ceased"
        assert (period.clae_cla_episode_ceased_reason.iloc[:-1] == "X1").all()


def test_clean_authority_has_no_faults(tmp_path):
    result = generate(tmp_path / "landing", scale=0.01, seed=3, faults=0.0, as_of=AS_OF)
    assert result.faults == 0
    assert pd.read_csv(result.ground_truth / "faults.csv").empty
