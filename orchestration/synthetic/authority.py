"""Write a synthetic local authority: partner files in their real layouts under a landing folder, and the
ground truth (true child of every record, every injected fault) in a folder of its own that the pipeline
never reads."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from orchestration.ingest.contracts import load_contract_versions
from orchestration.synthetic.faults import HUMAN_HEADERS, FaultLog, excel_serial
from orchestration.synthetic.health import simulate_health
from orchestration.synthetic.population import (
    FAR_FUTURE,
    Window,
    add_years,
    days,
    load_calibration,
    load_names,
    postcode_on,
    simulate_population,
)
from orchestration.synthetic.schools.attainment import key_stage_results
from orchestration.synthetic.schools.careers import assign_upns, make_schools, school_spells
from orchestration.synthetic.schools.census import CENSUS_DATETIME, simulate_census
from orchestration.synthetic.social_care import records
from orchestration.synthetic.social_care.care import build_care_timelines, exit_codes
from orchestration.synthetic.social_care.dolo import dolo_orders
from orchestration.synthetic.social_care.referrals import simulate_children_in_need
from orchestration.synthetic.social_care.ssd import build_ssd_tables
from orchestration.synthetic.util import hex_ids

DEFAULT_FAULT_RATE = 0.02
HEALTH_DATE = "%d/%m/%Y"
KS_DATE = "%d/%m/%Y"
SSD_DOB = "%Y-%m-%d %H:%M:%S.000"


@dataclass
class GenerationResult:
    landing: Path
    ground_truth: Path
    files: dict[str, int] = field(default_factory=dict)
    children: int = 0
    faults: int = 0
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(self.files.values())


@dataclass
class FileSpec:
    """One file to write. Columns starting with ``_`` are bookkeeping and never written."""

    relative: str
    dataset: str
    frame: pd.DataFrame
    id_column: str | None = None  # the record id the ground truth keys on (else file and line)
    date_columns: tuple[str, ...] = ()
    date_format: str | None = None
    describes_person: bool = False
    # whether the whole file may be written wrongly (an encoding, a cut last line, ...): not for a table added
    # after the others, whose place in the draw would change every other file's
    file_faults: bool = True


def default_as_of(today: date | None = None) -> date:
    """The last 31 March on or before today: the end of the latest complete collection year."""
    today = today or date.today()
    return date(today.year if (today.month, today.day) >= (3, 31) else today.year - 1, 3, 31)


def _fmt(values: np.ndarray | pd.Series, fmt: str) -> np.ndarray:
    d = days(values)
    blank = np.isnat(d) | (d >= FAR_FUTURE)
    text = pd.DatetimeIndex(np.where(blank, np.datetime64("1900-01-01"), d)).strftime(fmt).to_numpy()
    return np.where(blank, "", text)


def _layout(dataset: str, period: str = "9999") -> tuple[list[str], list[str]]:
    """(contract names, file headings) of a partner table in the given period, in the file's order: the
    real extract layout of that year."""
    table = load_contract_versions()[dataset].for_period(period).table
    return table.column_names, table.headings


class Timer:
    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.last = self.started
        self.stages: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.stages[name] = now - self.last
        self.last = now


@dataclass(eq=False)
class MemberOf:
    """A synthetic authority as one member of a synthetic region: its own codes, its own block of the NHS
    test range, and children it shares with another member (their identities, from that member's ground
    truth: moved between the two, placed across the border, at school over it)."""

    authority: dict  # name, la_number, ons_code, other_la_numbers: over calibration.yml's
    nhs_serials: tuple[int, int]
    shared: pd.DataFrame | None = None  # forename, surname, dob, sex, ethnicity, nhs_number, arrive,
    # leave and region_child of children the other member holds


SHARED_COLUMNS = ("forename", "surname", "dob", "sex", "ethnicity", "nhs_number", "arrive", "leave")


def simulate(
    scale: float, seed: int, as_of: date, timer: Timer | None = None, member: MemberOf | None = None
) -> dict:
    """The whole simulated authority, as data frames (no files)."""
    timer = timer or Timer()
    rng = np.random.default_rng(seed)
    calib = load_calibration()
    if member is not None:
        calib["authority"].update(member.authority)
    window = Window(as_of)
    pop = simulate_population(
        rng, scale, window, calib, member.nhs_serials if member is not None else (0, 1_000_000)
    )
    if member is not None:
        _adopt_shared(pop, member, np.random.default_rng([seed, 8]), calib)
    cin = simulate_children_in_need(rng, pop, window, calib)
    periods = cin.care_periods.reset_index(drop=True)
    periods["period_no"] = np.arange(len(periods))
    legal, placements, episodes = build_care_timelines(rng, periods, pop, window, calib)
    episodes["rec_code"] = exit_codes(rng, episodes, placements, periods)
    _surname_changes(rng, pop, periods)
    timer.lap("social care")

    schools = make_schools(rng, calib, scale)
    spells = school_spells(rng, pop, schools, placements, window, calib)
    assign_upns(rng, pop, spells, schools, calib, window)
    census = simulate_census(rng, pop, schools, spells, periods, placements, cin.episodes, window, calib)
    on_roll = pd.concat(census.on_roll, ignore_index=True)
    ks2, ks4 = key_stage_results(rng, pop, on_roll, schools, calib["authority"]["la_number"], as_of)
    timer.lap("schools")

    health = simulate_health(rng, periods, pop, window, calib, cin.episodes.child_id.unique())
    sc = calib["social_care"]
    professionals, involvements = records.social_workers(rng, cin.episodes, periods, window, sc, scale)
    names_of_las = ["Sandwell", "Walsall", "Wolverhampton", "Birmingham", "Worcestershire", "Staffordshire"]
    sim = {
        "pop": pop,
        "cin": cin,
        "periods": periods,
        "legal": legal,
        "placements": placements,
        "episodes": episodes,
        "schools": schools,
        "spells": spells,
        "census": census,
        "ks2": ks2,
        "ks4": ks4,
        "health": health,
        "professionals": professionals,
        "involvements": involvements,
        "reviews": records.cla_reviews(rng, periods, pop, window),
        "missing": records.missing_episodes(rng, placements, pop, window, sc),
        "oc2": records.oc2_events(rng, periods, pop, window),
        "care_leavers": records.care_leavers(rng, periods, pop, window),
        "permanence": records.permanence(rng, periods, legal, placements, window, sc),
        "previous_permanence": records.previous_permanence(rng, periods, names_of_las),
        "early_help": records.early_help(rng, pop, window, sc),
        "window": window,
        "calib": calib,
        "rng": rng,
    }
    timer.lap("health and records")
    return sim


def _adopt_shared(pop: pd.DataFrame, member: MemberOf, rng: np.random.Generator, calib: dict) -> None:
    """Each child gets a region-wide true identity (``region_child``: LA number and child id); the shared
    children take the place of as many of this member's, with the other member's identity and dates, so
    that the same child is in both members' records."""
    la = calib["authority"]["la_number"]
    pop["region_child"] = la + ":" + pop.child_id.astype(str)
    shared = member.shared
    if shared is None or shared.empty:
        return
    candidates = np.flatnonzero(~pop.is_uasc.to_numpy())
    take = min(len(shared), len(candidates))
    where = np.sort(rng.choice(candidates, size=take, replace=False))
    shared = shared.iloc[:take]
    for column in SHARED_COLUMNS:
        values = shared[column].to_numpy()
        if column in ("dob", "arrive", "leave"):
            values = pd.to_datetime(pd.Series(values).replace("", None)).to_numpy().astype("datetime64[D]")
            values = np.where(np.isnat(values), FAR_FUTURE, values)
        pop.loc[pop.index[where], column] = values
    pop.loc[pop.index[where], "region_child"] = shared.region_child.to_numpy()
    pop["eighteenth"] = add_years(days(pop.dob), 18)
    groups = {c: v[1] for c, v in calib["ethnicity"].items()}
    pop.loc[pop.index[where], "name_group"] = pop.ethnicity.iloc[where].map(groups).to_numpy()


def _surname_changes(rng: np.random.Generator, pop: pd.DataFrame, periods: pd.DataFrame) -> None:
    """Adopted children take their adopters' surname; a few others change surname in the window."""
    names = load_names()
    n = len(pop)
    adopted = periods[periods.exit_route == "adoption"]
    when = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    when[adopted.child_id.to_numpy()] = days(adopted.end)
    other = (rng.random(n) < 0.012) & np.isnat(when)
    when = np.where(other, days(pop.arrive) + rng.integers(365, 3650, n).astype("timedelta64[D]"), when)
    changed = ~np.isnat(when)
    new = pop.surname.to_numpy().copy()
    for group, idx in sorted(pop.groupby("name_group").indices.items()):
        pool = names[(names.kind == "surname") & (names.name_group == group)].name.to_numpy()
        new[idx] = rng.choice(pool, len(idx))
    pop["previous_surname"] = np.where(changed, pop.surname.to_numpy(), "")
    pop["surname"] = np.where(changed, new, pop.surname.to_numpy())
    pop["surname_changed_on"] = when


def surname_on(pop: pd.DataFrame, child: np.ndarray, when: np.ndarray) -> np.ndarray:
    changed_on = days(pop.surname_changed_on)[child]
    before = ~np.isnat(changed_on) & (when < changed_on)
    return np.where(before, pop.previous_surname.to_numpy()[child], pop.surname.to_numpy()[child])


def generate(
    out: Path,
    *,
    scale: float = 0.05,
    seed: int = 42,
    faults: float = DEFAULT_FAULT_RATE,
    as_of: date | None = None,
    truth_out: Path | None = None,
    member: MemberOf | None = None,
) -> GenerationResult:
    """Simulate a synthetic authority and write it. ``out`` is the landing folder."""
    timer = Timer()
    as_of = as_of or default_as_of()
    truth_out = truth_out or out.parent / "ground_truth"
    sim = simulate(scale, seed, as_of, timer, member)
    calib, window = sim["calib"], sim["window"]
    log = FaultLog(np.random.default_rng([seed, 1]), faults, calib["faults"])
    sim["duplicate_people"] = _people_recorded_twice(log, sim)

    specs: list[FileSpec] = []
    ssd, person_truth = build_ssd_tables(sim, sim["pop"], window, np.random.default_rng([seed, 2]), calib)
    folder = f"social_care/ssd/{as_of.isoformat()}"
    for name, frame in ssd.items():
        spec = FileSpec(f"{folder}/{name}.csv", name, frame)
        if name == "ssd_person":
            frame["_child_id"] = person_truth.child_id.to_numpy()
            spec.id_column, spec.describes_person = "pers_person_id", True
            spec.date_columns, spec.date_format = ("pers_dob",), SSD_DOB
        specs.append(spec)
    specs += _census_specs(sim)
    specs += _key_stage_specs(sim)
    specs += _health_specs(sim, as_of)
    # the authority's own list of deprivation of liberty orders, in the 903 layout (no SSD object holds them);
    # last, so that the files before it are written (and their faults drawn) as they were without it
    orders = dolo_orders(ssd, np.random.default_rng([seed, 4]), calib, as_of)
    orders = _dolo_faults(orders, log, np.random.default_rng([seed, 5]))
    specs.append(
        FileSpec(
            f"social_care/ssda903/{as_of.isoformat()}/dolo.csv", "ssda903_dolo", orders, file_faults=False
        )
    )
    timer.lap("tables")

    result = _write_all(specs, out, truth_out, log, np.random.default_rng([seed, 3]))
    result.children = len(sim["pop"])
    _write_provider_lists(sim, out, as_of, np.random.default_rng([seed, 6]), result)
    timer.lap("write")
    _write_truth(sim, truth_out, result, log)
    timer.lap("ground truth")
    result.stage_seconds = timer.stages
    result.seconds = time.perf_counter() - timer.started
    return result


def _write_provider_lists(
    sim: dict, out: Path, as_of: date, rng: np.random.Generator, result: GenerationResult
) -> None:
    """Ofsted's children's homes and social care providers lists, as downloaded on the extract date."""
    from orchestration.synthetic.population import load_postcodes
    from orchestration.synthetic.social_care.providers import (
        CHILDRENS_HOMES_SHEET,
        PROVIDERS_SHEETS,
        provider_lists,
        workbook,
    )

    homes, current, closed = provider_lists(
        sim["placements"], load_postcodes(), sim["calib"]["authority"]["ons_code"], rng, as_of
    )
    folder = out / "social_care" / "ofsted" / as_of.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    for name, sheets in (
        ("childrens_homes.xlsx", {CHILDRENS_HOMES_SHEET: homes}),
        ("social_care_providers.xlsx", dict(zip(PROVIDERS_SHEETS, (current, closed), strict=True))),
    ):
        (folder / name).write_bytes(workbook(sheets, as_of))
        result.files[f"social_care/ofsted/{as_of.isoformat()}/{name}"] = sum(len(f) for f in sheets.values())


def _dolo_faults(orders: pd.DataFrame, log: FaultLog, rng: np.random.Generator) -> pd.DataFrame:
    """An order whose end was typed before its start (the validator's rule 702, pre-check WC903-702)."""
    ended = orders.DOLO_END.ne("").to_numpy()
    hit = ended & log.pick(len(orders), "dolo_end_before_start", rng)
    if not hit.any():
        return orders
    orders = orders.copy()
    before = orders.loc[hit, "DOLO_END"].to_numpy()
    wrong = (
        pd.to_datetime(orders.loc[hit, "DOLO_START"], format="%d/%m/%Y") - pd.Timedelta(days=7)
    ).dt.strftime("%d/%m/%Y")
    orders.loc[hit, "DOLO_END"] = wrong.to_numpy()
    ids = (orders.loc[hit, "CHILD"] + ":" + orders.loc[hit, "DOLO_START"]).to_numpy()
    log.record("ssda903_dolo", ids, "DOLO_END", "dolo_end_before_start", before, wrong.to_numpy())
    return orders


def _people_recorded_twice(log: FaultLog, sim: dict) -> pd.DataFrame:
    """A child with more than one referral whose last, non-care, episode was recorded against a second
    person record in the CMS."""
    ep = sim["cin"].episodes
    last = ep.drop_duplicates("child_id", keep="last")
    multi = ep.child_id.value_counts()
    eligible = last[last.child_id.map(multi).gt(1).to_numpy() & ~last.went_into_care.to_numpy()]
    share = min(1.0, log.rate * sim["calib"]["faults"]["person_recorded_twice"] * 5)
    hit = log.rng.random(len(eligible)) < share if log.rate > 0 else np.zeros(len(eligible), dtype=bool)
    chosen = eligible[hit][["child_id", "episode_id"]].reset_index(drop=True)
    log.record(
        "ssd_person",
        chosen.child_id.astype(str).to_numpy(),
        "pers_person_id",
        "person_recorded_twice",
        chosen.episode_id.astype(str).to_numpy(),
        np.full(len(chosen), "second person record"),
    )
    return chosen


def _census_specs(sim: dict) -> list[FileSpec]:
    pop, census = sim["pop"], sim["census"]
    specs = []
    tables = {
        "pupilonroll": ("school_census_pupil_on_roll", census.on_roll),
        "pupilnolongeronroll": ("school_census_pupil_no_longer_on_roll", census.off_roll),
        "termlysessiondetailsonroll": ("school_census_termly_sessions", census.sessions_on),
        "termlysessiondetailsoffroll": ("school_census_termly_sessions_off_roll", census.sessions_off),
        "addressesonroll": ("school_census_addresses_on_roll", census.addresses_on),
        "addressesoffroll": ("school_census_addresses_off_roll", census.addresses_off),
        "fsmperiodsonroll": ("school_census_fsm_periods", census.fsm_on),
        "senneedsonroll": ("school_census_sen_needs", census.sen_on),
        "termlyexclusionsonroll": ("school_census_exclusions", census.exclusions_on),
        "termlyexclusionsoffroll": ("school_census_exclusions_off_roll", census.exclusions_off),
    }
    for table, (dataset, parts) in tables.items():
        if not parts:
            continue
        frame = pd.concat(parts, ignore_index=True)
        shaped = _shape_census(table, frame, pop)
        for label, rows in shaped.groupby("_census", sort=True):
            # the layout of that year's census: columns added, dropped or renamed since are as they were
            names, headings = _layout(dataset, label.replace("_", "-"))
            keep = [c for c in rows.columns if c.startswith("_")]
            rows = rows.reindex(columns=names + keep).reset_index(drop=True)
            rows[names] = rows[names].fillna("")
            rows.columns = headings + keep
            spec = FileSpec(f"schools/school_census/{label}_{table}.csv", dataset, rows)
            if table in ("pupilonroll", "pupilnolongeronroll"):
                key = "pupilonrolltableid" if table == "pupilonroll" else "pupilnolongeronrolltableid"
                spec.id_column, spec.describes_person = key, True
                spec.date_columns, spec.date_format = ("dob",), CENSUS_DATETIME
            specs.append(spec)
    return specs


def _sessions(values: np.ndarray) -> np.ndarray:
    """Session counts as the census extract writes them: ``134.0``; blank where none were reported."""
    v = np.asarray(values).astype(np.int64)
    return np.where(v >= 0, np.char.add(v.astype(str), ".0"), "")


def _shape_census(table: str, frame: pd.DataFrame, pop: pd.DataFrame) -> pd.DataFrame:
    """The census frame in the table's real layout (column names as in the reference extract)."""
    child = frame.child_id.to_numpy()
    off_roll = table.endswith("offroll") or table == "pupilnolongeronroll"
    parent_key = "pupilnolongeronrolltableid" if off_roll else "pupilonrolltableid"
    if table in ("pupilonroll", "pupilnolongeronroll"):
        day = days(frame.day)
        upn_now = np.where(
            ~np.isnat(days(pop.upn_from)[child]) & (day < days(pop.upn_from)[child]),
            pop.former_upn.to_numpy()[child],
            pop.upn.to_numpy()[child],
        )
        former = np.where(upn_now == pop.upn.to_numpy()[child], pop.former_upn.to_numpy()[child], "")
        surname = surname_on(pop, child, day)
        former_surname = np.where(
            (surname == pop.surname.to_numpy()[child]) & (pop.previous_surname.to_numpy()[child] != ""),
            pop.previous_surname.to_numpy()[child],
            "",
        )
        nc = frame.nc_year.to_numpy()
        out = pd.DataFrame(
            {
                parent_key: frame.table_id.to_numpy(),
                "NativeId": frame.NativeId.to_numpy(),
                "dob": _fmt(days(pop.dob)[child], CENSUS_DATETIME),
                "surname": surname,
                "forename": pop.forename.to_numpy()[child],
                "formersurname": former_surname,
                "upn": upn_now,
                "formerupn": former,
                "uniquelearnernumber": np.where(nc >= 10, (4_000_000_000 + child).astype(str), ""),
                "sex": pop.sex.to_numpy()[child],
                "entrydate": _fmt(frame.entrydate, CENSUS_DATETIME),
                f"{'pupilonroll' if table == 'pupilonroll' else 'pupilnolongeronroll'}orderseqcolumn": "1",
                "sourceid": frame.sourceid.to_numpy(),
                "schoolcensustableid": np.char.mod(
                    "%08x", frame.groupby(["census", "NativeId"]).ngroup().to_numpy()
                ),
                "parttime": "False",
                "termlysessionspossible": _sessions(frame.possible),
                "termlysessionsauthorised": np.where(
                    frame.possible.to_numpy() >= 0, _sessions(frame.authorised), ""
                ),
                "termlysessionsunauthorised": np.where(
                    frame.possible.to_numpy() >= 0, _sessions(frame.unauthorised), ""
                ),
                "language": "ENG",
                "enrolstatus": "C",
                "senprovision": frame.sen.to_numpy(),
                "ncyearactual": np.where(nc == 0, "R", nc.astype(str)),
            }
        )
        if table == "pupilnolongeronroll":
            out["leavingdate"] = _fmt(frame.leavingdate, CENSUS_DATETIME)
            out["ncyearleaving"] = out.pop("ncyearactual")
        dataset = (
            "school_census_pupil_on_roll"
            if table == "pupilonroll"
            else "school_census_pupil_no_longer_on_roll"
        )
        out = out.reindex(columns=_layout(dataset)[0]).fillna("")
        out["_previous_postcode"] = ""
    elif table.startswith("termlysessiondetails"):
        out = pd.DataFrame(
            {
                parent_key: frame.table_id.to_numpy(),
                "NativeId": frame.NativeId.to_numpy(),
                f"{table}tableid": frame.detail_id.to_numpy(),
                f"{table}orderseqcolumn": frame.seq.astype(str).to_numpy(),
                "sourceid": frame.sourceid.to_numpy(),
                "sessions": _sessions(frame.sessions),
                "attendancereason": frame.attendancereason.to_numpy(),
            }
        )
    elif table.startswith("addresses"):
        out = pd.DataFrame(
            {
                parent_key: frame.table_id.to_numpy(),
                "NativeId": frame.NativeId.to_numpy(),
                f"{table}tableid": frame.address_id.to_numpy(),
                f"{table}orderseqcolumn": "1",
                "sourceid": frame.sourceid.to_numpy(),
                "uniquepropertyreferencenumber": frame.uprn.to_numpy(),
                "postcode": frame.postcode.to_numpy(),
            }
        )
    elif table == "fsmperiodsonroll":
        out = pd.DataFrame(
            {
                parent_key: frame.table_id.to_numpy(),
                "NativeId": frame.NativeId.to_numpy(),
                "fsmperiodsonrolltableid": hex_ids(np.random.default_rng(len(frame)), len(frame), 8),
                "fsmperiodsonrollorderseqcolumn": frame.seq.astype(str).to_numpy(),
                "sourceid": frame.sourceid.to_numpy(),
                "fsmstartdate": _fmt(frame.start, CENSUS_DATETIME),
                "fsmenddate": _fmt(frame.end_text, CENSUS_DATETIME),
                "ukcountry": "ENG",
            }
        )
    elif table == "senneedsonroll":
        out = pd.DataFrame(
            {
                parent_key: frame.table_id.to_numpy(),
                "NativeId": frame.NativeId.to_numpy(),
                "senneedsonrolltableid": hex_ids(np.random.default_rng(len(frame) + 1), len(frame), 8),
                "senneedsonrollorderseqcolumn": frame.sentyperank.astype(str).to_numpy(),
                "sourceid": frame.sourceid.to_numpy(),
                "sentype": frame.sentype.to_numpy(),
                "sentyperank": frame.sentyperank.astype(str).to_numpy(),
            }
        )
    else:  # exclusions
        out = pd.DataFrame(
            {
                parent_key: frame.table_id.to_numpy(),
                "NativeId": frame.NativeId.to_numpy(),
                f"{table}tableid": frame.exclusion_id.to_numpy(),
                f"{table}orderseqcolumn": frame.seq.astype(str).to_numpy(),
                "sourceid": frame.sourceid.to_numpy(),
                "startdate": _fmt(frame.startdate, CENSUS_DATETIME),
                "sessions": _sessions(frame.sessions),
                "reason1": frame.reason1.to_numpy(),
                "reason2": "",
                "reason3": "",
                # a fixed-period exclusion was recorded as FIXD until it became a suspension in 2022
                "category": np.where(
                    (frame.census.str[:4].astype(int) < 2022) & (frame.category == "SUSP"),
                    "FIXD",
                    frame.category,
                ),
                "senprovision": frame.senprovision.to_numpy(),
            }
        )
    out["_census"] = frame.census.to_numpy()
    out["_child_id"] = child
    return out


def _key_stage_specs(sim: dict) -> list[FileSpec]:
    pop = sim["pop"]
    specs = []
    for stage, frame in (("ks2", sim["ks2"]), ("ks4", sim["ks4"])):
        if frame.empty:
            continue
        prefix = stage.upper()
        child = frame.child_id.to_numpy()
        year = frame[f"{prefix}_ACADYR"].str[5:].astype(int).to_numpy()
        results_day = (
            pd.to_datetime(pd.DataFrame({"year": year, "month": 7, "day": 1}))
            .to_numpy()
            .astype("datetime64[D]")
        )
        ident = pd.DataFrame(
            {
                f"{prefix}_UPN": pop.upn.to_numpy()[child],
                f"{prefix}_SURNAME": surname_on(pop, child, results_day),
                f"{prefix}_FORENAME": pop.forename.to_numpy()[child],
                f"{prefix}_DOB": _fmt(days(pop.dob)[child], KS_DATE),
                f"{prefix}_SEX": pop.sex.to_numpy()[child],
            }
        )
        body = frame.drop(columns=["child_id", "census"])
        out = pd.concat([body.iloc[:, :1], ident, body.iloc[:, 1:]], axis=1)
        out["_child_id"] = child
        for y, rows in out.groupby(year, sort=True):
            specs.append(
                FileSpec(
                    f"schools/{stage}/{stage}_results_{y}.csv",
                    f"{stage}_results",
                    rows.reset_index(drop=True),
                    None,
                    (f"{prefix}_DOB",),
                    KS_DATE,
                    True,
                )
            )
    return specs


def _where_living(sim: dict, child: np.ndarray, when: np.ndarray) -> np.ndarray:
    """Postcode a health record would carry: the placement's while in care, otherwise home."""
    pop, placements = sim["pop"], sim["placements"]
    home = postcode_on(pop.iloc[child], when)
    frame = pd.DataFrame({"child_id": child, "when": when, "row": np.arange(len(child))}).sort_values("when")
    pl = placements[["child_id", "placement_start", "placement_end", "placement_postcode"]].copy()
    pl["placement_start"] = days(pl.placement_start).astype("datetime64[ns]")
    frame["when"] = frame["when"].astype("datetime64[ns]")
    merged = pd.merge_asof(
        frame, pl.sort_values("placement_start"), left_on="when", right_on="placement_start", by="child_id"
    )
    live = merged.placement_end.notna().to_numpy() & (
        days(merged.placement_end.fillna(pd.Timestamp("1900-01-01"))) > days(merged["when"])
    )
    placed = np.full(len(child), "", dtype=object)
    placed[merged.row.to_numpy()[live]] = merged.placement_postcode.to_numpy()[live]
    return np.where(placed != "", placed, home)


def _health_specs(sim: dict, as_of: date) -> list[FileSpec]:
    pop, health = sim["pop"], sim["health"]
    rng = np.random.default_rng(7)
    window = sim["window"]
    stamp = f"{as_of:%Y-%m}"
    specs = []

    def person(child: np.ndarray, when: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "nhs_number": pop.nhs_number.to_numpy()[child],
            "forename": pop.forename.to_numpy()[child],
            "surname": surname_on(pop, child, when),
            "date_of_birth": _fmt(days(pop.dob)[child], HEALTH_DATE),
            "sex": pop.sex.to_numpy()[child],
        }

    def keep(frame: pd.DataFrame, col: str) -> pd.DataFrame:
        d = days(frame[col])
        return frame[(d >= window.start) & (d <= window.end)].reset_index(drop=True)

    ha = keep(health["assessments"], "assessment_date")
    child, when = ha.child_id.to_numpy(), days(ha.assessment_date)
    frame = pd.DataFrame(
        {
            "assessment_id": np.char.upper(hex_ids(rng, len(ha), 10)),
            **person(child, when),
            "postcode": _where_living(sim, child, when),
            "assessment_type": ha.assessment_type.to_numpy(),
            "assessment_date": _fmt(when, HEALTH_DATE),
            "due_date": _fmt(ha.due_date, HEALTH_DATE),
            "outcome": "Completed",
            "immunisations_up_to_date": np.where(ha.immunisations_up_to_date.to_numpy(), "Y", "N"),
        }
    )
    specs.append(
        _health_spec(
            f"health/health_assessments/health_assessments_{stamp}.csv",
            "health_assessments",
            frame,
            pop,
            child,
            "assessment_id",
        )
    )
    dn = keep(health["dental"], "check_date")
    child, when = dn.child_id.to_numpy(), days(dn.check_date)
    frame = pd.DataFrame(
        {
            "check_id": np.char.upper(hex_ids(rng, len(dn), 10)),
            **person(child, when),
            "postcode": _where_living(sim, child, when),
            "check_date": _fmt(when, HEALTH_DATE),
            "practice_code": np.char.add("V", rng.integers(10000, 99999, len(dn)).astype(str)),
        }
    )
    specs.append(
        _health_spec(
            f"health/dental_checks/dental_checks_{stamp}.csv", "dental_checks", frame, pop, child, "check_id"
        )
    )
    sq = keep(health["sdq"], "completed_date")
    sq = sq[sq.score.notna()]  # the health partner holds the questionnaires completed, not reasons for none
    child, when = sq.child_id.to_numpy(), days(sq.completed_date)
    frame = pd.DataFrame(
        {
            "sdq_id": np.char.upper(hex_ids(rng, len(sq), 10)),
            **person(child, when),
            "completed_date": _fmt(when, HEALTH_DATE),
            "informant": "Carer",
            "total_difficulties_score": sq.score.astype(int).astype(str).to_numpy(),
        }
    )
    specs.append(
        _health_spec(f"health/sdq_scores/sdq_scores_{stamp}.csv", "sdq_scores", frame, pop, child, "sdq_id")
    )
    cm = keep(health["camhs"], "referral_date")
    child, when = cm.child_id.to_numpy(), days(cm.referral_date)
    frame = pd.DataFrame(
        {
            "referral_id": np.char.upper(hex_ids(rng, len(cm), 10)),
            **person(child, when),
            "postcode": _where_living(sim, child, when),
            "referral_date": _fmt(when, HEALTH_DATE),
            "referral_source": cm.referral_source.to_numpy(),
            "outcome": cm.outcome.to_numpy(),
            "first_appointment_date": _fmt(cm.first_appointment_date, HEALTH_DATE),
        }
    )
    specs.append(
        _health_spec(
            f"health/camhs_referrals/camhs_referrals_{stamp}.csv",
            "camhs_referrals",
            frame,
            pop,
            child,
            "referral_id",
        )
    )
    return specs


def _health_spec(
    relative: str, dataset: str, frame: pd.DataFrame, pop: pd.DataFrame, child: np.ndarray, id_column: str
) -> FileSpec:
    frame["_previous_postcode"] = pop.previous_postcode.to_numpy()[child]
    frame["_child_id"] = child
    return FileSpec(relative, dataset, frame, id_column, ("date_of_birth",), HEALTH_DATE, True)


# --- writing ------------------------------------------------------------------------------------------


def _person_roles(frame: pd.DataFrame) -> dict[str, str]:
    """Which columns of a partner file identify the person, by their role."""
    roles = {}
    for column in frame.columns:
        lower = column.lower()
        for role, names in (
            ("forename", ("forename", "pers_forename")),
            ("surname", ("surname", "pers_surname")),
            ("dob", ("dob", "date_of_birth", "pers_dob")),
            ("nhs_number", ("nhs_number", "pers_common_child_id")),
            ("upn", ("upn", "pers_upn")),
            ("postcode", ("postcode",)),
        ):
            if lower in names or any(lower.endswith("_" + n) for n in names if "_" not in n):
                roles.setdefault(role, column)
    return roles


def _write_all(
    specs: list[FileSpec], out: Path, truth_out: Path, log: FaultLog, rng: np.random.Generator
) -> GenerationResult:
    result = GenerationResult(landing=out, ground_truth=truth_out)
    file_faults = log.choose_file_faults([s.relative for s in specs if s.file_faults])
    truth: list[pd.DataFrame] = []
    con = duckdb.connect()
    for spec in specs:
        frame = spec.frame
        if spec.describes_person:
            if spec.id_column is None:
                frame["_row"] = np.arange(len(frame)).astype(str)
            log.person_fields(
                frame, spec.dataset, spec.id_column or "_row", _person_roles(frame), spec.date_format
            )
        # any extract can repeat a row; the fault log names it by the file's id (or first) column
        frame = log.duplicate_rows(frame, spec.dataset, spec.id_column or frame.columns[0])
        kind = file_faults.get(spec.relative)
        written = _write_file(con, out / spec.relative, frame, kind, spec, rng)
        if written["fault"]:
            log.record_file(spec.dataset, spec.relative, written["fault"], written["detail"])
        result.files[spec.relative] = written["rows"]
        if spec.describes_person:
            lines = written["lines"]
            truth.append(
                pd.DataFrame(
                    {
                        "dataset": spec.dataset,
                        "file": spec.relative,
                        "line": lines,
                        "record_id": frame[spec.id_column].to_numpy() if spec.id_column else "",
                        "child_id": frame["_child_id"].to_numpy(),
                    }
                )
            )
    con.close()
    truth_out.mkdir(parents=True, exist_ok=True)
    pd.concat(truth, ignore_index=True).to_csv(truth_out / "records.csv", index=False, lineterminator="\n")
    return result


def _row_hash(frame: pd.DataFrame) -> np.ndarray:
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def _write_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    frame: pd.DataFrame,
    kind: str | None,
    spec: FileSpec,
    rng: np.random.Generator,
) -> dict:
    """Write one CSV (with its file fault, if any). Returns rows, the line of each row, and a detail."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = frame[[c for c in frame.columns if not c.startswith("_")]].copy()
    detail = ""
    if kind == "renamed_headers":
        renames = {
            c: HUMAN_HEADERS.get(c, c.replace("_", " ").title())
            for c in body.columns[: max(2, len(body.columns) // 3)]
        }
        body = body.rename(columns=renames)
        detail = "; ".join(f"{a} -> {b}" for a, b in renames.items())
    elif kind == "reordered_columns":
        order = list(rng.permutation(body.columns))
        body = body[order]
        detail = ",".join(order)
    elif kind == "extra_column":
        # by the row's content, so a row sent twice is still sent twice exactly (an exact duplicate)
        body["Notes"] = np.where(_row_hash(body) % 10 == 0, "see case file", "")
        detail = "Notes"
    elif kind == "excel_dates" and spec.date_columns and spec.date_format:
        column = spec.date_columns[0]
        hit = _row_hash(body) % 5 == 0
        body.loc[hit, column] = excel_serial(body.loc[hit, column], spec.date_format).to_numpy()
        detail = f"{column}: {int(hit.sum())} values as Excel serial numbers"
    elif kind == "excel_dates":
        kind = None
    # empty cells are written bare (``,,``), as partner systems do, not as a quoted empty string
    body = body.astype(object).where(body.astype(str) != "", None)
    con.register("_frame", body)
    tmp = path.with_suffix(".tmp")
    con.execute(f"copy (select * from _frame) to '{tmp}' (header, delimiter ',', quote '\"')")
    con.unregister("_frame")
    data = tmp.read_bytes()
    tmp.unlink()
    lines = 2 + np.arange(len(body))
    if kind == "blank_rows" and len(body) > 2:
        text = data.decode("utf-8").split("\n")
        at = sorted(
            rng.choice(np.arange(2, len(text) - 1), size=min(3, len(text) - 3), replace=False).tolist()
        )
        for offset, position in enumerate(at):
            text.insert(position + offset, "," * (len(body.columns) - 1) if offset % 2 else "")
        data = "\n".join(text).encode("utf-8")
        inserted = np.array([p + o for o, p in enumerate(at)])
        lines = lines + np.searchsorted(inserted, lines, side="right")
        detail = f"blank or empty rows at lines {', '.join(str(p + 1) for p in inserted)}"
    elif kind == "truncated" and len(data) > 40:
        cut = data.rstrip(b"\n")
        cut = cut[: cut.rfind(b"\n") + 1 + max(1, (len(cut) - cut.rfind(b"\n")) // 2)]
        data = cut
        detail = "last line cut short"
    if kind == "windows_1252":
        data = data.decode("utf-8").encode("cp1252", errors="replace")
        detail = "encoded as Windows-1252"
    elif kind == "byte_order_mark":
        data = b"\xef\xbb\xbf" + data
        detail = "UTF-8 with a byte-order mark"
    path.write_bytes(data)
    return {"rows": len(body), "lines": lines, "detail": detail, "fault": kind}


def _write_truth(sim: dict, truth_out: Path, result: GenerationResult, log: FaultLog) -> None:
    pop = sim["pop"]
    children = pop[
        [
            "child_id",
            "forename",
            "surname",
            "previous_surname",
            "dob",
            "sex",
            "ethnicity",
            "nhs_number",
            "upn",
            "former_upn",
            "postcode",
            "arrive",
            "leave",
            "is_uasc",
            *(["region_child"] if "region_child" in pop else []),
        ]
    ].copy()
    for column in ("dob", "arrive", "leave"):
        children[column] = _fmt(children[column], "%Y-%m-%d")
    children.to_csv(truth_out / "children.csv", index=False, lineterminator="\n")
    faults = log.frame()
    faults.to_csv(truth_out / "faults.csv", index=False, lineterminator="\n")
    result.faults = len(faults)
    (truth_out / "README.txt").write_text(
        "Ground truth of a synthetic authority. Never read by the pipeline: used by tests and the linkage "
        "evaluation only.\nchildren.csv: every simulated child; records.csv: the true child of every "
        "person-describing row (dataset, file, line, record id); faults.csv: every injected fault.\n",
        encoding="utf-8",
    )
