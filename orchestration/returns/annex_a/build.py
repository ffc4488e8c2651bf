"""Ofsted's Annex A (ILACS pre-inspection child-level lists 1 to 11) from the SSD, for an inspection date
and a look-back window.

One worksheet per list, named "List 1" .. "List 11", with Ofsted's column headings (the same headings
the annex_a ingestion contract reads, so a workbook built here loads back through it). Code cells carry
Ofsted's ordinal prefixes ("a) Male", "k) APKN"); dates are real Excel dates shown dd/mm/yyyy.

Which records each list holds (window = the look-back months up to and including the inspection date):

1 contacts dated in the window; 2 early help episodes starting in it; 3 referrals in it; 4 assessments
started or authorised in it; 5 section 47 enquiries started in it; 6 CIN episodes open at any time in it;
7 child protection plans open at any time in it; 8 children looked after at any time in it (one row per
child, their latest period of care); 9 care leavers with a contact recorded in it (their latest record);
10 children with a decision to place for adoption still active at the window's start or made in it;
11 adopters: the SSD holds no adopter records, so the list has its headings and no rows.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd
from dateutil.relativedelta import relativedelta
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from orchestration.cells import string_cell
from orchestration.returns.ssda903.prechecks import ETHNIC

LISTS = range(1, 12)
_GENDER = "case upper(p.pers_sex) when 'M' then 'a) Male' when 'F' then 'b) Female' else 'c) Not stated/recorded' end"
_YES_NO = "case when {0} then 'a) Yes' else 'b) No' end"


@dataclass(frozen=True)
class Window:
    inspection: date
    months: int = 6

    @property
    def start(self) -> date:
        return self.inspection - relativedelta(months=self.months) + relativedelta(days=1)

    @property
    def end(self) -> date:
        return self.inspection


def _ethnic() -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    order = [c for c in ETHNIC if c not in ("REFU", "NOBT")] + ["NOBT", "REFU"]  # Ofsted's order
    cases = " ".join(f"when '{code}' then '{letters[i]}) {code}'" for i, code in enumerate(order))
    return f"case upper(p.pers_ethnicity) {cases} else p.pers_ethnicity end"


def _common(when: str) -> str:
    """Child Unique ID, Gender, Ethnicity, Date of Birth, Age of Child (Years) at the inspection date."""
    return (
        'p.pers_person_id as "Child Unique ID", '
        + _GENDER
        + ' as "Gender", '
        + _ethnic()
        + ' as "Ethnicity", '
        'cast(p.pers_dob as date) as "Date of Birth", '
        f"round(date_diff('day', cast(p.pers_dob as date), {when}) / 365.25, 2) as \"Age of Child (Years)\""
    )


def _sql(w: Window) -> dict[int, str]:
    start, end = f"date '{w.start}'", f"date '{w.end}'"
    common = _common(end)
    disabled = _YES_NO.format("p.pers_person_id in (select child from _disabled)")
    alloc = "coalesce(al.team, '') as \"Allocated Team\", coalesce(al.worker, '') as \"Allocated Worker\""
    alloc_join = "left join _allocation al on al.child = p.pers_person_id"
    year_ago = f"{end} - interval 12 month"
    return {
        1: f"""select {common}, cast(c.cont_contact_date as date) as "Date of Contact",
                  c.cont_contact_source_code as "Contact Source"
               from ssd.ssd_contacts c join _people p on p.pers_person_id = c.cont_person_id
               where c.cont_contact_date between {start} and {end} order by c.cont_contact_date, 1""",
        2: f"""select {common}, cast(e.earl_episode_start_date as date) as "Assessment start date",
                  cast(e.earl_episode_end_date as date) as "Assessment completion date",
                  coalesce(e.earl_episode_organisation, '') as "Organisation completing assessment"
               from ssd.ssd_early_help_episodes e join _people p on p.pers_person_id = e.earl_person_id
               where e.earl_episode_start_date between {start} and {end} order by 6, 1""",
        3: f"""select {common}, cast(r.cine_referral_date as date) as "Date of referral",
                  r.cine_referral_source_code as "Referral Source",
                  case when r.cine_referral_nfa = 'Y' then 'Yes' else 'No' end as "Referral NFA?",
                  (select count(*) from ssd.ssd_cin_episodes q where q.cine_person_id = r.cine_person_id
                     and q.cine_referral_date between r.cine_referral_date - interval 12 month
                     and r.cine_referral_date - interval 1 day) as "Number of Referrals in Last 12 Months",
                  {alloc}
               from ssd.ssd_cin_episodes r join _people p on p.pers_person_id = r.cine_person_id {alloc_join}
               where r.cine_referral_date between {start} and {end} order by 6, 1""",
        4: f"""select {common}, {disabled} as "Does the Child have a Disability",
                  cast(a.cina_assessment_start_date as date) as "Continuous Assessment Start Date",
                  case when a.cina_assessment_child_seen = 'Y' then 'Yes' else 'No' end
                      as "Child Seen During Continuous Assessment",
                  cast(a.cina_assessment_auth_date as date) as "Continuous Assessment Date of Authorisation",
                  case when a.cina_assessment_auth_date is null then ''
                       when a.cina_assessment_outcome_nfa = 'Y' then 'No' else 'Yes' end
                      as "Was the child assessed as requiring LA children's social care support?",
                  {alloc}
               from ssd.ssd_cin_assessments a join _people p on p.pers_person_id = a.cina_person_id {alloc_join}
               where a.cina_assessment_start_date between {start} and {end}
                  or a.cina_assessment_auth_date between {start} and {end} order by 7, 1""",
        5: f"""select {common}, {disabled} as "Does the Child have a Disability",
                  cast(s.s47e_s47_start_date as date) as "Strategy discussion initiating Section 47 Enquiry Start Date",
                  case when c.icpc_icpc_date is null and s.s47e_s47_end_date is not null then 'Yes' else 'No' end
                      as "Was an Initial Child Protection Conference deemed unnecessary?",
                  cast(c.icpc_icpc_date as date) as "Date of Initial Child Protection Conference",
                  case when c.icpc_icpc_date is null then ''
                       when c.icpc_icpc_outcome_cp_flag = 'Y' then 'Yes' else 'No' end
                      as "Did the Initial Child Protection Conference Result in a Child Protection Plan",
                  (select count(*) from ssd.ssd_s47_enquiry q where q.s47e_person_id = s.s47e_person_id
                     and q.s47e_s47_start_date between {year_ago} and {end})
                      as "Number of Section 47 Enquiries in the last 12 months",
                  (select count(*) from ssd.ssd_initial_cp_conference q where q.icpc_person_id = s.s47e_person_id
                     and q.icpc_icpc_date between {year_ago} and {end}) as "Number of ICPCs in the last 12 months",
                  {alloc}
               from ssd.ssd_s47_enquiry s join _people p on p.pers_person_id = s.s47e_person_id {alloc_join}
               left join ssd.ssd_initial_cp_conference c on c.icpc_s47_enquiry_id = s.s47e_s47_enquiry_id
               where s.s47e_s47_start_date between {start} and {end} order by 7, 1""",
        6: f"""select {common}, {disabled} as "Does the Child have a Disability",
                  cast(r.cine_referral_date as date) as "CIN Start Date",
                  r.cine_cin_primary_need_code as "Primary Need Code",
                  (select cast(max(v.cinv_cin_visit_date) as date) from ssd.ssd_cin_visits v
                     where v.cinv_person_id = r.cine_person_id and v.cinv_cin_visit_date <= {end})
                      as "Date Child Was Last Seen",
                  cast(r.cine_close_date as date) as "CIN Closure Date",
                  coalesce(r.cine_close_reason, '') as "Reason for Closure",
                  case when r.cine_close_date is not null and r.cine_close_date <= {end} then 'e) Closed episode'
                       when p.pers_person_id in (select child from _looked_after) then 'a) Looked after child'
                       when p.pers_person_id in (select child from _on_cp_plan) then 'b) Child Protection plan'
                       when p.pers_person_id in (select child from _on_cin_plan) then 'c) Child in need plan'
                       else 'd) Open assessment' end as "Case Status",
                  {alloc}
               from ssd.ssd_cin_episodes r join _people p on p.pers_person_id = r.cine_person_id {alloc_join}
               where r.cine_referral_date <= {end} and (r.cine_close_date is null or r.cine_close_date >= {start})
               order by 7, 1""",
        7: f"""select {common}, {disabled} as "Does the Child have a Disability",
                  cast(c.cppl_cp_plan_start_date as date) as "Child Protection Plan Start Date",
                  coalesce(c.cppl_cp_plan_initial_category, '') as "Initial Category of Abuse",
                  coalesce(c.cppl_cp_plan_latest_category, '') as "Latest Category of Abuse",
                  cast(v.visited as date) as "Date of the Last Statutory Visit",
                  case when v.visited is null then '' when v.alone = 'Y' then 'a) Yes' else 'b) No' end
                      as "Was the Child Seen Alone?",
                  (select cast(max(q.cppr_cp_review_date) as date) from ssd.ssd_cp_reviews q
                     where q.cppr_cp_plan_id = c.cppl_cp_plan_id and q.cppr_cp_review_date <= {end})
                      as "Date of latest review conference",
                  cast(c.cppl_cp_plan_end_date as date) as "Child Protection Plan End Date",
                  case when exists (select 1 from ssd.ssd_legal_status l where l.lega_person_id = c.cppl_person_id
                                    and l.lega_legal_status in ('L1', 'L2')
                                    and l.lega_legal_status_start_date between {end} - interval 6 month and {end})
                       then 'a) Yes' else 'b) No' end
                      as "Subject to Emergency Protection Order or Protected Under Police Powers in Last Six Months (Y/N)",
                  (select count(*) from ssd.ssd_cp_plans q where q.cppl_person_id = c.cppl_person_id
                     and q.cppl_cp_plan_start_date < c.cppl_cp_plan_start_date)
                      as "Number of Previous Child Protection Plans",
                  {alloc}
               from ssd.ssd_cp_plans c join _people p on p.pers_person_id = c.cppl_person_id {alloc_join}
               left join (select cppv_cp_plan_id as plan, max(cppv_cp_visit_date) as visited,
                                 arg_max(cppv_cp_visit_seen_alone, cppv_cp_visit_date) as alone
                          from ssd.ssd_cp_visits where cppv_cp_visit_date <= {end} group by 1) v
                 on v.plan = c.cppl_cp_plan_id
               where c.cppl_cp_plan_start_date <= {end}
                 and (c.cppl_cp_plan_end_date is null or c.cppl_cp_plan_end_date >= {start})
               order by 7, 1""",
        8: f"""select {common},
                  {_YES_NO.format("p.pers_person_id in (select child from _uasc)")}
                      as "Unaccompanied Asylum Seeking Child (UASC) within the Last 12 Months (Y/N)",
                  {disabled} as "Does the Child have a Disability",
                  cast(l.period_start as date) as "Date Started to be Looked After",
                  coalesce(l.need, '') as "Child's Category of Need",
                  {_YES_NO.format("l.earlier_periods_in_year > 0")}
                      as "Is this a second or subsequent period of being a Looked After Child within the last 12 months (Y/N)",
                  cast(ls.since as date) as "Start date of current legal status",
                  coalesce(ls.status, '') as "Child's Legal Status",
                  (select cast(max(clar_cla_review_date) as date) from ssd.ssd_cla_reviews
                     where clar_cla_person_id = l.child and clar_cla_review_date <= {end})
                      as "Date of Latest Statutory Review",
                  (select cast(max(clav_cla_visit_date) as date) from ssd.ssd_cla_visits
                     where clav_person_id = l.child and clav_cla_visit_date <= {end}) as "Date of Last Social Work Visit",
                  '' as "What is the permanence plan for this child?",
                  cast(l.iro_contact as date) as "Date of Last IRO Visit / Contact to the Child",
                  (select cast(max(clah_health_check_date) as date) from ssd.ssd_cla_health
                     where clah_person_id = l.child and clah_health_check_date <= {end}
                       and clah_health_check_type ilike '%assessment%') as "Date of Last Health Assessment",
                  (select cast(max(clah_health_check_date) as date) from ssd.ssd_cla_health
                     where clah_person_id = l.child and clah_health_check_date <= {end}
                       and clah_health_check_type ilike '%dental%') as "Date of Last Dental Check",
                  (select count(*) from ssd.ssd_cla_placement q where q.clap_person_id = l.child
                     and q.clap_cla_placement_start_date between {year_ago} and {end})
                      as "Number of Placements in the Last 12 months",
                  case when l.period_end <= {end} then cast(l.period_end as date) end as "Date Ceased to be Looked After",
                  case when l.period_end <= {end} then coalesce(l.reason_ceased, '') else '' end
                      as "Reason Ceased to be Looked After",
                  cast(pl.clap_cla_placement_start_date as date) as "Start Date of Most Recent Placement",
                  coalesce(pl.clap_cla_placement_type, '') as "Placement Type",
                  coalesce(pl.clap_cla_placement_provider, '') as "Placement Provider",
                  coalesce(pl.clap_cla_placement_postcode, '') as "Placement postcode",
                  coalesce(pl.clap_cla_placement_urn, '') as "URN of Placement",
                  case when pl.clap_cla_placement_distance is null then ''
                       when try_cast(pl.clap_cla_placement_distance as double) <= 20 then 'a) Inside LA boundary'
                       else 'b) Outside LA boundary' end as "Placement Location",
                  '' as "LA of Placement",
                  (select count(*) from ssd.ssd_missing m where m.miss_person_id = l.child
                     and upper(m.miss_missing_episode_type) = 'M'
                     and m.miss_missing_episode_start_date between {year_ago} and {end})
                      as "Number of Episodes the Child has been 'Missing' from their Placement in the last 12 months",
                  (select count(*) from ssd.ssd_missing m where m.miss_person_id = l.child
                     and upper(m.miss_missing_episode_type) = 'A'
                     and m.miss_missing_episode_start_date between {year_ago} and {end})
                      as "Number of Episodes the Child has been 'Absent' from their Placement in the last 12 months",
                  coalesce((select case arg_max(miss_missing_rhi_offered, miss_missing_episode_start_date)
                                   when 'Y' then 'a) Yes' when 'N' then 'b) No' else '' end
                            from ssd.ssd_missing where miss_person_id = l.child
                              and miss_missing_episode_start_date <= {end}), '')
                      as "Was the child offered a Return Interview after their last missing episode (Y/N)?",
                  coalesce((select case arg_max(miss_missing_rhi_accepted, miss_missing_episode_start_date)
                                   when 'Y' then 'a) Yes' when 'N' then 'b) No' else '' end
                            from ssd.ssd_missing where miss_person_id = l.child
                              and miss_missing_episode_start_date <= {end}), '')
                      as "Did the child accept a Return Interview after their last missing episode (Y/N)?",
                  {alloc}
               from _latest_period l join _people p on p.pers_person_id = l.child {alloc_join}
               left join (select lega_person_id as child, arg_max(lega_legal_status, lega_legal_status_start_date)
                                 as status, max(lega_legal_status_start_date) as since
                          from ssd.ssd_legal_status where lega_legal_status_start_date <= {end} group by 1) ls
                 on ls.child = l.child
               left join (select *, row_number() over (partition by clap_person_id
                                 order by clap_cla_placement_start_date desc) as n
                          from ssd.ssd_cla_placement where clap_cla_placement_start_date <= {end}) pl
                 on pl.clap_person_id = l.child and pl.n = 1
               order by 8, 1""",
        9: f"""select {common},
                  {_YES_NO.format("p.pers_person_id in (select child from _ever_uasc)")}
                      as "Unaccompanied Asylum Seeking Child (UASC), or formerly UASC if 18 or over (Y/N)",
                  {disabled} as "Does the Child have a Disability",
                  coalesce(d.dept_team_name, c.clea_care_leaver_allocated_team, '') as "Allocated Team",
                  coalesce(w.prof_professional_name, '') as "Allocated Worker",
                  coalesce(c.clea_care_leaver_personal_advisor, '') as "Allocated Personal Advisor",
                  coalesce(c.clea_care_leaver_eligibility, '') as "Eligibility Category",
                  cast(c.clea_pathway_plan_review_date as date) as "Latest Pathway Plan Review Date",
                  coalesce(c.clea_care_leaver_in_touch, '') as "LA in Touch",
                  cast(c.clea_care_leaver_latest_contact as date) as "Latest Date of Contact",
                  coalesce(c.clea_care_leaver_accommodation, '') as "Type of Accommodation",
                  case c.clea_care_leaver_accom_suitable when '1' then 'a) Suitable' when '2' then 'b) Unsuitable'
                       else '' end as "Suitability of Accommodation",
                  coalesce(c.clea_care_leaver_activity, '') as "Activity Status"
               from (select *, row_number() over (partition by clea_person_id
                                                  order by clea_care_leaver_latest_contact desc, clea_table_id desc) as n
                     from ssd.ssd_care_leavers
                     where clea_care_leaver_latest_contact between {start} and {end}) c
               join _people p on p.pers_person_id = c.clea_person_id
               left join ssd.ssd_department d on d.dept_team_id = c.clea_care_leaver_allocated_team
               left join ssd.ssd_professionals w on w.prof_professional_id = c.clea_care_leaver_worker_id
               where c.n = 1 order by 1""",
        10: f"""select p.pers_person_id as "Child Unique ID", '' as "Family identifier",
                   {_GENDER} as "Gender", {_ethnic()} as "Ethnicity", cast(p.pers_dob as date) as "Date of Birth",
                   round(date_diff('day', cast(p.pers_dob as date), {end}) / 365.25, 2) as "Age of Child (Years)",
                   {disabled} as "Does the Child have a Disability",
                   (select cast(max(e.clae_entered_care_date) as date) from ssd.ssd_cla_episodes e
                     where e.clae_person_id = m.perm_person_id and e.clae_entered_care_date <= m.perm_adm_decision_date)
                       as "Date the Child Entered Care",
                   cast(m.perm_adm_decision_date as date) as "Date of Decision that Child Should be Placed for Adoption",
                   cast(m.perm_placement_order_date as date) as "Date of Placement Order",
                   cast(m.perm_matched_date as date) as "Date of Matching Child and Prospective Adopters",
                   cast(m.perm_placed_for_adoption_date as date) as "Date Placed for Adoption",
                   case when m.perm_permanence_order_type ilike 'adoption%'
                        then cast(m.perm_permanence_order_date as date) end as "Date of Adoption Order",
                   cast(m.perm_decision_reversed_date as date)
                       as "Date of Decision that Child Should No Longer be Placed for Adoption",
                   coalesce(m.perm_decision_reversed_reason, '') as "Reason Why Child No Longer Placed for Adoption",
                   cast(m.perm_placed_ffa_cp_date as date)
                       as "Date the child was placed for fostering in FFA or concurrent planning placement"
                from ssd.ssd_permanence m join _people p on p.pers_person_id = m.perm_person_id
                where m.perm_adm_decision_date <= {end}
                  and (m.perm_permanence_order_date is null or m.perm_permanence_order_date >= {start})
                  and (m.perm_decision_reversed_date is null or m.perm_decision_reversed_date >= {start})
                order by 9, 1""",
    }


LIST_11 = [
    "Individual adopter identifier", "Family identifier", "Gender", "Ethnicity", "Disability",
    "Is the (prospective) adopter fostering for adoption?", "Date enquiry received", "Date Stage 1 started",
    "Date Stage 1 ended", "Date Stage 2 started", "Date Stage 2 ended", "Date application submitted",
    "Date application approved", "Date adopter matched with child(ren)", "Date child/children placed with adopter(s)",
    "No. of children placed", "Date of Adoption Order", "Date of leaving adoption process",
    "Reason for leaving adoption process",
]  # fmt: skip


def _prepare(con: duckdb.DuckDBPyConnection, w: Window) -> None:
    start, end = f"date '{w.start}'", f"date '{w.end}'"
    con.execute(
        "create or replace temp table _people as select pers_person_id, arg_max(pers_sex, pers_dob) as pers_sex, "
        "arg_max(pers_ethnicity, pers_dob) as pers_ethnicity, max(pers_dob) as pers_dob "
        "from ssd.ssd_person group by 1"
    )
    con.execute(
        "create or replace temp table _disabled as select distinct disa_person_id as child from ssd.ssd_disability "
        "where disa_disability_code is not null and upper(disa_disability_code) <> 'NONE'"
    )
    # the allocated case worker and team on the inspection date (else the latest before it)
    con.execute(f"""create or replace temp table _allocation as
        select i.invo_person_id as child, arg_max(coalesce(d.dept_team_name, i.invo_professional_team), i.invo_involvement_start_date) as team,
               arg_max(w.prof_professional_name, i.invo_involvement_start_date) as worker
        from ssd.ssd_involvements i
        left join ssd.ssd_professionals w on w.prof_professional_id = i.invo_professional_id
        left join ssd.ssd_department d on d.dept_team_id = i.invo_professional_team
        where upper(i.invo_professional_role_id) = 'CW' and i.invo_involvement_start_date <= {end}
        group by 1""")  # fmt: skip
    con.execute(f"""create or replace temp table _looked_after as select distinct clae_person_id as child
        from ssd.ssd_cla_episodes where clae_cla_episode_start_date <= {end}
          and (clae_cla_episode_ceased_date is null or clae_cla_episode_ceased_date > {end})""")
    con.execute(f"""create or replace temp table _on_cp_plan as select distinct cppl_person_id as child
        from ssd.ssd_cp_plans where cppl_cp_plan_start_date <= {end}
          and (cppl_cp_plan_end_date is null or cppl_cp_plan_end_date > {end})""")
    con.execute(f"""create or replace temp table _on_cin_plan as select distinct cinp_person_id as child
        from ssd.ssd_cin_plans where cinp_cin_plan_start_date <= {end}
          and (cinp_cin_plan_end_date is null or cinp_cin_plan_end_date > {end})""")
    con.execute(f"""create or replace temp table _uasc as select distinct immi_person_id as child
        from ssd.ssd_immigration_status where (upper(immi_immigration_status) = 'UASC' or immi_immigration_status ilike '%asylum%')
          and immi_immigration_status_start_date <= {end}
          and (immi_immigration_status_end_date is null
               or immi_immigration_status_end_date >= {end} - interval 12 month)""")
    con.execute("""create or replace temp table _ever_uasc as select distinct immi_person_id as child
        from ssd.ssd_immigration_status where (upper(immi_immigration_status) = 'UASC' or immi_immigration_status ilike '%asylum%')""")
    # periods of care: episodes joined end to end (an episode starting the day another ends continues it)
    con.execute(f"""create or replace temp table _latest_period as
        with e as (
            select clae_person_id as child, clae_cla_episode_start_date as s, clae_cla_episode_ceased_date as f,
                   clae_cla_episode_ceased_reason as rec, clae_cla_primary_need_code as need,
                   clae_cla_last_iro_contact_date as iro,
                   lag(clae_cla_episode_ceased_date) over (partition by clae_person_id
                       order by clae_cla_episode_start_date) as previous_end
            from ssd.ssd_cla_episodes where clae_cla_episode_start_date <= {end}
        ), numbered as (
            select *, sum(case when previous_end = s then 0 else 1 end)
                          over (partition by child order by s rows unbounded preceding) as period
            from e
        ), periods as (
            select child, period, min(s) as period_start,
                   case when bool_or(f is null) then null else max(f) end as period_end,
                   arg_max(rec, s) as reason_ceased, arg_max(need, s) as need, max(iro) as iro_contact
            from numbered group by 1, 2
        )
        select child, period_start, period_end, reason_ceased, need, iro_contact,
               (select count(*) from periods q where q.child = p.child and q.period < p.period
                  and q.period_start >= {end} - interval 12 month) as earlier_periods_in_year
        from periods p
        where period_start <= {end} and (period_end is null or period_end >= {start})
        qualify row_number() over (partition by child order by period_start desc) = 1""")


def build(con: duckdb.DuckDBPyConnection, window: Window) -> dict[int, pd.DataFrame]:
    """The eleven lists as data frames, keyed by list number (``con`` has the ssd views)."""
    _prepare(con, window)
    lists = {number: con.execute(sql).df() for number, sql in _sql(window).items()}
    lists[11] = pd.DataFrame(columns=LIST_11)
    return lists


def to_workbook(lists: dict[int, pd.DataFrame]) -> bytes:
    """The workbook: sheets "List 1" .. "List 11", headings on row 1, dates as Excel dates (dd/mm/yyyy)."""
    book = Workbook(write_only=True)
    for number in LISTS:
        frame = lists[number]
        sheet = book.create_sheet(f"List {number}")
        sheet.append([string_cell(sheet, c) for c in frame.columns])
        dates = [pd.api.types.is_datetime64_any_dtype(frame[c]) for c in frame.columns]
        values = frame.astype(object).where(frame.notna(), None)
        for row in values.itertuples(index=False):  # openpyxl writes cell by cell
            sheet.append([_cell(sheet, v, d) for v, d in zip(row, dates, strict=True)])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _cell(sheet, value, is_date: bool):
    if value is None or value == "":
        return None
    if is_date:
        cell = WriteOnlyCell(sheet, value=pd.Timestamp(value).to_pydatetime())
        cell.number_format = "dd/mm/yyyy"
        return cell
    return string_cell(sheet, value)  # text from the case record is never a formula
