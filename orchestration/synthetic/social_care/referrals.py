"""Children in need: referrals and what follows them, one CIN episode at a time.

Each child's episodes follow one another (an episode closes before the next referral), so they are
simulated in rounds: round k draws every child's k-th referral at once. A round is vectorised over
children; there are only as many rounds as the busiest child has referrals.

Within an episode: referral -> (no further action) or an assessment; after it the case closes, or a CIN
plan starts, or a section 47 enquiry runs (an initial child protection conference, a CP plan, a step-down
CIN plan), or the child becomes looked after. The dates respect the CIN census rules on order: activity
never precedes the referral, a CP plan starts on its conference date, CIN and CP plans do not overlap, the
episode closes after its last activity and before the child's 18th birthday.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from orchestration.synthetic.population import (
    FAR_FUTURE,
    Window,
    add_working_days,
    days,
    sigmoid,
    uniform_dates,
    years_between,
)
from orchestration.synthetic.social_care.care import sample_care_periods
from orchestration.synthetic.util import choose

MAX_ROUNDS = 40
NO_DATE = FAR_FUTURE


@dataclass
class CinHistory:
    episodes: pd.DataFrame
    assessments: pd.DataFrame
    cin_plans: pd.DataFrame
    section_47: pd.DataFrame
    cp_plans: pd.DataFrame
    care_periods: pd.DataFrame
    contacts: pd.DataFrame = field(default_factory=pd.DataFrame)


def _days_of(rng: np.random.Generator, n: int, lo: int, hi: int) -> np.ndarray:
    return rng.integers(lo, hi + 1, n).astype("timedelta64[D]")


def simulate_children_in_need(
    rng: np.random.Generator, pop: pd.DataFrame, window: Window, calib: dict
) -> CinHistory:
    cfg = calib["social_care"]
    n = len(pop)
    dob = days(pop.dob)
    eighteenth = days(pop.eighteenth)
    lo = np.maximum.reduce([dob, days(pop.arrive), np.full(n, window.history_start)])
    hi = np.minimum.reduce([days(pop.leave), eighteenth - 1, np.full(n, window.end)])
    hazard = cfg["referral_base_hazard"] * np.exp(cfg["referral_risk_weight"] * pop.risk.to_numpy())
    uasc = pop.is_uasc.to_numpy()

    parts: dict[str, list[pd.DataFrame]] = {
        k: [] for k in ("episodes", "assessments", "cin_plans", "section_47", "cp_plans", "care_periods")
    }
    next_referral = lo + (rng.exponential(365.25 / hazard)).astype(np.int64).astype("timedelta64[D]")
    # babies: referrals around birth are far more common than at any later age
    born_here = days(pop.arrive) == dob
    infant = born_here & (
        rng.random(n)
        < sigmoid(cfg["infant_referral_logit"][0] + cfg["infant_referral_logit"][1] * pop.risk.to_numpy())
    )
    infant_day = dob + rng.integers(0, 365, n).astype("timedelta64[D]")
    next_referral = np.where(infant, np.minimum(infant_day, next_referral), next_referral)
    # an unaccompanied child is referred on the day they arrive
    next_referral = np.where(uasc, days(pop.arrive), next_referral)
    active = next_referral <= hi
    first_round = np.ones(n, dtype=bool)
    had_plan = np.zeros(n, dtype=bool)  # on a child protection plan in an earlier episode
    episode_seq = 0
    for _ in range(MAX_ROUNDS):
        idx = np.flatnonzero(active)
        if len(idx) == 0:
            break
        r = next_referral[idx]
        care_now = uasc[idx] & first_round[idx]
        round_parts = _episodes_from(rng, idx, r, care_now, had_plan[idx], pop, window, cfg, episode_seq)
        had_plan[idx[round_parts["cp_plans"].episode_id.to_numpy() - episode_seq]] = True
        periods = round_parts["care_periods"]
        adopted = idx[periods.loc[periods.exit_route.eq("adoption"), "episode_id"].to_numpy() - episode_seq]
        episode_seq += len(idx)
        for key, frame in round_parts.items():
            parts[key].append(frame)
        closed = round_parts["episodes"].close_date.to_numpy().astype("datetime64[D]")
        rereferred = rng.random(len(idx)) < cfg["rereferral_within_12_months"]
        gap = (
            np.where(rereferred, rng.integers(14, 365, len(idx)), 365 + rng.exponential(365.25 / hazard[idx]))
            .astype(np.int64)
            .astype("timedelta64[D]")
        )
        first_round[idx] = False
        next_referral[idx] = closed + gap
        active[:] = False
        active[idx] = (closed < window.end) & (next_referral[idx] <= hi[idx])
        # an adopted child is the adopters' child: a later referral would be of a child with a new identity
        # (the SSDA903's rule 199: a child adopted from care who returns is a new child), never this record
        active[adopted] = False

    frames = {k: pd.concat([f for f in v if len(f)], ignore_index=True) for k, v in parts.items()}
    history = CinHistory(**frames)
    history.contacts = _contacts(rng, pop, history.episodes, window, cfg)
    return history


def _episodes_from(
    rng: np.random.Generator,
    idx: np.ndarray,
    r: np.ndarray,
    care_now_at_referral: np.ndarray,
    had_plan: np.ndarray,
    pop: pd.DataFrame,
    window: Window,
    cfg: dict,
    first_id: int,
) -> dict[str, pd.DataFrame]:
    """One CIN episode for each child in ``idx``, referred on ``r``."""
    m = len(idx)
    ep_id = first_id + np.arange(m)
    eighteenth = days(pop.eighteenth)[idx]
    age = years_between(days(pop.dob)[idx], r)
    u = rng.random(m)

    nfa = (rng.random(m) < cfg["referral_nfa"]) & ~care_now_at_referral
    after = cfg["after_assessment"]
    shares = np.cumsum([after["close"], after["cin_plan"], after["section_47"], after["care_now"]])
    shares = shares / shares[-1]
    # children with more need are more likely to go further than an assessment
    u = np.clip(u - 0.08 * pop.risk.to_numpy()[idx], 0, 0.999999)
    branch = np.searchsorted(shares, u, side="right")  # 0 close, 1 cin plan, 2 s47, 3 care now
    infant_care = (age < 1) & (rng.random(m) < cfg["infant_care_now"])
    branch = np.where(care_now_at_referral | infant_care, 3, branch)
    # a child who has been on a child protection plan before is far more often the subject of a section 47
    # enquiry again (nationally about a quarter of plans are a second or subsequent plan)
    again = had_plan & (rng.random(m) < cfg["section_47_after_previous_plan"])
    branch = np.where(again & (branch < 2), 2, branch)

    # assessment: starts within three working days, mostly authorised within 45 working days
    a_start = add_working_days(r, rng.integers(0, 4, m))
    on_time = rng.random(m) < cfg["assessment_within_45_working_days"]
    a_auth = add_working_days(a_start, np.where(on_time, rng.integers(8, 46, m), rng.integers(46, 100, m)))

    # section 47: a strategy discussion soon after referral, before the assessment is authorised
    is_s47 = (branch == 2) & ~nfa
    s47_start = add_working_days(r, rng.integers(0, 6, m))
    has_icpc = is_s47 & (rng.random(m) < cfg["icpc_after_section_47"])
    icpc_target = add_working_days(s47_start, 15)
    icpc_on_time = rng.random(m) < cfg["icpc_within_15_working_days"]
    icpc_date = add_working_days(
        s47_start, np.where(icpc_on_time, rng.integers(6, 16, m), rng.integers(16, 40, m))
    )
    s47_end = np.where(has_icpc, icpc_date, add_working_days(s47_start, rng.integers(5, 15, m)))
    a_auth = np.where(is_s47, np.maximum(a_auth, s47_start + 1), a_auth)

    has_cp = has_icpc & (rng.random(m) < cfg["cp_plan_after_icpc"])
    cp_start = icpc_date
    cp_days = np.maximum(30, rng.lognormal(np.log(cfg["cp_plan_median_days"]), cfg["cp_plan_spread"], m))
    cp_end = cp_start + cp_days.astype(np.int64).astype("timedelta64[D]")
    cp_to_care = has_cp & (rng.random(m) < cfg["cp_plan_to_care"]) & (age < 17)
    step_down = has_cp & ~cp_to_care & (rng.random(m) < cfg["cp_plan_step_down_to_cin_plan"])
    s47_no_cp_plan = is_s47 & ~has_cp & (rng.random(m) < 0.5)

    # CIN plans: straight after the assessment, after a section 47 without a plan, or stepping down from CP
    plan_after_assessment = ((branch == 1) & ~nfa) | s47_no_cp_plan
    plan_days = (30 + rng.exponential(cfg["cin_plan_mean_days"], m)).astype(np.int64).astype("timedelta64[D]")
    plan_start = np.where(step_down, cp_end + 1, np.maximum(a_auth, s47_end) + _days_of(rng, m, 0, 10))
    plan_end = plan_start + plan_days
    has_plan = plan_after_assessment | step_down
    plan_to_care = plan_after_assessment & (rng.random(m) < cfg["cin_plan_to_care"]) & (age < 17)

    # becoming looked after
    care_direct = (branch == 3) & ~nfa
    care_start = np.select(
        [care_now_at_referral, care_direct, cp_to_care, plan_to_care],
        [r, a_auth, cp_end, plan_end],
        NO_DATE,
    ).astype("datetime64[D]")
    # a plan that would end in care only after the 18th birthday ends without it: an adult is not looked after
    adult = care_start >= eighteenth
    cp_to_care &= ~adult
    plan_to_care &= ~adult
    care_start = np.where(adult, NO_DATE, care_start).astype("datetime64[D]")
    in_care = care_start < NO_DATE
    plan_end = np.where(plan_to_care, care_start, plan_end)
    cp_end = np.where(cp_to_care, care_start, cp_end)

    care = sample_care_periods(rng, pop.iloc[idx[in_care]], care_start[in_care], window, cfg)
    care_end = np.full(m, NO_DATE)
    care_end[in_care] = days(care.end)
    care.insert(0, "episode_id", ep_id[in_care])

    # the episode closes after its last activity; never after the 18th birthday (but a care period
    # ending at 18 keeps its episode open to that day)
    last = np.where(nfa, r, a_auth)
    last = np.maximum(last, np.where(is_s47, s47_end, last))
    last = np.maximum(last, np.where(has_cp & ~cp_to_care, cp_end, last))
    last = np.maximum(last, np.where(has_plan & ~plan_to_care, plan_end, last))
    close = last + _days_of(rng, m, 0, 14)
    close = np.where(nfa, r, close)
    close = np.where(in_care, care_end + _days_of(rng, m, 0, 10), close)
    limit = np.where(in_care, eighteenth, eighteenth - 1)
    close = np.minimum(close, limit)
    # CP and CIN plans end when the case does, at the latest; an assessment is authorised by then, and a
    # conference that would fall after the case closed (at 18) is never held
    cp_end = np.minimum(cp_end, close)
    plan_end = np.minimum(plan_end, close)
    s47_end = np.minimum(s47_end, close)
    a_start = np.minimum(a_start, close)
    a_auth = np.minimum(a_auth, close)
    late_icpc = has_icpc & (icpc_date > close) & ~in_care
    has_icpc = has_icpc & ~late_icpc
    has_cp = has_cp & ~late_icpc

    exit_reason = care.exit_route.to_numpy()
    reason = np.where(
        nfa | (branch == 0) & ~has_plan & ~is_s47 & ~in_care,
        np.where(rng.random(m) < 0.78, "RC8", "RC9"),
        "RC7",
    )
    if in_care.any():
        by_exit = pd.Series(exit_reason).map({"adoption": "RC1", "sgo": "RC4", "cao": "RC3"}).fillna("RC7")
        reason[in_care] = by_exit.to_numpy()
    reason = np.where(close >= limit, "RC7", reason)
    reason = np.where(nfa, "RC8", reason)

    open_at_end = close > window.end
    episodes = pd.DataFrame(
        {
            "episode_id": ep_id,
            "child_id": pop.child_id.to_numpy()[idx],
            "referral_date": r,
            "referral_source": np.where(care_now_at_referral, "5C", choose(rng, cfg["referral_source"], m)),
            "primary_need": np.where(
                pop.is_uasc.to_numpy()[idx],
                "N8",
                np.where(
                    pop.disability.to_numpy()[idx] != "NONE",
                    np.where(rng.random(m) < 0.6, "N2", choose(rng, cfg["primary_need"], m)),
                    choose(rng, cfg["primary_need"], m),
                ),
            ),
            "referral_nfa": nfa,
            "close_date": np.where(open_at_end, NO_DATE, close).astype("datetime64[D]"),
            "close_reason": np.where(open_at_end, "", reason),
            "went_into_care": in_care,
        }
    )

    has_assessment = ~nfa
    assessments = pd.DataFrame(
        {
            "episode_id": ep_id[has_assessment],
            "start": a_start[has_assessment],
            "authorised": a_auth[has_assessment],
            "factors": _factors(
                rng,
                int(has_assessment.sum()),
                age[has_assessment],
                pop.is_uasc.to_numpy()[idx][has_assessment],
                cfg,
            ),
        }
    )
    section_47 = pd.DataFrame(
        {
            "episode_id": ep_id[is_s47],
            "start": s47_start[is_s47],
            "end": s47_end[is_s47],
            "icpc_target": icpc_target[is_s47],
            "icpc_date": np.where(has_icpc, icpc_date, NO_DATE)[is_s47].astype("datetime64[D]"),
            "icpc_not_required": ~has_icpc[is_s47],
            "icpc_outcome_cp": has_cp[is_s47],
        }
    )
    initial_cat = choose(rng, cfg["category_of_abuse"], m)
    latest_cat = np.where(rng.random(m) < 0.9, initial_cat, choose(rng, cfg["category_of_abuse"], m))
    cp_plans = pd.DataFrame(
        {
            "episode_id": ep_id[has_cp],
            "start": cp_start[has_cp],
            "end": cp_end[has_cp],
            "initial_category": initial_cat[has_cp],
            "latest_category": latest_cat[has_cp],
        }
    )
    cin_plans = pd.DataFrame(
        {
            "episode_id": ep_id[has_plan],
            "start": plan_start[has_plan],
            "end": plan_end[has_plan],
        }
    )
    # activity that would begin after the case closed (at 18) never happens
    cin_plans = cin_plans[cin_plans.start <= cin_plans.end]
    return {
        "episodes": episodes,
        "assessments": assessments,
        "cin_plans": cin_plans,
        "section_47": section_47,
        "cp_plans": cp_plans,
        "care_periods": care,
    }


def _factors(rng: np.random.Generator, n: int, age: np.ndarray, uasc: np.ndarray, cfg: dict) -> np.ndarray:
    """Factors identified at the end of an assessment, as the CIN census codes them ("21" alone = none)."""
    codes = list(cfg["assessment_factors"])
    weights = np.array([cfg["assessment_factors"][c] for c in codes])
    count = 1 + rng.poisson(1.0, n)
    draws = rng.choice(len(codes), size=(n, 4), p=weights / weights.sum())
    keep = np.arange(4) < count[:, None]
    teen_only = np.isin(np.array(codes), ["10A", "11A", "14A", "15A", "24A"])
    keep &= ~(teen_only[draws] & (age[:, None] < 10))
    chosen = np.where(keep, np.array(codes)[draws], "")
    out = np.array([",".join(sorted(set(row) - {""}, key=codes.index)) for row in chosen], dtype=object)
    none = (rng.random(n) < cfg["no_factors_identified"]) | (out == "")
    out = np.where(none, "21", out)
    return np.where(uasc, "9A", out)


def _contacts(
    rng: np.random.Generator, pop: pd.DataFrame, episodes: pd.DataFrame, window: Window, cfg: dict
) -> pd.DataFrame:
    """A contact on the day of every referral, and contacts that go no further than the front door."""
    referral_contacts = pd.DataFrame(
        {
            "child_id": episodes.child_id.to_numpy(),
            "contact_date": days(episodes.referral_date),
            "source": episodes.referral_source.to_numpy(),
            "led_to_referral": True,
        }
    )
    extra_share = cfg["contacts_per_referral"] - 1.0
    k = rng.poisson(extra_share * len(episodes))
    pick = rng.integers(0, len(episodes), k)
    base = days(episodes.referral_date)[pick]
    date_ = base - rng.integers(30, 900, k).astype("timedelta64[D]")
    dob = days(pop.dob)[episodes.child_id.to_numpy()[pick]]
    ok = date_ > dob
    other = pd.DataFrame(
        {
            "child_id": episodes.child_id.to_numpy()[pick][ok],
            "contact_date": date_[ok],
            "source": choose(rng, cfg["referral_source"], int(ok.sum())),
            "led_to_referral": False,
        }
    )
    contacts = pd.concat([referral_contacts, other], ignore_index=True)
    return contacts.sort_values(["child_id", "contact_date"], kind="stable").reset_index(drop=True)


__all__ = ["CinHistory", "simulate_children_in_need", "uniform_dates"]
