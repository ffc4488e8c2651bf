"""Periods of care and their 903-style episodes, simulated for the whole population at once."""

from __future__ import annotations

import numpy as np
import pandas as pd

from orchestration.synthetic.population import FAR_FUTURE, Window, days, years_between
from orchestration.synthetic.util import choose, postcodes

_END_REASONS_UNDER_5 = {"E11": 0.30, "E4A": 0.33, "E45": 0.12, "E46": 0.08, "E41": 0.05, "E13": 0.12}
_END_REASONS_OLDER = {"E4A": 0.48, "E13": 0.18, "E45": 0.08, "E8": 0.10, "E4B": 0.10, "E47": 0.06}
_END_REASONS_AGED_OUT = {"E17": 0.25, "E5": 0.45, "E6": 0.15, "E8": 0.15}
_PLACEMENT_CHANGE_REASONS = {
    "CARPL": 0.40,
    "CREQB": 0.15,
    "CREQO": 0.12,
    "CHILD": 0.08,
    "LAREQ": 0.10,
    "STAND": 0.05,
    "OTHER": 0.10,
}
_PLACEMENTS_UNDER_16 = {
    "U4": 0.45,
    "U6": 0.17,
    "U1": 0.09,
    "U3": 0.06,
    "K2": 0.12,
    "P1": 0.06,
    "R1": 0.02,
    "S1": 0.03,
}
_PLACEMENTS_16_PLUS = {"K3": 0.30, "U4": 0.30, "U6": 0.12, "K2": 0.16, "P1": 0.06, "U1": 0.06}
_PROVIDER = {"U1": "PR1", "U3": "PR1", "P1": "PR0", "R1": "PR4", "S1": "PR4"}
_NEEDS_URN = {"U1", "U3", "U4", "U6", "K2", "K3", "S1"}


def simulate_care_periods(
    rng: np.random.Generator, pop: pd.DataFrame, window: Window, calib: dict
) -> pd.DataFrame:
    """At most one period of care per child in the window, with a risk-weighted chance of entry."""
    cfg = calib["social_care"]
    lookback = window.start - np.timedelta64(10 * 365, "D")
    lo = np.maximum.reduce([days(pop.dob), days(pop.arrive), np.full(len(pop), lookback)])
    hi = np.minimum.reduce([days(pop.leave), days(pop.eighteenth), np.full(len(pop), window.end)])
    exposure_days = (hi - lo).astype(int)
    exposed = exposure_days > 0
    hazard = cfg["care_entry_base_hazard"] * np.exp(cfg["care_entry_risk_weight"] * pop.risk.to_numpy())
    p_enter = 1.0 - np.exp(-hazard * np.clip(exposure_days, 0, None) / 365.25)
    enters = exposed & (rng.random(len(pop)) < p_enter)

    kids = pop.loc[enters].reset_index(drop=True)
    k = len(kids)
    start = lo[enters] + (rng.random(k) * exposure_days[enters]).astype("timedelta64[D]")
    duration = np.maximum(1, rng.exponential(cfg["mean_years_in_care"] * 365.25, k)).astype("timedelta64[D]")
    natural_end = start + duration
    eighteenth = days(kids.eighteenth)
    aged_out = natural_end >= eighteenth
    end = np.where(aged_out, eighteenth, natural_end).astype("datetime64[D]")
    age_at_entry = years_between(days(kids.dob), start)

    reason = np.where(
        aged_out,
        choose(rng, _END_REASONS_AGED_OUT, k),
        np.where(age_at_entry < 5, choose(rng, _END_REASONS_UNDER_5, k), choose(rng, _END_REASONS_OLDER, k)),
    )
    still_open = end > window.end
    periods = pd.DataFrame(
        {
            "child_id": kids.child_id.to_numpy(),
            "start": start,
            "end": np.where(still_open, FAR_FUTURE, end).astype("datetime64[D]"),
            "end_reason": np.where(still_open, "", reason),
            "age_at_entry": age_at_entry,
            "legal_status": choose(rng, cfg["legal_status"], k),
            "primary_need": choose(rng, cfg["primary_need"], k),
        }
    )
    # the SSD keeps six years: periods that ended before the window are not in the extract
    periods = periods[periods.end >= window.start].reset_index(drop=True)
    periods["period_no"] = np.arange(len(periods))
    return periods


def simulate_episodes(
    rng: np.random.Generator, periods: pd.DataFrame, pop: pd.DataFrame, window: Window, calib: dict
) -> pd.DataFrame:
    """Split each period into placements. Each placement is one 903 episode: S first, then P."""
    cfg = calib["social_care"]["placement_moves_per_year"]
    observed_end = np.minimum(days(periods.end), window.end)
    length = (observed_end - days(periods.start)).astype(int)
    rate = np.where(periods.age_at_entry.to_numpy() >= 10, cfg["over_10"], cfg["under_10"])
    moves = rng.poisson(rate * length / 365.25)
    moves = np.minimum(moves, np.maximum(length - 1, 0))  # each episode lasts at least a day

    period_idx = np.repeat(np.arange(len(periods)), moves)
    offsets = 1 + (rng.random(len(period_idx)) * (length[period_idx] - 1)).astype(int)
    change = pd.DataFrame({"period_idx": period_idx, "offset": offsets}).drop_duplicates()
    first = pd.DataFrame({"period_idx": np.arange(len(periods)), "offset": 0})
    eps = (
        pd.concat([first, change]).sort_values(["period_idx", "offset"], kind="stable").reset_index(drop=True)
    )
    eps["seq"] = eps.groupby("period_idx").cumcount()
    eps["is_last"] = eps.groupby("period_idx").offset.transform("max") == eps.offset

    per = periods.iloc[eps.period_idx.to_numpy()].reset_index(drop=True)
    eps["child_id"] = per.child_id.to_numpy()
    eps["period_no"] = per.period_no.to_numpy()
    eps["start"] = days(per.start) + eps.offset.to_numpy().astype("timedelta64[D]")
    next_start = eps.groupby("period_idx").start.shift(-1)
    eps["end"] = np.where(eps.is_last, days(per.end), next_start.to_numpy()).astype("datetime64[D]")
    eps["rne"] = np.where(eps.seq == 0, "S", "P")
    eps["rec"] = np.where(eps.is_last, per.end_reason.to_numpy(), "X1")
    eps["reason_place_change"] = np.where(eps.is_last, "", choose(rng, _PLACEMENT_CHANGE_REASONS, len(eps)))
    eps["legal_status"] = per.legal_status.to_numpy()
    eps["primary_need"] = per.primary_need.to_numpy()

    dob = pop.set_index("child_id").dob.reindex(eps.child_id).to_numpy()
    age = years_between(dob, days(eps.start))
    n = len(eps)
    place = np.where(age >= 16, choose(rng, _PLACEMENTS_16_PLUS, n), choose(rng, _PLACEMENTS_UNDER_16, n))
    eps["place"] = place
    independent = rng.random(n) < 0.45
    eps["provider"] = (
        pd.Series(place).map(_PROVIDER).fillna(pd.Series(np.where(independent, "PR4", "PR1"))).to_numpy()
    )
    eps["urn"] = np.where(
        np.isin(place, list(_NEEDS_URN)), np.char.add("SC", rng.integers(100000, 999999, n).astype(str)), ""
    )
    home = pop.set_index("child_id").postcode.reindex(eps.child_id).to_numpy()
    eps["home_postcode"] = home
    eps["placement_postcode"] = np.where(
        place == "P1", home, postcodes(rng, calib["authority"]["postcode_districts"], n)
    )
    return eps.drop(columns=["offset", "period_idx"])
