"""The SSDA903 return for a collection year, from the SSD tables in the vault (docs: ../shared/docs/ssd.md
§2.1 for each mapping). Every table is one set-based query; dates are dd/mm/yyyy, blanks are empty.

The tables and their exact column sets are those the DfE's validator identifies files by. The XML layout
(EXPSSDA903) carries the same content per child.
"""

from __future__ import annotations

import io
from pathlib import Path

import duckdb
import pandas as pd
from lxml import etree

from orchestration.returns.common import CollectionYear, dmy, ssd_views

LA_CODES = Path(__file__).resolve().parent.parent / "data" / "la_codes.csv"

COLUMNS = {
    "header": ["CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB"],
    "episodes": ["CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE", "PLACE_PROVIDER", "DEC", "REC",
                 "REASON_PLACE_CHANGE", "HOME_POST", "PL_POST", "URN"],
    "reviews": ["CHILD", "DOB", "REVIEW", "REVIEW_CODE"],
    "uasc": ["CHILD", "SEX", "DOB", "DUC"],
    "oc2": ["CHILD", "DOB", "SDQ_SCORE", "SDQ_REASON", "CONVICTED", "HEALTH_CHECK", "IMMUNISATIONS", "TEETH_CHECK",
            "HEALTH_ASSESSMENT", "SUBSTANCE_MISUSE", "INTERVENTION_RECEIVED", "INTERVENTION_OFFERED"],
    "oc3": ["CHILD", "DOB", "IN_TOUCH", "ACTIV", "ACCOM"],
    "ad1": ["CHILD", "DOB", "DATE_INT", "DATE_MATCH", "FOSTER_CARE", "NB_ADOPTR", "SEX_ADOPTR", "LS_ADOPTR"],
    "placed_for_adoption": ["CHILD", "DOB", "DATE_PLACED", "DATE_PLACED_CEASED", "REASON_PLACED_CEASED"],
    "previous_permanence": ["CHILD", "DOB", "PREV_PERM", "LA_PERM", "DATE_PERM"],
    "missing": ["CHILD", "DOB", "MISSING", "MIS_START", "MIS_END"],
    "sw_episodes": ["CHILD", "DOB", "SW_ID", "SW_DECOM", "SW_DEC", "SW_REASON"],
    "dolo": ["CHILD", "DOB", "DOLO_START", "DOLO_END"],
}  # fmt: skip

# deprivation of liberty orders are collected from 2026/27 (collection year 2027; the validator's rules 700-710)
DOLO_FROM = 2027

LEGAL_STATUSES = ("C1", "C2", "D1", "E1", "V2", "V3", "V4", "L1", "L2", "L3", "J1", "J2", "J3")
TEMPORARY_PLACEMENTS = ("T0", "T1", "T2", "T3", "T4")
NO_PROVIDER = (*TEMPORARY_PLACEMENTS, "Z11", "Z12", "Z13", "Z14")
NO_URN = ("P1", "P3", "R1", "R2", "R5", *TEMPORARY_PLACEMENTS, "Z1", "Z11", "Z12", "Z13", "Z14")


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _postcode(expr: str) -> str:
    """A postcode with its space before the last three characters (the SSD may strip it)."""
    compact = f"regexp_replace(upper(coalesce({expr}, '')), '[^A-Z0-9]', '', 'g')"
    return f"case when length({compact}) between 5 and 7 then left({compact}, length({compact}) - 3) || ' ' || right({compact}, 3) else '' end"


def _prepare(con: duckdb.DuckDBPyConnection, year: CollectionYear, history: bool = False) -> None:
    """Temporary tables the 903 tables are drawn from: the year's episodes (with ``history``, every episode
    up to the year's end) and who they belong to."""
    ssd_views(con)
    start = "date '1900-01-01'" if history else f"date '{year.start}'"
    end = f"date '{year.end}'"
    con.execute(
        """create or replace temp table _903_people as
            select pers_person_id as child, any_value(pers_sex) as sex, any_value(pers_dob) as dob,
                   any_value(pers_ethnicity) as ethnic, any_value(pers_upn) as upn,
                   any_value(pers_upn_unknown) as upn_unknown, any_value(pers_is_mother) as is_mother
            from ssd.ssd_person group by pers_person_id"""
    )
    con.execute(
        f"""create or replace temp table _903_episodes as
            with e as (
                select * from ssd.ssd_cla_episodes
                where clae_cla_episode_start_date <= {end}
                  and (clae_cla_episode_ceased_date is null or clae_cla_episode_ceased_date >= {start})
            ),
            ls as (
                select e.clae_cla_episode_id, arg_max(l.lega_legal_status, l.lega_legal_status_start_date) as ls
                from e join ssd.ssd_legal_status l
                  on l.lega_person_id = e.clae_person_id
                 and l.lega_legal_status_start_date <= e.clae_cla_episode_start_date
                 and (l.lega_legal_status_end_date is null
                      or e.clae_cla_episode_start_date < l.lega_legal_status_end_date)
                 and l.lega_legal_status in {_in(LEGAL_STATUSES)}
                group by e.clae_cla_episode_id
            ),
            home as (
                select e.clae_cla_episode_id, arg_max(a.addr_address_postcode, a.addr_address_start_date) as postcode
                from e join ssd.ssd_address a
                  on a.addr_person_id = e.clae_person_id and upper(a.addr_address_type) = 'HOME'
                 and a.addr_address_start_date <= e.clae_cla_episode_start_date
                 and (a.addr_address_end_date is null or e.clae_cla_episode_start_date < a.addr_address_end_date)
                group by e.clae_cla_episode_id
            )
            select e.clae_person_id as child, e.clae_cla_episode_id as episode_id,
                   e.clae_cla_episode_start_date as decom, e.clae_cla_episode_start_reason as rne,
                   ls.ls, e.clae_cla_primary_need_code as cin,
                   p.clap_cla_placement_type as place, p.clap_cla_placement_provider as provider,
                   case when e.clae_cla_episode_ceased_date <= {end} then e.clae_cla_episode_ceased_date end as dec,
                   case when e.clae_cla_episode_ceased_date <= {end} then e.clae_cla_episode_ceased_reason end
                       as rec,
                   p.clap_cla_placement_change_reason as change_reason,
                   home.postcode as home_post, p.clap_cla_placement_postcode as pl_post,
                   p.clap_cla_placement_urn as urn
            from e
            left join ls using (clae_cla_episode_id)
            left join home using (clae_cla_episode_id)
            left join ssd.ssd_cla_placement p on p.clap_cla_placement_id = e.clae_cla_placement_id"""
    )
    con.execute(
        """create or replace temp table _903_uasc as
           select distinct immi_person_id as child from ssd.ssd_immigration_status
           where upper(immi_immigration_status) in ('UASC', 'UNACCOMPANIED ASYLUM SEEKING CHILD')"""
    )


def build(
    con: duckdb.DuckDBPyConnection, year: CollectionYear, history: bool = False, codes_of: int | None = None
) -> dict[str, pd.DataFrame]:
    """Every 903 table for the collection year, as text columns ready to write.

    With ``history``, the episodes (and the header of their children) go back to each child's first: what
    the DfE's longitudinal database holds by the end of that year. Given as "last year's" return to the
    validator, it lets the care-leaver rules see care that ended more than a year before. ``codes_of``
    writes coded fields in another year's codes: last year's return is given to the validator in this
    year's, since its year-comparing rules (202: a child's sex changed) compare the values as they stand."""
    _prepare(con, year, history)
    start, end = f"date '{year.start}'", f"date '{year.end}'"
    age = f"date_sub('year', p.dob, {end})"  # completed years at 31 March
    sdq_age = f"(p.dob + interval 4 year <= {end} and p.dob + interval 17 year >= {start})"
    # SEX is M, F or U from 2024/25; until 2023/24 it was 1 (male) or 2 (female) (the validator's rule 101)
    sex = (
        "coalesce(p.sex, 'U')"
        if (codes_of or year.year) >= 2025
        else "case coalesce(p.sex, 'U') when 'M' then '1' when 'F' then '2' else coalesce(p.sex, 'U') end"
    )
    tables: dict[str, str] = {}
    tables["header"] = f"""
        select p.child as CHILD, {sex} as SEX, {dmy("p.dob")} as DOB, coalesce(p.ethnic, '') as ETHNIC,
               coalesce(nullif(p.upn, ''), p.upn_unknown, '') as UPN,
               case when p.sex = 'F' and p.child in (select child from _903_episodes)
                    then case when p.is_mother = 'Y' then '1' else '0' end else '' end as MOTHER,
               '' as MC_DOB
        from _903_people p where p.child in (select child from _903_episodes) order by p.child"""
    tables["episodes"] = f"""
        select child as CHILD, {dmy("decom")} as DECOM, coalesce(rne, '') as RNE, coalesce(ls, '') as LS,
               coalesce(cin, '') as CIN, coalesce(place, '') as PLACE,
               case when place in {_in(NO_PROVIDER)} then '' else coalesce(provider, '') end as PLACE_PROVIDER,
               {dmy("dec")} as DEC, case when dec is null then '' else coalesce(rec, '') end as REC,
               case when rec = 'X1' and next_rne in ('P', 'T', 'B', 'U')
                         and place not in {_in(TEMPORARY_PLACEMENTS)} and next_place not in {_in(TEMPORARY_PLACEMENTS)}
                    then coalesce(change_reason, '') else '' end as REASON_PLACE_CHANGE,
               -- a UASC child has no home postcode in England, so no distance from home (rule 406)
               case when child in (select child from _903_uasc) then '' else {_postcode("home_post")} end as HOME_POST,
               {_postcode("pl_post")} as PL_POST,
               case when place in {_in(NO_URN)} then '' else coalesce(urn, '') end as URN
        from (select *, lead(rne) over (partition by child order by decom) as next_rne,
                        lead(place) over (partition by child order by decom) as next_place
              from _903_episodes)
        order by child, decom"""
    tables["reviews"] = f"""
        select r.clar_cla_person_id as CHILD, {dmy("p.dob")} as DOB, {dmy("r.clar_cla_review_date")} as REVIEW,
               coalesce(r.clar_cla_review_participation, '') as REVIEW_CODE
        from ssd.ssd_cla_reviews r join _903_people p on p.child = r.clar_cla_person_id
        where r.clar_cla_review_date between {start} and {end} and coalesce(r.clar_cla_review_cancelled, 'N') <> 'Y'
          and r.clar_cla_person_id in (select child from _903_episodes)
        order by 1, r.clar_cla_review_date"""
    tables["uasc"] = f"""
        select distinct p.child as CHILD, {sex} as SEX, {dmy("p.dob")} as DOB,
               -- the date UASC status ceases: the recorded end, else the 18th birthday (known in advance)
               {dmy("coalesce(i.immi_immigration_status_end_date, p.dob + interval 18 year)")} as DUC
        from ssd.ssd_immigration_status i join _903_people p on p.child = i.immi_person_id
        where upper(i.immi_immigration_status) in ('UASC', 'UNACCOMPANIED ASYLUM SEEKING CHILD')
          and i.immi_immigration_status_start_date <= {end}
          and (i.immi_immigration_status_end_date is null or i.immi_immigration_status_end_date >= {start})
          and p.child in (select child from _903_episodes)
        order by 1"""
    # looked after continuously for 12 months at 31 March, by the validator's definition: looked after in
    # the year, and no episode starting in it with RNE S, ending in it other than X1, or under V3/V4
    tables["oc2"] = f"""
        with cohort as (
            select child from _903_episodes group by child
            having bool_and(not (decom > {start} and rne = 'S'))
               and bool_and(not (dec is not null and rec <> 'X1'))
               and bool_and(coalesce(ls, '') not in ('V3', 'V4'))
               and min(decom) <= {start}
        ),
        sdq as (
            select csdq_person_id as child, arg_max(csdq_sdq_score, csdq_sdq_completed_date) as score,
                   arg_max(csdq_sdq_reason, csdq_sdq_completed_date) as reason
            from ssd.ssd_sdq_scores where csdq_sdq_completed_date between {start} and {end} group by 1
        ),
        checks as (
            select clah_person_id as child,
                   bool_or(upper(clah_health_check_type) like '%DENTAL%') as teeth,
                   bool_or(upper(clah_health_check_type) like '%HEALTH ASSESSMENT%') as assessment,
                   bool_or(upper(clah_health_check_type) like '%DEVELOPMENT%'
                           or upper(clah_health_check_type) like '%SURVEILLANCE%') as development
            from ssd.ssd_cla_health
            where upper(clah_health_check_status) = 'COMPLETED' and clah_health_check_date between {start} and {end}
            group by 1
        ),
        misuse as (
            select clas_person_id as child, bool_or(clas_intervention_received = 'Y') as received,
                   bool_or(clas_intervention_offered = 'Y') as offered,
                   bool_or(clas_intervention_offered in ('Y', 'N')) as offer_recorded
            from ssd.ssd_cla_substance_misuse where clas_substance_misuse_date between {start} and {end} group by 1
        ),
        immunised as (
            -- up to date at 31 March: the latest status recorded by then
            select clai_person_id as child, arg_max(clai_immunisations_status, clai_immunisations_status_date) as status
            from ssd.ssd_cla_immunisations where clai_immunisations_status_date <= {end} group by 1
        )
        select p.child as CHILD, {dmy("p.dob")} as DOB,
               -- aged 4 to 16 at some point in the year: 4th birthday by 31 March, 17th not before 1 April
               case when {sdq_age} then coalesce(sdq.score::varchar, '') else '' end as SDQ_SCORE,
               case when {sdq_age} and sdq.score is null then coalesce(sdq.reason, '') else '' end as SDQ_REASON,
               case when {age} >= 10 then case when exists (
                        select 1 from ssd.ssd_cla_convictions c where c.clac_person_id = p.child
                        and c.clac_cla_conviction_date between {start} and {end}) then '1' else '0' end
                    else '' end as CONVICTED,
               case when {age} < 5 then case when checks.development then '1' else '0' end else '' end as HEALTH_CHECK,
               case when immunised.status = 'Y' then '1' else '0' end as IMMUNISATIONS,
               case when checks.teeth then '1' else '0' end as TEETH_CHECK,
               case when checks.assessment then '1' else '0' end as HEALTH_ASSESSMENT,
               case when misuse.child is not null then '1' else '0' end as SUBSTANCE_MISUSE,
               case when misuse.child is null then '' when misuse.received then '1' else '0' end
                   as INTERVENTION_RECEIVED,
               case when misuse.child is null or misuse.received or not coalesce(misuse.offer_recorded, false) then ''
                    when misuse.offered then '1' else '0' end as INTERVENTION_OFFERED
        from cohort join _903_people p using (child)
        left join sdq using (child) left join checks using (child) left join misuse using (child)
        left join immunised using (child)
        order by 1"""
    # care leavers (OC3): relevant and former relevant young people (looked after 13 weeks since their 14th
    # birthday, some of it since their 16th) whose 17th to 21st birthday falls in the year and who had left
    # care before it (one leaving care on the birthday is not yet a care leaver: rule 1016), unless it ended in adoption,
    # death or a transfer to another authority; their status at the contact nearest the birthday from three
    # months before it to one month after, and not in touch when there was no contact in that window
    tables["oc3"] = f"""
        with birthdays as (
            select child, dob, age, (dob + to_years(age))::date as birthday
            from _903_people cross join (values (17), (18), (19), (20), (21)) a(age)
            where dob is not null and (dob + to_years(age))::date between {start} and {end}
        ),
        care as (
            select e.clae_person_id as child, e.clae_cla_episode_start_date as started,
                   e.clae_cla_episode_ceased_date as ceased, nullif(e.clae_cla_episode_ceased_reason, '') as rec
            from ssd.ssd_cla_episodes e
            where not exists (
                select 1 from ssd.ssd_legal_status l
                where l.lega_person_id = e.clae_person_id and l.lega_legal_status in ('V3', 'V4')
                  and l.lega_legal_status_start_date <= e.clae_cla_episode_start_date
                  and (l.lega_legal_status_end_date is null
                       or e.clae_cla_episode_start_date < l.lega_legal_status_end_date))
        ),
        histories as (
            select b.child, b.dob, b.birthday,
                   sum(greatest(0, date_diff('day', greatest(c.started, (b.dob + interval 14 year)::date),
                                             least(coalesce(c.ceased, b.birthday), b.birthday)))) as since_14,
                   sum(greatest(0, date_diff('day', greatest(c.started, (b.dob + interval 16 year)::date),
                                             least(coalesce(c.ceased, b.birthday), b.birthday)))) as since_16,
                   bool_or(c.ceased is null or c.ceased >= b.birthday) as in_care_on_birthday,
                   arg_max(c.rec, c.ceased) filter (where c.ceased <= b.birthday) as last_rec
            from birthdays b join care c on c.child = b.child and c.started <= b.birthday
            group by b.child, b.dob, b.birthday
        ),
        cohort as (
            select * from histories
            where since_14 >= 91 and since_16 >= 1 and not in_care_on_birthday
              and coalesce(last_rec, '') not in ('E11', 'E12', 'E2', 'E3')
        ),
        contact as (
            select c.child, l.clea_care_leaver_in_touch as in_touch, l.clea_care_leaver_activity as activity,
                   l.clea_care_leaver_accommodation as accommodation,
                   l.clea_care_leaver_accom_suitable as suitable
            from cohort c join ssd.ssd_care_leavers l
              on l.clea_person_id = c.child
             and l.clea_care_leaver_latest_contact
                 between (c.birthday - interval 3 month)::date and (c.birthday + interval 1 month)::date
            qualify row_number() over (
                partition by c.child
                order by abs(date_diff('day', l.clea_care_leaver_latest_contact, c.birthday)), l.clea_table_id desc
            ) = 1
        )
        select c.child as CHILD, {dmy("c.dob")} as DOB, coalesce(nullif(t.in_touch, ''), 'NO') as IN_TOUCH,
               case when t.in_touch = 'YES' then coalesce(nullif(t.activity, ''), '0') else '0' end as ACTIV,
               case when t.in_touch = 'YES' and nullif(t.accommodation, '') is not null
                         and nullif(t.suitable, '') is not null
                    then t.accommodation || t.suitable else '0' end as ACCOM
        from cohort c left join contact t using (child) order by 1"""
    tables["ad1"] = f"""
        select e.child as CHILD, {dmy("p.dob")} as DOB, {dmy("m.perm_adm_decision_date")} as DATE_INT,
               {dmy("m.perm_matched_date")} as DATE_MATCH,
               case m.perm_adopted_by_carer_flag when 'Y' then '1' when 'N' then '0' else '' end as FOSTER_CARE,
               coalesce(m.perm_number_of_adopters::varchar, '') as NB_ADOPTR, coalesce(m.perm_adopter_sex, '') as SEX_ADOPTR,
               coalesce(m.perm_adopter_legal_status, '') as LS_ADOPTR
        from _903_episodes e join _903_people p using (child)
        join ssd.ssd_permanence m on m.perm_person_id = e.child and m.perm_adm_decision_date is not null
        where e.rec in ('E11', 'E12')
        order by 1"""
    tables["placed_for_adoption"] = f"""
        select m.perm_person_id as CHILD, {dmy("p.dob")} as DOB, {dmy("m.perm_adm_decision_date")} as DATE_PLACED,
               {dmy("case when m.perm_decision_reversed_date <= " + end + " then m.perm_decision_reversed_date end")}
                   as DATE_PLACED_CEASED,
               case when m.perm_decision_reversed_date <= {end} then coalesce(m.perm_decision_reversed_reason, '')
                    else '' end as REASON_PLACED_CEASED
        from ssd.ssd_permanence m join _903_people p on p.child = m.perm_person_id
        where m.perm_adm_decision_date is not null and m.perm_adm_decision_date <= {end}
          and (m.perm_decision_reversed_date is null or m.perm_decision_reversed_date >= {start})
          and m.perm_person_id in (select child from _903_episodes)
        order by 1, m.perm_adm_decision_date"""
    tables["previous_permanence"] = f"""
        with starters as (
            select child, min(decom) as started from _903_episodes where rne = 'S' and decom >= {start} group by 1
        )
        select s.child as CHILD, {dmy("p.dob")} as DOB,
               coalesce(arg_max(l.lapp_previous_permanence_option, l.lapp_table_id), '') as PREV_PERM,
               coalesce(arg_max(coalesce(codes.la_code, l.lapp_previous_permanence_la), l.lapp_table_id), '')
                   as LA_PERM,
               -- already the 903's text form, zz for unknown parts (ssd.md 2.1)
               coalesce(arg_max(l.lapp_previous_permanence_order_date, l.lapp_table_id), '') as DATE_PERM
        from starters s join _903_people p using (child)
        left join ssd.ssd_cla_previous_permanence l on l.lapp_person_id = s.child
        -- the SSD holds the authority's name; the 903 wants its DfE number (or WAL, SCO, NIR, NUK)
        left join read_csv('{LA_CODES}', all_varchar = true) codes
          on lower(trim(codes.la_name)) = lower(trim(l.lapp_previous_permanence_la))
             or codes.la_code = upper(trim(l.lapp_previous_permanence_la))
        group by s.child, p.dob order by 1"""
    tables["missing"] = f"""
        select m.miss_person_id as CHILD, {dmy("p.dob")} as DOB, upper(m.miss_missing_episode_type) as MISSING,
               {dmy("m.miss_missing_episode_start_date")} as MIS_START,
               {dmy("case when m.miss_missing_episode_end_date <= " + end + " then m.miss_missing_episode_end_date end")}
                   as MIS_END
        from ssd.ssd_missing m join _903_people p on p.child = m.miss_person_id
        where m.miss_missing_episode_start_date <= {end}
          and (m.miss_missing_episode_end_date is null or m.miss_missing_episode_end_date >= {start})
          and exists (select 1 from _903_episodes e where e.child = m.miss_person_id
                      and e.decom <= m.miss_missing_episode_start_date
                      and (e.dec is null or m.miss_missing_episode_start_date <= e.dec))
        order by 1, m.miss_missing_episode_start_date"""
    tables["sw_episodes"] = f"""
        select i.invo_person_id as CHILD, {dmy("p.dob")} as DOB,
               coalesce(nullif(s.prof_social_worker_registration_no, ''), 'XX' || i.invo_professional_id) as SW_ID,
               {dmy("i.invo_involvement_start_date")} as SW_DECOM,
               {dmy("case when i.invo_involvement_end_date <= " + end + " then i.invo_involvement_end_date end")}
                   as SW_DEC,
               coalesce(i.invo_worker_change_reason, '') as SW_REASON
        from ssd.ssd_involvements i join _903_people p on p.child = i.invo_person_id
        left join ssd.ssd_professionals s on s.prof_professional_id = i.invo_professional_id
        where upper(i.invo_professional_role_id) = 'CW' and i.invo_involvement_start_date <= {end}
          and (i.invo_involvement_end_date is null or i.invo_involvement_end_date >= {start})
          and (
              -- looked after on 31 March: every allocation of the year, those made before the child came
              -- into care (or between two periods of care) included, as SW12STG2's message asks
              i.invo_person_id in (
                  select child from _903_episodes where coalesce(ls, '') not in ('V3', 'V4')
                  group by child having bool_or(dec is null))
              -- left care in the year with a worker still allocated on 31 March (SW17STG2 expects every
              -- child reported to have an episode open then): the allocations made while looked after (not
              -- on short breaks), begun within one of the year's episodes, or before the year for a child
              -- already in care when it began
              or (i.invo_person_id in (
                      select o.invo_person_id from ssd.ssd_involvements o
                      join _903_episodes e on e.child = o.invo_person_id and coalesce(e.ls, '') not in ('V3', 'V4')
                       and o.invo_involvement_start_date between e.decom and e.dec
                      where upper(o.invo_professional_role_id) = 'CW'
                        and (o.invo_involvement_end_date is null or o.invo_involvement_end_date > {end}))
                  and exists (select 1 from _903_episodes e
                              where e.child = i.invo_person_id and coalesce(e.ls, '') not in ('V3', 'V4')
                                and ((e.decom <= i.invo_involvement_start_date
                                      and (e.dec is null or i.invo_involvement_start_date <= e.dec))
                                  or (i.invo_involvement_start_date < {start} and e.decom <= {start}
                                      and e.rne <> 'S')))))
        order by 1, i.invo_involvement_start_date"""
    if (codes_of or year.year) >= DOLO_FROM:
        tables["dolo"] = _dolo(con, start, end)
    out = {}
    for name, sql in tables.items():
        if name == "header":
            continue
        frame = con.execute(sql).df().astype(str)
        out[name] = frame[COLUMNS[name]]
    # the header: every child with an episode in the return, and every care leaver in OC3
    con.register("_903_oc3_children", out["oc3"][["CHILD"]])
    header = (
        con.execute(
            tables["header"].replace(
                "where p.child in (select child from _903_episodes)",
                "where p.child in (select child from _903_episodes union select CHILD from _903_oc3_children)",
            )
        )
        .df()
        .astype(str)
    )
    con.unregister("_903_oc3_children")
    return {"header": header[COLUMNS["header"]], **out}


def _dolo(con: duckdb.DuckDBPyConnection, start: str, end: str) -> str:
    """The year's deprivation of liberty orders of children looked after in it: every order that overlaps
    the year, its end left blank when it is still open at 31 March. The SSD has no object for them: they
    come from the authority's own table in the 903 layout (contract ssda903_dolo), each order as most
    recently sent."""
    from orchestration.identity.records import raw_tables_present

    if "raw.ssda903_dolo" not in raw_tables_present(con, "vault"):
        return """select null::varchar as CHILD, null::varchar as DOB, null::varchar as DOLO_START,
                         null::varchar as DOLO_END where false"""
    return f"""
        with orders as (
            select r.CHILD, r.DOLO_START, r.DOLO_END from vault.raw.ssda903_dolo r
            join vault.ingest.deliveries d on d.delivery_id = r._delivery_id
            where r.DOLO_START is not null
            qualify row_number() over (partition by r.CHILD, r.DOLO_START order by d.received_at desc) = 1
        )
        select o.CHILD, {dmy("p.dob")} as DOB, {dmy("o.DOLO_START")} as DOLO_START,
               {dmy(f"case when o.DOLO_END <= {end} then o.DOLO_END end")} as DOLO_END
        from orders o join _903_people p on p.child = o.CHILD
        where o.DOLO_START <= {end} and (o.DOLO_END is null or o.DOLO_END >= {start})
          and o.CHILD in (select child from _903_episodes)
        order by 1, o.DOLO_START"""


def to_csv(frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\r\n")
    return buffer.getvalue().encode("utf-8")


def to_xml(tables: dict[str, pd.DataFrame]) -> bytes:
    """The EXPSSDA903 XML layout: per child, HEADER (with its missing episodes, reviews, permanence, OC2,
    OC3, adoption details) then EPISODEs; blank elements as empty tags."""
    root = etree.Element("EXPSSDA903")
    # each table's rows by child, in the table's order, read once: a pandas group looked up for each child and
    # table took 1.7 s of a Dudley-sized year's return, this 0.1 s, for the same bytes
    by_child: dict[str, dict[str, list[dict]]] = {}
    for name, frame in tables.items():
        held = by_child[name] = {}
        for record in frame.to_dict("records"):
            held.setdefault(record["CHILD"], []).append(record)

    def rows(name: str, child: str) -> list[dict]:
        return by_child.get(name, {}).get(child, [])

    def add(parent, tag: str, value: str) -> None:
        element = etree.SubElement(parent, tag)
        element.text = value or None

    for h in tables["header"].to_dict("records"):
        child = etree.SubElement(root, "CHILD")
        header = etree.SubElement(child, "HEADER")
        add(header, "CHILDID", h["CHILD"])
        for column in ("UPN", "SEX", "DOB", "ETHNIC"):
            add(header, column, h[column])
        uasc = rows("uasc", h["CHILD"])
        add(header, "UASC", "1" if uasc else "0")
        add(header, "DUC", uasc[0]["DUC"] if uasc else "")
        for ad1 in rows("ad1", h["CHILD"])[:1]:
            for column in ("DATE_INT", "DATE_MATCH", "FOSTER_CARE", "NB_ADOPTR", "SEX_ADOPTR", "LS_ADOPTR"):
                add(header, column, ad1[column])
        for oc3 in rows("oc3", h["CHILD"])[:1]:
            for column in ("IN_TOUCH", "ACTIV", "ACCOM"):
                add(header, column, oc3[column])
        for m in rows("missing", h["CHILD"]):
            block = etree.SubElement(header, "AMISSING")
            for column in ("MISSING", "MIS_START", "MIS_END"):
                add(block, column, m[column])
        for r in rows("reviews", h["CHILD"]):
            block = etree.SubElement(header, "AREVIEW")
            for column in ("REVIEW", "REVIEW_CODE"):
                add(block, column, r[column])
        add(header, "MOTHER", h["MOTHER"])
        add(header, "MC_DOB", h["MC_DOB"])
        for perm in rows("previous_permanence", h["CHILD"])[:1]:
            block = etree.SubElement(header, "PERMANENCE")
            for column in ("PREV_PERM", "LA_PERM", "DATE_PERM"):
                add(block, column, perm[column])
        for oc2 in rows("oc2", h["CHILD"])[:1]:
            block = etree.SubElement(header, "OC2")
            for column in COLUMNS["oc2"][2:]:
                add(block, column, oc2[column])
        for placed in rows("placed_for_adoption", h["CHILD"]):
            block = etree.SubElement(header, "AD_PLACED")
            for column in ("DATE_PLACED", "DATE_PLACED_CEASED", "REASON_PLACED_CEASED"):
                add(block, column, placed[column])
        for e in rows("episodes", h["CHILD"]):
            episode = etree.SubElement(child, "EPISODE")
            for column, tag in (("DECOM", "DECOM"), ("RNE", "RNE"), ("LS", "LS"), ("CIN", "CIN"), ("PLACE", "PL"),
                                ("PL_POST", "PL_POST"), ("HOME_POST", "HOME_POST"), ("URN", "URN"),
                                ("PLACE_PROVIDER", "PLACE_PROVIDER"), ("DEC", "DEC"), ("REC", "REC"),
                                ("REASON_PLACE_CHANGE", "REASON_PLACE_CHANGE")):  # fmt: skip
                add(episode, tag, e[column])
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def files(tables: dict[str, pd.DataFrame]) -> dict[str, bytes]:
    """The return's files: one CSV per table (named as the DfE's tools name them) and the XML."""
    out = {f"{name}.csv": to_csv(frame) for name, frame in tables.items()}
    out["ssda903.xml"] = to_xml(tables)
    return out
