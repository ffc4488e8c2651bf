"""The children of a synthetic authority: who they are, when they live here, and how much need they carry.

Every array operation works on all children at once; nothing loops per child or per day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from orchestration.identifiers import nhs_numbers_from_serials
from orchestration.synthetic.util import postcodes

DATA_DIR = Path(__file__).resolve().parent / "data"
FAR_FUTURE = np.datetime64("2200-01-01", "D")


def load_calibration() -> dict:
    with (DATA_DIR / "calibration.yml").open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def load_names() -> pd.DataFrame:
    return pd.read_csv(DATA_DIR / "names.csv", dtype=str, keep_default_na=False)


@dataclass(frozen=True)
class Window:
    """Six collection years ending 31 March of ``as_of``'s collection year (1 April to 31 March)."""

    as_of: date
    years: int = 6

    @property
    def collection_year(self) -> int:
        """The collection year containing ``as_of``, named by the year of its 31 March."""
        return self.as_of.year if self.as_of.month <= 3 else self.as_of.year + 1

    @property
    def start(self) -> np.datetime64:
        return np.datetime64(date(self.collection_year - self.years, 4, 1), "D")

    @property
    def end(self) -> np.datetime64:
        """Data runs up to the extract date, which may fall inside the last collection year."""
        return np.datetime64(self.as_of, "D")


def days(values: np.ndarray | pd.Series) -> np.ndarray:
    """Dates as day-resolution numpy values (pandas keeps seconds; day arithmetic needs days)."""
    return np.asarray(values).astype("datetime64[D]")


def years_between(earlier: np.ndarray, later: np.ndarray) -> np.ndarray:
    """Completed years of age, per element (birthday rule, not days / 365)."""
    e = pd.DatetimeIndex(earlier)
    la = pd.DatetimeIndex(later)
    age = la.year - e.year
    before_birthday = (la.month < e.month) | ((la.month == e.month) & (la.day < e.day))
    return np.asarray(age - before_birthday.astype(int))


def add_years(days: np.ndarray, n: int | np.ndarray) -> np.ndarray:
    """Same calendar day n years later (29 February becomes 1 March in a common year)."""
    stamps = pd.DatetimeIndex(days)
    years = stamps.year + np.asarray(n)
    month = stamps.month
    day = stamps.day
    leap_fix = (month == 2) & (day == 29) & ~((years % 4 == 0) & ((years % 100 != 0) | (years % 400 == 0)))
    frame = pd.DataFrame(
        {"year": years, "month": np.where(leap_fix, 3, month), "day": np.where(leap_fix, 1, day)}
    )
    shifted = pd.to_datetime(frame)
    return shifted.to_numpy().astype("datetime64[D]")


def simulate_population(rng: np.random.Generator, scale: float, window: Window, calib: dict) -> pd.DataFrame:
    pop_cfg = calib["population"]
    births_per_year = pop_cfg["children_0_17"] * scale / 18.0
    earliest_dob = window.start - np.timedelta64(18 * 366, "D")
    span_days = int((window.end - earliest_dob).astype(int))
    n = int(rng.poisson(births_per_year * span_days / 365.25))

    dob = earliest_dob + rng.integers(0, span_days + 1, n).astype("timedelta64[D]")
    born_elsewhere = rng.random(n) < pop_cfg["share_born_elsewhere"]
    days_to_end = (window.end - dob).astype(int)
    arrive = np.where(born_elsewhere, dob + (rng.random(n) * days_to_end).astype("timedelta64[D]"), dob)
    moves_away = rng.random(n) < pop_cfg["share_moving_away"]
    stay = (window.end - arrive).astype(int)
    leave = np.where(
        moves_away, arrive + (1 + rng.random(n) * stay).astype("timedelta64[D]"), FAR_FUTURE
    ).astype("datetime64[D]")

    sex = np.where(rng.random(n) < pop_cfg["male_share"], "M", "F")
    eth_codes = list(calib["ethnicity"])
    eth_share = np.array([calib["ethnicity"][c][0] for c in eth_codes])
    ethnicity = rng.choice(eth_codes, size=n, p=eth_share / eth_share.sum())
    name_group = pd.Series(ethnicity).map({c: calib["ethnicity"][c][1] for c in eth_codes}).to_numpy()

    risk = rng.standard_normal(n)
    frame = pd.DataFrame(
        {
            "child_id": np.arange(n),
            "dob": dob,
            "arrive": arrive,
            "leave": leave,
            "sex": sex,
            "ethnicity": ethnicity,
            "name_group": name_group,
            "risk": risk,
        }
    )
    frame["eighteenth"] = add_years(frame["dob"].to_numpy(), 18)
    _assign_names(rng, frame)
    frame["nhs_number"] = _unique_nhs_numbers(rng, n)
    frame["postcode"] = postcodes(rng, calib["authority"]["postcode_districts"], n)
    schools_cfg = calib["schools"]
    frame["fsm"] = rng.random(n) < sigmoid(schools_cfg["fsm_logit"][0] + schools_cfg["fsm_logit"][1] * risk)
    sen_draw = rng.random(n)
    ehc = sen_draw < sigmoid(schools_cfg["ehc_plan_logit"][0] + schools_cfg["ehc_plan_logit"][1] * risk)
    support = ~ehc & (
        rng.random(n)
        < sigmoid(schools_cfg["sen_support_logit"][0] + schools_cfg["sen_support_logit"][1] * risk)
    )
    frame["sen_provision"] = np.select([ehc, support], ["E", "K"], "N")
    frame["absence_propensity"] = rng.normal(0.0, schools_cfg["absence_weights"]["pupil_sd"], n)
    return frame


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _assign_names(rng: np.random.Generator, frame: pd.DataFrame) -> None:
    names = load_names()
    forenames = np.empty(len(frame), dtype=object)
    surnames = np.empty(len(frame), dtype=object)
    for (group, sex), idx in frame.groupby(["name_group", "sex"]).indices.items():
        pool = names[
            (names.name_group == group) & (names.kind == "forename") & (names.sex == sex)
        ].name.to_numpy()
        forenames[idx] = rng.choice(pool, size=len(idx))
    for group, idx in frame.groupby("name_group").indices.items():
        pool = names[(names.name_group == group) & (names.kind == "surname")].name.to_numpy()
        surnames[idx] = rng.choice(pool, size=len(idx))
    frame["forename"] = forenames
    frame["surname"] = surnames


def _unique_nhs_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    # draw without replacement from the 999 test range; about 1 in 11 serials has no valid check digit
    serials = rng.choice(1_000_000, size=min(1_000_000, int(n * 1.15) + 50), replace=False)
    numbers = nhs_numbers_from_serials(np.sort(serials))
    numbers = numbers[numbers != ""]
    return rng.permutation(numbers[:n]) if len(numbers) >= n else _unique_nhs_numbers(rng, n)
