"""School careers and the termly school census, in the layout of the LA's census extract tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from orchestration.identifiers import upn_check_letters
from orchestration.synthetic.population import Window, days, sigmoid, years_between
from orchestration.synthetic.util import hex_ids

TERMS = ("autumn", "spring", "summer")


@dataclass(frozen=True)
class Census:
    """One census day and the term whose attendance it collects (the term before)."""

    year: int
    term: str
    day: date

    @property
    def label(self) -> str:
        return f"{self.year}_{self.term}"

    @property
    def academic_year_start(self) -> int:
        return self.day.year if self.day.month >= 9 else self.day.year - 1

    @property
    def previous_term(self) -> tuple[str, date, date]:
        """Name, start and end of the term whose sessions this census reports."""
        a = self.academic_year_start
        if self.term == "autumn":
            return "summer", date(a, 4, 20), date(a, 7, 22)
        if self.term == "spring":
            return "autumn", date(a, 9, 2), date(a, 12, 20)
        return "spring", date(a + 1, 1, 4), date(a + 1, 4, 1)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def census_days(window: Window) -> list[Census]:
    """Autumn (first Thursday of October), spring (third Thursday of January), summer (third Thursday
    of May) census days inside the window."""
    start = pd.Timestamp(window.start).date()
    end = pd.Timestamp(window.end).date()
    out = []
    for year in range(start.year, end.year + 1):
        for term, month, n in (("spring", 1, 3), ("summer", 5, 3), ("autumn", 10, 1)):
            day = _nth_weekday(year, month, 3, n)
            if start <= day <= end:
                out.append(Census(year, term, day))
    return out


def assign_schools(rng: np.random.Generator, pop: pd.DataFrame, calib: dict, scale: float) -> pd.DataFrame:
    cfg = calib["authority"]["schools"]
    n_primary = max(3, round(cfg["primary"] * scale))
    n_secondary = max(2, round(cfg["secondary"] * scale))
    schools = pd.DataFrame(
        {
            "school_no": np.arange(n_primary + n_secondary),
            "phase": ["primary"] * n_primary + ["secondary"] * n_secondary,
            "estab": [f"{2000 + 17 * i:04d}" for i in range(n_primary)]
            + [f"{4000 + 13 * i:04d}" for i in range(n_secondary)],
        }
    )
    schools["native_id"] = "SCH" + (schools.school_no + 1).astype(str)
    schools["source_id"] = hex_ids(rng, len(schools), 8)
    pop["primary_school"] = rng.integers(0, n_primary, len(pop))
    pop["secondary_school"] = n_primary + rng.integers(0, n_secondary, len(pop))
    pop["attends_state_school"] = rng.random(len(pop)) < 0.95
    _assign_upns(rng, pop, schools, calib)
    return schools


def _reception_year(dob: np.ndarray) -> np.ndarray:
    """Academic year (by its September) in which a child starts reception: the one where they are 4 on
    31 August."""
    d = pd.DatetimeIndex(dob)
    return np.asarray(d.year + np.where(d.month >= 9, 5, 4))


def _assign_upns(rng: np.random.Generator, pop: pd.DataFrame, schools: pd.DataFrame, calib: dict) -> None:
    la = calib["authority"]["la_number"]
    reception = _reception_year(days(pop.dob))
    reception_day = pd.to_datetime(pd.DataFrame({"year": reception, "month": 9, "day": 1})).to_numpy()
    from_elsewhere = days(pop.arrive) > reception_day.astype("datetime64[D]")
    other = rng.choice(calib["authority"]["other_la_numbers"], len(pop))
    la_code = np.where(from_elsewhere, other, la)
    estab = np.where(
        from_elsewhere,
        rng.integers(1000, 7000, len(pop)).astype(str),
        schools.estab.to_numpy()[pop.primary_school.to_numpy()],
    )
    issued = np.char.zfill(((reception + 1) % 100).astype(str), 2)
    keys = pd.DataFrame({"la": la_code, "estab": estab, "yr": issued})
    serial = keys.groupby(["la", "estab", "yr"]).cumcount().to_numpy() + 1
    bodies = np.char.add(
        np.char.add(np.char.add(la_code.astype(str), estab.astype(str)), issued),
        np.char.zfill(serial.astype(str), 3),
    )
    pop["upn"] = np.char.add(upn_check_letters(bodies), bodies)


def simulate_census(
    rng: np.random.Generator,
    pop: pd.DataFrame,
    schools: pd.DataFrame,
    episodes: pd.DataFrame,
    window: Window,
    calib: dict,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pupils on roll at each census day, and their absence in the term before it by reason code."""
    cfg = calib["schools"]
    weights = cfg["absence_weights"]
    rows, reasons = [], []
    reception = _reception_year(days(pop.dob))
    for census in census_days(window):
        day = np.datetime64(census.day, "D")
        nc_year = census.academic_year_start - reception  # 0 = reception
        on_roll = (
            pop.attends_state_school.to_numpy()
            & (days(pop.arrive) <= day)
            & (days(pop.leave) > day)
            & (nc_year >= 0)
            & (nc_year <= 11)
        )
        if not on_roll.any():
            continue
        kids = pop.loc[on_roll]
        ncy = nc_year[on_roll]
        term, term_start, term_end = census.previous_term
        looked_after = _in_care_on(episodes, kids.child_id.to_numpy(), np.datetime64(term_end, "D"))
        # attendance is reported for the previous term only if the pupil was then of school age and here
        prev_ncy = ncy - (1 if census.term == "autumn" else 0)
        had_term = (days(kids.arrive) <= np.datetime64(term_start, "D")) & (prev_ncy >= 0)
        n = len(kids)
        possible = np.where(had_term, cfg["sessions_possible_by_term"][term] - rng.integers(0, 6, n), 0)
        logit = (
            cfg["absence_logit_base"]
            + weights["risk"] * kids.risk.to_numpy()
            + weights["fsm"] * kids.fsm.to_numpy()
            + weights["sen"] * (kids.sen_provision.to_numpy() != "N")
            + weights["looked_after"] * looked_after
            + kids.absence_propensity.to_numpy()
        )
        absent = rng.binomial(possible, sigmoid(logit))
        authorised_share = np.clip(rng.beta(7, 3, n) - 0.15 * kids.fsm.to_numpy(), 0, 1)
        authorised = rng.binomial(absent, authorised_share)
        unauthorised = absent - authorised

        school_no = np.where(ncy <= 6, kids.primary_school.to_numpy(), kids.secondary_school.to_numpy())
        school = schools.iloc[school_no]
        table_ids = hex_ids(rng, n, 8, 3)
        frame = pd.DataFrame(
            {
                "census": census.label,
                "census_day": census.day,
                "child_id": kids.child_id.to_numpy(),
                "pupilonrolltableid": table_ids,
                "NativeId": school.native_id.to_numpy(),
                "sourceid": school.source_id.to_numpy(),
                "dob": days(kids.dob),
                "surname": kids.surname.to_numpy(),
                "forename": kids.forename.to_numpy(),
                "upn": kids.upn.to_numpy(),
                "sex": kids.sex.to_numpy(),
                "entrydate": np.maximum(
                    days(kids.arrive),
                    pd.to_datetime(
                        pd.DataFrame(
                            {
                                "year": census.academic_year_start - np.where(ncy <= 6, ncy, ncy - 7),
                                "month": 9,
                                "day": 3,
                            }
                        )
                    )
                    .to_numpy()
                    .astype("datetime64[D]"),
                ),
                "ncyearactual": np.where(ncy == 0, "R", ncy.astype(str)),
                "senprovision": kids.sen_provision.to_numpy(),
                "termlysessionspossible": possible,
                "termlysessionsauthorised": authorised,
                "termlysessionsunauthorised": unauthorised,
                "has_term": had_term,
            }
        )
        rows.append(frame)
        reasons.append(_split_reasons(rng, frame, cfg))
    census_rows = pd.concat(rows, ignore_index=True)
    reason_rows = pd.concat(reasons, ignore_index=True)
    return census_rows, reason_rows


def _split_reasons(rng: np.random.Generator, frame: pd.DataFrame, cfg: dict) -> pd.DataFrame:
    parts = []
    for column, key in (
        ("termlysessionsauthorised", "authorised_reasons"),
        ("termlysessionsunauthorised", "unauthorised_reasons"),
    ):
        codes = list(cfg[key])
        p = np.array([cfg[key][c] for c in codes])
        counts = rng.multinomial(frame[column].to_numpy(), p / p.sum())
        long = pd.DataFrame(counts, columns=codes)
        long["row"] = np.arange(len(frame))
        long = long.melt(id_vars="row", var_name="attendancereason", value_name="sessions")
        parts.append(long[long.sessions > 0])
    out = pd.concat(parts).sort_values(["row", "attendancereason"], kind="stable").reset_index(drop=True)
    src = frame.iloc[out.row.to_numpy()].reset_index(drop=True)
    out["pupilonrolltableid"] = src.pupilonrolltableid.to_numpy()
    out["NativeId"] = src.NativeId.to_numpy()
    out["sourceid"] = src.sourceid.to_numpy()
    out["census"] = src.census.to_numpy()
    out["child_id"] = src.child_id.to_numpy()
    out["seq"] = out.groupby("row").cumcount() + 1
    return out.drop(columns="row")


def _in_care_on(episodes: pd.DataFrame, child_ids: np.ndarray, day: np.datetime64) -> np.ndarray:
    open_then = episodes[(episodes.start <= day) & (episodes.end > day)].child_id.unique()
    return np.isin(child_ids, open_then)


__all__ = ["TERMS", "Census", "assign_schools", "census_days", "simulate_census", "years_between"]
