"""The synthetic authority's rates, measured from the files it writes, against the targets in
orchestration/synthetic/data/calibration.yml (from the published statistics, docs/domain.md §7), and the
directions the published outcomes show."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from orchestration.synthetic import generate
from orchestration.synthetic.population import load_calibration

AS_OF = date(2026, 3, 31)
SSD = f"social_care/ssd/{AS_OF.isoformat()}"
SNAPSHOTS = [pd.Timestamp(f"{y}-03-31") for y in (2023, 2024, 2025, 2026)]


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    root = tmp_path_factory.mktemp("la")
    result = generate(root / "landing", scale=0.25, seed=11, faults=0.0, as_of=AS_OF)
    return result


def _csv(result, pattern, dates=()):
    paths = sorted(result.landing.glob(pattern))
    frame = pd.concat(
        [pd.read_csv(p, dtype=str, keep_default_na=False).assign(_file=p.name) for p in paths],
        ignore_index=True,
    )
    for column in dates:
        frame[column] = pd.to_datetime(frame[column].replace("", None), format="mixed")
    return frame


@pytest.fixture(scope="module")
def measures(clean):
    children = pd.read_csv(clean.ground_truth / "children.csv", parse_dates=["dob", "arrive", "leave"])
    records = pd.read_csv(clean.ground_truth / "records.csv", dtype=str)
    person_child = records[records.dataset == "ssd_person"].set_index("record_id").child_id.astype(int)
    eps = _csv(
        clean, f"{SSD}/ssd_cla_episodes.csv", ["clae_cla_episode_start_date", "clae_cla_episode_ceased_date"]
    )
    cin = _csv(clean, f"{SSD}/ssd_cin_episodes.csv", ["cine_referral_date", "cine_close_date"])
    cp = _csv(clean, f"{SSD}/ssd_cp_plans.csv", ["cppl_cp_plan_start_date", "cppl_cp_plan_end_date"])
    out = {
        k: []
        for k in (
            "looked_after_per_10000",
            "in_need_per_10000",
            "child_protection_per_10000",
            "referrals_per_10000_per_year",
        )
    }
    for day in SNAPSHOTS:
        alive = children[
            (children.dob <= day)
            & (children.dob + pd.DateOffset(years=18) > day)
            & (children.arrive <= day)
            & (children.leave.isna() | (children.leave > day))
        ]
        n = len(alive)

        def open_on(frame, start, end, day=day):
            return frame[(frame[start] <= day) & (frame[end].isna() | (frame[end] > day))]

        out["looked_after_per_10000"].append(
            open_on(
                eps, "clae_cla_episode_start_date", "clae_cla_episode_ceased_date"
            ).clae_person_id.nunique()
            / n
            * 1e4
        )
        out["in_need_per_10000"].append(
            open_on(cin, "cine_referral_date", "cine_close_date").cine_person_id.nunique() / n * 1e4
        )
        out["child_protection_per_10000"].append(
            open_on(cp, "cppl_cp_plan_start_date", "cppl_cp_plan_end_date").cppl_person_id.nunique() / n * 1e4
        )
        year = cin[(cin.cine_referral_date > day - pd.DateOffset(years=1)) & (cin.cine_referral_date <= day)]
        out["referrals_per_10000_per_year"].append(len(year) / n * 1e4)
    measured = {k: float(np.mean(v)) for k, v in out.items()}

    # re-referrals: referrals within 12 months of an earlier referral of the same child
    cin = cin.assign(child=cin.cine_person_id.map(person_child)).sort_values(["child", "cine_referral_date"])
    gap = cin.groupby("child").cine_referral_date.diff()
    recent = cin.cine_referral_date > pd.Timestamp("2022-03-31")
    measured["rereferral_within_12_months"] = float((gap[recent] <= pd.Timedelta(days=365)).mean())

    # repeat child protection plans: of the plans started in the last two years, those with an earlier plan
    cp = cp.sort_values("cppl_cp_plan_start_date", kind="stable")
    earlier = cp.groupby("cppl_person_id").cumcount() > 0
    recent = cp.cppl_cp_plan_start_date > pd.Timestamp("2024-03-31")
    measured["repeat_cp_plans_share"] = float(earlier[recent].mean())

    pupils = _csv(clean, "schools/school_census/*_spring_pupilonroll.csv")
    fsm = _csv(clean, "schools/school_census/*_spring_fsmperiodsonroll.csv", ["fsmstartdate", "fsmenddate"])
    fsm["census_day"] = pd.to_datetime(fsm._file.str[:4] + "-01-15")
    eligible = fsm[
        (fsm.fsmstartdate <= fsm.census_day) & (fsm.fsmenddate.isna() | (fsm.fsmenddate > fsm.census_day))
    ]
    measured["fsm_share"] = eligible.pupilonrolltableid.nunique() / len(pupils)

    year_rows = _attendance_years(clean, records)
    measured["persistent_absence_share"] = float(year_rows.persistent.mean())
    ks2 = _csv(clean, "schools/ks2/*.csv")
    ks4 = _csv(clean, "schools/ks4/*.csv")
    measured["ks2_rwm_expected_share"] = float((ks2.KS2_RWMEXP == "1").mean())
    measured["ks4_basics_94_share"] = float((ks4.KS4_L2BASICS_94 == "1").mean())
    return measured, year_rows, ks2, ks4, records, eps, person_child


def _attendance_years(clean, records):
    """Sessions possible and missed per child per census year (the academic year ending that summer)."""
    pupils = _csv(clean, "schools/school_census/*_pupilonroll.csv")
    child = records[records.dataset == "school_census_pupil_on_roll"].set_index("record_id").child_id
    pupils["child"] = pupils.pupilonrolltableid.map(child)
    pupils["year"] = pupils._file.str[:4].astype(int)
    for c in ("termlysessionspossible", "termlysessionsauthorised", "termlysessionsunauthorised"):
        pupils[c] = pd.to_numeric(pupils[c].replace("", None))
    pupils = pupils[pupils.termlysessionspossible > 0]
    per = (
        pupils.groupby(["child", "year"])[
            ["termlysessionspossible", "termlysessionsauthorised", "termlysessionsunauthorised"]
        ]
        .sum()
        .reset_index()
    )
    per["rate"] = (per.termlysessionsauthorised + per.termlysessionsunauthorised) / per.termlysessionspossible
    per["persistent"] = per.rate >= 0.1
    return per[(per.year >= 2022) & (per.year <= 2025)]


@pytest.mark.parametrize("measure", list(load_calibration()["targets"]))
def test_rates_fall_within_tolerance_of_the_published_figures(measures, measure):
    target, tolerance = load_calibration()["targets"][measure]
    value = measures[0][measure]
    assert abs(value - target) <= tolerance, f"{measure}: {value:.3f}, target {target} +/- {tolerance}"


def test_children_looked_after_miss_more_school_than_all_pupils(measures):
    _, years, _, _, _, eps, person_child = measures
    looked_after = set(eps.clae_person_id.map(person_child).dropna().astype(int).astype(str))
    years = years.assign(looked_after=years.child.astype(str).isin(looked_after))
    by = years.groupby("looked_after").agg(rate=("rate", "mean"), persistent=("persistent", "mean"))
    assert by.loc[True, "persistent"] > by.loc[False, "persistent"] + 0.05
    assert by.loc[True, "rate"] > by.loc[False, "rate"]


def test_attainment_is_lower_for_children_looked_after(measures):
    _, _, ks2, ks4, records, eps, person_child = measures
    looked_after = set(eps.clae_person_id.map(person_child).dropna().astype(int).astype(str))
    truth = records[records.dataset.isin(["ks2_results", "ks4_results"])]
    child_of = dict(zip(truth.file + ":" + truth.line, truth.child_id, strict=True))
    for frame, measure, stage in ((ks2, "KS2_RWMEXP", "ks2"), (ks4, "KS4_L2BASICS_94", "ks4")):
        line = frame.groupby("_file").cumcount() + 2
        key = "schools/" + stage + "/" + frame._file + ":" + line.astype(str)
        cla = key.map(child_of).isin(looked_after)
        assert cla.sum() >= 3
        assert (frame[measure][cla] == "1").mean() < (frame[measure][~cla] == "1").mean()


def test_older_entrants_to_care_move_placement_more_often(clean, measures):
    *_, eps, _ = measures
    person = _csv(clean, f"{SSD}/ssd_person.csv", ["pers_dob"]).drop_duplicates("pers_person_id")
    dob = person.set_index("pers_person_id").pers_dob
    eps = eps.sort_values("clae_cla_episode_start_date", kind="stable")
    first = eps.groupby("clae_cla_id").first()
    first = first[first.clae_cla_episode_start_reason == "S"]  # periods seen from their start
    last_end = eps.groupby("clae_cla_id").clae_cla_episode_ceased_date.last().reindex(first.index)
    open_ = eps.groupby("clae_cla_id").clae_cla_episode_ceased_date.apply(lambda d: d.isna().any())
    until = last_end.where(~open_.reindex(first.index), pd.Timestamp(AS_OF))
    years = (until - first.clae_cla_episode_start_date).dt.days / 365.25
    moves = eps[eps.clae_cla_episode_start_reason.isin(["P", "B"])].groupby("clae_cla_id").size()
    rate = (moves.reindex(first.index).fillna(0) / years)[years >= 0.5]
    age = (first.clae_cla_episode_start_date - dob.reindex(first.clae_person_id).to_numpy()).dt.days / 365.25
    older = age.reindex(rate.index) >= 10
    assert older.sum() >= 10 and (~older).sum() >= 10
    assert rate[older].mean() > rate[~older].mean()
