"""Key stage 2 (year 6) and key stage 4 (year 11) results, pupil level, with DfE field names.

Attainment follows a latent ability that is lower, on average, for children with more need; SEN, free
school meals and being looked after lower it further, as in the published statistics. No KS2 tests were
taken in 2020 or 2021.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from orchestration.synthetic.population import days

NO_KS2_TESTS = {2020, 2021}
RESULTS_MONTH = 9  # a summer's key stage results reach the local authority in the autumn


def _grade(latent: np.ndarray) -> np.ndarray:
    """GCSE 9-1 grade from a standardised latent score."""
    return np.clip(np.rint(4.6 + 1.9 * latent), 0, 9).astype(int)


def key_stage_results(
    rng: np.random.Generator,
    pop: pd.DataFrame,
    on_roll: pd.DataFrame,
    schools: pd.DataFrame,
    la_number: str,
    as_of: date,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(KS2 rows, KS4 rows) for pupils on roll in year 6 at a summer census and year 11 at a spring one,
    for the summers whose results had been published (in September) by the extract date."""
    on_roll = on_roll.assign(year=on_roll.census.str[:4].astype(int), term=on_roll.census.str[5:])
    last_results = as_of.year if as_of.month >= RESULTS_MONTH else as_of.year - 1
    on_roll = on_roll[on_roll.year <= last_results]
    y6 = on_roll[(on_roll.nc_year == 6) & (on_roll.term == "summer") & ~on_roll.year.isin(NO_KS2_TESTS)]
    y11 = on_roll[(on_roll.nc_year == 11) & (on_roll.term == "spring")]
    y6 = y6.drop_duplicates("child_id", keep="last")
    y11 = y11.drop_duplicates("child_id", keep="last")
    return _ks2(rng, pop, y6, schools, la_number), _ks4(rng, pop, y11, schools, la_number)


def _penalty(pop: pd.DataFrame, rows: pd.DataFrame) -> np.ndarray:
    kids = pop.iloc[rows.child_id.to_numpy()]
    sen = kids.sen_provision.to_numpy()
    return (
        kids.ability.to_numpy()
        - 0.9 * (sen == "E")
        - 0.45 * (sen == "K")
        - 0.3 * rows.fsm_now.to_numpy()
        - 0.35 * rows.in_care.to_numpy()
        # children in need do about as poorly as children looked after (DfE, Outcomes for children in need,
        # including children looked after by local authorities in England: KS2 expected standard about 30%
        # for both, 60% for all pupils)
        - 0.35 * (rows.in_need.to_numpy() & ~rows.in_care.to_numpy())
    )


def _ks2(
    rng: np.random.Generator, pop: pd.DataFrame, rows: pd.DataFrame, schools: pd.DataFrame, la: str
) -> pd.DataFrame:
    n = len(rows)
    latent = _penalty(pop, rows) + 0.55
    subject = {s: latent + rng.normal(0, 0.55, n) for s in ("READ", "MAT", "GPS", "WRIT")}
    school = schools.iloc[rows.school_no.to_numpy()]
    out = {
        "KS2_ACADYR": [f"{y - 1}/{y}" for y in rows.year.to_numpy()],
        "KS2_LA": la,
        "KS2_ESTAB": school.estab.to_numpy(),
        "KS2_URN": school.urn.to_numpy(),
        "child_id": rows.child_id.to_numpy(),
        "census": rows.census.to_numpy(),
    }
    expected = {}
    for s in ("READ", "MAT", "GPS"):
        score = np.clip(np.rint(102 + 7.5 * subject[s]), 80, 120).astype(int)
        absent = rng.random(n) < 0.02
        out[f"KS2_{s}SCORE"] = np.where(absent, "", score.astype(str))
        expected[s] = (score >= 100) & ~absent
        out[f"KS2_{s}EXP"] = expected[s].astype(int).astype(str)
        out[f"KS2_{s}HIGH"] = ((score >= 110) & ~absent).astype(int).astype(str)
    writing = np.select([subject["WRIT"] > 1.1, subject["WRIT"] > -0.55], ["GDS", "EXS"], "WTS")
    out["KS2_WRITTA"] = writing
    out["KS2_WRITTAEXP"] = np.isin(writing, ["EXS", "GDS"]).astype(int).astype(str)
    out["KS2_RWMEXP"] = (
        (expected["READ"] & expected["MAT"] & np.isin(writing, ["EXS", "GDS"])).astype(int).astype(str)
    )
    return pd.DataFrame(out)


def _ks4(
    rng: np.random.Generator, pop: pd.DataFrame, rows: pd.DataFrame, schools: pd.DataFrame, la: str
) -> pd.DataFrame:
    n = len(rows)
    latent = _penalty(pop, rows) + 0.25
    english = _grade(latent + rng.normal(0, 0.5, n))
    maths = _grade(latent + rng.normal(0, 0.5, n))
    others = np.clip(np.rint(4.3 + 1.9 * (latent[:, None] + rng.normal(0, 0.6, (n, 6)))), 0, 9)
    att8 = 2 * english + 2 * maths + others.sum(axis=1)
    progress_latent = latent - pop.ability.to_numpy()[rows.child_id.to_numpy()] + rng.normal(0, 0.6, n)
    p8 = np.round(progress_latent * 1.1 - 0.1, 2)
    school = schools.iloc[rows.school_no.to_numpy()]
    absent = rng.random(n) < 0.03
    # Progress 8 needs the pupil's key stage 2 tests, five years before: none for the cohorts of 2024/25 and
    # 2025/26, whose tests were cancelled (the DfE publishes no Progress 8 for them)
    no_baseline = np.isin(rows.year.to_numpy() - 5, list(NO_KS2_TESTS))
    return pd.DataFrame(
        {
            "KS4_ACADYR": [f"{y - 1}/{y}" for y in rows.year.to_numpy()],
            "KS4_LA": la,
            "KS4_ESTAB": school.estab.to_numpy(),
            "KS4_URN": school.urn.to_numpy(),
            "KS4_ATT8": np.where(absent, "0", (att8 / 1.0).round(1).astype(str)),
            "KS4_P8SCORE": np.where(absent | no_baseline, "", p8.astype(str)),
            "KS4_ENG_GRADE": np.where(absent, "", english.astype(str)),
            "KS4_MAT_GRADE": np.where(absent, "", maths.astype(str)),
            "KS4_L2BASICS_94": ((english >= 4) & (maths >= 4) & ~absent).astype(int).astype(str),
            "KS4_L2BASICS_95": ((english >= 5) & (maths >= 5) & ~absent).astype(int).astype(str),
            "KS4_EBACC_E_PTQ_EE": ((rng.random(n) < 0.4) & ~absent).astype(int).astype(str),
            "child_id": rows.child_id.to_numpy(),
            "census": rows.census.to_numpy(),
        }
    )


__all__ = ["days", "key_stage_results"]
