"""Periods of care: how long, how they end, and the 903 episodes inside them.

A period is first sampled as a whole (its exit route and length depend on age at entry, as in the
published statistics: babies are often adopted, teenagers return home or stay until 18). Its inside is
then built as two timelines, legal status and placements, whose change points become SSDA903 episodes:
the first starts with RNE S, a change of legal status only is L, of placement only is P, of both is B;
every episode but the last ends with REC X1 on the day the next begins.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from orchestration.synthetic.population import FAR_FUTURE, Window, add_years, days, years_between
from orchestration.synthetic.util import choose

EXIT_RNE_PLACEMENT = "P"


def _age_band(age: np.ndarray) -> np.ndarray:
    return np.select(
        [age < 1, age < 5, age < 10, age < 16], ["under_1", "age_1_4", "age_5_9", "age_10_15"], "age_16_17"
    )


def sample_care_periods(
    rng: np.random.Generator, kids: pd.DataFrame, start: np.ndarray, window: Window, cfg: dict
) -> pd.DataFrame:
    """Length and exit route of each period of care starting on ``start``."""
    care = cfg["care"]
    n = len(kids)
    if n == 0:
        return pd.DataFrame(columns=["child_id", "start", "end", "exit_route", "age_at_entry", "is_uasc"])
    age = years_between(days(kids.dob), start)
    band = _age_band(age)
    route = np.empty(n, dtype=object)
    mean_years = np.zeros(n)
    for b in sorted(set(band)):
        at = np.flatnonzero(band == b)
        options = care["routes"][b]
        names = [o[0] for o in options]
        p = np.array([o[1] for o in options])
        pick = rng.choice(len(options), size=len(at), p=p / p.sum())
        route[at] = np.array(names, dtype=object)[pick]
        mean_years[at] = np.array([o[2] for o in options])[pick]
    uasc = kids.is_uasc.to_numpy()
    route = np.where(uasc, "long_term", route)
    long_term = route == "long_term"
    mean_years = np.where(long_term, care["long_term_mean_years"], mean_years)
    shape = 2.5
    years = rng.gamma(shape, mean_years / shape)
    years = np.where(route == "adoption", 1.1 + years * 0.5, years)
    duration = np.maximum(2, (years * 365.25).astype(np.int64)).astype("timedelta64[D]")
    eighteenth = add_years(days(kids.dob), 18)
    end = start + duration
    aged_out = end >= eighteenth
    end = np.where(aged_out, eighteenth, end)
    route = np.where(aged_out, "aged_out", route)
    # a long stay that ends before 18 ends like the others: home, a special guardian, or another way
    route = np.where(route == "long_term", choose(rng, {"home": 0.55, "sgo": 0.25, "other": 0.20}, n), route)
    still_open = end > window.end
    return pd.DataFrame(
        {
            "child_id": kids.child_id.to_numpy(),
            "start": start,
            "end": np.where(still_open, FAR_FUTURE, end).astype("datetime64[D]"),
            "exit_route": np.where(still_open, "", route),
            "planned_route": route,
            "age_at_entry": age,
            "is_uasc": uasc,
        }
    )


# --- the inside of each period: legal statuses, placements, episodes ----------------------------------

_FIRST_PLACEMENT = {
    "under_1": {"U4": 0.55, "U6": 0.15, "U1": 0.15, "U3": 0.10, "P1": 0.05},
    "age_1_4": {"U4": 0.50, "U6": 0.15, "U1": 0.15, "U3": 0.12, "P1": 0.08},
    "age_5_9": {"U4": 0.50, "U6": 0.17, "U1": 0.13, "U3": 0.10, "K2": 0.05, "P1": 0.05},
    "age_10_15": {"U4": 0.40, "U6": 0.18, "U1": 0.08, "U3": 0.06, "K2": 0.24, "P1": 0.04},
    "age_16_17": {"U4": 0.30, "U6": 0.12, "K2": 0.18, "K3": 0.36, "P1": 0.04},
}
_UASC_PLACEMENT = {"U6": 0.35, "K3": 0.45, "K2": 0.20}
_FOSTER = ["U1", "U3", "U4", "U6"]
_PLACEMENT_CHANGE_REASONS = {
    "CARPL": 0.40,
    "CREQB": 0.14,
    "CREQO": 0.12,
    "CHILD": 0.07,
    "LAREQ": 0.10,
    "STAND": 0.04,
    "CLOSE": 0.03,
    "OTHER": 0.10,
}


def _provider_pools(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Ofsted URNs of the providers placements are drawn from: each placement type has its own pool."""

    def urns(k: int) -> np.ndarray:
        return np.char.add("SC", rng.choice(np.arange(100000, 999999), k, replace=False).astype(str))

    return {
        "la_fostering": urns(1),
        "ifa": urns(12),
        "la_homes": urns(4),
        "private_homes": urns(40),
        "supported": urns(15),
        "adoption": urns(4),
        "school": urns(3),
    }


def build_care_timelines(
    rng: np.random.Generator, periods: pd.DataFrame, pop: pd.DataFrame, window: Window, calib: dict
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Legal statuses, placements and episodes of every period of care.

    Returns (legal_statuses, placements, episodes); each row carries ``period_no``.
    """
    cfg = calib["social_care"]["care"]
    periods = periods.reset_index(drop=True)
    k = len(periods)
    start = days(periods.start)
    end = days(periods.end)
    observed_end = np.minimum(end, window.end + 1)  # work only up to the extract date
    dob = days(pop.dob)[periods.child_id.to_numpy()]
    age = periods.age_at_entry.to_numpy()
    route = periods.planned_route.to_numpy()
    uasc = periods.is_uasc.to_numpy()
    length = (observed_end - start).astype(np.int64)

    # legal status: police protection or an EPO for a few days, then an interim care order or s20;
    # an interim order becomes a full care order, or a placement order on the adoption route
    emergency = (rng.random(k) < 0.2) & ~uasc & (length > 10)
    emergency_ls = np.where(rng.random(k) < 0.6, "L1", "L2")
    emergency_days = np.where(emergency_ls == "L1", rng.integers(1, 3, k), rng.integers(3, 8, k))
    older = age >= 10
    main_ls = np.where(
        uasc | (older & (rng.random(k) < 0.55)) | (~older & (rng.random(k) < 0.25)), "V2", "C1"
    )
    main_ls = np.where(route == "adoption", "C1", main_ls)
    main_ls = np.where((route == "home") & (rng.random(k) < 0.4), "V2", main_ls)
    ls_rows = [
        pd.DataFrame(
            {"period_no": np.flatnonzero(emergency), "from_day": 0, "legal_status": emergency_ls[emergency]}
        )
    ]
    main_from = np.where(emergency, emergency_days, 0)
    ls_rows.append(pd.DataFrame({"period_no": np.arange(k), "from_day": main_from, "legal_status": main_ls}))
    # interim -> full care order about six months in (placement order on the adoption route)
    order_day = main_from + rng.integers(150, 260, k)
    to_order = (main_ls == "C1") & (order_day < length - 20)
    final_ls = np.where(route == "adoption", "E1", "C2")
    ls_rows.append(
        pd.DataFrame(
            {
                "period_no": np.flatnonzero(to_order),
                "from_day": order_day[to_order],
                "legal_status": final_ls[to_order],
            }
        )
    )
    legal = pd.concat(ls_rows, ignore_index=True).sort_values(["period_no", "from_day"], kind="stable")

    # placements: a first placement, then moves; adoption ends in an adoptive placement; some returns
    # home and SGOs end with the carers the child leaves care with
    band = _age_band(age)
    pools = _provider_pools(rng)
    first_type = np.empty(k, dtype=object)
    for b in sorted(set(band)):
        at = np.flatnonzero(band == b)
        first_type[at] = choose(rng, _FIRST_PLACEMENT[b], len(at))
    first_type = np.where(uasc, choose(rng, _UASC_PLACEMENT, k), first_type)
    first_type = np.where((first_type == "P1") & (main_ls == "V2"), "U4", first_type)  # rule 378
    rate = np.where(
        age >= 10,
        calib["social_care"]["care"]["placement_moves_per_year"]["over_10"],
        calib["social_care"]["care"]["placement_moves_per_year"]["under_10"],
    )
    moves = rng.poisson(rate * np.maximum(length, 0) / 365.25)
    moves = np.minimum(moves, np.maximum((length - 2) // 14, 0))
    move_period = np.repeat(np.arange(k), moves)
    move_day = (1 + rng.random(len(move_period)) * (length[move_period] - 2)).astype(np.int64)
    moved = pd.DataFrame({"period_no": move_period, "from_day": move_day, "kind": "move"})

    # the adoption route: decision, match and placement with adopters before the order
    adoption = (route == "adoption") & to_order
    adopt_place_day = np.clip(
        np.maximum(order_day + rng.integers(60, 200, k), length - rng.integers(90, 240, k)),
        order_day + 30,
        length - 30,
    )
    adopt_place_day = np.where(adoption, adopt_place_day, -1)
    adoption_placed = adoption & (adopt_place_day > order_day) & (adopt_place_day < length - 1)
    ending = pd.DataFrame(
        {
            "period_no": np.flatnonzero(adoption_placed),
            "from_day": adopt_place_day[adoption_placed],
            "kind": "adoption",
        }
    )
    # placed with parents before going home (care order in place)
    home = (route == "home") & (rng.random(k) < 0.25) & (length > 120)
    home_day = np.where(home, length - rng.integers(30, 100, k), -1)
    ending_home = pd.DataFrame(
        {"period_no": np.flatnonzero(home), "from_day": home_day[home], "kind": "home"}
    )
    placements = pd.concat(
        [
            pd.DataFrame({"period_no": np.arange(k), "from_day": 0, "kind": "first"}),
            moved,
            ending,
            ending_home,
        ],
        ignore_index=True,
    )
    placements = placements.sort_values(["period_no", "from_day"], kind="stable")
    placements = placements.drop_duplicates(["period_no", "from_day"], keep="last")
    # nothing moves after the adoptive placement or the return to parents
    last_fixed = placements[placements.kind.isin(["adoption", "home"])].groupby("period_no").from_day.min()
    cutoff = placements.period_no.map(last_fixed).fillna(np.inf).to_numpy()
    placements = placements[(placements.from_day <= cutoff)].reset_index(drop=True)

    n = len(placements)
    p_no = placements.period_no.to_numpy()
    p_start = start[p_no] + placements.from_day.to_numpy().astype("timedelta64[D]")
    p_age = years_between(dob[p_no], p_start)
    ptype = np.empty(n, dtype=object)
    is_first = placements.kind.to_numpy() == "first"
    ptype[is_first] = first_type[p_no[is_first]]
    later = np.flatnonzero(~is_first)
    later_band = _age_band(p_age[later])
    for b in sorted(set(later_band)):
        at = later[later_band == b]
        ptype[at] = choose(rng, _FIRST_PLACEMENT[b], len(at))
    ptype[later] = np.where(
        uasc[p_no[later]] & (ptype[later] != "K3"), choose(rng, _UASC_PLACEMENT, len(later)), ptype[later]
    )
    residential_teen = (p_age >= 12) & (rng.random(n) < cfg["residential_share_over_12"])
    ptype = np.where(residential_teen & ~np.isin(ptype, ["K3"]) & ~is_first, "K2", ptype)
    ptype = np.where((ptype == "K3") & (p_age < 16), "U4", ptype)  # supported accommodation is 16+ only
    kind = placements.kind.to_numpy()
    ptype = np.where(kind == "adoption", "A6", ptype)
    # about one adoption in eight is by the child's own foster carers (A5: placed with them, order made)
    previous = pd.Series(ptype).shift(1).fillna("").to_numpy()
    same_period = pd.Series(p_no).shift(1).to_numpy() == p_no
    by_carer = (ptype == "A6") & same_period & np.char.startswith(previous.astype(str), "U")
    ptype = np.where(by_carer & (rng.random(n) < 0.4), "A5", ptype)
    ptype = np.where(kind == "home", "P1", ptype)
    ptype = np.where((ptype == "P1") & (main_ls[p_no] == "V2"), "U4", ptype)
    # SGO to former foster carers and Staying Put need the child to be with foster carers at the end
    placements["placement_type"] = ptype
    placements["placement_start"] = p_start
    next_start = placements.groupby("period_no").placement_start.shift(-1)
    placements["placement_end"] = np.where(
        next_start.isna(), end[p_no], days(next_start.fillna(pd.Timestamp("2200-01-01")))
    )
    placements = _no_repeated_type(placements)
    placements = _assign_providers(rng, placements, pools, pop, periods, calib)
    placements["reason_changed"] = np.where(
        placements.groupby("period_no").placement_start.shift(-1).isna(),
        "",
        choose(rng, _PLACEMENT_CHANGE_REASONS, len(placements)),
    )
    placements.loc[placements.placement_type.shift(-1).isin(["A5", "A6"]).to_numpy(), "reason_changed"] = (
        "CARPL"
    )

    legal["ls_start"] = start[legal.period_no.to_numpy()] + legal.from_day.to_numpy().astype("timedelta64[D]")
    episodes = _episodes(legal, placements, periods, end, route)
    return legal.reset_index(drop=True), placements.reset_index(drop=True), episodes


def _no_repeated_type(placements: pd.DataFrame) -> pd.DataFrame:
    """A move to the same type of placement is still a move (a different carer): keep it; but a 'move'
    that lands on the same day as another is dropped earlier. Nothing to merge here beyond bookkeeping."""
    placements = placements.reset_index(drop=True)
    placements["placement_seq"] = placements.groupby("period_no").cumcount()
    return placements


def _assign_providers(
    rng: np.random.Generator,
    placements: pd.DataFrame,
    pools: dict[str, np.ndarray],
    pop: pd.DataFrame,
    periods: pd.DataFrame,
    calib: dict,
) -> pd.DataFrame:
    from orchestration.synthetic.population import load_postcodes, postcode_on

    n = len(placements)
    ptype = placements.placement_type.to_numpy()
    independent = rng.random(n)
    provider = np.select(
        [
            ptype == "P1",
            np.isin(ptype, ["U1", "U3"]),
            np.isin(ptype, ["U4", "U6"]) & (independent < 0.6),
            np.isin(ptype, ["U4", "U6"]),
            ptype == "K2",
            ptype == "K3",
            np.isin(ptype, ["A5", "A6"]),
        ],
        [
            "PR0",
            "PR1",
            "PR1",
            np.where(independent < 0.9, "PR4", "PR5"),
            np.where(independent < 0.25, "PR1", np.where(independent < 0.9, "PR4", "PR5")),
            np.where(independent < 0.8, "PR4", "PR5"),
            np.where(independent < 0.6, "PR1", "PR5"),
        ],
        "PR4",
    )
    urn_pool = np.select(
        [
            np.isin(ptype, ["U1", "U3"]) | (np.isin(ptype, ["U4", "U6"]) & (provider == "PR1")),
            np.isin(ptype, ["U4", "U6"]),
            (ptype == "K2") & (provider == "PR1"),
            ptype == "K2",
            ptype == "K3",
            np.isin(ptype, ["A5", "A6"]),
        ],
        ["la_fostering", "ifa", "la_homes", "private_homes", "supported", "adoption"],
        "",
    )
    urn = np.full(n, "", dtype=object)
    for pool in sorted(set(urn_pool) - {""}):
        at = np.flatnonzero(urn_pool == pool)
        urn[at] = rng.choice(pools[pool], len(at))
    urn = _moves_to_another_provider(urn, urn_pool, placements.period_no.to_numpy(), pools)
    child = periods.child_id.to_numpy()[placements.period_no.to_numpy()]
    postcodes = load_postcodes()
    home_la = calib["authority"]["ons_code"]
    in_area = postcodes[postcodes.ltla_code == home_la].postcode.to_numpy()
    nearby = postcodes[postcodes.ltla_code != home_la].postcode.to_numpy()
    # the LA's own provision (PR1) is in its own area
    out_of_area = (rng.random(n) < np.where(np.isin(ptype, ["K2", "K3"]), 0.5, 0.25)) & (provider != "PR1")
    home_pc = postcode_on(pop.iloc[child], days(placements.placement_start))
    placements["placement_provider"] = provider
    placements["urn"] = urn
    placements["placement_postcode"] = np.where(
        ptype == "P1", home_pc, np.where(out_of_area, rng.choice(nearby, n), rng.choice(in_area, n))
    )
    placements["child_id"] = child
    return _at_the_premises(placements)


def _moves_to_another_provider(
    urn: np.ndarray, urn_pool: np.ndarray, period: np.ndarray, pools: dict[str, np.ndarray]
) -> np.ndarray:
    """A move is to another home or provider: a placement drawn at the same URN as the one before it in the
    same period takes the next URN of its pool instead (no draw, so the random stream is as it was). A
    move to the same home at the same address would be no move at all (the 903 validator's rule 435)."""
    urn = urn.copy()
    for _ in range(3):  # a shift can meet the placement after it: settle in a few passes
        clash = np.zeros(len(urn), dtype=bool)
        clash[1:] = (urn[1:] == urn[:-1]) & (urn[1:] != "") & (period[1:] == period[:-1])
        if not clash.any():
            break
        for pool in sorted(set(urn_pool[clash])):
            members = pools[pool]
            if len(members) < 2:
                continue
            at = np.flatnonzero(clash & (urn_pool == pool))
            position = {u: i for i, u in enumerate(members)}
            urn[at] = members[[(position[u] + 1) % len(members) for u in urn[at]]]
    return urn


# placements in a registered setting, whose postcode is the setting's own (the 903 validator's rule 221)
PLACED_AT_PREMISES = ("K1", "K2", "K3", "R3", "S1")


def _at_the_premises(placements: pd.DataFrame) -> pd.DataFrame:
    """A children's home or supported accommodation has one address: every placement there takes the
    postcode its first placement drew (no draw of its own, so the random stream is as it was)."""
    at = placements.placement_type.isin(PLACED_AT_PREMISES).to_numpy() & (placements.urn.to_numpy() != "")
    if not at.any():
        return placements
    first = (
        placements.loc[at, ["urn", "placement_start", "placement_postcode"]]
        .sort_values(["placement_start"], kind="stable")
        .drop_duplicates("urn")
        .set_index("urn")
        .placement_postcode
    )
    postcode = placements.placement_postcode.to_numpy().copy()
    postcode[at] = placements.urn[at].map(first).to_numpy()
    placements["placement_postcode"] = postcode
    return placements


def _episodes(
    legal: pd.DataFrame, placements: pd.DataFrame, periods: pd.DataFrame, end: np.ndarray, route: np.ndarray
) -> pd.DataFrame:
    """903 episodes: one per stretch with the same legal status and placement."""
    ls_change = legal[["period_no", "ls_start", "legal_status"]].rename(columns={"ls_start": "day"})
    pl_change = placements[["period_no", "placement_start", "placement_seq"]].rename(
        columns={"placement_start": "day"}
    )
    changes = pd.concat([ls_change.assign(ls=True), pl_change.assign(pl=True)], ignore_index=True)
    changes = (
        changes.groupby(["period_no", "day"], sort=True).agg(ls=("ls", "any"), pl=("pl", "any")).reset_index()
    )
    changes["ls"] = changes["ls"].astype(bool)
    changes["pl"] = changes["pl"].astype(bool)
    # attach the legal status and placement in force from each change point
    eps = pd.merge_asof(
        changes.sort_values("day"),
        legal.sort_values("ls_start")[["period_no", "ls_start", "legal_status"]],
        left_on="day",
        right_on="ls_start",
        by="period_no",
    )
    eps = pd.merge_asof(
        eps.sort_values("day"),
        placements.sort_values("placement_start")[
            ["period_no", "placement_start", "placement_seq", "placement_type"]
        ],
        left_on="day",
        right_on="placement_start",
        by="period_no",
    )
    eps = eps.sort_values(["period_no", "day"], kind="stable").reset_index(drop=True)
    first = eps.groupby("period_no").cumcount() == 0
    # placed for adoption with the current foster carer (A5): a new placement with the same carer (T, or U
    # with a change of legal status too)
    same_carer = eps.pl & eps.placement_type.eq("A5")
    rne = np.select(
        [first, same_carer & eps.ls, same_carer, eps.ls & eps.pl, eps.ls],
        ["S", "U", "T", "B", "L"],
        EXIT_RNE_PLACEMENT,
    )
    eps["rne"] = rne
    next_day = eps.groupby("period_no").day.shift(-1)
    last = next_day.isna().to_numpy()
    eps["episode_end"] = np.where(
        last, end[eps.period_no.to_numpy()], days(next_day.fillna(pd.Timestamp("2200-01-01")))
    )
    exit_route = periods.exit_route.to_numpy()[eps.period_no.to_numpy()]
    eps["rec"] = np.where(last, exit_route, "X1")
    eps["is_last"] = last
    return eps.rename(columns={"day": "episode_start"})[
        [
            "period_no",
            "episode_start",
            "episode_end",
            "rne",
            "rec",
            "is_last",
            "legal_status",
            "placement_seq",
        ]
    ]


def exit_codes(
    rng: np.random.Generator, episodes: pd.DataFrame, placements: pd.DataFrame, periods: pd.DataFrame
) -> np.ndarray:
    """The 903 reason-episode-ceased code for each final episode, from its route and last placement."""
    route = episodes.rec.to_numpy()
    n = len(episodes)
    last_type = (
        placements.set_index(["period_no", "placement_seq"])
        .placement_type.reindex(pd.MultiIndex.from_arrays([episodes.period_no, episodes.placement_seq]))
        .to_numpy()
    )
    foster_relative = np.isin(last_type, ["U1", "U3"])
    foster_other = np.isin(last_type, ["U4", "U6"])
    u = rng.random(n)
    code = np.select(
        [
            route == "X1",
            route == "",
            route == "adoption",
            route == "home",
            (route == "sgo") & foster_relative,
            (route == "sgo") & foster_other,
            route == "sgo",
            route == "cao",
            (route == "aged_out") & np.isin(last_type, _FOSTER),
            route == "aged_out",
            route == "other",
        ],
        [
            "X1",
            "",
            np.where(u < 0.7, "E11", "E12"),
            np.where(u < 0.85, "E4A", "E4B"),
            "E45",
            "E46",
            np.where(u < 0.5, "E47", "E48"),
            "E41",
            np.where(u < 0.5, "E17", "E5"),
            np.where(u < 0.6, "E5", np.where(u < 0.85, "E6", "E8")),
            np.where(u < 0.6, "E13", "E8"),
        ],
        "E8",
    )
    return code
