"""Where each child goes to school and when: reception at four, secondary at eleven, moves between
schools (more often for children whose placement moves), and the UPN that follows them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from orchestration.identifiers import UPN_ALPHABET, upn_check_letters
from orchestration.synthetic.population import FAR_FUTURE, Window, days
from orchestration.synthetic.util import hex_ids

TERM_SESSIONS = {"autumn": 140, "spring": 120, "summer": 130}


@dataclass(frozen=True)
class Census:
    """One census day and the term whose attendance it reports (the term before)."""

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
    def reported_term(self) -> tuple[str, date, date]:
        """Name, first and last day of the term whose sessions this census reports."""
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
    """Autumn (first Thursday of October), spring (third Thursday of January) and summer (third Thursday
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


def reception_year(dob: np.ndarray) -> np.ndarray:
    """The academic year (by its September) in which a child starts reception: aged 4 on 31 August."""
    d = pd.DatetimeIndex(np.asarray(dob).astype("datetime64[D]"))
    return np.asarray(d.year + np.where(d.month >= 9, 5, 4))


def _september(year: np.ndarray, day: int = 3) -> np.ndarray:
    return (
        pd.to_datetime(pd.DataFrame({"year": year, "month": 9, "day": day}))
        .to_numpy()
        .astype("datetime64[D]")
    )


def _july_end(year: np.ndarray) -> np.ndarray:
    return (
        pd.to_datetime(pd.DataFrame({"year": year, "month": 7, "day": 22})).to_numpy().astype("datetime64[D]")
    )


def make_schools(rng: np.random.Generator, calib: dict, scale: float) -> pd.DataFrame:
    cfg = calib["authority"]["schools"]
    n_primary = max(3, round(cfg["primary"] * scale))
    n_secondary = max(2, round(cfg["secondary"] * scale))
    la = calib["authority"]["la_number"]
    estab = [f"{2000 + 17 * i:04d}" for i in range(n_primary)] + [
        f"{4000 + 13 * i:04d}" for i in range(n_secondary)
    ]
    schools = pd.DataFrame(
        {
            "school_no": np.arange(n_primary + n_secondary),
            "phase": ["primary"] * n_primary + ["secondary"] * n_secondary,
            "estab": estab,
            "urn": (100000 + rng.choice(50000, n_primary + n_secondary, replace=False)).astype(str),
        }
    )
    schools["laestab"] = la + schools.estab
    schools["native_id"] = "SCH" + (schools.school_no + 1).astype(str)
    schools["source_id"] = hex_ids(rng, len(schools), 8)
    return schools


def school_spells(
    rng: np.random.Generator,
    pop: pd.DataFrame,
    schools: pd.DataFrame,
    placements: pd.DataFrame,
    window: Window,
    calib: dict,
) -> pd.DataFrame:
    """One row per stretch of a child at one school."""
    cfg = calib["schools"]
    n = len(pop)
    attends = (rng.random(n) < 0.95) & ~pop.is_uasc.to_numpy() | (
        pop.is_uasc.to_numpy() & (rng.random(n) < 0.6)
    )
    r0 = reception_year(days(pop.dob))
    arrive, leave = days(pop.arrive), days(pop.leave)
    primaries = schools[schools.phase == "primary"].school_no.to_numpy()
    secondaries = schools[schools.phase == "secondary"].school_no.to_numpy()
    phases = []
    for phase, first_year, last_year, pool in (
        ("primary", r0, r0 + 6, primaries),
        ("secondary", r0 + 7, r0 + 11, secondaries),
    ):
        start = np.maximum(_september(first_year), arrive)
        end = np.minimum(_july_end(last_year + 1) + 40, leave)  # on roll until the summer holiday ends
        ok = attends & (start < end) & (end > window.history_start) & (start <= window.end)
        idx = np.flatnonzero(ok)
        phases.append(
            pd.DataFrame(
                {
                    "child_id": pop.child_id.to_numpy()[idx],
                    "phase": phase,
                    "start": start[idx],
                    "end": end[idx],
                    "school_no": rng.choice(pool, len(idx)),
                }
            )
        )
    spells = pd.concat(phases, ignore_index=True)

    # moves: a small yearly chance, and a good chance when a looked-after child's placement moves
    years = (spells.end.to_numpy() - spells.start.to_numpy()).astype("timedelta64[D]").astype(
        np.int64
    ) / 365.25
    count = rng.poisson(
        cfg["school_moves_per_year"] * years * np.exp(0.3 * pop.risk.to_numpy()[spells.child_id.to_numpy()])
    )
    row = np.repeat(np.arange(len(spells)), count)
    s, e = days(spells.start)[row], days(spells.end)[row]
    move_day = s + (1 + rng.random(len(row)) * np.maximum((e - s).astype(np.int64) - 2, 0)).astype(
        np.int64
    ).astype("timedelta64[D]")
    care_moves = placements[placements.placement_seq > 0][["child_id", "placement_start"]]
    cm = care_moves.merge(spells.reset_index().rename(columns={"index": "row"}), on="child_id")
    cm = cm[(days(cm.placement_start) > days(cm.start)) & (days(cm.placement_start) < days(cm.end) - 1)]
    cm = cm[rng.random(len(cm)) < 0.35]
    moves = pd.DataFrame(
        {
            "row": np.concatenate([row, cm.row.to_numpy()]),
            "day": np.concatenate([move_day, days(cm.placement_start)]),
        }
    ).drop_duplicates()
    moves = moves.sort_values(["row", "day"], kind="stable")
    cuts = (
        pd.concat(
            [pd.DataFrame({"row": np.arange(len(spells)), "day": days(spells.start)}), moves],
            ignore_index=True,
        )
        .sort_values(["row", "day"], kind="stable")
        .drop_duplicates()
    )
    out = spells.iloc[cuts.row.to_numpy()].reset_index(drop=True)
    out["start"] = cuts.day.to_numpy()
    nxt = out.groupby(cuts.row.to_numpy()).start.shift(-1)
    out["end"] = np.where(nxt.isna(), days(out.end), days(nxt.fillna(pd.Timestamp("2200-01-01"))))
    moved = ~nxt.isna().to_numpy()
    first = out.groupby(cuts.row.to_numpy()).cumcount().to_numpy() == 0
    pools = {"primary": primaries, "secondary": secondaries}
    for phase, pool in pools.items():
        at = np.flatnonzero(~first & (out.phase.to_numpy() == phase))
        out.loc[at, "school_no"] = rng.choice(pool, len(at))
    out["left_for"] = np.where(moved, "move", np.where(days(out.end) >= FAR_FUTURE, "", "end_of_phase"))
    out = out[days(out.end) > days(out.start)].reset_index(drop=True)
    return out


def assign_upns(
    rng: np.random.Generator,
    pop: pd.DataFrame,
    spells: pd.DataFrame,
    schools: pd.DataFrame,
    calib: dict,
    window: Window,
) -> None:
    """A UPN from the first school: this authority's for children who started here, another's for those
    who arrived later or were never on roll at its schools (independent or over-the-border schools: every
    child of school age has one); a few start on a temporary UPN (final letter) replaced by a permanent one."""
    la = calib["authority"]["la_number"]
    first = spells.sort_values(["child_id", "start"], kind="stable").drop_duplicates("child_id")
    n = len(pop)
    r0 = reception_year(days(pop.dob))
    has = (_september(r0) <= np.datetime64(window.end, "D")) & ~pop.is_uasc.to_numpy()
    on_roll = np.zeros(n, dtype=bool)
    on_roll[first.child_id.to_numpy()] = True
    has |= on_roll
    from_elsewhere = (days(pop.arrive) > _september(r0)) | ~on_roll
    school_of = np.zeros(n, dtype=np.int64)
    school_of[first.child_id.to_numpy()] = first.school_no.to_numpy()
    la_code = np.where(from_elsewhere, rng.choice(calib["authority"]["other_la_numbers"], n), la)
    estab = np.where(
        from_elsewhere, rng.integers(1000, 7000, n).astype(str), schools.estab.to_numpy()[school_of]
    )
    issued = np.char.zfill(((r0 + 1) % 100).astype(str), 2)
    keys = pd.DataFrame({"la": la_code, "estab": estab, "yr": issued})
    serial = keys.groupby(["la", "estab", "yr"]).cumcount().to_numpy() + 1
    body = np.char.add(
        np.char.add(np.char.add(la_code.astype(str), estab.astype(str)), issued),
        np.char.zfill((serial % 1000).astype(str), 3),
    )
    upn = np.char.add(upn_check_letters(body), body)
    temporary = has & (rng.random(n) < 0.02)
    # a temporary UPN's serial is two digits and a letter: numbered apart from the permanent serials, so no
    # two children of one school and year are ever given the same temporary UPN
    letters = np.array(list(UPN_ALPHABET))
    nth = keys[temporary].groupby(["la", "estab", "yr"]).cumcount().to_numpy()
    temp_serial = np.zeros(n, dtype=np.int64)
    temp_serial[temporary] = nth
    letter = letters[(np.searchsorted(letters, rng.choice(letters, n)) + temp_serial // 100) % len(letters)]
    temp_body = np.char.add(
        np.char.add(np.char.add(la_code.astype(str), estab.astype(str)), issued),
        np.char.add(np.char.zfill((temp_serial % 100).astype(str), 2), letter),
    )
    temp_upn = np.char.add(_temporary_check(temp_body), temp_body)
    pop["upn"] = np.where(has, upn, "")
    pop["former_upn"] = np.where(temporary, temp_upn, "")
    first_day = days(first.set_index("child_id").start.reindex(pop.child_id))
    pop["upn_from"] = np.where(temporary, first_day + 120, np.datetime64("NaT")).astype("datetime64[D]")


def _temporary_check(bodies: np.ndarray) -> np.ndarray:
    """Check letters for temporary UPN bodies (11 digits and a letter), all at once."""
    if len(bodies) == 0:
        return bodies
    digits = np.frombuffer("".join(bodies.astype("U11")).encode("ascii"), dtype=np.uint8).reshape(-1, 11) - 48
    alphabet = np.array(list(UPN_ALPHABET))
    last = np.searchsorted(
        alphabet, np.char.add(bodies, "")[:, None].astype("U12").view("U1").reshape(-1, 12)[:, 11]
    )
    total = (digits.astype(np.int64) * np.arange(2, 13)).sum(axis=1) + last * 13
    return alphabet[total % 23]
