"""Statutory health assessments of children looked after, as the community health trust records them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from orchestration.synthetic.population import Window, days, years_between
from orchestration.synthetic.util import hex_ids


def simulate_health_assessments(
    rng: np.random.Generator, periods: pd.DataFrame, pop: pd.DataFrame, window: Window, calib: dict
) -> pd.DataFrame:
    """An initial assessment after entry (due within 20 working days), then reviews every six months
    under five and every twelve months from five, while the child stays in care."""
    cfg = calib["health"]
    n = len(periods)
    start = days(periods.start)
    on_time = rng.random(n) < cfg["initial_assessment_on_time_share"]
    working_days = np.where(on_time, rng.integers(5, 21, n), rng.integers(21, 70, n))
    initial = np.busday_offset(start, working_days, roll="forward")

    dob = pop.set_index("child_id").dob.reindex(periods.child_id).to_numpy()
    period_end = np.minimum(days(periods.end), window.end)
    max_reviews = np.clip(((period_end - initial).astype(int) // 182) + 1, 0, None)
    idx = np.repeat(np.arange(n), max_reviews)
    seq = pd.Series(idx).groupby(idx).cumcount().to_numpy() + 1
    # step the review dates: 182 days while under five, 365 days after
    step = np.where(years_between(dob[idx], initial[idx]) < 5, 182, 365)
    review_day = initial[idx] + (seq * step + rng.integers(-20, 21, len(idx))).astype("timedelta64[D]")
    keep = (review_day < period_end[idx]) & (rng.random(len(idx)) >= cfg["review_assessment_missed_share"])

    assessments = pd.concat(
        [
            pd.DataFrame(
                {
                    "period": np.arange(n),
                    "assessment_type": "Initial health assessment",
                    "assessment_date": initial,
                }
            ),
            pd.DataFrame(
                {
                    "period": idx[keep],
                    "assessment_type": "Review health assessment",
                    "assessment_date": review_day[keep],
                }
            ),
        ],
        ignore_index=True,
    )
    assessments = assessments[
        (assessments.assessment_date >= window.start) & (assessments.assessment_date <= window.end)
    ].sort_values(["period", "assessment_date"], kind="stable")
    per = periods.iloc[assessments.period.to_numpy()]
    assessments["child_id"] = per.child_id.to_numpy()
    assessments["due_date"] = np.where(
        assessments.assessment_type == "Initial health assessment",
        np.busday_offset(days(per.start), 20, roll="forward"),
        np.datetime64("NaT"),
    )
    assessments["outcome"] = "Completed"
    assessments["assessment_id"] = np.char.upper(hex_ids(rng, len(assessments), 10))
    return assessments.drop(columns="period").reset_index(drop=True)
