"""The children of a synthetic authority: who they are, when they live here, and how much need they carry.

Every array operation works on all children at once; nothing loops per child or per day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from orchestration.identifiers import nhs_numbers_from_serials
from orchestration.settings import DBT_PROJECT_DIR
from orchestration.synthetic.util import choose

DATA_DIR = Path(__file__).resolve().parent / "data"
FAR_FUTURE = np.datetime64("2200-01-01", "D")
HISTORY_YEARS = (
    8  # simulated before the window, so that children already in the system at its start have pasts
)


def load_calibration() -> dict:
    with (DATA_DIR / "calibration.yml").open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def load_names() -> pd.DataFrame:
    return pd.read_csv(DATA_DIR / "names.csv", dtype=str, keep_default_na=False)


@cache
def load_postcodes() -> pd.DataFrame:
    return pd.read_csv(DATA_DIR / "postcodes.csv", dtype={"postcode": str, "ltla_code": str})


@cache
def working_days() -> np.busdaycalendar:
    """Monday to Friday less English bank holidays (the dbt seed both layers share)."""
    holidays = pd.read_csv(DBT_PROJECT_DIR / "seeds" / "bank_holidays_england.csv").holiday_date
    return np.busdaycalendar(holidays=holidays.to_numpy().astype("datetime64[D]"))


def add_working_days(days_: np.ndarray, n: np.ndarray | int) -> np.ndarray:
    return np.busday_offset(days_, n, roll="forward", busdaycal=working_days())


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

    @property
    def history_start(self) -> np.datetime64:
        return np.datetime64(date(self.collection_year - self.years - HISTORY_YEARS, 4, 1), "D")

    def year_ends(self) -> list[np.datetime64]:
        """31 March of each collection year in the window that the extract covers."""
        ends = [
            np.datetime64(date(y, 3, 31), "D")
            for y in range(self.collection_year - self.years + 1, self.collection_year + 1)
        ]
        return [e for e in ends if e <= self.end]


def days(values: np.ndarray | pd.Series) -> np.ndarray:
    """Dates as day-resolution numpy values (pandas keeps seconds; day arithmetic needs days)."""
    return np.asarray(values).astype("datetime64[D]")


def years_between(earlier: np.ndarray, later: np.ndarray) -> np.ndarray:
    """Completed years of age, per element (birthday rule, not days / 365)."""
    e = pd.DatetimeIndex(np.asarray(earlier).astype("datetime64[D]"))
    la = pd.DatetimeIndex(np.asarray(later).astype("datetime64[D]"))
    age = la.year - e.year
    before_birthday = (la.month < e.month) | ((la.month == e.month) & (la.day < e.day))
    return np.asarray(age - before_birthday.astype(int))


def add_years(dates: np.ndarray, n: int | np.ndarray) -> np.ndarray:
    """Same calendar day n years later (29 February becomes 1 March in a common year)."""
    stamps = pd.DatetimeIndex(np.asarray(dates).astype("datetime64[D]"))
    years = stamps.year + np.asarray(n)
    month = stamps.month
    day = stamps.day
    leap = (years % 4 == 0) & ((years % 100 != 0) | (years % 400 == 0))
    fix = (month == 2) & (day == 29) & ~leap
    frame = pd.DataFrame({"year": years, "month": np.where(fix, 3, month), "day": np.where(fix, 1, day)})
    return pd.to_datetime(frame).to_numpy().astype("datetime64[D]")


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def uniform_dates(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """A date drawn uniformly from [lo, hi] for each element (hi >= lo)."""
    span = np.maximum((hi - lo).astype(np.int64), 0)
    return lo + (rng.random(len(lo)) * (span + 1)).astype(np.int64).astype("timedelta64[D]")


def simulate_population(
    rng: np.random.Generator,
    scale: float,
    window: Window,
    calib: dict,
    nhs_serials: tuple[int, int] = (0, 1_000_000),
) -> pd.DataFrame:
    """Children born here or arriving, from 18 years before the simulated history to the extract date.
    ``nhs_serials``: the block of the 999 test range its NHS numbers come from (the members of a synthetic
    region take disjoint blocks, so that two children never share a number by chance)."""
    cfg = calib["population"]
    births_per_year = cfg["children_0_17"] * scale / 18.0
    earliest_dob = window.history_start - np.timedelta64(18 * 366, "D")
    span_days = int((window.end - earliest_dob).astype(int))
    n = int(rng.poisson(births_per_year * span_days / 365.25))

    dob = earliest_dob + rng.integers(0, span_days + 1, n).astype("timedelta64[D]")
    born_elsewhere = rng.random(n) < cfg["share_born_elsewhere"]
    eighteenth = add_years(dob, 18)
    latest_arrival = np.minimum(eighteenth, window.end)
    arrive = np.where(born_elsewhere, uniform_dates(rng, dob, latest_arrival), dob)
    moves_away = rng.random(n) < cfg["share_moving_away"]
    leave = np.where(moves_away, uniform_dates(rng, arrive + 1, arrive + 18 * 365), FAR_FUTURE)

    frame = pd.DataFrame(
        {
            "dob": dob,
            "arrive": arrive,
            "leave": leave.astype("datetime64[D]"),
            "sex": np.where(rng.random(n) < cfg["male_share"], "M", "F"),
            "ethnicity": choose(rng, {c: v[0] for c, v in calib["ethnicity"].items()}, n),
            "risk": rng.standard_normal(n),
            "is_uasc": False,
        }
    )
    frame = pd.concat([frame, _uasc_arrivals(rng, scale, window, calib)], ignore_index=True)
    frame = frame[(frame.leave > frame.arrive) & (frame.arrive <= window.end)].reset_index(drop=True)
    n = len(frame)
    frame.insert(0, "child_id", np.arange(n))
    frame["eighteenth"] = add_years(frame["dob"].to_numpy(), 18)
    frame["name_group"] = frame.ethnicity.map({c: v[1] for c, v in calib["ethnicity"].items()})
    frame.loc[frame.is_uasc, "name_group"] = np.where(
        rng.random(int(frame.is_uasc.sum())) < 0.5, "arab", "african"
    )
    _assign_names(rng, frame)
    frame["nhs_number"] = _unique_nhs_numbers(rng, n, nhs_serials)
    _assign_addresses(rng, frame, window, calib)

    schools_cfg = calib["schools"]
    risk = frame.risk.to_numpy()
    frame["ability"] = -0.35 * risk + np.sqrt(1 - 0.35**2) * rng.standard_normal(n)
    frame["fsm_propensity"] = sigmoid(schools_cfg["fsm_logit"][0] + schools_cfg["fsm_logit"][1] * risk)
    sen_draw = rng.random(n)
    ehc = sen_draw < sigmoid(
        schools_cfg["ehc_plan_logit"][0]
        + schools_cfg["ehc_plan_logit"][1] * risk
        - 0.6 * frame.ability.to_numpy()
    )
    support = ~ehc & (
        rng.random(n)
        < sigmoid(
            schools_cfg["sen_support_logit"][0]
            + schools_cfg["sen_support_logit"][1] * risk
            - 0.6 * frame.ability.to_numpy()
        )
    )
    frame["sen_provision"] = np.select([ehc, support], ["E", "K"], "N")
    frame["absence_propensity"] = rng.normal(0.0, schools_cfg["absence_weights"]["pupil_sd"], n)
    frame["disability"] = np.where(
        ehc & (rng.random(n) < 0.6), choose(rng, calib["social_care"]["disability"], n), "NONE"
    )
    return frame


def _uasc_arrivals(rng: np.random.Generator, scale: float, window: Window, calib: dict) -> pd.DataFrame:
    """Unaccompanied asylum-seeking children: arrive aged 14 to 17, mostly boys, straight into care."""
    cfg = calib["social_care"]["uasc"]
    span = int((window.end - window.history_start).astype(int))
    n = int(rng.poisson(cfg["arrivals_per_year"] * scale * span / 365.25))
    arrive = window.history_start + rng.integers(0, span + 1, n).astype("timedelta64[D]")
    age_days = rng.integers(14 * 365 + 30, 18 * 365 - 60, n).astype("timedelta64[D]")
    return pd.DataFrame(
        {
            "dob": arrive - age_days,
            "arrive": arrive,
            "leave": np.full(n, FAR_FUTURE),
            "sex": np.where(rng.random(n) < 0.9, "M", "F"),
            "ethnicity": choose(rng, cfg["ethnicity"], n),
            "risk": rng.normal(0.5, 0.7, n),
            "is_uasc": True,
        }
    )


def _assign_names(rng: np.random.Generator, frame: pd.DataFrame) -> None:
    names = load_names()
    forenames = np.empty(len(frame), dtype=object)
    surnames = np.empty(len(frame), dtype=object)
    for (group, sex), idx in sorted(frame.groupby(["name_group", "sex"]).indices.items()):
        pool = names[
            (names.name_group == group) & (names.kind == "forename") & (names.sex == sex)
        ].name.to_numpy()
        forenames[idx] = rng.choice(pool, size=len(idx))
    for group, idx in sorted(frame.groupby("name_group").indices.items()):
        pool = names[(names.name_group == group) & (names.kind == "surname")].name.to_numpy()
        surnames[idx] = rng.choice(pool, size=len(idx))
    frame["forename"] = forenames
    frame["surname"] = surnames


def _unique_nhs_numbers(
    rng: np.random.Generator, n: int, block: tuple[int, int] = (0, 1_000_000)
) -> np.ndarray:
    # draw without replacement from the 999 test range; about 1 in 11 serials has no valid check digit
    start, stop = block
    serials = start + rng.choice(stop - start, size=min(stop - start, int(n * 1.15) + 50), replace=False)
    numbers = nhs_numbers_from_serials(np.sort(serials))
    numbers = numbers[numbers != ""]
    if len(numbers) < n:
        raise ValueError(
            f"serials {start} to {stop} of the 999 test range cannot hold {n} distinct NHS numbers"
        )
    return rng.permutation(numbers[:n])


def _assign_addresses(rng: np.random.Generator, frame: pd.DataFrame, window: Window, calib: dict) -> None:
    """A real home postcode in the authority; some families move house within it during the window."""
    postcodes = load_postcodes()
    home = postcodes[postcodes.ltla_code == calib["authority"]["ons_code"]].postcode.to_numpy()
    n = len(frame)
    frame["postcode"] = rng.choice(home, n)
    moved = rng.random(n) < calib["population"]["share_moving_house"]
    lo = np.maximum(days(frame.arrive), window.start)
    frame["previous_postcode"] = np.where(moved, rng.choice(home, n), "")
    frame["moved_house_on"] = np.where(
        moved, uniform_dates(rng, lo, np.full(n, window.end)), np.datetime64("NaT")
    ).astype("datetime64[D]")


def postcode_on(frame: pd.DataFrame, when: np.ndarray) -> np.ndarray:
    """Each child's home postcode on the given dates (before a house move, the previous one)."""
    moved = days(frame.moved_house_on)
    before = ~np.isnat(moved) & (when < moved)
    return np.where(before, frame.previous_postcode.to_numpy(), frame.postcode.to_numpy())
