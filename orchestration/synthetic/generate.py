"""Write a synthetic local authority: partner files in their real layouts under a landing folder, and the
ground truth (true child of every record, every injected fault) in a folder of its own that the pipeline
never reads."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from orchestration.ingest.contracts import load_contracts
from orchestration.synthetic.faults import FaultLog
from orchestration.synthetic.health import simulate_health_assessments
from orchestration.synthetic.population import Window, days, load_calibration, simulate_population
from orchestration.synthetic.schools import assign_schools, simulate_census
from orchestration.synthetic.social_care import simulate_care_periods, simulate_episodes
from orchestration.synthetic.util import hex_ids

DEFAULT_FAULT_RATE = 0.02
SSD_DATETIME = "%Y-%m-%d %H:%M:%S.000"  # how SQL Server table dumps render DATETIME
CENSUS_DATETIME = "%Y-%b-%d 00:00:00"  # as in the school census extract tables
HEALTH_DATE = "%d/%m/%Y"


def _layout(dataset: str) -> list[str]:
    """Column order of a partner table as its contract records it: the real extract layout."""
    return load_contracts()[dataset].column_names


@dataclass
class GenerationResult:
    landing: Path
    ground_truth: Path
    files: dict[str, int] = field(default_factory=dict)
    children: int = 0
    faults: int = 0
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(self.files.values())


def default_as_of(today: date | None = None) -> date:
    """The last 31 March on or before today: the end of the latest complete collection year."""
    today = today or date.today()
    return date(today.year if (today.month, today.day) >= (3, 31) else today.year - 1, 3, 31)


def generate(
    out: Path,
    *,
    scale: float = 0.01,
    seed: int = 42,
    faults: float = DEFAULT_FAULT_RATE,
    as_of: date | None = None,
    truth_out: Path | None = None,
) -> GenerationResult:
    """Simulate a synthetic authority and write it. ``out`` is the landing folder."""
    started = time.perf_counter()
    as_of = as_of or default_as_of()
    truth_out = truth_out or out.parent / "ground_truth"
    rng = np.random.default_rng(seed)
    calib = load_calibration()
    window = Window(as_of)

    pop = simulate_population(rng, scale, window, calib)
    periods = simulate_care_periods(rng, pop, window, calib)
    episodes = simulate_episodes(rng, periods, pop, window, calib)
    schools = assign_schools(rng, pop, calib, scale)
    census, sessions = simulate_census(rng, pop, schools, episodes, window, calib)
    health = simulate_health_assessments(rng, periods, pop, window, calib)

    log = FaultLog(np.random.default_rng([seed, 1]), faults)
    result = GenerationResult(landing=out, ground_truth=truth_out)
    truth_records: list[pd.DataFrame] = []
    writer = _Writer(out, result)

    ssd, person_children = _ssd_tables(rng, pop, periods, episodes)
    for name, frame in ssd.items():
        writer.write(Path("social_care", "ssd", as_of.isoformat(), f"{name}.csv"), frame)
    truth_records.append(
        pd.DataFrame(
            {
                "dataset": "ssd_person",
                "record_id": ssd["ssd_person"].pers_person_id,
                "child_id": person_children,
            }
        )
    )

    _census_files(writer, census, sessions, log, truth_records)
    _health_file(writer, health, pop, log, truth_records, as_of)

    truth_out.mkdir(parents=True, exist_ok=True)
    children = pop[
        [
            "child_id",
            "forename",
            "surname",
            "dob",
            "sex",
            "ethnicity",
            "nhs_number",
            "upn",
            "postcode",
            "arrive",
            "leave",
        ]
    ].copy()
    children["leave"] = children["leave"].where(children["leave"] < np.datetime64("2199-01-01"))
    children.to_csv(truth_out / "children.csv", index=False, lineterminator="\n")
    pd.concat(truth_records, ignore_index=True).drop_duplicates().to_csv(
        truth_out / "records.csv", index=False, lineterminator="\n"
    )
    fault_frame = log.frame()
    fault_frame.to_csv(truth_out / "faults.csv", index=False, lineterminator="\n")
    (truth_out / "README.txt").write_text(
        "Ground truth of a synthetic authority. Never read by the pipeline: used by tests and the linkage "
        "evaluation only.\nchildren.csv: every simulated child; records.csv: the true child of every source "
        "record; faults.csv: every injected fault.\n",
        encoding="utf-8",
    )
    result.children = len(pop)
    result.faults = len(fault_frame)
    result.seconds = time.perf_counter() - started
    return result


class _Writer:
    def __init__(self, root: Path, result: GenerationResult) -> None:
        self.root = root
        self.result = result

    def write(self, relative: Path, frame: pd.DataFrame) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False, lineterminator="\n")
        self.result.files[relative.as_posix()] = len(frame)


def _fmt(values: np.ndarray | pd.Series, fmt: str) -> np.ndarray:
    stamps = pd.to_datetime(pd.Series(values))
    return stamps.dt.strftime(fmt).fillna("").to_numpy()


def _ssd_tables(
    rng: np.random.Generator, pop: pd.DataFrame, periods: pd.DataFrame, episodes: pd.DataFrame
) -> tuple[dict[str, pd.DataFrame], np.ndarray]:
    """ssd_person, ssd_legal_status, ssd_cla_episodes and ssd_cla_placement for every child in care."""
    known = pop[pop.child_id.isin(periods.child_id)].sort_values("child_id")
    person_ids = (100000 + rng.choice(900000, len(known), replace=False)).astype(str)
    id_of = dict(zip(known.child_id.to_numpy(), person_ids, strict=True))
    person = pd.DataFrame(
        {
            "pers_person_id": person_ids,
            "pers_forename": known.forename.to_numpy(),
            "pers_surname": known.surname.to_numpy(),
            "pers_sex": known.sex.to_numpy(),
            "pers_gender": known.sex.to_numpy(),
            "pers_ethnicity": known.ethnicity.to_numpy(),
            "pers_dob": _fmt(days(known.dob), SSD_DATETIME),
            "pers_common_child_id": known.nhs_number.to_numpy(),
            "pers_upn_unknown": "",
            "pers_send_flag": np.where(known.sen_provision.to_numpy() == "E", "Y", "N"),
            "pers_expected_dob": "",
            "pers_death_date": "",
            "pers_is_mother": "",
            "pers_nationality": "",
            "pers_upn": known.upn.to_numpy(),
        }
    )
    pid = periods.child_id.map(id_of).to_numpy()
    legal = pd.DataFrame(
        {
            "lega_legal_status_id": (700000 + periods.period_no.to_numpy()).astype(str),
            "lega_person_id": pid,
            "lega_legal_status": periods.legal_status.to_numpy(),
            "lega_legal_status_start_date": _fmt(days(periods.start), SSD_DATETIME),
            "lega_legal_status_end_date": _fmt(_open_as_nat(days(periods.end)), SSD_DATETIME),
        }
    )
    eps = episodes.reset_index(drop=True)
    ep_person = eps.child_id.map(id_of).to_numpy()
    placement_ids = (3000000 + np.arange(len(eps))).astype(str)
    period_start = periods.set_index("period_no").start.reindex(eps.period_no).to_numpy()
    episode_table = pd.DataFrame(
        {
            "clae_cla_episode_id": (2000000 + np.arange(len(eps))).astype(str),
            "clae_person_id": ep_person,
            "clae_cla_placement_id": placement_ids,
            "clae_cla_episode_start_date": _fmt(days(eps.start), SSD_DATETIME),
            "clae_cla_episode_start_reason": eps.rne.to_numpy(),
            "clae_cla_primary_need_code": eps.primary_need.to_numpy(),
            "clae_cla_episode_ceased_date": _fmt(_open_as_nat(days(eps.end)), SSD_DATETIME),
            "clae_cla_episode_ceased_reason": eps.rec.to_numpy(),
            "clae_cla_id": (500000 + eps.period_no.to_numpy()).astype(str),
            "clae_referral_id": "",
            "clae_entered_care_date": _fmt(period_start, SSD_DATETIME),
            "clae_cla_last_iro_contact_date": "",
        }
    )
    placement = pd.DataFrame(
        {
            "clap_cla_placement_id": placement_ids,
            "clap_cla_id": episode_table.clae_cla_id.to_numpy(),
            "clap_person_id": ep_person,
            "clap_cla_placement_start_date": episode_table.clae_cla_episode_start_date.to_numpy(),
            "clap_cla_placement_type": eps.place.to_numpy(),
            "clap_cla_placement_urn": eps.urn.to_numpy(),
            "clap_cla_placement_distance": "",
            "clap_cla_placement_provider": eps.provider.to_numpy(),
            "clap_cla_placement_postcode": eps.placement_postcode.to_numpy(),
            "clap_cla_placement_end_date": episode_table.clae_cla_episode_ceased_date.to_numpy(),
            "clap_cla_placement_change_reason": eps.reason_place_change.to_numpy(),
        }
    )
    tables = {
        "ssd_person": person,
        "ssd_legal_status": legal,
        "ssd_cla_episodes": episode_table,
        "ssd_cla_placement": placement,
    }
    return tables, known.child_id.to_numpy()


def _one_decimal(counts: pd.Series) -> np.ndarray:
    """Whole session counts written as the census extract writes them: ``134.0``."""
    return np.char.add(counts.to_numpy().astype(np.int64).astype(str), ".0")


def _open_as_nat(values: np.ndarray) -> np.ndarray:
    return np.where(values >= np.datetime64("2199-01-01"), np.datetime64("NaT"), values)


def _census_files(
    writer: _Writer, census: pd.DataFrame, sessions: pd.DataFrame, log: FaultLog, truth: list[pd.DataFrame]
) -> None:
    census = census.copy()
    census["dob"] = _fmt(days(census.dob), CENSUS_DATETIME)
    census["entrydate"] = _fmt(days(census.entrydate), CENSUS_DATETIME)
    log.typo(census, "school_census_pupil_on_roll", "pupilonrolltableid", "surname", 0.3)
    log.typo(census, "school_census_pupil_on_roll", "pupilonrolltableid", "forename", 0.3)
    truth.append(
        pd.DataFrame(
            {
                "dataset": "school_census_pupil_on_roll",
                "record_id": census.pupilonrolltableid,
                "child_id": census.child_id,
            }
        )
    )
    for column in ("termlysessionspossible", "termlysessionsauthorised", "termlysessionsunauthorised"):
        census[column] = np.where(census.has_term, _one_decimal(census[column]), "")
    census["pupilonrollorderseqcolumn"] = 1
    census["enrolstatus"] = "C"
    census["language"] = "ENG"
    census["schoolcensustableid"] = np.char.mod(
        "%08x", census.groupby(["census", "NativeId"]).ngroup().to_numpy()
    )
    sessions = sessions.copy()
    sessions["termlysessiondetailsonrolltableid"] = hex_ids(
        np.random.default_rng(len(sessions)), len(sessions), 8
    )
    sessions["termlysessiondetailsonrollorderseqcolumn"] = sessions.seq
    sessions["sessions"] = _one_decimal(sessions.sessions)

    for label, rows in census.groupby("census", sort=True):
        table = rows.reindex(columns=_layout("school_census_pupil_on_roll")).fillna("")
        writer.write(Path("schools", "school_census", f"{label}_pupilonroll.csv"), table)
    for label, rows in sessions.groupby("census", sort=True):
        table = log.duplicate_rows(
            rows.reset_index(drop=True),
            "school_census_termly_sessions",
            "termlysessiondetailsonrolltableid",
            0.1,
        )
        writer.write(
            Path("schools", "school_census", f"{label}_termlysessiondetailsonroll.csv"),
            table.reindex(columns=_layout("school_census_termly_sessions")),
        )


def _health_file(
    writer: _Writer,
    health: pd.DataFrame,
    pop: pd.DataFrame,
    log: FaultLog,
    truth: list[pd.DataFrame],
    as_of: date,
) -> None:
    who = pop.set_index("child_id").reindex(health.child_id)
    table = pd.DataFrame(
        {
            "assessment_id": health.assessment_id.to_numpy(),
            "nhs_number": who.nhs_number.to_numpy(),
            "forename": who.forename.to_numpy(),
            "surname": who.surname.to_numpy(),
            "date_of_birth": _fmt(days(who.dob), HEALTH_DATE),
            "sex": who.sex.to_numpy(),
            "postcode": who.postcode.to_numpy(),
            "assessment_type": health.assessment_type.to_numpy(),
            "assessment_date": _fmt(days(health.assessment_date), HEALTH_DATE),
            "due_date": _fmt(days(health.due_date), HEALTH_DATE),
            "outcome": health.outcome.to_numpy(),
        }
    )
    truth.append(
        pd.DataFrame(
            {
                "dataset": "health_assessments",
                "record_id": table.assessment_id,
                "child_id": health.child_id.to_numpy(),
            }
        )
    )
    log.blank(table, "health_assessments", "assessment_id", "nhs_number", 0.5)
    log.wrong_check_digit(table, "health_assessments", "assessment_id", "nhs_number", 0.2)
    log.typo(table, "health_assessments", "assessment_id", "surname", 0.3)
    table = log.duplicate_rows(table, "health_assessments", "assessment_id", 0.1)
    writer.write(Path("health", "health_assessments", f"health_assessments_{as_of:%Y-%m}.csv"), table)
