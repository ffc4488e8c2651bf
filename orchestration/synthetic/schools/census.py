"""The termly school census, as an LA's extract of it: pupils on roll and no longer on roll, their
addresses, free school meal periods and SEN needs, sessions missed by reason, and exclusions.

Each census reports attendance and exclusions for the term before its census day. Pupils absent more,
and excluded more, when they carry more need, are eligible for free school meals, have SEN, or are in
care or in need at the time (docs/domain.md §4; the direction of the published statistics).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from orchestration.synthetic.population import FAR_FUTURE, Window, days, postcode_on, sigmoid
from orchestration.synthetic.schools.careers import TERM_SESSIONS, Census, census_days, reception_year
from orchestration.synthetic.util import choose, hex_ids

CENSUS_DATETIME = "%Y-%b-%d 00:00:00"
FSM_SPELLS_PER_ELIGIBLE_CHILD = 5.0


@dataclass
class CensusTables:
    """Rows of every census table, with ``census`` (label) and ``child_id`` for the ground truth."""

    on_roll: list[pd.DataFrame] = field(default_factory=list)
    off_roll: list[pd.DataFrame] = field(default_factory=list)
    sessions_on: list[pd.DataFrame] = field(default_factory=list)
    sessions_off: list[pd.DataFrame] = field(default_factory=list)
    addresses_on: list[pd.DataFrame] = field(default_factory=list)
    addresses_off: list[pd.DataFrame] = field(default_factory=list)
    fsm_on: list[pd.DataFrame] = field(default_factory=list)
    sen_on: list[pd.DataFrame] = field(default_factory=list)
    exclusions_on: list[pd.DataFrame] = field(default_factory=list)
    exclusions_off: list[pd.DataFrame] = field(default_factory=list)


def fsm_spells(rng: np.random.Generator, pop: pd.DataFrame, window: Window) -> pd.DataFrame:
    """Periods of free school meal eligibility; families move in and out of eligibility over the years."""
    n = len(pop)
    p = pop.fsm_propensity.to_numpy()
    count = rng.poisson(FSM_SPELLS_PER_ELIGIBLE_CHILD * p)
    row = np.repeat(np.arange(n), count)
    dob = days(pop.dob)[row]
    start = dob + (4 * 365 + rng.random(len(row)) * 12 * 365).astype(np.int64).astype("timedelta64[D]")
    length = (rng.exponential(3.5, len(row)) * 365).astype(np.int64) + 60
    end = start + length.astype("timedelta64[D]")
    return pd.DataFrame(
        {
            "child_id": pop.child_id.to_numpy()[row],
            "start": start,
            "end": np.where(end > window.end, FAR_FUTURE, end).astype("datetime64[D]"),
        }
    )


def _on(
    frame_start: np.ndarray, frame_end: np.ndarray, child: np.ndarray, ids: np.ndarray, when: np.datetime64
) -> np.ndarray:
    """Whether each child in ``ids`` has a spell covering ``when``."""
    live = (frame_start <= when) & (frame_end > when)
    return np.isin(ids, child[live])


def simulate_census(
    rng: np.random.Generator,
    pop: pd.DataFrame,
    schools: pd.DataFrame,
    spells: pd.DataFrame,
    periods: pd.DataFrame,
    placements: pd.DataFrame,
    cin_episodes: pd.DataFrame,
    window: Window,
    calib: dict,
) -> CensusTables:
    cfg = calib["schools"]
    weights = cfg["absence_weights"]
    fsm = fsm_spells(rng, pop, window)
    severe = rng.random(len(pop)) < cfg["severe_absence_share"]
    out = CensusTables()
    r0 = reception_year(days(pop.dob))
    sp_start, sp_end = days(spells.start), days(spells.end)
    care_start, care_end = days(periods.start), days(periods.end)
    cin_start, cin_end = days(cin_episodes.referral_date), days(cin_episodes.close_date)
    pl_start, pl_end = days(placements.placement_start), days(placements.placement_end)
    previous_day = window.start
    for census in census_days(window):
        day = np.datetime64(census.day, "D")
        term, t0, t1 = census.reported_term
        t0, t1 = np.datetime64(t0, "D"), np.datetime64(t1, "D")
        term_days = (t1 - t0).astype(np.int64) + 1
        on = (sp_start <= day) & (sp_end > day)
        off = (sp_end > previous_day) & (sp_end <= day) & (sp_start < sp_end)
        previous_day = day
        for roll, mask in (("on", on), ("off", off)):
            rows = spells[mask]
            if rows.empty:
                continue
            child = rows.child_id.to_numpy()
            kids = pop.iloc[child]
            n = len(rows)
            overlap = (np.minimum(days(rows.end), t1 + 1) - np.maximum(days(rows.start), t0)).astype(np.int64)
            overlap = np.clip(overlap, 0, term_days)
            possible = np.rint(TERM_SESSIONS[term] * overlap / term_days).astype(np.int64)
            possible = np.where(possible > 0, possible - rng.integers(0, 4, n), 0).clip(0)
            in_care = _on(care_start, care_end, periods.child_id.to_numpy(), child, t1)
            in_need = _on(cin_start, cin_end, cin_episodes.child_id.to_numpy(), child, t1)
            fsm_now = _on(days(fsm.start), days(fsm.end), fsm.child_id.to_numpy(), child, day)
            sen = kids.sen_provision.to_numpy()
            logit = (
                cfg["absence_logit_base"]
                + weights["risk"] * kids.risk.to_numpy()
                + weights["fsm"] * fsm_now
                + weights["sen"] * (sen != "N")
                + weights["looked_after"] * in_care
                + weights["in_need"] * (in_need & ~in_care)
                + kids.absence_propensity.to_numpy()
                + 2.8 * severe[child]
            )
            absent = rng.binomial(possible, sigmoid(logit))
            authorised = rng.binomial(absent, np.clip(rng.beta(7, 3, n) - 0.15 * fsm_now, 0, 1))
            unauthorised = absent - authorised
            nc = (
                census.academic_year_start
                - r0[child]
                - (1 if roll == "off" and census.term == "autumn" else 0)
            )
            table_ids = hex_ids(rng, n, 8, 3)
            school = schools.iloc[rows.school_no.to_numpy()]
            base = pd.DataFrame(
                {
                    "census": census.label,
                    "child_id": child,
                    "school_no": rows.school_no.to_numpy(),
                    "table_id": table_ids,
                    "NativeId": school.native_id.to_numpy(),
                    "sourceid": school.source_id.to_numpy(),
                    "entrydate": days(rows.start),
                    "leavingdate": days(rows.end),
                    "nc_year": nc,
                    "fsm_now": fsm_now,
                    "in_care": in_care,
                    "in_need": in_need,
                    "sen": sen,
                    "possible": np.where(overlap > 0, possible, -1),
                    "authorised": authorised,
                    "unauthorised": unauthorised,
                    "day": day,
                }
            )
            getattr(out, f"{roll}_roll").append(base)
            getattr(out, f"sessions_{roll}").append(_reasons(rng, base, cfg))
            getattr(out, f"addresses_{roll}").append(
                _addresses(rng, base, kids, periods, placements, pl_start, pl_end, day)
            )
            getattr(out, f"exclusions_{roll}").append(_exclusions(rng, base, kids, cfg, t0, t1, in_need))
            if roll == "on":
                out.fsm_on.append(_fsm_rows(fsm, base, day))
                out.sen_on.append(_sen_rows(rng, base, cfg))
    return out


def _reasons(rng: np.random.Generator, base: pd.DataFrame, cfg: dict) -> pd.DataFrame:
    """Sessions missed by attendance reason code, one row per pupil and reason."""
    parts = []
    for column, key in (("authorised", "authorised_reasons"), ("unauthorised", "unauthorised_reasons")):
        codes = list(cfg[key])
        p = np.array([cfg[key][c] for c in codes])
        counts = rng.multinomial(base[column].to_numpy(), p / p.sum())
        long = pd.DataFrame(counts, columns=codes)
        long["row"] = np.arange(len(base))
        long = long.melt(id_vars="row", var_name="attendancereason", value_name="sessions")
        parts.append(long[long.sessions > 0])
    out = pd.concat(parts).sort_values(["row", "attendancereason"], kind="stable").reset_index(drop=True)
    src = base.iloc[out.row.to_numpy()]
    return pd.DataFrame(
        {
            "census": src.census.to_numpy(),
            "child_id": src.child_id.to_numpy(),
            "table_id": src.table_id.to_numpy(),
            "NativeId": src.NativeId.to_numpy(),
            "sourceid": src.sourceid.to_numpy(),
            "detail_id": hex_ids(rng, len(out), 8),
            "seq": out.groupby("row").cumcount().to_numpy() + 1,
            "sessions": out.sessions.to_numpy(),
            "attendancereason": out.attendancereason.to_numpy(),
        }
    )


def _addresses(
    rng: np.random.Generator,
    base: pd.DataFrame,
    kids: pd.DataFrame,
    periods: pd.DataFrame,
    placements: pd.DataFrame,
    pl_start: np.ndarray,
    pl_end: np.ndarray,
    day: np.datetime64,
) -> pd.DataFrame:
    """Where the school thinks the pupil lives: home, or the placement address for a child in care."""
    child = base.child_id.to_numpy()
    home = postcode_on(kids, np.full(len(base), day))
    live = (pl_start <= day) & (pl_end > day)
    current = pd.Series(
        placements.placement_postcode.to_numpy()[live], index=placements.child_id.to_numpy()[live]
    )
    current = current[~current.index.duplicated()]
    placed = current.reindex(child).to_numpy()
    postcode = np.where(pd.isna(placed), home, placed)
    return pd.DataFrame(
        {
            "census": base.census.to_numpy(),
            "child_id": child,
            "table_id": base.table_id.to_numpy(),
            "NativeId": base.NativeId.to_numpy(),
            "address_id": hex_ids(rng, len(base), 8),
            "sourceid": base.sourceid.to_numpy(),
            "uprn": (100_000_000_000 + rng.integers(0, 10**11, len(base))).astype(str),
            "postcode": postcode,
        }
    )


def _fsm_rows(fsm: pd.DataFrame, base: pd.DataFrame, day: np.datetime64) -> pd.DataFrame:
    """Free school meal periods the school holds for each pupil on roll (started by census day)."""
    held = fsm[(days(fsm.start) <= day)].merge(
        base[["child_id", "table_id", "NativeId", "sourceid", "census", "entrydate"]], on="child_id"
    )
    held = held[days(held.end) > days(held.entrydate)].reset_index(drop=True)
    held["seq"] = held.groupby("table_id").cumcount() + 1
    held["end_text"] = np.where(days(held.end) > day, np.datetime64("NaT"), days(held.end))
    return held


def _sen_rows(rng: np.random.Generator, base: pd.DataFrame, cfg: dict) -> pd.DataFrame:
    has = base.sen.to_numpy() != "N"
    b = base[has]
    second = rng.random(len(b)) < 0.3
    rows = pd.concat(
        [
            pd.DataFrame(
                {"row": np.arange(len(b)), "rank": 1, "sentype": choose(rng, cfg["sen_types"], len(b))}
            ),
            pd.DataFrame(
                {
                    "row": np.flatnonzero(second),
                    "rank": 2,
                    "sentype": choose(rng, cfg["sen_types"], int(second.sum())),
                }
            ),
        ]
    ).sort_values(["row", "rank"], kind="stable")
    src = b.iloc[rows.row.to_numpy()]
    return pd.DataFrame(
        {
            "census": src.census.to_numpy(),
            "child_id": src.child_id.to_numpy(),
            "table_id": src.table_id.to_numpy(),
            "NativeId": src.NativeId.to_numpy(),
            "sourceid": src.sourceid.to_numpy(),
            "sentype": rows.sentype.to_numpy(),
            "sentyperank": rows["rank"].to_numpy(),
        }
    )


def _exclusions(
    rng: np.random.Generator,
    base: pd.DataFrame,
    kids: pd.DataFrame,
    cfg: dict,
    t0: np.datetime64,
    t1: np.datetime64,
    in_need: np.ndarray,
) -> pd.DataFrame:
    """Suspensions (SUSP) in the reported term, mostly at secondary; a few permanent exclusions (PERM)."""
    w = cfg["suspension_logit"]
    secondary = base.nc_year.to_numpy() >= 7
    rate = np.exp(
        w[0]
        + w[1] * kids.risk.to_numpy()
        + w[2] * base.fsm_now.to_numpy()
        + w[3] * (base.sen.to_numpy() != "N")
        + w[4] * (base.in_care.to_numpy() | in_need)
    ) * np.where(secondary, 1.0, 0.15)
    rate = np.where(base.possible.to_numpy() > 0, rate, 0.0)
    count = rng.poisson(rate)
    row = np.repeat(np.arange(len(base)), count)
    span = (t1 - t0).astype(np.int64)
    start = t0 + (rng.random(len(row)) * span).astype(np.int64).astype("timedelta64[D]")
    start = np.busday_offset(start, 0, roll="forward")
    permanent = rng.random(len(row)) < cfg["permanent_exclusion_share_of_suspended"]
    reasons = {
        "DB": 0.35,
        "VA": 0.12,
        "PA": 0.10,
        "PP": 0.12,
        "VP": 0.08,
        "DA": 0.05,
        "DM": 0.04,
        "BU": 0.03,
        "OW": 0.02,
        "MT": 0.03,
        "LG": 0.01,
        "RA": 0.02,
        "SM": 0.01,
        "TH": 0.02,
    }
    src = base.iloc[row]
    return pd.DataFrame(
        {
            "census": src.census.to_numpy(),
            "child_id": src.child_id.to_numpy(),
            "table_id": src.table_id.to_numpy(),
            "NativeId": src.NativeId.to_numpy(),
            "exclusion_id": hex_ids(rng, len(row), 8),
            "seq": pd.Series(row).groupby(row).cumcount().to_numpy() + 1,
            "sourceid": src.sourceid.to_numpy(),
            "startdate": start,
            "sessions": np.where(permanent, 0, rng.integers(1, 11, len(row))),
            "reason1": choose(rng, reasons, len(row)),
            "category": np.where(permanent, "PERM", "SUSP"),
            "senprovision": src.sen.to_numpy(),
        }
    )


__all__ = ["CENSUS_DATETIME", "Census", "CensusTables", "simulate_census"]
