"""The synthetic authority: deterministic, real layouts, identifiers valid except for injected faults,
coherent care histories, a complete ground truth."""

import hashlib
from datetime import date

import numpy as np
import pandas as pd
import pytest

from orchestration.identifiers import is_valid_nhs_number, is_valid_upn
from orchestration.synthetic import generate

AS_OF = date(2026, 3, 31)
SSD = f"social_care/ssd/{AS_OF.isoformat()}"


@pytest.fixture(scope="module")
def authority(tmp_path_factory):
    root = tmp_path_factory.mktemp("la")
    return generate(root / "landing", scale=0.03, seed=7, faults=0.05, as_of=AS_OF)


@pytest.fixture(scope="module")
def clean_authority(tmp_path_factory):
    root = tmp_path_factory.mktemp("clean")
    return generate(root / "landing", scale=0.03, seed=9, faults=0.0, as_of=AS_OF)


def _read(result, relative, **kwargs):
    return pd.read_csv(result.landing / relative, dtype=str, keep_default_na=False, **kwargs)


def _digests(folder):
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_byte_identical_files(authority, tmp_path):
    again = generate(tmp_path / "landing", scale=0.03, seed=7, faults=0.05, as_of=AS_OF)
    assert _digests(authority.landing) == _digests(again.landing)
    assert _digests(authority.ground_truth) == _digests(again.ground_truth)


def test_a_different_seed_gives_a_different_authority(authority, tmp_path):
    other = generate(tmp_path / "landing", scale=0.03, seed=8, faults=0.05, as_of=AS_OF)
    assert _digests(authority.landing) != _digests(other.landing)


@pytest.mark.parametrize(
    "table",
    [
        "pupilonroll",
        "pupilnolongeronroll",
        "termlysessiondetailsonroll",
        "termlysessiondetailsoffroll",
        "termlyexclusionsonroll",
        "termlyexclusionsoffroll",
        "addressesoffroll",
        "fsmperiodsonroll",
    ],
)
def test_school_census_tables_keep_the_reference_layout(authority, shared_reference, table):
    sample = shared_reference / "samples" / "school_census_2024_autumn" / f"2024_autumn_{table}.csv"
    reference = sample.read_text(encoding="utf-8").splitlines()[0].split(",")
    generated = sorted((authority.landing / "schools" / "school_census").glob(f"*_{table}.csv"))
    faulted = set(pd.read_csv(authority.ground_truth / "faults.csv", dtype=str).file.dropna())
    unfaulted = [p for p in generated if p.relative_to(authority.landing).as_posix() not in faulted]
    # from 2024 on, exactly the reference extract's layout; before, that year's (a column since renamed)
    recent = [p for p in unfaulted if p.name >= "2024"]
    assert recent, f"no unfaulted {table} file from 2024 on"
    for p in recent:
        assert p.read_text(encoding="utf-8").splitlines()[0].split(",") == reference, p.name


def test_every_partner_dataset_is_written(authority):
    folders = {p.parent.relative_to(authority.landing).as_posix() for p in authority.landing.rglob("*.csv")}
    assert {
        SSD,
        "schools/school_census",
        "schools/ks2",
        "schools/ks4",
        "health/health_assessments",
        "health/dental_checks",
        "health/sdq_scores",
        "health/camhs_referrals",
    } <= folders
    ssd_tables = {p.stem for p in (authority.landing / SSD).glob("*.csv")}
    for table in (
        "ssd_person",
        "ssd_contacts",
        "ssd_cin_episodes",
        "ssd_cin_assessments",
        "ssd_assessment_factors",
        "ssd_cin_plans",
        "ssd_s47_enquiry",
        "ssd_initial_cp_conference",
        "ssd_cp_plans",
        "ssd_cp_reviews",
        "ssd_legal_status",
        "ssd_cla_episodes",
        "ssd_cla_placement",
        "ssd_cla_reviews",
        "ssd_missing",
        "ssd_cla_previous_permanence",
        "ssd_permanence",
        "ssd_care_leavers",
        "ssd_sdq_scores",
        "ssd_cla_health",
        "ssd_cla_immunisations",
        "ssd_cla_substance_misuse",
        "ssd_cla_convictions",
        "ssd_involvements",
        "ssd_professionals",
        "ssd_immigration_status",
        "ssd_disability",
    ):
        assert table in ssd_tables


def _faulted(faults: pd.DataFrame, dataset: str, kinds: set[str]) -> set[str]:
    rows = faults[(faults.dataset == dataset) & faults.fault.isin(kinds)]
    return set(rows.record_id.astype(str))


def test_identifiers_are_valid_except_injected_faults(authority):
    faults = pd.read_csv(authority.ground_truth / "faults.csv", dtype=str, keep_default_na=False)
    faulted_files = set(faults.file) - {""}
    nhs_faults = {"wrong_nhs_check_digit", "missing_nhs_number", "transposed_names"}
    checked = 0
    for pattern, dataset, id_col, nhs_col in (
        ("health/health_assessments/*.csv", "health_assessments", "assessment_id", "nhs_number"),
        ("health/camhs_referrals/*.csv", "camhs_referrals", "referral_id", "nhs_number"),
        (f"{SSD}/ssd_person.csv", "ssd_person", "pers_person_id", "pers_common_child_id"),
    ):
        for path in authority.landing.glob(pattern):
            if path.relative_to(authority.landing).as_posix() in faulted_files:
                continue
            frame = _read(authority, path.relative_to(authority.landing))
            bad = frame[~frame[nhs_col].map(is_valid_nhs_number)]
            allowed = _faulted(faults, dataset, nhs_faults) | set(
                faults[faults.fault == "person_recorded_twice"].record_id
            )
            unexplained = bad[~bad[id_col].isin(allowed)]
            if dataset == "ssd_person":  # second records of a child recorded twice may lack the number
                unexplained = unexplained[unexplained[nhs_col] != ""]
            assert unexplained.empty, f"{path.name}: {unexplained[nhs_col].tolist()[:5]}"
            assert frame[nhs_col][frame[nhs_col] != ""].str.startswith("999").all()
            checked += len(frame)
    upn_faults = {"wrong_upn_check_letter", "missing_upn"}
    for path in (authority.landing / "schools" / "school_census").glob("*_pupilonroll.csv"):
        if path.relative_to(authority.landing).as_posix() in faulted_files:
            continue
        frame = _read(authority, path.relative_to(authority.landing))
        bad = frame[~frame.upn.map(is_valid_upn)]
        unexplained = bad[
            ~bad.pupilonrolltableid.isin(_faulted(faults, "school_census_pupil_on_roll", upn_faults))
        ]
        assert unexplained.empty, f"{path.name}: {unexplained.upn.tolist()[:5]}"
        checked += len(frame)
    assert checked > 1000
    assert _faulted(faults, "health_assessments", nhs_faults) or _faulted(
        faults, "camhs_referrals", nhs_faults
    )


def test_care_episodes_chain_by_the_903_rules(clean_authority):
    eps = _read(clean_authority, f"{SSD}/ssd_cla_episodes.csv")
    assert len(eps) > 20
    eps = eps.sort_values(["clae_person_id", "clae_cla_episode_start_date"], kind="stable")
    for _, period in eps.groupby("clae_cla_id"):
        starts = period.clae_cla_episode_start_date.tolist()
        ends = period.clae_cla_episode_ceased_date.tolist()
        reasons = period.clae_cla_episode_ceased_reason.tolist()
        if period.clae_entered_care_date.iloc[0] == starts[0]:
            assert period.clae_cla_episode_start_reason.iloc[0] == "S"  # a period seen from its start
        assert set(period.clae_cla_episode_start_reason.iloc[1:]) <= {"L", "P", "B", "T", "U"}
        assert ends[:-1] == starts[1:], "an X1 is followed by a continuation starting the same day"
        assert reasons[:-1] == ["X1"] * (len(reasons) - 1)
        for s, e in zip(starts, ends, strict=True):
            assert e == "" or e > s, "an episode ends after it starts"
        assert (ends[-1] == "") == (reasons[-1] == ""), "date and reason ceased are both coded or both blank"
    # a child's periods of care never overlap
    periods = (
        eps.groupby(["clae_person_id", "clae_cla_id"])
        .agg(start=("clae_cla_episode_start_date", "min"), end=("clae_cla_episode_ceased_date", "last"))
        .reset_index()
    )
    periods = periods.sort_values(["clae_person_id", "start"])
    previous_end = periods.groupby("clae_person_id").end.shift()
    overlapping = periods[previous_end.notna() & ((previous_end == "") | (previous_end > periods.start))]
    assert overlapping.empty


def test_sdq_scores_only_for_children_looked_after_twelve_months(clean_authority):
    """An SDQ (or the reason there is none) falls in a collection year at whose 31 March the child has been
    looked after for twelve months: in care on the 1 April before (the OC2 cohort)."""
    eps = _read(clean_authority, f"{SSD}/ssd_cla_episodes.csv")
    sdq = _read(clean_authority, f"{SSD}/ssd_sdq_scores.csv")
    assert len(sdq) and (sdq.csdq_sdq_score != "").mean() > 0.8
    assert ((sdq.csdq_sdq_score == "") != (sdq.csdq_sdq_reason == "")).all()  # a score or a reason
    periods = eps[["clae_person_id", "clae_entered_care_date"]].drop_duplicates()
    periods["entered"] = pd.to_datetime(periods.clae_entered_care_date)
    sdq["completed"] = pd.to_datetime(sdq.csdq_sdq_completed_date)
    matched = pd.merge_asof(
        sdq.sort_values("completed"),
        periods.sort_values("entered"),
        left_on="completed",
        right_on="entered",
        left_by="csdq_person_id",
        right_by="clae_person_id",
    )
    assert matched.entered.notna().all()
    year = matched.completed.dt.year + (matched.completed.dt.month >= 4)
    year_start = pd.to_datetime({"year": year - 1, "month": 4, "day": 1})
    assert (matched.entered <= year_start).all()


def test_health_items_belong_to_children_looked_after_at_the_time(clean_authority):
    eps = _read(clean_authority, f"{SSD}/ssd_cla_episodes.csv")
    span = eps.groupby("clae_person_id").agg(first=("clae_cla_episode_start_date", "min"))
    for table, date_col, person_col in (
        ("ssd_sdq_scores", "csdq_sdq_completed_date", "csdq_person_id"),
        ("ssd_cla_health", "clah_health_check_date", "clah_person_id"),
    ):
        rows = _read(clean_authority, f"{SSD}/{table}.csv")
        assert len(rows)
        assert rows[person_col].isin(span.index).all()
        assert (rows[date_col].to_numpy() >= span.loc[rows[person_col], "first"].to_numpy()).all()


def test_ground_truth_covers_every_person_record(authority):
    records = pd.read_csv(authority.ground_truth / "records.csv", dtype=str, keep_default_na=False)
    children = pd.read_csv(authority.ground_truth / "children.csv", dtype=str)
    assert records.child_id.isin(children.child_id).all()
    for dataset, pattern in (
        ("ssd_person", f"{SSD}/ssd_person.csv"),
        ("school_census_pupil_on_roll", "schools/school_census/*_pupilonroll.csv"),
        ("ks2_results", "schools/ks2/*.csv"),
        ("camhs_referrals", "health/camhs_referrals/*.csv"),
    ):
        for path in authority.landing.glob(pattern):
            relative = path.relative_to(authority.landing).as_posix()
            in_file = sum(1 for line in path.read_bytes().splitlines()[1:] if line.strip(b", \r"))
            covered = records[records.file == relative]
            assert len(covered) >= in_file - 1, relative  # a truncated last line may be unreadable
            assert (covered.dataset == dataset).all()


def test_faults_zero_gives_a_clean_authority(tmp_path):
    result = generate(tmp_path / "landing", scale=0.01, seed=3, faults=0.0, as_of=AS_OF)
    assert result.faults == 0
    assert pd.read_csv(result.ground_truth / "faults.csv").empty


def test_file_level_faults_are_logged_with_their_file(authority):
    faults = pd.read_csv(authority.ground_truth / "faults.csv", dtype=str, keep_default_na=False)
    files = faults[faults.file != ""]
    assert len(files) > 0
    for row in files.itertuples():
        path = authority.landing / row.file
        assert path.exists()
        if row.fault == "byte_order_mark":
            assert path.read_bytes().startswith(b"\xef\xbb\xbf")
        if row.fault == "truncated":
            assert not path.read_bytes().endswith(b"\n")


def test_names_are_realistic_for_the_ethnic_mix(authority):
    children = pd.read_csv(authority.ground_truth / "children.csv", dtype=str)
    pakistani = children[children.ethnicity == "APKN"]
    british = children[children.ethnicity == "WBRI"]
    assert len(pakistani) > 20
    # each community draws from its own name lists
    assert np.mean(british.surname.isin(set(pakistani.surname) - {"Ali", "Ahmed"})) < 0.02
    assert np.mean(pakistani.surname.isin(["Smith", "Jones", "Taylor", "Brown", "Williams"])) < 0.02


def test_no_result_or_record_is_dated_after_the_extract(clean_authority):
    """An extract of 31 March 2026 cannot hold the results of summer 2026 exams, nor any later date."""
    last_results = AS_OF.year - 1  # a summer's results reach the LA in the autumn after it
    for name, column in (("ks2_results", "KS2_ACADYR"), ("ks4_results", "KS4_ACADYR")):
        files = sorted((clean_authority.landing / "schools").rglob(f"{name}_*.csv"))
        assert files, name
        years = pd.concat(_read_path(f, column) for f in files)
        assert years.str[-4:].astype(int).max() == last_results, name


def _read_path(path, column):
    return pd.read_csv(path, dtype=str, usecols=[column])[column]


def test_no_progress_8_for_cohorts_whose_key_stage_2_tests_were_cancelled(clean_authority):
    """KS2 tests were cancelled in 2020 and 2021, so the GCSE cohorts of 2025 and 2026 have no Progress 8
    (the DfE publishes none for them); earlier cohorts have it."""
    ks4 = clean_authority.landing / "schools" / "ks4"
    p8_2024 = _read_path(ks4 / "ks4_results_2024.csv", "KS4_P8SCORE")
    p8_2025 = _read_path(ks4 / "ks4_results_2025.csv", "KS4_P8SCORE")
    assert p8_2024.notna().mean() > 0.9
    assert p8_2025.isna().all()


def test_deprivation_of_liberty_orders_lie_within_adolescents_childrens_home_placements(tmp_path):
    """The 903's DoLo table (from 2026/27), as the authority keeps it: each order within one K2 placement of
    its child (rules 705, 707, 709), after the child's birth (708), and about as many as calibrated."""
    from orchestration.synthetic.population import load_calibration

    as_of = date(2027, 4, 30)
    result = generate(tmp_path / "landing", scale=0.3, seed=5, faults=0.0, as_of=as_of)
    orders = _read(result, f"social_care/ssda903/{as_of.isoformat()}/dolo.csv")
    assert list(orders.columns) == ["CHILD", "DOB", "DOLO_START", "DOLO_END"]
    place = _read(result, f"social_care/ssd/{as_of.isoformat()}/ssd_cla_placement.csv")
    episodes = _read(result, f"social_care/ssd/{as_of.isoformat()}/ssd_cla_episodes.csv")

    def ssd_day(text: pd.Series) -> pd.Series:
        return pd.to_datetime(text.str.slice(0, 10).replace("", None), format="%Y-%m-%d")

    def dmy(text: pd.Series) -> pd.Series:
        return pd.to_datetime(text.replace("", None), format="%d/%m/%Y")

    orders = orders.assign(start=dmy(orders.DOLO_START), end=dmy(orders.DOLO_END), dob=dmy(orders.DOB))
    place = place.assign(
        start=ssd_day(place.clap_cla_placement_start_date), end=ssd_day(place.clap_cla_placement_end_date)
    )
    assert len(orders) > 0
    pairs = orders.reset_index().merge(
        place, left_on="CHILD", right_on="clap_person_id", suffixes=("", "_pl")
    )
    inside = pairs[
        pairs.clap_cla_placement_type.eq("K2")
        & (pairs.start >= pairs.start_pl)
        & (pairs.end_pl.isna() | (pairs.end.notna() & (pairs.end < pairs.end_pl)))
    ]
    assert set(inside["index"]) == set(orders.index), "every order lies within a K2 placement of its child"
    assert (orders.start > orders.dob).all()
    assert (orders.end.isna() | (orders.end > orders.start)).all()
    ordered = orders.sort_values(["CHILD", "start"])
    previous_end = ordered.groupby("CHILD").end.shift()
    assert not (ordered.CHILD.duplicated() & (previous_end.isna() | (previous_end > ordered.start))).any()
    # the calibrated rate: orders a year per child looked after at the extract date, since the court opened
    cfg = load_calibration()["social_care"]["dolo"]
    looked_after = episodes.loc[episodes.clae_cla_episode_ceased_date.eq(""), "clae_person_id"].nunique()
    years = (pd.Timestamp(as_of) - pd.Timestamp(cfg["from"])).days / 365.25
    expected = cfg["per_looked_after_per_year"] * looked_after * years
    assert 0.4 * expected <= len(orders) <= 2.0 * expected, (len(orders), expected)


def test_deprivation_of_liberty_faults_are_logged_and_caught_by_the_pre_check(tmp_path):
    from orchestration.returns.ssda903.build import COLUMNS
    from orchestration.returns.ssda903.prechecks import precheck

    as_of = date(2027, 4, 30)
    result = generate(tmp_path / "landing", scale=0.3, seed=5, faults=0.2, as_of=as_of)
    orders = _read(result, f"social_care/ssda903/{as_of.isoformat()}/dolo.csv")
    faults = pd.read_csv(result.ground_truth / "faults.csv", dtype=str, keep_default_na=False)
    injected = faults[faults.fault.eq("dolo_end_before_start")]
    assert len(injected) > 0
    # the orders beside an otherwise empty return: 702 reads nothing else
    empty = {name: pd.DataFrame(columns=columns) for name, columns in COLUMNS.items()}
    found = precheck(empty | {"dolo": orders}, 2027)
    flagged = found[found.rule.eq("WC903-702")]
    keys = (orders.CHILD + ":" + orders.DOLO_START).to_numpy()
    assert sorted(keys[flagged.row.astype(int)]) == sorted(injected.record_id)
