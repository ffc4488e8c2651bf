"""The simulated social care histories as Standard Safeguarding Dataset tables (docs/ssd.md), as an SSD
extract run on the extract date would produce them: a six-year look-back, nothing dated after the extract,
SQL Server DATETIME text, ids as text.

Extension columns (not in the SSD specification, needed by a return) are named ``*_ext_*``; none are
needed yet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from orchestration.synthetic.population import FAR_FUTURE, Window, add_years, days

SSD_DATETIME = "%Y-%m-%d %H:%M:%S.000"  # how SQL Server table dumps render DATETIME


@dataclass
class Extract:
    window: Window

    def dt(self, values: np.ndarray | pd.Series) -> np.ndarray:
        """Dates as SSD text; blank when unknown, open, or after the extract date."""
        d = days(values)
        after = np.isnat(d) | (d > self.window.end) | (d >= FAR_FUTURE)
        text = (
            pd.DatetimeIndex(np.where(after, np.datetime64("1900-01-01"), d))
            .strftime(SSD_DATETIME)
            .to_numpy()
        )
        return np.where(after, "", text)

    def started(self, values: np.ndarray | pd.Series) -> np.ndarray:
        return days(values) <= self.window.end

    def in_lookback(self, start: np.ndarray | pd.Series, end: np.ndarray | pd.Series) -> np.ndarray:
        """SSD scripts keep records that started by the extract date and ended inside the six years."""
        s, e = days(start), days(end)
        return (s <= self.window.end) & (np.isnat(e) | (e >= self.window.start))


def _ids(first: int, n: int) -> np.ndarray:
    return (first + np.arange(n)).astype(str)


def _yn(flag: np.ndarray) -> np.ndarray:
    return np.where(flag, "Y", "N")


def _json_flags(**flags: np.ndarray) -> np.ndarray:
    """JSON text with every key present, as the SSD scripts build it by concatenation."""
    keys = list(flags)
    n = len(next(iter(flags.values())))
    parts = [np.char.add(f'"{k}": "', np.char.add(_yn(flags[k]).astype(str), '"')) for k in keys]
    out = parts[0]
    for p in parts[1:]:
        out = np.char.add(np.char.add(out, ", "), p)
    return np.char.add(np.char.add("{", out), "}") if n else np.array([], dtype=str)


def build_ssd_tables(
    sim: dict, pop: pd.DataFrame, window: Window, rng: np.random.Generator, calib: dict
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """All SSD tables, and the mapping of each pers_person_id to its true child."""
    x = Extract(window)
    cin = sim["cin"]
    episodes = cin.episodes
    contacts = cin.contacts
    in_scope = episodes[
        x.in_lookback(
            episodes.referral_date,
            np.where(
                days(episodes.close_date) >= FAR_FUTURE, np.datetime64("NaT"), days(episodes.close_date)
            ),
        )
    ]
    early_help = sim["early_help"][x.in_lookback(sim["early_help"].start, sim["early_help"].end)]
    leavers = sim["care_leavers"]
    contacts = contacts[(days(contacts.contact_date) >= window.start) & x.started(contacts.contact_date)]
    known = np.unique(
        np.concatenate([in_scope.child_id, early_help.child_id, leavers.child_id, contacts.child_id])
    )
    people = pop.set_index("child_id").loc[known].reset_index()
    # a person recorded twice: a later episode is held against a second person record
    dup = sim["duplicate_people"]
    dup = dup[dup.child_id.isin(known) & dup.episode_id.isin(in_scope.episode_id)].reset_index(drop=True)
    all_ids = (1_000_000 + rng.choice(8_999_999, len(people) + len(dup), replace=False)).astype(str)
    person_ids = all_ids[: len(people)]
    pid = pd.Series(person_ids, index=people.child_id)
    dup = dup.assign(pers_person_id=all_ids[len(people) :])
    episode_pid = pd.Series(pid.reindex(episodes.child_id).to_numpy(), index=episodes.episode_id.to_numpy())
    episode_pid.loc[dup.episode_id.to_numpy()] = dup.pers_person_id.to_numpy()

    tables: dict[str, pd.DataFrame] = {}
    tables["ssd_person"] = _persons(people, person_ids, dup, pop, rng)
    tables["ssd_address"] = _addresses(people, person_ids, x)
    tables["ssd_disability"] = pd.DataFrame(
        {
            "disa_person_id": person_ids,
            "disa_table_id": _ids(40_000_000, len(people)),
            "disa_disability_code": people.disability.to_numpy(),
        }
    )
    tables["ssd_linked_identifiers"] = _linked_identifiers(people, person_ids, x)

    ep = in_scope.reset_index(drop=True)
    ep_pid = episode_pid.reindex(ep.episode_id).to_numpy()
    workers, involvements = sim["professionals"], sim["involvements"]
    worker_ids = _ids(60_000_000, len(workers))
    team_ids = _ids(61_000_000, int(workers.team_no.max()) + 1)
    first_worker = involvements.drop_duplicates("episode_id").set_index("episode_id").worker_no
    ep_worker = first_worker.reindex(ep.episode_id).fillna(0).astype(int).to_numpy()
    tables["ssd_department"] = pd.DataFrame(
        {
            "dept_team_id": team_ids,
            "dept_team_name": [f"Children's Social Work Team {i + 1}" for i in range(len(team_ids))],
            "dept_team_parent_id": "61999999",
            "dept_team_parent_name": "Children's Services",
        }
    )
    tables["ssd_professionals"] = _professionals(workers, worker_ids, team_ids, rng)
    ref_ids = _ids(10_000_000, len(ep))
    ref_of = pd.Series(ref_ids, index=ep.episode_id.to_numpy())
    tables["ssd_contacts"] = _contacts(contacts, pid, episode_pid, x)
    tables["ssd_early_help_episodes"] = pd.DataFrame(
        {
            "earl_episode_id": _ids(11_000_000, len(early_help)),
            "earl_person_id": pid.reindex(early_help.child_id).to_numpy(),
            "earl_episode_start_date": x.dt(early_help.start),
            "earl_episode_end_date": x.dt(early_help.end),
            "earl_episode_reason": early_help.reason.to_numpy(),
            "earl_episode_end_reason": np.where(x.dt(early_help.end) == "", "", "Completed"),
            "earl_episode_organisation": early_help.organisation.to_numpy(),
            "earl_episode_worker_id": "",
        }
    )
    nfa = ep.referral_nfa.to_numpy()
    tables["ssd_cin_episodes"] = pd.DataFrame(
        {
            "cine_referral_id": ref_ids,
            "cine_person_id": ep_pid,
            "cine_referral_date": x.dt(ep.referral_date),
            "cine_cin_primary_need_code": ep.primary_need.to_numpy(),
            "cine_referral_source_code": ep.referral_source.to_numpy(),
            "cine_referral_source_desc": "",
            "cine_referral_outcome_json": _json_flags(NFA_FLAG=nfa, ASSESSMENT_FLAG=~nfa),
            "cine_referral_nfa": _yn(nfa),
            "cine_close_reason": np.where(x.dt(ep.close_date) == "", "", ep.close_reason.to_numpy()),
            "cine_close_date": x.dt(ep.close_date),
            "cine_referral_team": team_ids[workers.team_no.to_numpy()[ep_worker]],
            "cine_referral_worker_id": worker_ids[ep_worker],
        }
    )
    tables.update(_cin_details(cin, ep, ref_of, episode_pid, worker_ids, team_ids, workers, x, rng))
    tables.update(_care_tables(sim, pid, episode_pid, ref_of, x, rng, worker_ids, team_ids))
    tables["ssd_involvements"] = _involvements(
        involvements, ref_of, episode_pid, worker_ids, team_ids, workers, x
    )

    truth = pd.concat(
        [
            pd.DataFrame({"record_id": person_ids, "child_id": people.child_id.to_numpy()}),
            pd.DataFrame({"record_id": dup.pers_person_id.to_numpy(), "child_id": dup.child_id.to_numpy()}),
        ],
        ignore_index=True,
    )
    return tables, truth


def _persons(
    people: pd.DataFrame,
    person_ids: np.ndarray,
    dup: pd.DataFrame,
    pop: pd.DataFrame,
    rng: np.random.Generator,
) -> pd.DataFrame:
    upn = people.upn.fillna("").to_numpy()
    unknown = np.where(upn != "", "", np.where(people.is_uasc.to_numpy(), "UN2", "UN1"))
    frame = pd.DataFrame(
        {
            "pers_person_id": person_ids,
            "pers_forename": people.forename.to_numpy(),
            "pers_surname": people.surname.to_numpy(),
            "pers_sex": people.sex.to_numpy(),
            "pers_gender": people.sex.to_numpy(),
            "pers_ethnicity": people.ethnicity.to_numpy(),
            "pers_dob": pd.DatetimeIndex(days(people.dob)).strftime(SSD_DATETIME).to_numpy(),
            "pers_common_child_id": people.nhs_number.to_numpy(),
            "pers_upn_unknown": unknown,
            "pers_send_flag": _yn(people.sen_provision.to_numpy() == "E"),
            "pers_expected_dob": "",
            "pers_death_date": "",
            "pers_is_mother": "",
            "pers_nationality": np.where(people.is_uasc.to_numpy(), "Not British", ""),
            "pers_upn": upn,
        }
    )
    if len(dup):
        twins = frame.set_index(pd.Series(people.child_id.to_numpy())).loc[dup.child_id.to_numpy()].copy()
        twins["pers_person_id"] = dup.pers_person_id.to_numpy()
        # the second record was typed afresh: often without the identifiers the first one has
        blank_nhs = rng.random(len(twins)) < 0.5
        twins.loc[blank_nhs, "pers_common_child_id"] = ""
        frame = pd.concat([frame, twins.reset_index(drop=True)], ignore_index=True)
    return frame


def _addresses(people: pd.DataFrame, person_ids: np.ndarray, x: Extract) -> pd.DataFrame:
    moved = ~np.isnat(days(people.moved_house_on))
    current_from = np.where(moved, days(people.moved_house_on), days(people.arrive))
    rows = [
        pd.DataFrame(
            {
                "addr_person_id": person_ids,
                "addr_address_postcode": people.postcode.to_numpy(),
                "addr_address_start_date": x.dt(current_from),
                "addr_address_end_date": "",
            }
        )
    ]
    rows.append(
        pd.DataFrame(
            {
                "addr_person_id": person_ids[moved],
                "addr_address_postcode": people.previous_postcode.to_numpy()[moved],
                "addr_address_start_date": x.dt(days(people.arrive)[moved]),
                "addr_address_end_date": x.dt(days(people.moved_house_on)[moved]),
            }
        )
    )
    out = pd.concat(rows, ignore_index=True)
    out.insert(0, "addr_table_id", _ids(41_000_000, len(out)))
    out.insert(1, "addr_address_json", "")
    out.insert(3, "addr_address_type", "HOME")
    return out[
        [
            "addr_table_id",
            "addr_address_json",
            "addr_person_id",
            "addr_address_type",
            "addr_address_start_date",
            "addr_address_end_date",
            "addr_address_postcode",
        ]
    ]


def _linked_identifiers(people: pd.DataFrame, person_ids: np.ndarray, x: Extract) -> pd.DataFrame:
    former = people.former_upn.fillna("").to_numpy()
    has_former = former != ""
    upn = people.upn.fillna("").to_numpy()
    out = pd.concat(
        [
            pd.DataFrame(
                {
                    "link_person_id": person_ids[upn != ""],
                    "link_identifier_type": "Unique Pupil Number",
                    "link_identifier_value": upn[upn != ""],
                }
            ),
            pd.DataFrame(
                {
                    "link_person_id": person_ids[has_former],
                    "link_identifier_type": "Former Unique Pupil Number",
                    "link_identifier_value": former[has_former],
                }
            ),
        ],
        ignore_index=True,
    )
    out.insert(0, "link_table_id", _ids(42_000_000, len(out)))
    out["link_valid_from_date"] = ""
    out["link_valid_to_date"] = ""
    return out


def _professionals(
    workers: pd.DataFrame, worker_ids: np.ndarray, team_ids: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    from orchestration.synthetic.population import load_names

    names = load_names()
    fore = rng.choice(names[names.kind == "forename"].name.to_numpy(), len(workers))
    sur = rng.choice(names[names.kind == "surname"].name.to_numpy(), len(workers))
    return pd.DataFrame(
        {
            "prof_professional_id": worker_ids,
            "prof_staff_id": _ids(62_000_000, len(workers)),
            "prof_professional_name": np.char.add(np.char.add(fore.astype(str), " "), sur.astype(str)),
            "prof_social_worker_registration_no": workers.registration.to_numpy(),
            "prof_professional_job_title": "Social Worker",
            "prof_professional_caseload": rng.integers(8, 25, len(workers)).astype(str),
            "prof_professional_department": team_ids[workers.team_no.to_numpy()],
            "prof_full_time_equivalency": "1.0",
            "prof_agency_worker_flag": _yn(rng.random(len(workers)) < 0.15),
        }
    )


def _contacts(contacts: pd.DataFrame, pid: pd.Series, episode_pid: pd.Series, x: Extract) -> pd.DataFrame:
    led = contacts.led_to_referral.to_numpy()
    return pd.DataFrame(
        {
            "cont_contact_id": _ids(12_000_000, len(contacts)),
            "cont_person_id": pid.reindex(contacts.child_id).to_numpy(),
            "cont_contact_date": x.dt(contacts.contact_date),
            "cont_contact_source_code": contacts.source.to_numpy(),
            "cont_contact_source_desc": "",
            "cont_contact_outcome_json": _json_flags(NEW_REFERRAL_FLAG=led, NFA_FLAG=~led),
        }
    )


def _cin_details(
    cin,
    ep: pd.DataFrame,
    ref_of: pd.Series,
    episode_pid: pd.Series,
    worker_ids: np.ndarray,
    team_ids: np.ndarray,
    workers: pd.DataFrame,
    x: Extract,
    rng: np.random.Generator,
) -> dict[str, pd.DataFrame]:
    out = {}
    scope = set(ep.episode_id)

    def own(frame: pd.DataFrame, date_col: str) -> pd.DataFrame:
        return frame[frame.episode_id.isin(scope) & x.started(frame[date_col])].reset_index(drop=True)

    a = own(cin.assessments, "start")
    w = rng.integers(0, len(worker_ids), len(a))
    authorised = x.dt(a.authorised) != ""
    out["ssd_cin_assessments"] = pd.DataFrame(
        {
            "cina_assessment_id": _ids(20_000_000, len(a)),
            "cina_person_id": episode_pid.reindex(a.episode_id).to_numpy(),
            "cina_referral_id": ref_of.reindex(a.episode_id).to_numpy(),
            "cina_assessment_start_date": x.dt(a.start),
            "cina_assessment_child_seen": _yn(rng.random(len(a)) < 0.93),
            "cina_assessment_auth_date": x.dt(a.authorised),
            "cina_assessment_outcome_json": _json_flags(NFA_FLAG=authorised & (a.factors.to_numpy() == "21")),
            "cina_assessment_outcome_nfa": np.where(authorised, _yn(a.factors.to_numpy() == "21"), ""),
            "cina_assessment_team": team_ids[workers.team_no.to_numpy()[w]],
            "cina_assessment_worker_id": worker_ids[w],
        }
    )
    done = a[authorised].reset_index(drop=True)
    factors_json = np.array([json.dumps(f.split(",")) for f in done.factors.to_numpy()], dtype=object)
    out["ssd_assessment_factors"] = pd.DataFrame(
        {
            "cinf_table_id": _ids(21_000_000, len(done)),
            "cinf_assessment_id": out["ssd_cin_assessments"].cina_assessment_id.to_numpy()[authorised],
            "cinf_assessment_factors_json": factors_json,
        }
    )

    p = own(cin.cin_plans, "start")
    w = rng.integers(0, len(worker_ids), len(p))
    plan_ids = _ids(22_000_000, len(p))
    out["ssd_cin_plans"] = pd.DataFrame(
        {
            "cinp_cin_plan_id": plan_ids,
            "cinp_referral_id": ref_of.reindex(p.episode_id).to_numpy(),
            "cinp_person_id": episode_pid.reindex(p.episode_id).to_numpy(),
            "cinp_cin_plan_start_date": x.dt(p.start),
            "cinp_cin_plan_end_date": x.dt(p.end),
            "cinp_cin_plan_team": team_ids[workers.team_no.to_numpy()[w]],
            "cinp_cin_plan_worker_id": worker_ids[w],
        }
    )
    from orchestration.synthetic.social_care.records import visits

    row, when = visits(rng, days(p.start), days(p.end), 20, x.window)
    out["ssd_cin_visits"] = pd.DataFrame(
        {
            "cinv_cin_visit_id": _ids(23_000_000, len(row)),
            "cinv_person_id": episode_pid.reindex(p.episode_id.to_numpy()[row]).to_numpy(),
            "cinv_cin_visit_date": x.dt(when),
            "cinv_cin_visit_seen": _yn(rng.random(len(row)) < 0.92),
            "cinv_cin_visit_seen_alone": _yn(rng.random(len(row)) < 0.5),
            "cinv_cin_visit_bedroom": _yn(rng.random(len(row)) < 0.4),
        }
    )

    s = own(cin.section_47, "start")
    s47_ids = _ids(24_000_000, len(s))
    w = rng.integers(0, len(worker_ids), len(s))
    icpc_planned = ~s.icpc_not_required.to_numpy()
    out["ssd_s47_enquiry"] = pd.DataFrame(
        {
            "s47e_s47_enquiry_id": s47_ids,
            "s47e_referral_id": ref_of.reindex(s.episode_id).to_numpy(),
            "s47e_person_id": episode_pid.reindex(s.episode_id).to_numpy(),
            "s47e_s47_start_date": x.dt(s.start),
            "s47e_s47_end_date": x.dt(s.end),
            "s47e_s47_nfa": _yn(~icpc_planned),
            "s47e_s47_outcome_json": _json_flags(NFA_FLAG=~icpc_planned, CP_CONFERENCE_FLAG=icpc_planned),
            "s47e_s47_completed_by_worker_id": worker_ids[w],
            "s47e_s47_completed_by_team": team_ids[workers.team_no.to_numpy()[w]],
        }
    )
    held = icpc_planned & (x.dt(s.icpc_date) != "")
    conf = s[held].reset_index(drop=True)
    icpc_ids = _ids(25_000_000, len(conf))
    cp = own(cin.cp_plans, "start")
    cp = cp.assign(cp_plan_no=np.arange(len(cp)))
    cp_ids = _ids(26_000_000, len(cp))
    cp_of_episode = pd.Series(cp_ids, index=cp.episode_id.to_numpy())
    icpc_of_episode = pd.Series(icpc_ids, index=conf.episode_id.to_numpy())
    w = rng.integers(0, len(worker_ids), len(conf))
    out["ssd_initial_cp_conference"] = pd.DataFrame(
        {
            "icpc_icpc_id": icpc_ids,
            "icpc_icpc_meeting_id": _ids(27_000_000, len(conf)),
            "icpc_s47_enquiry_id": s47_ids[held],
            "icpc_person_id": episode_pid.reindex(conf.episode_id).to_numpy(),
            "icpc_cp_plan_id": cp_of_episode.reindex(conf.episode_id).fillna("").to_numpy(),
            "icpc_referral_id": ref_of.reindex(conf.episode_id).to_numpy(),
            "icpc_icpc_transfer_in": "N",
            "icpc_icpc_target_date": x.dt(conf.icpc_target),
            "icpc_icpc_date": x.dt(conf.icpc_date),
            "icpc_icpc_outcome_cp_flag": _yn(conf.icpc_outcome_cp.to_numpy()),
            "icpc_icpc_outcome_json": _json_flags(CP_PLAN_FLAG=conf.icpc_outcome_cp.to_numpy()),
            "icpc_icpc_team": team_ids[workers.team_no.to_numpy()[w]],
            "icpc_icpc_worker_id": worker_ids[w],
        }
    )
    out["ssd_cp_plans"] = pd.DataFrame(
        {
            "cppl_cp_plan_id": cp_ids,
            "cppl_referral_id": ref_of.reindex(cp.episode_id).to_numpy(),
            "cppl_icpc_id": icpc_of_episode.reindex(cp.episode_id).fillna("").to_numpy(),
            "cppl_person_id": episode_pid.reindex(cp.episode_id).to_numpy(),
            "cppl_cp_plan_start_date": x.dt(cp.start),
            "cppl_cp_plan_end_date": x.dt(cp.end),
            "cppl_cp_plan_initial_category": cp.initial_category.to_numpy(),
            "cppl_cp_plan_ola": "N",
            "cppl_cp_plan_latest_category": cp.latest_category.to_numpy(),
        }
    )
    row, when = visits(rng, days(cp.start), days(cp.end), 10, x.window)
    out["ssd_cp_visits"] = pd.DataFrame(
        {
            "cppv_cp_visit_id": _ids(28_000_000, len(row)),
            "cppv_person_id": episode_pid.reindex(cp.episode_id.to_numpy()[row]).to_numpy(),
            "cppv_cp_plan_id": cp_ids[row],
            "cppv_cp_visit_date": x.dt(when),
            "cppv_cp_visit_seen": _yn(rng.random(len(row)) < 0.95),
            "cppv_cp_visit_seen_alone": _yn(rng.random(len(row)) < 0.55),
            "cppv_cp_visit_bedroom": _yn(rng.random(len(row)) < 0.45),
        }
    )
    from orchestration.synthetic.social_care.records import cp_reviews

    reviews = cp_reviews(rng, cp, x.window)
    out["ssd_cp_reviews"] = pd.DataFrame(
        {
            "cppr_cp_review_id": _ids(29_000_000, len(reviews)),
            "cppr_person_id": episode_pid.reindex(
                cp.episode_id.to_numpy()[reviews.cp_plan_no.to_numpy()]
            ).to_numpy(),
            "cppr_cp_plan_id": cp_ids[reviews.cp_plan_no.to_numpy()],
            "cppr_cp_review_due": x.dt(reviews.due_date),
            "cppr_cp_review_date": x.dt(reviews.review_date),
            "cppr_cp_review_meeting_id": _ids(30_000_000, len(reviews)),
            "cppr_cp_review_outcome_continue_cp": "Y",
            "cppr_cp_review_quorate": "Y",
            "cppr_cp_review_participation": "",
        }
    )
    return out


def _care_tables(
    sim: dict,
    pid: pd.Series,
    episode_pid: pd.Series,
    ref_of: pd.Series,
    x: Extract,
    rng: np.random.Generator,
    worker_ids: np.ndarray,
    team_ids: np.ndarray,
) -> dict[str, pd.DataFrame]:
    out = {}
    periods = sim["periods"]
    period_episode = periods.set_index("period_no").episode_id
    period_pid = pd.Series(
        episode_pid.reindex(period_episode.to_numpy()).to_numpy(), index=period_episode.index
    )
    cla_id = pd.Series(
        (50_000_000 + periods.period_no.to_numpy()).astype(str), index=periods.period_no.to_numpy()
    )
    period_end = periods.set_index("period_no").end
    # the care history of a young person the LA still supports as a care leaver is kept whole, however far
    # back it goes: the DfE's care-leaver rules look back to their care after 14 and 16
    leaver_periods = periods.period_no[periods.child_id.isin(sim["care_leavers"].child_id)].to_numpy()

    legal = sim["legal"]
    legal_end = legal.groupby("period_no").ls_start.shift(-1)
    legal_end = np.where(
        legal_end.isna(),
        days(period_end.reindex(legal.period_no).to_numpy()),
        days(legal_end.fillna(pd.Timestamp("2200-01-01"))),
    )
    keep = x.in_lookback(legal.ls_start, np.where(legal_end >= FAR_FUTURE, np.datetime64("NaT"), legal_end))
    keep |= legal.period_no.isin(leaver_periods).to_numpy() & x.started(legal.ls_start)
    lg = legal[keep].reset_index(drop=True)
    out["ssd_legal_status"] = pd.DataFrame(
        {
            "lega_legal_status_id": _ids(31_000_000, len(lg)),
            "lega_person_id": period_pid.reindex(lg.period_no).to_numpy(),
            "lega_legal_status": lg.legal_status.to_numpy(),
            "lega_legal_status_start_date": x.dt(lg.ls_start),
            "lega_legal_status_end_date": x.dt(legal_end[keep]),
        }
    )

    pl = sim["placements"]
    keep = x.in_lookback(
        pl.placement_start,
        np.where(days(pl.placement_end) >= FAR_FUTURE, np.datetime64("NaT"), days(pl.placement_end)),
    )
    keep |= pl.period_no.isin(leaver_periods).to_numpy() & x.started(pl.placement_start)
    pl = pl[keep].reset_index(drop=True)
    placement_ids = pd.Series(
        _ids(32_000_000, len(pl)), index=pd.MultiIndex.from_arrays([pl.period_no, pl.placement_seq])
    )
    out["ssd_cla_placement"] = pd.DataFrame(
        {
            "clap_cla_placement_id": placement_ids.to_numpy(),
            "clap_cla_placement_start_date": x.dt(pl.placement_start),
            "clap_cla_placement_type": pl.placement_type.to_numpy(),
            "clap_cla_placement_urn": pl.urn.to_numpy(),
            "clap_cla_placement_distance": "",
            "clap_cla_id": cla_id.reindex(pl.period_no).to_numpy(),
            "clap_cla_placement_provider": pl.placement_provider.to_numpy(),
            "clap_cla_placement_postcode": pl.placement_postcode.to_numpy(),
            "clap_cla_placement_end_date": x.dt(pl.placement_end),
            "clap_cla_placement_change_reason": np.where(
                x.dt(pl.placement_end) == "", "", pl.reason_changed.to_numpy()
            ),
            "clap_person_id": period_pid.reindex(pl.period_no).to_numpy(),
        }
    )

    eps = sim["episodes"]
    keep = x.in_lookback(
        eps.episode_start,
        np.where(days(eps.episode_end) >= FAR_FUTURE, np.datetime64("NaT"), days(eps.episode_end)),
    )
    keep |= eps.period_no.isin(leaver_periods).to_numpy() & x.started(eps.episode_start)
    eps = eps[keep].reset_index(drop=True)
    entered = days(periods.set_index("period_no").start.reindex(eps.period_no).to_numpy())
    need = (
        sim["cin"]
        .episodes.set_index("episode_id")
        .primary_need.reindex(period_episode.reindex(eps.period_no).to_numpy())
        .to_numpy()
    )
    need = np.where(np.isin(need, ["N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8"]), need, "N1")
    ended = x.dt(eps.episode_end) != ""
    out["ssd_cla_episodes"] = pd.DataFrame(
        {
            "clae_cla_episode_id": _ids(33_000_000, len(eps)),
            "clae_person_id": period_pid.reindex(eps.period_no).to_numpy(),
            "clae_cla_placement_id": placement_ids.reindex(
                pd.MultiIndex.from_arrays([eps.period_no, eps.placement_seq])
            ).to_numpy(),
            "clae_cla_episode_start_date": x.dt(eps.episode_start),
            "clae_cla_episode_start_reason": eps.rne.to_numpy(),
            "clae_cla_primary_need_code": need,
            "clae_cla_episode_ceased_date": x.dt(eps.episode_end),
            "clae_cla_episode_ceased_reason": np.where(ended, eps.rec_code.to_numpy(), ""),
            "clae_cla_id": cla_id.reindex(eps.period_no).to_numpy(),
            "clae_referral_id": ref_of.reindex(period_episode.reindex(eps.period_no).to_numpy())
            .fillna("")
            .to_numpy(),
            "clae_entered_care_date": x.dt(entered),
            "clae_cla_last_iro_contact_date": "",
        }
    )

    rv = sim["reviews"]
    rv = rv[(days(rv.review_date) >= x.window.start) & x.started(rv.review_date)].reset_index(drop=True)
    out["ssd_cla_reviews"] = pd.DataFrame(
        {
            "clar_cla_review_id": _ids(34_000_000, len(rv)),
            "clar_cla_id": cla_id.reindex(rv.period_no).to_numpy(),
            "clar_cla_review_due_date": x.dt(rv.review_date),
            "clar_cla_review_date": x.dt(rv.review_date),
            "clar_cla_review_cancelled": "N",
            "clar_cla_review_participation": rv.participation.to_numpy(),
            "clar_cla_person_id": period_pid.reindex(rv.period_no).to_numpy(),
        }
    )

    from orchestration.synthetic.social_care.records import visits

    in_window = x.in_lookback(
        periods.start, np.where(days(periods.end) >= FAR_FUTURE, np.datetime64("NaT"), days(periods.end))
    )
    pw = periods[in_window].reset_index(drop=True)
    row, when = visits(rng, days(pw.start), days(pw.end), 30, x.window)
    out["ssd_cla_visits"] = pd.DataFrame(
        {
            "clav_cla_visit_id": _ids(35_000_000, len(row)),
            "clav_cla_id": cla_id.reindex(pw.period_no.to_numpy()[row]).to_numpy(),
            "clav_person_id": period_pid.reindex(pw.period_no.to_numpy()[row]).to_numpy(),
            "clav_cla_visit_date": x.dt(when),
            "clav_cla_visit_seen": _yn(rng.random(len(row)) < 0.96),
            "clav_cla_visit_seen_alone": _yn(rng.random(len(row)) < 0.6),
        }
    )
    plan_json = {
        "adoption": "ADOPTION",
        "home": "RETURN6M",
        "sgo": "LTRELFR",
        "cao": "LTRELFR",
        "aged_out": "LTFOST18",
        "other": "OTHERPLN",
        "long_term": "LTFOST18",
    }
    chosen = pw.planned_route.map(plan_json).fillna("OTHERPLN").to_numpy()
    keys = [
        "REMAINSUP",
        "RETURN1M",
        "RETURN6M",
        "RETURNEV",
        "LTRELFR",
        "LTFOST18",
        "RESPLMT",
        "SUPPLIV",
        "ADOPTION",
        "OTHERPLN",
    ]
    out["ssd_cla_care_plan"] = pd.DataFrame(
        {
            "lacp_table_id": _ids(36_000_000, len(pw)),
            "lacp_person_id": period_pid.reindex(pw.period_no).to_numpy(),
            "lacp_cla_care_plan_start_date": x.dt(days(pw.start) + 20),
            "lacp_cla_care_plan_end_date": x.dt(pw.end),
            "lacp_cla_care_plan_json": _json_flags(**{k: chosen == k for k in keys}),
        }
    )

    pp = sim["previous_permanence"]
    pp = pp[x.started(pp.recorded_on) & pp.period_no.isin(pw.period_no)].reset_index(drop=True)
    out["ssd_cla_previous_permanence"] = pd.DataFrame(
        {
            "lapp_table_id": _ids(37_000_000, len(pp)),
            "lapp_person_id": period_pid.reindex(pp.period_no).to_numpy(),
            "lapp_previous_permanence_order_date": pp.order_date.to_numpy(),
            "lapp_previous_permanence_option": pp.option.to_numpy(),
            "lapp_previous_permanence_la": pp.la.to_numpy(),
        }
    )

    perm = sim["permanence"]
    perm = perm[perm.period_no.isin(pw.period_no)].reset_index(drop=True)
    num = perm.get("adopters")
    out["ssd_permanence"] = pd.DataFrame(
        {
            "perm_table_id": _ids(38_000_000, len(perm)),
            "perm_person_id": period_pid.reindex(perm.period_no).to_numpy(),
            "perm_cla_id": cla_id.reindex(perm.period_no).to_numpy(),
            "perm_adm_decision_date": x.dt(perm.get("decision_date")),
            "perm_ffa_cp_decision_date": "",
            "perm_placement_order_date": x.dt(perm.get("placement_order_date")),
            "perm_placed_for_adoption_date": x.dt(perm.get("placed_date")),
            "perm_matched_date": x.dt(perm.get("matched_date")),
            "perm_adopted_by_carer_flag": perm.get("adopted_by_carer").fillna("").to_numpy(),
            "perm_placed_ffa_cp_date": "",
            "perm_decision_reversed_date": x.dt(perm.get("reversed_date")),
            "perm_placed_foster_carer_date": "",
            "perm_part_of_sibling_group": "0",
            "perm_siblings_placed_together": "",
            "perm_siblings_placed_apart": "",
            "perm_placement_provider_urn": "",
            "perm_decision_reversed_reason": perm.get("reversed_reason").fillna("").to_numpy(),
            "perm_permanence_order_date": x.dt(perm.order_date),
            "perm_permanence_order_type": np.where(
                x.dt(perm.order_date) == "", "", perm.order_type.to_numpy()
            ),
            "perm_adoption_worker_id": "",
            "perm_adopter_sex": perm.get("adopter_sex").fillna("").to_numpy(),
            "perm_adopter_legal_status": perm.get("adopter_legal_status").fillna("").to_numpy(),
            "perm_number_of_adopters": num.fillna(0).astype(int).astype(str).replace("0", "").to_numpy(),
        }
    )

    ms = sim["missing"]
    ms = ms[x.in_lookback(ms.start, ms.end)].reset_index(drop=True)
    out["ssd_missing"] = pd.DataFrame(
        {
            "miss_table_id": _ids(39_000_000, len(ms)),
            "miss_person_id": period_pid.reindex(ms.period_no).to_numpy(),
            "miss_missing_episode_start_date": x.dt(ms.start),
            "miss_missing_episode_type": ms.missing_type.to_numpy(),
            "miss_missing_episode_end_date": x.dt(ms.end),
            "miss_missing_rhi_offered": ms.return_interview_offered.to_numpy(),
            "miss_missing_rhi_accepted": np.where(
                ms.return_interview_offered.to_numpy() == "Y", ms.return_interview_accepted.to_numpy(), "NA"
            ),
        }
    )

    health = sim["health"]
    ha = health["assessments"]
    dn = health["dental"]
    # a child under five has a development assessment with each health assessment (the OC2 HEALTH_CHECK)
    born = days(sim["pop"].set_index("child_id").dob.reindex(ha.child_id).to_numpy())
    under_five = ha[days(ha.assessment_date) < add_years(born, 5)]
    checks = pd.concat(
        [
            pd.DataFrame(
                {
                    "child_id": ha.child_id,
                    "period_no": ha.period_no,
                    "type": "Health Assessment",
                    "date": ha.assessment_date,
                }
            ),
            pd.DataFrame(
                {
                    "child_id": dn.child_id,
                    "period_no": dn.period_no,
                    "type": "Dental Check",
                    "date": dn.check_date,
                }
            ),
            pd.DataFrame(
                {
                    "child_id": under_five.child_id,
                    "period_no": under_five.period_no,
                    "type": "Development Check",
                    "date": under_five.assessment_date,
                }
            ),
        ],
        ignore_index=True,
    )
    checks = checks[(days(checks.date) >= x.window.start) & x.started(checks.date)].reset_index(drop=True)
    out["ssd_cla_health"] = pd.DataFrame(
        {
            "clah_health_check_id": _ids(43_000_000, len(checks)),
            "clah_person_id": period_pid.reindex(checks.period_no).to_numpy(),
            "clah_health_check_type": checks.type.to_numpy(),
            "clah_health_check_date": x.dt(checks.date),
            "clah_health_check_status": "Completed",
        }
    )
    latest = ha[x.started(ha.assessment_date)].drop_duplicates("child_id", keep="last")
    latest = latest[latest.period_no.isin(pw.period_no)]
    out["ssd_cla_immunisations"] = pd.DataFrame(
        {
            "clai_person_id": period_pid.reindex(latest.period_no).to_numpy(),
            "clai_immunisations_status": _yn(latest.immunisations_up_to_date.to_numpy()),
            "clai_immunisations_status_date": x.dt(latest.assessment_date),
        }
    ).drop_duplicates("clai_person_id")
    sdq = health["sdq"]
    sdq = sdq[(days(sdq.completed_date) >= x.window.start) & x.started(sdq.completed_date)].reset_index(
        drop=True
    )
    out["ssd_sdq_scores"] = pd.DataFrame(
        {
            "csdq_table_id": _ids(44_000_000, len(sdq)),
            "csdq_person_id": period_pid.reindex(sdq.period_no).to_numpy(),
            "csdq_sdq_completed_date": x.dt(sdq.completed_date),
            "csdq_sdq_reason": sdq.reason.to_numpy(),
            "csdq_sdq_score": sdq.score.astype("Int64").astype(str).replace("<NA>", "").to_numpy(),
        }
    )
    sm = sim["oc2"]["substance_misuse"]
    sm = sm[(days(sm.event_date) >= x.window.start) & x.started(sm.event_date)].reset_index(drop=True)
    out["ssd_cla_substance_misuse"] = pd.DataFrame(
        {
            "clas_substance_misuse_id": _ids(45_000_000, len(sm)),
            "clas_person_id": period_pid.reindex(sm.period_no).to_numpy(),
            "clas_substance_misuse_date": x.dt(sm.event_date),
            "clas_substance_misused": sm.substance.to_numpy(),
            "clas_intervention_received": sm.intervention_received.to_numpy(),
            "clas_intervention_offered": sm.intervention_offered.to_numpy(),
        }
    )
    of = sim["oc2"]["offences"]
    of = of[(days(of.event_date) >= x.window.start) & x.started(of.event_date)].reset_index(drop=True)
    out["ssd_cla_convictions"] = pd.DataFrame(
        {
            "clac_cla_conviction_id": _ids(46_000_000, len(of)),
            "clac_person_id": period_pid.reindex(of.period_no).to_numpy(),
            "clac_cla_conviction_date": x.dt(of.event_date),
            "clac_cla_conviction_offence": of.offence.to_numpy(),
        }
    )

    cl = sim["care_leavers"]
    w = rng.integers(0, len(worker_ids), len(cl))
    out["ssd_care_leavers"] = pd.DataFrame(
        {
            "clea_table_id": _ids(47_000_000, len(cl)),
            "clea_person_id": pid.reindex(cl.child_id).to_numpy(),
            "clea_care_leaver_eligibility": cl.eligibility.to_numpy(),
            "clea_care_leaver_in_touch": cl.in_touch.to_numpy(),
            "clea_care_leaver_latest_contact": x.dt(cl.latest_contact),
            "clea_care_leaver_accommodation": cl.accommodation.to_numpy(),
            "clea_care_leaver_accom_suitable": cl.suitable.to_numpy(),
            "clea_care_leaver_activity": cl.activity.to_numpy(),
            "clea_pathway_plan_review_date": x.dt(days(cl.latest_contact) - 60),
            "clea_care_leaver_personal_advisor": worker_ids[w],
            "clea_care_leaver_allocated_team": team_ids[0],
            "clea_care_leaver_worker_id": worker_ids[w],
        }
    )

    uasc = periods[periods.is_uasc & in_window].reset_index(drop=True)
    child_dob = sim["pop"].set_index("child_id").dob
    out["ssd_immigration_status"] = pd.DataFrame(
        {
            "immi_person_id": period_pid.reindex(uasc.period_no).to_numpy(),
            "immi_immigration_status_id": _ids(48_000_000, len(uasc)),
            "immi_immigration_status": "Unaccompanied Asylum Seeking Child",
            "immi_immigration_status_start_date": x.dt(uasc.start),
            "immi_immigration_status_end_date": x.dt(
                add_years(days(child_dob.reindex(uasc.child_id).to_numpy()), 18)
            ),
        }
    )
    return out


def _involvements(
    inv: pd.DataFrame,
    ref_of: pd.Series,
    episode_pid: pd.Series,
    worker_ids: np.ndarray,
    team_ids: np.ndarray,
    workers: pd.DataFrame,
    x: Extract,
) -> pd.DataFrame:
    inv = inv[inv.episode_id.isin(ref_of.index) & x.in_lookback(inv.start, inv.end)].reset_index(drop=True)
    return pd.DataFrame(
        {
            "invo_involvements_id": _ids(49_000_000, len(inv)),
            "invo_professional_id": worker_ids[inv.worker_no.to_numpy()],
            "invo_professional_role_id": "CW",
            "invo_professional_team": team_ids[workers.team_no.to_numpy()[inv.worker_no.to_numpy()]],
            "invo_involvement_start_date": x.dt(inv.start),
            "invo_involvement_end_date": x.dt(inv.end),
            "invo_worker_change_reason": inv.reason.to_numpy(),
            "invo_person_id": episode_pid.reindex(inv.episode_id).to_numpy(),
            "invo_referral_id": ref_of.reindex(inv.episode_id).to_numpy(),
        }
    )
