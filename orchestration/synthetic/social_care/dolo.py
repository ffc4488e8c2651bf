"""Deprivation of liberty orders, as an authority keeps them for the SSDA903's DoLo table (collected from
2026/27). The SSD has no object for them: the authority sends its own list in the 903 layout.

Orders are drawn for adolescents' children's home placements (K2, where the validator's rule 709 expects a
child under an order to be), at the rate in calibration.yml (social_care.dolo), one at most per placement,
each within its placement: so no two of a child's orders overlap (rule 705), none outlives its placement or
its care (707) and none starts before the child was born (708).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

COLUMNS = ["CHILD", "DOB", "DOLO_START", "DOLO_END"]


def _dates(text: pd.Series) -> pd.Series:
    return pd.to_datetime(text.str.slice(0, 10), format="%Y-%m-%d", errors="coerce")


def dolo_orders(
    ssd: dict[str, pd.DataFrame], rng: np.random.Generator, calib: dict, as_of: date
) -> pd.DataFrame:
    """The authority's orders up to ``as_of``, from its SSD tables (placements, episodes, people)."""
    cfg = calib["social_care"]["dolo"]
    place = ssd["ssd_cla_placement"]
    people = ssd["ssd_person"].drop_duplicates("pers_person_id").set_index("pers_person_id")
    dob = _dates(people.pers_dob)
    start = _dates(place.clap_cla_placement_start_date)
    end = _dates(place.clap_cla_placement_end_date)  # blank: open at the extract date
    child_dob = dob.reindex(place.clap_person_id).to_numpy()
    extract = pd.Timestamp(as_of)
    opened = pd.Timestamp(cfg["from"])
    age = (start.to_numpy() - child_dob) / np.timedelta64(1, "D") / 365.25
    eligible = (
        place.clap_cla_placement_type.eq("K2").to_numpy()
        & (age >= cfg["min_age"])
        & (end.fillna(extract).to_numpy() > np.maximum(start.to_numpy(), opened.to_datetime64()))
    )
    # the rate is per child looked after at 31 March: so many orders a year, shared among the eligible
    episodes = ssd["ssd_cla_episodes"]
    open_now = _dates(episodes.clae_cla_episode_ceased_date).isna() & (
        _dates(episodes.clae_cla_episode_start_date) <= extract
    )
    looked_after = episodes.loc[open_now.to_numpy(), "clae_person_id"].nunique()
    years = max((extract - opened).days / 365.25, 0.0)
    wanted = cfg["per_looked_after_per_year"] * looked_after * years
    n = int(eligible.sum())
    chosen = eligible & (rng.random(len(place)) < (min(1.0, wanted / n) if n else 0.0))
    if not chosen.any():
        return pd.DataFrame(columns=COLUMNS)
    pl_start = np.maximum(start[chosen].to_numpy(), opened.to_datetime64())
    pl_end = end[chosen].fillna(pd.Timestamp.max.normalize()).to_numpy()
    lo, hi = cfg["days_after_placement"]
    order_start = pl_start + rng.integers(lo, hi + 1, chosen.sum()).astype("timedelta64[D]")
    length = rng.integers(cfg["length_days"][0], cfg["length_days"][1] + 1, chosen.sum())
    # ended before the placement does: an order lasting to the day the next placement starts would overlap
    # that placement's episode (rule 709 compares the days inclusively)
    order_end = np.minimum(order_start + length.astype("timedelta64[D]"), pl_end - np.timedelta64(1, "D"))
    keep = (order_start < order_end) & (order_start <= extract.to_datetime64())
    orders = pd.DataFrame(
        {
            "CHILD": place.clap_person_id[chosen].to_numpy()[keep],
            "DOB": child_dob[chosen][keep],
            "start": order_start[keep],
            "end": order_end[keep],
        }
    )
    # an order still running at the extract date has no end yet
    still_open = orders.end > extract
    return pd.DataFrame(
        {
            "CHILD": orders.CHILD,
            "DOB": pd.DatetimeIndex(orders.DOB).strftime("%d/%m/%Y"),
            "DOLO_START": pd.DatetimeIndex(orders.start).strftime("%d/%m/%Y"),
            "DOLO_END": np.where(still_open, "", pd.DatetimeIndex(orders.end).strftime("%d/%m/%Y")),
        }
    ).sort_values(
        ["CHILD", "DOLO_START"],
        key=lambda c: pd.to_datetime(c, dayfirst=True) if c.name == "DOLO_START" else c,
    )
