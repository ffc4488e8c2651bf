"""Health partners' view of children: statutory health assessments, dental checks, immunisations and SDQ
scores of children looked after, and CAMHS referrals for any child. All keyed by NHS number."""

from __future__ import annotations

import numpy as np
import pandas as pd

from orchestration.synthetic.population import (
    FAR_FUTURE,
    Window,
    add_working_days,
    add_years,
    days,
    sigmoid,
    years_between,
)
from orchestration.synthetic.util import choose, repeated_dates


def simulate_health(
    rng: np.random.Generator,
    periods: pd.DataFrame,
    pop: pd.DataFrame,
    window: Window,
    calib: dict,
    in_need_ids: np.ndarray,
) -> dict[str, pd.DataFrame]:
    cfg = calib["health"]
    k = len(periods)
    start = days(periods.start)
    followed = np.minimum(days(periods.end), window.end + 1)
    child = periods.child_id.to_numpy()
    dob = days(pop.dob)[child]

    # initial assessment: due within 20 working days of entering care; held on time or late
    due = add_working_days(start, 20)
    on_time = rng.random(k) < cfg["initial_assessment_on_time_share"]
    held = add_working_days(start, np.where(on_time, rng.integers(5, 21, k), rng.integers(21, 70, k)))
    has_initial = held < followed
    # reviews: every six months under five, every twelve months from five
    review_step = np.where(years_between(dob, held) < 5, 182, 365)
    row, when = repeated_dates(rng, held + review_step, followed, review_step, jitter_days=20)
    keep = rng.random(len(row)) >= cfg["review_assessment_missed_share"]
    row, when = row[keep], when[keep]
    assessments = (
        pd.concat(
            [
                pd.DataFrame(
                    {
                        "period_no": periods.period_no.to_numpy()[has_initial],
                        "child_id": child[has_initial],
                        "assessment_type": "Initial health assessment",
                        "due_date": due[has_initial],
                        "assessment_date": held[has_initial],
                    }
                ),
                pd.DataFrame(
                    {
                        "period_no": periods.period_no.to_numpy()[row],
                        "child_id": child[row],
                        "assessment_type": "Review health assessment",
                        "due_date": np.datetime64("NaT"),
                        "assessment_date": when,
                    }
                ),
            ],
            ignore_index=True,
        )
        .sort_values(["child_id", "assessment_date"], kind="stable")
        .reset_index(drop=True)
    )
    assessments["immunisations_up_to_date"] = (
        rng.random(len(assessments)) < cfg["immunisations_up_to_date_share"]
    )

    # dental checks: about yearly for most children in care from their first birthday
    first_dental = np.maximum(start + rng.integers(30, 200, k).astype("timedelta64[D]"), dob + 365)
    row, when = repeated_dates(rng, first_dental, followed, 365, jitter_days=45)
    seen = rng.random(len(row)) < cfg["dental_check_share"]
    dental = pd.DataFrame(
        {
            "period_no": periods.period_no.to_numpy()[row][seen],
            "child_id": child[row][seen],
            "check_date": when[seen],
        }
    )

    # SDQ: for each collection year at whose 31 March a child aged 4 to 16 has been looked after for twelve
    # months (looked after on 1 April and still on 31 March: the OC2 cohort), a carer completes one during
    # the year; for a few, a reason is recorded instead (carer or young person refused, severity of
    # disability, other)
    sdq = _sdq(rng, periods, start, followed, child, dob, window, pop, cfg)

    camhs = _camhs(rng, pop, window, cfg, periods, in_need_ids)
    return {"assessments": assessments, "dental": dental, "sdq": sdq, "camhs": camhs}


def _camhs(
    rng: np.random.Generator,
    pop: pd.DataFrame,
    window: Window,
    cfg: dict,
    periods: pd.DataFrame,
    in_need_ids: np.ndarray,
) -> pd.DataFrame:
    """Referrals to child and adolescent mental health services for children aged 5 to 17."""
    n = len(pop)
    dob = days(pop.dob)
    lo = np.maximum.reduce([dob + 5 * 365, days(pop.arrive), np.full(n, window.start)])
    hi = np.minimum.reduce([days(pop.eighteenth), days(pop.leave), np.full(n, window.end)])
    years = np.clip((hi - lo).astype(np.int64), 0, None) / 365.25
    need = (
        np.isin(pop.child_id.to_numpy(), in_need_ids) * 1.0
        + np.isin(pop.child_id.to_numpy(), periods.child_id.to_numpy()) * 1.0
    )
    rate = cfg["camhs_referrals_per_year"] * np.exp(0.5 * pop.risk.to_numpy() + 0.6 * need) / np.exp(0.125)
    count = rng.poisson(rate * years)
    row = np.repeat(np.arange(n), count)
    when = lo[row] + (rng.random(len(row)) * (hi[row] - lo[row]).astype(np.int64)).astype("timedelta64[D]")
    accepted = rng.random(len(row)) < sigmoid(0.2 + 0.4 * pop.risk.to_numpy()[row])
    first_seen = np.where(
        accepted, when + rng.integers(14, 120, len(row)).astype("timedelta64[D]"), FAR_FUTURE
    )
    return (
        pd.DataFrame(
            {
                "child_id": pop.child_id.to_numpy()[row],
                "referral_date": when,
                "referral_source": choose(
                    rng,
                    {
                        "GP": 0.45,
                        "School": 0.25,
                        "Social care": 0.12,
                        "Paediatrics": 0.08,
                        "Self or family": 0.10,
                    },
                    len(row),
                ),
                "outcome": np.where(
                    accepted, "Accepted", np.where(rng.random(len(row)) < 0.7, "Signposted", "Declined")
                ),
                "first_appointment_date": np.where(
                    first_seen <= window.end, first_seen, np.datetime64("NaT")
                ).astype("datetime64[D]"),
            }
        )
        .sort_values(["child_id", "referral_date"], kind="stable")
        .reset_index(drop=True)
    )


SDQ_REASONS = {"SDQ2": 0.3, "SDQ3": 0.2, "SDQ4": 0.3, "SDQ5": 0.2}


def _sdq(
    rng: np.random.Generator,
    periods: pd.DataFrame,
    start: np.ndarray,
    followed: np.ndarray,
    child: np.ndarray,
    dob: np.ndarray,
    window: Window,
    pop: pd.DataFrame,
    cfg: dict,
) -> pd.DataFrame:
    ends = np.array(window.year_ends(), dtype="datetime64[D]")
    year_start = np.array(
        [np.datetime64(f"{int(str(e)[:4]) - 1}-04-01") for e in ends], dtype="datetime64[D]"
    )
    p, y = np.meshgrid(np.arange(len(periods)), np.arange(len(ends)), indexing="ij")
    p, y = p.ravel(), y.ravel()
    fourth = add_years(dob[p], 4)
    seventeenth = add_years(dob[p], 17)
    # aged 4 to 16 at some point in the year: the 4th birthday by 31 March, the 17th not before 1 April
    eligible = (
        (start[p] <= year_start[y])
        & (followed[p] > ends[y])
        & (fourth <= ends[y])
        & (seventeenth >= year_start[y])
    )
    p, y, fourth, seventeenth = p[eligible], y[eligible], fourth[eligible], seventeenth[eligible]
    first = np.maximum(year_start[y], fourth)
    last = np.minimum(np.minimum(ends[y], seventeenth - 1), np.minimum(followed[p] - 1, window.end))
    span = np.maximum((last - first).astype(np.int64), 0)
    when = first + (rng.random(len(p)) * (span + 1)).astype(np.int64).astype("timedelta64[D]")
    done = when <= window.end
    p, when = p[done], when[done]
    score = np.clip(
        np.rint(rng.normal(cfg["sdq_mean"], cfg["sdq_sd"], len(p)) + 1.5 * pop.risk.to_numpy()[child[p]]),
        0,
        40,
    ).astype(float)
    no_score = rng.random(len(p)) < cfg.get("sdq_reason_share", 0.04)
    reason = np.where(no_score, choose(rng, SDQ_REASONS, len(p)), "")
    score[no_score] = np.nan
    return pd.DataFrame(
        {
            "period_no": periods.period_no.to_numpy()[p],
            "child_id": child[p],
            "completed_date": when,
            "score": score,
            "reason": reason,
        }
    )
