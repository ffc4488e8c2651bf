"""The records around children in need and looked after: reviews, visits, missing episodes, social workers,
permanence, care leavers and the OC2 items the CMS holds."""

from __future__ import annotations

import numpy as np
import pandas as pd

from orchestration.synthetic.population import (
    FAR_FUTURE,
    Window,
    add_working_days,
    add_years,
    days,
    uniform_dates,
    years_between,
)
from orchestration.synthetic.util import choose, repeated_dates

PARTICIPATION = {"PN1": 0.55, "PN2": 0.08, "PN3": 0.08, "PN4": 0.05, "PN5": 0.12, "PN6": 0.06, "PN7": 0.06}


def cla_reviews(
    rng: np.random.Generator, periods: pd.DataFrame, pop: pd.DataFrame, window: Window
) -> pd.DataFrame:
    """Statutory reviews: within 20 working days of entry, again within three months, then six-monthly."""
    start = days(periods.start)
    followed = np.minimum(days(periods.end), window.end + 1)
    first = add_working_days(start, rng.integers(10, 21, len(periods)))
    second = first + rng.integers(60, 92, len(periods)).astype("timedelta64[D]")
    row2, later = repeated_dates(rng, second + 182, followed, 182, jitter_days=10)
    rows = np.concatenate([np.arange(len(periods)), np.arange(len(periods)), row2])
    when = np.concatenate([first, second, later])
    keep = when < followed[rows]
    rows, when = rows[keep], when[keep]
    child = periods.child_id.to_numpy()[rows]
    age = years_between(days(pop.dob)[child], when)
    out = pd.DataFrame(
        {
            "period_no": periods.period_no.to_numpy()[rows],
            "child_id": child,
            "review_date": when,
            "participation": np.where(age < 4, "PN0", choose(rng, PARTICIPATION, len(rows))),
        }
    )
    return out.sort_values(["period_no", "review_date"], kind="stable").reset_index(drop=True)


def missing_episodes(
    rng: np.random.Generator, placements: pd.DataFrame, pop: pd.DataFrame, window: Window, cfg: dict
) -> pd.DataFrame:
    """Missing (M) or away without authorisation (A), mostly teenagers, most often from children's homes;
    each back before the next starts and before the placement ends."""
    start = days(placements.placement_start)
    end = np.minimum(days(placements.placement_end), window.end)
    child = placements.child_id.to_numpy()
    age_at_start = years_between(days(pop.dob)[child], start)
    residential = placements.placement_type.isin(["K2", "K3"]).to_numpy()
    rate = np.where(residential, cfg["missing_per_year"]["residential"], cfg["missing_per_year"]["foster"])
    rate = np.where(age_at_start >= 11, rate, 0.0) * np.exp(0.3 * pop.risk.to_numpy()[child])
    length = np.clip((end - start).astype(np.int64), 0, None)
    count = rng.poisson(rate * length / 365.25)
    row = np.repeat(np.arange(len(placements)), count)
    u = rng.random(len(row))
    order = np.lexsort((u, row))
    row, u = row[order], u[order]
    begin = start[row] + (u * np.maximum(length[row] - 3, 0)).astype(np.int64).astype("timedelta64[D]")
    finish = begin + rng.integers(0, 3, len(row)).astype("timedelta64[D]")
    following = pd.Series(begin).groupby(row).shift(-1)
    # back before the next one starts, and before the placement ends
    limit = np.where(following.isna(), end[row] - 1, days(following.fillna(pd.Timestamp("2200-01-01"))) - 1)
    finish = np.minimum(finish, limit)
    keep = finish >= begin
    ongoing = (finish >= window.end) & (days(placements.placement_end)[row] > window.end)
    n = int(keep.sum())
    return pd.DataFrame(
        {
            "child_id": child[row][keep],
            "period_no": placements.period_no.to_numpy()[row][keep],
            "missing_type": np.where(rng.random(n) < 0.6, "M", "A"),
            "start": begin[keep],
            "end": np.where(ongoing, np.datetime64("NaT"), finish)[keep].astype("datetime64[D]"),
            "return_interview_offered": np.where(rng.random(n) < 0.85, "Y", "N"),
            "return_interview_accepted": np.where(rng.random(n) < 0.6, "Y", "N"),
        }
    )


def oc2_events(
    rng: np.random.Generator, periods: pd.DataFrame, pop: pd.DataFrame, window: Window
) -> dict[str, pd.DataFrame]:
    """Substance misuse identified and offences, for children in care aged 10 or over."""
    start = days(periods.start)
    followed = np.minimum(days(periods.end), window.end)
    child = periods.child_id.to_numpy()
    from_ten = np.maximum(start, days(pop.dob)[child] + 10 * 366)
    years = np.clip((followed - from_ten).astype(np.int64), 0, None) / 365.25
    risk = pop.risk.to_numpy()[child]
    out = {}
    for name, base in (("substance_misuse", 0.035), ("offences", 0.03)):
        count = rng.poisson(base * np.exp(0.5 * risk) * years)
        row = np.repeat(np.arange(len(periods)), count)
        when = uniform_dates(rng, from_ten[row], followed[row])
        out[name] = pd.DataFrame(
            {"child_id": child[row], "period_no": periods.period_no.to_numpy()[row], "event_date": when}
        )
    out["substance_misuse"]["intervention_received"] = np.where(
        rng.random(len(out["substance_misuse"])) < 0.7, "Y", "N"
    )
    refused = out["substance_misuse"]["intervention_received"].eq("N").to_numpy()
    out["substance_misuse"]["intervention_offered"] = np.where(
        refused, np.where(rng.random(len(refused)) < 0.5, "Y", "N"), ""
    )
    out["substance_misuse"]["substance"] = choose(
        rng, {"Cannabis": 0.6, "Alcohol": 0.3, "Other": 0.1}, len(out["substance_misuse"])
    )
    out["offences"]["offence"] = choose(
        rng, {"Theft": 0.3, "Criminal damage": 0.25, "Assault": 0.3, "Drugs": 0.15}, len(out["offences"])
    )
    return out


def care_leavers(
    rng: np.random.Generator, periods: pd.DataFrame, pop: pd.DataFrame, window: Window
) -> pd.DataFrame:
    """Young people owed leaving-care duties: in care at least 13 weeks since age 14, including on or after
    their 16th birthday. One contact record around each 17th to 21st birthday, after they left care."""
    child = periods.child_id.to_numpy()
    dob = days(pop.dob)[child]
    start = days(periods.start)
    end = days(periods.end)
    fourteenth = add_years(dob, 14)
    sixteenth = add_years(dob, 16)
    weeks_after_14 = (np.minimum(end, window.end) - np.maximum(start, fourteenth)).astype(np.int64) / 7
    eligible = (weeks_after_14 >= 13) & (end > sixteenth)
    leavers = periods[eligible].drop_duplicates("child_id", keep="last")
    rows = []
    for birthday_age in range(17, 22):
        lch = leavers.child_id.to_numpy()
        bday = add_years(days(pop.dob)[lch], birthday_age)
        left_before = days(leavers.end) <= bday
        in_window = (bday >= window.start) & (bday <= window.end)
        take = left_before & in_window
        k = int(take.sum())
        in_touch = choose(
            rng, {"YES": 0.88, "NO": 0.05, "REFU": 0.03, "NREQ": 0.025, "RHOM": 0.014, "DIED": 0.001}, k
        )
        rows.append(
            pd.DataFrame(
                {
                    "child_id": lch[take],
                    "birthday": bday[take],
                    "age": birthday_age,
                    "latest_contact": bday[take] + rng.integers(-40, 40, k).astype("timedelta64[D]"),
                    "in_touch": in_touch,
                }
            )
        )
    out = pd.concat(rows, ignore_index=True)
    k = len(out)
    out["latest_contact"] = np.minimum(days(out.latest_contact), window.end)
    contactable = out.in_touch.to_numpy() == "YES"
    activity = choose(
        rng,
        {
            "F1": 0.06,
            "P1": 0.01,
            "F2": 0.22,
            "P2": 0.04,
            "F4": 0.04,
            "P4": 0.01,
            "F5": 0.18,
            "P5": 0.06,
            "G4": 0.08,
            "G5": 0.26,
            "G6": 0.04,
        },
        k,
    )
    # until 2020/21 the OC3 had one code for training or employment (F3, P3); apprenticeships (F4, P4) and
    # other training or employment (F5, P5) replaced it from 2021/22
    contact = days(out.latest_contact)
    before_2022 = contact < np.datetime64("2021-04-01")
    activity = np.where(before_2022 & np.isin(activity, ["F4", "F5"]), "F3", activity)
    activity = np.where(before_2022 & np.isin(activity, ["P4", "P5"]), "P3", activity)
    out["activity"] = np.where(contactable, activity, "0")
    letter = choose(
        rng,
        {
            "B": 0.12,
            "C": 0.03,
            "D": 0.22,
            "E": 0.08,
            "K": 0.05,
            "T": 0.03,
            "U": 0.30,
            "Y": 0.05,
            "Z": 0.10,
            "W": 0.02,
        },
        k,
    )
    letter = np.where((letter == "Z") & (out.age.to_numpy() < 18), "D", letter)  # rule 3001
    out["accommodation"] = np.where(contactable, letter, "")
    out["suitable"] = np.where(contactable, np.where(rng.random(k) < 0.9, "1", "2"), "")
    out["eligibility"] = np.where(out.age.to_numpy() < 18, "Relevant", "Former Relevant")
    return out.sort_values(["child_id", "birthday"], kind="stable").reset_index(drop=True)


def social_workers(
    rng: np.random.Generator,
    episodes: pd.DataFrame,
    periods: pd.DataFrame,
    window: Window,
    cfg: dict,
    scale: float,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Professionals, and the allocated social worker of each CIN episode (changes over its life).

    A child coming into care moves to the children-in-care team, so a new allocation starts on the day
    care starts (reason TSPROC, transfer as part of the process), as the 903's social worker rules expect.
    """
    k = max(20, round(160 * scale))
    ids = np.arange(k)
    registration = np.char.add("SW", rng.choice(np.arange(10000, 999999), k, replace=False).astype(str))
    professionals = pd.DataFrame(
        {"worker_no": ids, "registration": registration, "team_no": rng.integers(0, max(4, k // 8), k)}
    )
    start = days(episodes.referral_date)
    end = np.minimum(days(episodes.close_date), window.end + 1)
    step = np.maximum(60, rng.exponential(cfg["sw_change_mean_days"], len(episodes))).astype(np.int64)
    row, when = repeated_dates(rng, start, end, step, jitter_days=30)
    position = pd.Series(np.arange(len(episodes)), index=episodes.episode_id.to_numpy())
    entering = periods[periods.episode_id.isin(position.index)]
    care_row = position.reindex(entering.episode_id.to_numpy()).to_numpy()
    care_start = days(entering.start)
    frame = pd.concat(
        [
            pd.DataFrame({"row": row, "start": when, "care": False}),
            pd.DataFrame({"row": care_row, "start": care_start, "care": True}),
        ],
        ignore_index=True,
    )
    frame = frame[frame.start >= start[frame.row.to_numpy()]]
    frame = frame.sort_values(["row", "start", "care"], kind="stable")
    frame = frame.drop_duplicates(["row", "start"], keep="last").reset_index(drop=True)
    # no routine change within a fortnight of the move to the children-in-care team
    gap_next = (frame.start.shift(-1) - frame.start).dt.days
    gap_prev = (frame.start - frame.start.shift(1)).dt.days
    same_next = frame.row.shift(-1) == frame.row
    same_prev = frame.row.shift(1) == frame.row
    near_care = (same_next & frame.care.shift(-1, fill_value=False) & (gap_next < 14)) | (
        same_prev & frame.care.shift(1, fill_value=False) & (gap_prev < 14)
    )
    frame = frame[frame.care | ~near_care].reset_index(drop=True)
    frame["end"] = frame.groupby("row").start.shift(-1)
    last = frame.end.isna().to_numpy()
    close = days(episodes.close_date)[frame.row.to_numpy()]
    frame["end"] = np.where(
        last,
        np.where(close <= window.end, close, np.datetime64("NaT")),
        days(frame.end.fillna(pd.Timestamp("2200-01-01"))),
    )
    first = frame.groupby("row").cumcount().to_numpy() == 0
    reasons = choose(
        rng,
        {
            "LEFTRL": 0.35,
            "MANAGE": 0.25,
            "ORGRST": 0.08,
            "TSPROC": 0.17,
            "ABSENC": 0.05,
            "CHCHAN": 0.03,
            "PCCHAN": 0.02,
            "OTHERS": 0.05,
        },
        len(frame),
    )
    frame["reason"] = np.where(first, "FCONTA", np.where(frame.care.to_numpy(), "TSPROC", reasons))
    frame = frame.drop(columns="care")
    frame["worker_no"] = rng.integers(0, k, len(frame))
    frame["child_id"] = episodes.child_id.to_numpy()[frame.row.to_numpy()]
    frame["episode_id"] = episodes.episode_id.to_numpy()[frame.row.to_numpy()]
    return professionals, frame.drop(columns="row")


def permanence(
    rng: np.random.Generator,
    periods: pd.DataFrame,
    legal: pd.DataFrame,
    placements: pd.DataFrame,
    window: Window,
    cfg: dict,
) -> pd.DataFrame:
    """Adoption and special guardianship journeys, one row per period of care that had one."""
    e1 = legal[legal.legal_status == "E1"].groupby("period_no").ls_start.min()
    adoptive = placements[placements.placement_type.isin(["A5", "A6"])].sort_values("placement_start")
    a6 = adoptive.groupby("period_no").placement_start.min()
    with_carer = adoptive.groupby("period_no").placement_type.first().eq("A5")
    adoption = periods[periods.period_no.isin(e1.index)].copy()
    order_date = days(e1.reindex(adoption.period_no).to_numpy())
    placed = days(a6.reindex(adoption.period_no).to_numpy())
    k = len(adoption)
    decision = order_date - rng.integers(20, 120, k).astype("timedelta64[D]")
    decision = np.maximum(decision, days(adoption.start) + 30)
    matched = np.where(
        np.isnat(placed), np.datetime64("NaT"), placed - rng.integers(7, 45, k).astype("timedelta64[D]")
    )
    matched = np.where(~np.isnat(matched) & (matched < decision), decision, matched).astype("datetime64[D]")
    adopted = adoption.exit_route.to_numpy() == "adoption"
    reversed_ = np.isnat(placed) & (adoption.exit_route.to_numpy() != "") & ~adopted
    reversed_date = np.where(
        reversed_, np.minimum(days(adoption.end) - 1, decision + 200), np.datetime64("NaT")
    )
    two = rng.random(k) < 0.75
    couple_sex = choose(rng, {"MF": 0.85, "FF": 0.09, "MM": 0.06}, k)
    single_sex = np.where(rng.random(k) < 0.9, "F1", "M1")
    sex = np.where(two, couple_sex, single_sex)
    legal_status = np.where(
        two,
        np.where(
            sex == "MF",
            np.where(rng.random(k) < 0.8, "L11", "L3"),
            np.where(rng.random(k) < 0.7, "L12", "L2"),
        ),
        "L0",
    )
    rows = pd.DataFrame(
        {
            "period_no": adoption.period_no.to_numpy(),
            "child_id": adoption.child_id.to_numpy(),
            "decision_date": decision,
            "placement_order_date": order_date,
            "matched_date": matched,
            "placed_date": placed,
            "order_date": np.where(adopted, days(adoption.end), np.datetime64("NaT")).astype("datetime64[D]"),
            "order_type": np.where(adopted, "Adoption", ""),
            "reversed_date": reversed_date.astype("datetime64[D]"),
            "reversed_reason": np.where(
                reversed_, choose(rng, {"RD1": 0.4, "RD2": 0.2, "RD3": 0.3, "RD4": 0.1}, k), ""
            ),
            "adopted_by_carer": np.where(
                with_carer.reindex(adoption.period_no).fillna(False).to_numpy(), "Y", "N"
            ),
            "adopters": np.where(two, 2, 1),
            "adopter_sex": sex,
            "adopter_legal_status": legal_status,
        }
    )
    sgo = periods[periods.exit_route == "sgo"]
    sgo_rows = pd.DataFrame(
        {
            "period_no": sgo.period_no.to_numpy(),
            "child_id": sgo.child_id.to_numpy(),
            "order_date": days(sgo.end),
            "order_type": "Special Guardianship Order",
        }
    )
    out = pd.concat([rows, sgo_rows], ignore_index=True)
    return out.sort_values("period_no", kind="stable").reset_index(drop=True)


def previous_permanence(rng: np.random.Generator, periods: pd.DataFrame, la_names: list[str]) -> pd.DataFrame:
    """The previous permanence question asked when a child starts to be looked after."""
    k = len(periods)
    option = choose(rng, {"Z1": 0.86, "P1": 0.02, "P2": 0.05, "P3": 0.03, "P4": 0.04}, k)
    with_order = np.isin(option, ["P1", "P2", "P3"])
    order_date = days(periods.start) - rng.integers(400, 3000, k).astype("timedelta64[D]")
    day = pd.DatetimeIndex(order_date)
    partial = rng.random(k)
    text = np.where(
        partial < 0.7,
        day.strftime("%d/%m/%Y"),
        np.where(partial < 0.9, "zz/" + day.strftime("%m/%Y"), "zz/zz/" + day.strftime("%Y")),
    )
    return pd.DataFrame(
        {
            "period_no": periods.period_no.to_numpy(),
            "child_id": periods.child_id.to_numpy(),
            "recorded_on": days(periods.start),
            "option": option,
            # an unknown previous order (P4): authority not known, date not known
            "la": np.where(with_order, rng.choice(la_names, k), np.where(option == "P4", "Not known", "")),
            "order_date": np.where(with_order, text, np.where(option == "P4", "zz/zz/zzzz", "")),
        }
    )


def cp_reviews(rng: np.random.Generator, cp_plans: pd.DataFrame, window: Window) -> pd.DataFrame:
    """Review conferences: within three months of the plan, then at most six months apart."""
    start = days(cp_plans.start)
    end = np.minimum(days(cp_plans.end), window.end + 1)
    first = start + rng.integers(70, 90, len(cp_plans)).astype("timedelta64[D]")
    row, when = repeated_dates(rng, first, end, 175, jitter_days=5)
    return pd.DataFrame(
        {
            "cp_plan_no": cp_plans.cp_plan_no.to_numpy()[row],
            "review_date": when,
            "due_date": when + rng.integers(0, 8, len(row)).astype("timedelta64[D]"),
        }
    )


def visits(
    rng: np.random.Generator, starts: np.ndarray, ends: np.ndarray, step_working_days: int, window: Window
) -> tuple[np.ndarray, np.ndarray]:
    """Visits every ``step_working_days`` working days or so between start and end (or the extract date)."""
    until = np.minimum(ends, window.end + 1)
    first = add_working_days(starts, rng.integers(1, step_working_days + 1, len(starts)))
    row, when = repeated_dates(rng, first, until, int(step_working_days * 7 / 5), jitter_days=3)
    return row, np.busday_offset(when, 0, roll="forward")


def early_help(rng: np.random.Generator, pop: pd.DataFrame, window: Window, cfg: dict) -> pd.DataFrame:
    n = len(pop)
    lo = np.maximum.reduce([days(pop.dob), days(pop.arrive), np.full(n, window.start)])
    hi = np.minimum.reduce([days(pop.eighteenth) - 30, days(pop.leave), np.full(n, window.end)])
    years = np.clip((hi - lo).astype(np.int64), 0, None) / 365.25
    count = rng.poisson(cfg["early_help_per_year"] * np.exp(0.6 * pop.risk.to_numpy()) / np.exp(0.18) * years)
    count = np.minimum(count, 1)
    row = np.repeat(np.arange(n), count)
    begin = uniform_dates(rng, lo[row], hi[row])
    finish = begin + rng.integers(60, 330, len(row)).astype("timedelta64[D]")
    return pd.DataFrame(
        {
            "child_id": pop.child_id.to_numpy()[row],
            "start": begin,
            "end": np.where(finish <= window.end, finish, FAR_FUTURE).astype("datetime64[D]"),
            "reason": choose(
                rng,
                {
                    "Parenting support": 0.4,
                    "School attendance": 0.2,
                    "Family conflict": 0.2,
                    "Emotional wellbeing": 0.2,
                },
                len(row),
            ),
            "organisation": choose(
                rng, {"Family Hub": 0.6, "School": 0.25, "Health visiting": 0.15}, len(row)
            ),
        }
    )
