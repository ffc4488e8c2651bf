"""In-year validation: the returns team's worklist for the collection year in progress.

Each month, from the latest extract, the year so far's SSDA903 and CIN census are built and validated as
at year end (``service.ssda903``, ``service.cin``), and every pre-check and validator finding the team has
to act on (errors and queries; not the validator's own defects) becomes a line of the worklist: the child,
the rule and what it says, the field and its value, and where that value comes from (the SSD table and
field, so the fix is made at source and the next extract carries it). Each line is marked against the last
worklist made from an earlier extract: ``new``, ``still open``, or ``fixed`` (in last month's list, gone
now). A finding is the same from one month to the next when its return, rule, child, table and field are:
row numbers move as records are added, so they are shown but not compared.

Written to published/returns/worklist/<year>/<extract date>/ (worklist.csv, worklist.html), with
``latest`` pointing at the newest.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from orchestration.cells import safe_frame
from orchestration.settings import Paths

KEY = ["return", "rule", "child", "table", "field"]
COLUMNS = [
    "status", "child", "return", "rule", "severity", "message", "table", "field", "row", "value", "source",
]  # fmt: skip
STATUS_ORDER = {"new": 0, "still open": 1, "fixed": 2}

# where each field of a return comes from in the SSD (orchestration/returns/*/build.py; docs: ../shared/docs/ssd.md)
SOURCES_903 = {
    "header": {
        "CHILD": "ssd_person.pers_person_id", "SEX": "ssd_person.pers_sex", "DOB": "ssd_person.pers_dob",
        "ETHNIC": "ssd_person.pers_ethnicity", "UPN": "ssd_person.pers_upn (or pers_upn_unknown)",
        "MOTHER": "ssd_person.pers_is_mother", "MC_DOB": "ssd_mother.moth_childs_dob",
    },
    "episodes": {
        "DECOM": "ssd_cla_episodes.clae_cla_episode_start_date",
        "RNE": "ssd_cla_episodes.clae_cla_episode_start_reason", "LS": "ssd_legal_status.lega_legal_status",
        "CIN": "ssd_cla_episodes.clae_cla_primary_need_code", "PLACE": "ssd_cla_placement.clap_cla_placement_type",
        "PLACE_PROVIDER": "ssd_cla_placement.clap_cla_placement_provider",
        "DEC": "ssd_cla_episodes.clae_cla_episode_ceased_date",
        "REC": "ssd_cla_episodes.clae_cla_episode_ceased_reason",
        "REASON_PLACE_CHANGE": "ssd_cla_placement.clap_cla_placement_change_reason",
        "HOME_POST": "ssd_address.addr_address_postcode", "PL_POST": "ssd_cla_placement.clap_cla_placement_postcode",
        "URN": "ssd_cla_placement.clap_cla_placement_urn",
    },
    "reviews": {"REVIEW": "ssd_cla_reviews.clar_cla_review_date",
                "REVIEW_CODE": "ssd_cla_reviews.clar_cla_review_participation"},
    "uasc": {"DUC": "ssd_immigration_status.immi_immigration_status_end_date",
             "CHILD": "ssd_immigration_status.immi_immigration_status"},
    "oc2": {
        "SDQ_SCORE": "ssd_sdq_scores.csdq_sdq_score", "SDQ_REASON": "ssd_sdq_scores.csdq_sdq_reason",
        "CONVICTED": "ssd_cla_convictions.clac_cla_conviction_date",
        "HEALTH_CHECK": "ssd_cla_health.clah_health_check_type", "TEETH_CHECK": "ssd_cla_health.clah_health_check_type",
        "HEALTH_ASSESSMENT": "ssd_cla_health.clah_health_check_type",
        "IMMUNISATIONS": "ssd_cla_immunisations.clai_immunisations_status",
        "SUBSTANCE_MISUSE": "ssd_cla_substance_misuse.clas_substance_misused",
        "INTERVENTION_RECEIVED": "ssd_cla_substance_misuse.clas_intervention_received",
        "INTERVENTION_OFFERED": "ssd_cla_substance_misuse.clas_intervention_offered",
    },
    "oc3": {"IN_TOUCH": "ssd_care_leavers.clea_care_leaver_in_touch",
            "ACTIV": "ssd_care_leavers.clea_care_leaver_activity",
            "ACCOM": "ssd_care_leavers.clea_care_leaver_accommodation (and clea_care_leaver_accom_suitable)"},
    "ad1": {"DATE_INT": "ssd_permanence.perm_adm_decision_date", "DATE_MATCH": "ssd_permanence.perm_matched_date",
            "FOSTER_CARE": "ssd_permanence.perm_adopted_by_carer_flag",
            "NB_ADOPTR": "ssd_permanence.perm_number_of_adopters", "SEX_ADOPTR": "ssd_permanence.perm_adopter_sex",
            "LS_ADOPTR": "ssd_permanence.perm_adopter_legal_status"},
    "placed_for_adoption": {"DATE_PLACED": "ssd_permanence.perm_adm_decision_date",
                            "DATE_PLACED_CEASED": "ssd_permanence.perm_decision_reversed_date",
                            "REASON_PLACED_CEASED": "ssd_permanence.perm_decision_reversed_reason"},
    "previous_permanence": {"PREV_PERM": "ssd_cla_previous_permanence.lapp_previous_permanence_option",
                            "LA_PERM": "ssd_cla_previous_permanence.lapp_previous_permanence_la",
                            "DATE_PERM": "ssd_cla_previous_permanence.lapp_previous_permanence_order_date"},
    "missing": {"MISSING": "ssd_missing.miss_missing_episode_type",
                "MIS_START": "ssd_missing.miss_missing_episode_start_date",
                "MIS_END": "ssd_missing.miss_missing_episode_end_date"},
    "sw_episodes": {"SW_ID": "ssd_professionals.prof_social_worker_registration_no",
                    "SW_DECOM": "ssd_involvements.invo_involvement_start_date",
                    "SW_DEC": "ssd_involvements.invo_involvement_end_date",
                    "SW_REASON": "ssd_involvements.invo_worker_change_reason"},
    "dolo": {"DOLO_START": "the authority's DoLO table (ssda903_dolo).DOLO_START",
             "DOLO_END": "the authority's DoLO table (ssda903_dolo).DOLO_END"},
}  # fmt: skip
SOURCES_CIN = {
    "UPN": "ssd_person.pers_upn", "FormerUPN": "ssd_linked_identifiers.link_identifier_value (former UPN)",
    "UPNunknown": "ssd_person.pers_upn_unknown", "LAchildID": "ssd_person.pers_person_id",
    "PersonBirthDate": "ssd_person.pers_dob", "ExpectedPersonBirthDate": "ssd_person.pers_expected_dob",
    "Sex": "ssd_person.pers_sex", "PersonDeathDate": "ssd_person.pers_death_date",
    "Ethnicity": "ssd_person.pers_ethnicity", "Disability": "ssd_disability.disa_disability_code",
    "CINreferralDate": "ssd_cin_episodes.cine_referral_date",
    "ReferralSource": "ssd_cin_episodes.cine_referral_source_code",
    "PrimaryNeedCode": "ssd_cin_episodes.cine_cin_primary_need_code",
    "CINclosureDate": "ssd_cin_episodes.cine_close_date", "ReasonForClosure": "ssd_cin_episodes.cine_close_reason",
    "ReferralNFA": "ssd_cin_episodes.cine_referral_nfa",
    "DateOfInitialCPC": "ssd_initial_cp_conference.icpc_icpc_date",
    "AssessmentActualStartDate": "ssd_cin_assessments.cina_assessment_start_date",
    "AssessmentAuthorisationDate": "ssd_cin_assessments.cina_assessment_auth_date",
    "AssessmentFactors": "ssd_assessment_factors.cinf_assessment_factors_json",
    "CINPlanStartDate": "ssd_cin_plans.cinp_cin_plan_start_date",
    "CINPlanEndDate": "ssd_cin_plans.cinp_cin_plan_end_date",
    "S47ActualStartDate": "ssd_s47_enquiry.s47e_s47_start_date",
    "InitialCPCtarget": "ssd_initial_cp_conference.icpc_icpc_target_date",
    "ICPCnotRequired": "ssd_s47_enquiry.s47e_s47_outcome_json",
    "CPPstartDate": "ssd_cp_plans.cppl_cp_plan_start_date", "CPPendDate": "ssd_cp_plans.cppl_cp_plan_end_date",
    "InitialCategoryOfAbuse": "ssd_cp_plans.cppl_cp_plan_initial_category",
    "LatestCategoryOfAbuse": "ssd_cp_plans.cppl_cp_plan_latest_category",
    "CPPreviewDate": "ssd_cp_reviews.cppr_cp_review_date",
}  # fmt: skip


def source_of(return_name: str, table: str, field: str) -> str:
    """The SSD table and field a finding's value comes from ('' when the finding names no one field)."""
    fields = [f.strip() for f in str(field).replace(";", ",").split(",") if f.strip()]
    if return_name == "ssda903":
        known = SOURCES_903.get(table, {})
        found = [known[f] for f in fields if f in known]
    else:
        found = [SOURCES_CIN[f] for f in fields if f in SOURCES_CIN]
    return "; ".join(dict.fromkeys(found))


def in_progress_year(extract: date) -> int:
    """The collection year the extract falls in (an extract of 30 November 2026: 2027; of 31 March 2026: 2026)."""
    return extract.year + 1 if (extract.month, extract.day) > (3, 31) else extract.year


def items(findings: pd.DataFrame) -> pd.DataFrame:
    """The findings the team acts on (errors and queries, not the validator's own defects), one per
    return, rule, child, table and field, with where each value comes from."""
    todo = findings[findings["explained_by"].eq("")].copy()
    if todo.empty:
        return pd.DataFrame(columns=[c for c in COLUMNS if c != "status"])
    todo["source"] = [
        source_of(r, t, f) for r, t, f in zip(todo["return"], todo["table"], todo["field"], strict=True)
    ]
    todo = todo.sort_values(["return", "rule", "child", "table", "field", "row"], kind="stable")
    return todo.drop_duplicates(KEY)[[c for c in COLUMNS if c != "status"]].reset_index(drop=True)


def compare(current: pd.DataFrame, previous: pd.DataFrame | None) -> pd.DataFrame:
    """The worklist: each current item ``new`` or ``still open`` against ``previous`` (last month's items,
    or None for the first), and each of last month's items no longer found ``fixed``."""
    current = current.astype(str)
    if previous is None or previous.empty:
        out = current.assign(status="new")
    else:
        previous = previous[previous["status"].ne("fixed")].astype(str)
        before = set(map(tuple, previous[KEY].to_numpy()))
        now = set(map(tuple, current[KEY].to_numpy()))
        seen = [tuple(k) in before for k in current[KEY].to_numpy()]
        out = current.assign(status=["still open" if s else "new" for s in seen])
        gone = previous[[tuple(k) not in now for k in previous[KEY].to_numpy()]]
        out = pd.concat([out, gone.assign(status="fixed")], ignore_index=True)
    out["_order"] = out["status"].map(STATUS_ORDER)
    out = out.sort_values(["_order", "child", "return", "rule", "field"], kind="stable")
    return out[COLUMNS].reset_index(drop=True)


@dataclass
class Worklist:
    year: int
    extract: date
    folder: Path
    lines: pd.DataFrame
    compared_with: date | None  # the extract of the worklist it was marked against
    defects: int  # validator findings left out as the validator's own defects
    ready: dict[str, bool]  # return -> ready to submit on the year so far

    def counts(self) -> dict[str, int]:
        return {s: int(self.lines["status"].eq(s).sum()) for s in STATUS_ORDER}


def _previous(base: Path, extract: date) -> tuple[pd.DataFrame | None, date | None]:
    """The newest worklist of the year made from an earlier extract."""
    earlier = sorted(
        (date.fromisoformat(p.name), p)
        for p in base.glob("????-??-??")
        if p.is_dir() and (p / "worklist.csv").exists() and date.fromisoformat(p.name) < extract
    )
    if not earlier:
        return None, None
    when, folder = earlier[-1]
    return pd.read_csv(folder / "worklist.csv", dtype=str, keep_default_na=False), when


def build(paths: Paths, year: int | None = None) -> Worklist:
    """Build, validate and compare the year so far's 903 and CIN; write the worklist."""
    from orchestration.returns import service
    from orchestration.returns.common import extract_date

    extract = extract_date(paths.vault_db)
    year = year or in_progress_year(extract)
    outcomes = [service.ssda903(paths, year), service.cin(paths, year)]
    findings = pd.concat([service.findings(o) for o in outcomes], ignore_index=True).fillna("").astype(str)
    current = items(findings)
    base = paths.published / "returns" / "worklist" / str(year)
    previous, compared_with = _previous(base, extract)
    lines = compare(current, previous)
    folder = base / extract.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    worklist = Worklist(
        year,
        extract,
        folder,
        lines,
        compared_with,
        int(findings["explained_by"].ne("").sum()),
        {o.return_name: o.passed for o in outcomes},
    )
    safe_frame(lines).to_csv(folder / "worklist.csv", index=False, lineterminator="\n")
    (folder / "worklist.html").write_text(to_html(worklist), encoding="utf-8")
    latest = base / "latest"
    temporary = base / ".latest.tmp"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(folder.name)
    temporary.replace(latest)
    return worklist


STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#1b1b1b}
table{border-collapse:collapse;width:100%;font-size:.9em}th,td{border:1px solid #ccc;padding:.3em .5em;
text-align:left;vertical-align:top}th{background:#f0f0f0}tr.new td:first-child{background:#fde2e1}
tr.still td:first-child{background:#fff4ce}tr.fixed td:first-child{background:#e3f4e1}
td{overflow-wrap:anywhere}td.nw{white-space:nowrap;overflow-wrap:normal}"""
NO_WRAP = {"status", "child", "return", "rule", "severity", "row", "value"}


def to_html(worklist: Worklist) -> str:
    esc = html.escape
    year = f"{worklist.year - 1}/{str(worklist.year)[2:]}"
    counts = worklist.counts()
    against = (
        f"marked against the worklist of the extract of {worklist.compared_with:%d %B %Y}"
        if worklist.compared_with
        else "the first worklist of the year: every line is new"
    )
    ready = "; ".join(
        f"{'SSDA903' if r == 'ssda903' else 'CIN census'}: {'ready' if ok else 'not ready'} on the year so far"
        for r, ok in worklist.ready.items()
    )
    lines = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>In-year worklist {year}</title><style>{STYLE}</style></head><body>",
        f"<h1>In-year worklist: SSDA903 and CIN census {year}, year so far</h1>",
        f"<p>From the extract of {worklist.extract:%d %B %Y}, {esc(against)}. <strong>{counts['new']} new, "
        f"{counts['still open']} still open, {counts['fixed']} fixed.</strong> {esc(ready)}.</p>",
        "<p>Each line is a pre-check or validator finding to correct at source: the field named, in the SSD "
        "table and field given, so the next extract carries the fix. A finding that depends on the year's end "
        "(an SDQ not yet recorded for a child who will have been looked after for a year) is listed too: it "
        f"is work to do before the return is due. {worklist.defects} finding(s) the validator makes in error "
        "(its known defects) are left out; the return's validation page lists them.</p>",
        "<table><tr>" + "".join(f"<th>{esc(c)}</th>" for c in COLUMNS) + "</tr>",
    ]
    for row in worklist.lines.itertuples(index=False):
        css = {"new": "new", "still open": "still", "fixed": "fixed"}[row.status]
        cells = "".join(
            f"<td class='nw'>{esc(str(v))}</td>" if c in NO_WRAP else f"<td>{esc(str(v))}</td>"
            for c, v in zip(COLUMNS, row, strict=True)
        )
        lines.append(f"<tr class='{css}'>{cells}</tr>")
    if worklist.lines.empty:
        lines.append(
            f"<tr><td colspan='{len(COLUMNS)}'>Nothing to do: no finding on the year so far.</td></tr>"
        )
    lines.append("</table></body></html>")
    return "\n".join(lines)
