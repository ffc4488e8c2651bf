"""The CIN census XML for a collection year, from the SSD tables in the vault (ssd.md §2.2 for each mapping),
in the element order of that year's XSD, and validated against it.

Cohort: every child with an episode of need (a referral, including one that ended in no further action)
open at some point in the year. Within each episode, the assessments, CIN plans, section 47 enquiries and
child protection plans open at some point in the year.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
from lxml import etree

from orchestration.identity.records import raw_tables_present
from orchestration.returns.common import Authority, CollectionYear, ssd_views
from orchestration.settings import CONTRACTS_DIR

XSD_DIR = CONTRACTS_DIR / "cin_census" / "xsd"
SOFTWARE = "Whole Child"


class SchemaInvalid(ValueError):
    """The XML does not conform to the year's XSD: the message lists each violation with its line."""


def xsd_for(year: int) -> Path:
    """The XSD of the collection year, or the nearest year there is one for."""
    available = {int(p.stem.rsplit("_", 1)[-1]): p for p in XSD_DIR.glob("CIN_schema_*.xsd")}
    return available[min(available, key=lambda y: (abs(y - year), -y))]


PREVIOUS_SUBMISSIONS = "raw.cin_census__child_protection_plans"


def _frames(con: duckdb.DuckDBPyConnection, year: CollectionYear) -> dict[str, pd.DataFrame]:
    ssd_views(con)
    # child protection plans of the authority's earlier CIN census submissions, when any were loaded
    reported = (
        f"vault.{PREVIOUS_SUBMISSIONS}"
        if PREVIOUS_SUBMISSIONS in raw_tables_present(con, "vault")
        else "(select null::varchar as LAchildID, null::date as CPPstartDate, null::integer as NumberOfPreviousCPP)"
    )
    start, end = f"date '{year.start}'", f"date '{year.end}'"
    overlapping = "{s} <= " + end + " and ({e} is null or {e} >= " + start + ")"
    queries = {
        "episodes": f"""
            select cine_referral_id as referral_id, cine_person_id as child, cine_referral_date as referral_date,
                   cine_referral_source_code as source, cine_cin_primary_need_code as need,
                   case when cine_close_date <= {end} then cine_close_date end as closed,
                   case when cine_close_date <= {end} then cine_close_reason end as closure_reason,
                   case when cine_referral_nfa = 'Y' then '1' else '0' end as nfa
            from ssd.ssd_cin_episodes
            where {overlapping.format(s="cine_referral_date", e="cine_close_date")}""",
        "children": """
            select pers_person_id as child, any_value(pers_upn) as upn, any_value(pers_upn_unknown) as upn_unknown,
                   any_value(pers_dob) as dob, any_value(pers_expected_dob) as expected_dob,
                   any_value(pers_sex) as sex, any_value(pers_death_date) as death_date,
                   any_value(pers_ethnicity) as ethnicity
            from ssd.ssd_person group by pers_person_id""",
        "former_upns": """
            select link_person_id as child,
                   arg_max(link_identifier_value, coalesce(link_valid_from_date, date '1900-01-01')) as former_upn
            from ssd.ssd_linked_identifiers where link_identifier_type = 'Former Unique Pupil Number' group by 1""",
        "disabilities": """select disa_person_id as child, disa_disability_code as code from ssd.ssd_disability
                           where disa_disability_code is not null""",
        "assessments": f"""
            select a.cina_referral_id as referral_id, a.cina_assessment_id as assessment_id,
                   a.cina_assessment_start_date as started,
                   case when a.cina_assessment_auth_date <= {end} then a.cina_assessment_auth_date end as authorised,
                   f.cinf_assessment_factors_json as factors
            from ssd.ssd_cin_assessments a
            left join ssd.ssd_assessment_factors f on f.cinf_assessment_id = a.cina_assessment_id
            where {overlapping.format(s="a.cina_assessment_start_date", e="a.cina_assessment_auth_date")}""",
        "plans": f"""
            select cinp_referral_id as referral_id, cinp_cin_plan_start_date as started,
                   case when cinp_cin_plan_end_date <= {end} then cinp_cin_plan_end_date end as ended
            from ssd.ssd_cin_plans
            where {overlapping.format(s="cinp_cin_plan_start_date", e="cinp_cin_plan_end_date")}""",
        "s47": f"""
            select s.s47e_referral_id as referral_id, s.s47e_s47_start_date as started,
                   c.icpc_icpc_target_date as target,
                   case when c.icpc_icpc_date <= {end} then c.icpc_icpc_date end as icpc,
                   -- no conference was planned: the enquiry ended without one (ssd.md 2.2, ICPCnotRequired)
                   case when c.icpc_icpc_id is null and s.s47e_s47_end_date is not null then '1' else '0' end
                       as not_required
            from ssd.ssd_s47_enquiry s
            left join ssd.ssd_initial_cp_conference c on c.icpc_s47_enquiry_id = s.s47e_s47_enquiry_id
            where {overlapping.format(s="s.s47e_s47_start_date", e="coalesce(c.icpc_icpc_date, s.s47e_s47_end_date)")}""",
        "first_icpc": f"""
            select icpc_referral_id as referral_id, min(icpc_icpc_date) as icpc from ssd.ssd_initial_cp_conference
            where icpc_icpc_date <= {end} group by 1""",
        "cp_plans": f"""
            select p.cppl_referral_id as referral_id, p.cppl_cp_plan_id as plan_id, p.cppl_cp_plan_start_date as started,
                   case when p.cppl_cp_plan_end_date <= {end} then p.cppl_cp_plan_end_date end as ended,
                   p.cppl_cp_plan_initial_category as initial_category,
                   p.cppl_cp_plan_latest_category as latest_category,
                   greatest(
                       (select count(*) from ssd.ssd_cp_plans q where q.cppl_person_id = p.cppl_person_id
                          and coalesce(q.cppl_cp_plan_ola, 'N') <> 'Y'
                          and q.cppl_cp_plan_start_date < p.cppl_cp_plan_start_date),
                       -- the count an earlier submission reported reaches back before the SSD's window
                       coalesce((select max(r.NumberOfPreviousCPP) from {reported} r
                                 where r.LAchildID = p.cppl_person_id
                                   and r.CPPstartDate = p.cppl_cp_plan_start_date), 0)) as previous
            from ssd.ssd_cp_plans p
            where coalesce(p.cppl_cp_plan_ola, 'N') <> 'Y'
              and {overlapping.format(s="p.cppl_cp_plan_start_date", e="p.cppl_cp_plan_end_date")}""",
        "cp_reviews": f"""select cppr_cp_plan_id as plan_id, cppr_cp_review_date as reviewed from ssd.ssd_cp_reviews
                          where cppr_cp_review_date between {start} and {end}""",
    }
    frames = {name: con.execute(sql).df() for name, sql in queries.items()}
    # dates as the XML writes them, a column at a time (NaT becomes NaN): the records read below carry text,
    # not a Timestamp made for each value and written out again
    for frame in frames.values():
        for column in frame.columns:
            if pd.api.types.is_datetime64_any_dtype(frame[column]):
                frame[column] = frame[column].dt.strftime("%Y-%m-%d")
    return frames


def _date(value) -> str | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, str):  # written so already (_frames)
        return value
    return pd.Timestamp(value).strftime("%Y-%m-%d")


def _grouped(frame: pd.DataFrame, key: str) -> dict[str, list[dict]]:
    """The frame's rows as records, grouped by ``key`` in the frame's order."""
    out: dict[str, list[dict]] = {}
    for record in frame.to_dict("records"):
        out.setdefault(record[key], []).append(record)
    return out


def _listed(frame: pd.DataFrame, key: str, value: str, *, distinct: bool) -> dict[str, list]:
    """Each ``key``'s ``value``s (each once, if ``distinct``), sorted: one pass over the frame sorted so, not
    a function called for each group."""
    out: dict[str, list] = {}
    rows = frame[[key, value]]
    ordered = (rows.drop_duplicates() if distinct else rows).sort_values([key, value], kind="stable")
    for k, v in zip(ordered[key].tolist(), ordered[value].tolist(), strict=True):
        out.setdefault(k, []).append(v)
    return out


def build(con: duckdb.DuckDBPyConnection, year: CollectionYear, authority: Authority) -> bytes:
    """The CIN census XML of the collection year (not yet validated: see ``validate_xsd``)."""
    data = _frames(con, year)
    sex_element = "Sex" if b'name="Sex"' in xsd_for(year.year).read_bytes() else "GenderCurrent"
    # each frame read once into plain records, grouped by the key the XML nests them under: indexing a
    # frame per child and per referral cost more than everything else the build does
    episodes = _grouped(data["episodes"].sort_values(["child", "referral_date", "referral_id"]), "child")
    children = {r["child"]: r for r in data["children"].to_dict("records")}
    former = data["former_upns"].set_index("child").former_upn.to_dict()
    disabilities = _listed(data["disabilities"], "child", "code", distinct=True)
    by_referral = {
        name: _grouped(data[name].sort_values("started", kind="stable"), "referral_id")
        for name in ("assessments", "plans", "s47", "cp_plans")
    }
    first_icpc = data["first_icpc"].set_index("referral_id").icpc.to_dict()
    reviews = _listed(data["cp_reviews"], "plan_id", "reviewed", distinct=False)

    def rows(name: str, referral_id: str) -> list[dict]:
        return by_referral[name].get(referral_id, [])

    def add(parent, tag: str, value) -> None:
        if value is None or (isinstance(value, float) and value != value) or value == "":
            return
        etree.SubElement(parent, tag).text = str(value)

    message = etree.Element("Message")
    header = etree.SubElement(message, "Header")
    details = etree.SubElement(header, "CollectionDetails")
    add(details, "Collection", "CIN")
    add(details, "Year", year.year)
    add(details, "ReferenceDate", year.end.isoformat())
    source = etree.SubElement(header, "Source")
    add(source, "SourceLevel", "L")
    add(source, "LEA", authority.la_number)
    add(source, "SoftwareCode", SOFTWARE)
    add(source, "Release", "1")
    add(source, "SerialNo", "001")
    add(source, "DateTime", datetime.now(UTC).replace(microsecond=0, tzinfo=None).isoformat())
    children_element = etree.SubElement(message, "Children")
    for child_id in sorted(episodes):
        person = children.get(child_id)
        child = etree.SubElement(children_element, "Child")
        ids = etree.SubElement(child, "ChildIdentifiers")
        add(ids, "LAchildID", child_id)
        if person is not None:
            upn = person["upn"] if isinstance(person["upn"], str) else ""  # a missing UPN arrives as NaN
            add(ids, "UPN", upn)
            add(ids, "FormerUPN", former.get(child_id))
            if not upn:
                add(ids, "UPNunknown", person["upn_unknown"])
            add(ids, "PersonBirthDate", _date(person["dob"]))
            if _date(person["dob"]) is None:
                add(ids, "ExpectedPersonBirthDate", _date(person["expected_dob"]))
            add(ids, sex_element, person["sex"] if person["sex"] in ("M", "F") else "U")
            add(ids, "PersonDeathDate", _date(person["death_date"]))
        characteristics = etree.SubElement(child, "ChildCharacteristics")
        add(characteristics, "Ethnicity", None if person is None else person["ethnicity"])
        codes = disabilities.get(child_id)
        if codes:
            block = etree.SubElement(characteristics, "Disabilities")
            for code in codes:
                add(block, "Disability", code)
        for e in episodes[child_id]:
            cin = etree.SubElement(child, "CINdetails")
            add(cin, "CINreferralDate", _date(e["referral_date"]))
            add(cin, "ReferralSource", e["source"])
            add(cin, "PrimaryNeedCode", e["need"])
            add(cin, "CINclosureDate", _date(e["closed"]))
            add(cin, "ReasonForClosure", e["closure_reason"] if _date(e["closed"]) else None)
            # a conference belongs in its section 47 module; at episode level only when no S47 of the
            # episode is in the return (rule 2884)
            if not rows("s47", e["referral_id"]):
                add(cin, "DateOfInitialCPC", _date(first_icpc.get(e["referral_id"])))
            for a in rows("assessments", e["referral_id"]):
                block = etree.SubElement(cin, "Assessments")
                add(block, "AssessmentActualStartDate", _date(a["started"]))
                add(block, "AssessmentAuthorisationDate", _date(a["authorised"]))
                factors = (
                    json.loads(a["factors"])
                    if isinstance(a["factors"], str) and _date(a["authorised"])
                    else []
                )
                if factors:
                    listed = etree.SubElement(block, "FactorsIdentifiedAtAssessment")
                    for factor in factors:
                        add(listed, "AssessmentFactors", factor)
            for p in rows("plans", e["referral_id"]):
                block = etree.SubElement(cin, "CINPlanDates")
                add(block, "CINPlanStartDate", _date(p["started"]))
                add(block, "CINPlanEndDate", _date(p["ended"]))
            for s in rows("s47", e["referral_id"]):
                block = etree.SubElement(cin, "Section47")
                add(block, "S47ActualStartDate", _date(s["started"]))
                add(block, "InitialCPCtarget", _date(s["target"]))
                add(block, "DateOfInitialCPC", _date(s["icpc"]))
                add(block, "ICPCnotRequired", s["not_required"])
            add(cin, "ReferralNFA", e["nfa"])
            for p in rows("cp_plans", e["referral_id"]):
                block = etree.SubElement(cin, "ChildProtectionPlans")
                add(block, "CPPstartDate", _date(p["started"]))
                add(block, "CPPendDate", _date(p["ended"]))
                add(block, "InitialCategoryOfAbuse", p["initial_category"])
                add(block, "LatestCategoryOfAbuse", p["latest_category"])
                add(block, "NumberOfPreviousCPP", int(p["previous"]))
                dates = reviews.get(p["plan_id"])
                if dates:
                    listed = etree.SubElement(block, "Reviews")
                    for reviewed in dates:
                        add(listed, "CPPreviewDate", _date(reviewed))
    return etree.tostring(message, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def validate_xsd(xml: bytes, year: int) -> list[str]:
    """Every way the XML breaks the year's XSD, with its line; empty when valid."""
    schema = etree.XMLSchema(etree.parse(str(xsd_for(year))))
    document = etree.fromstring(xml, parser=etree.XMLParser(remove_blank_text=False))
    if schema.validate(etree.ElementTree(document)):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]
