"""The DfE's headline figures, worked out from the statutory returns Whole Child builds, the way the DfE works
them out from what authorities submit.

The DfE publishes "Children looked after in England including adoptions" from the SSDA903 and "Children in
need" from the CIN census. This module does the same from the returns (``ssda903.build`` and ``cin.build``,
the CIN census XML read back through the ``cin_census`` contract, as any CIN census file is), written from
the DfE's methodology (docs/adr/0004) and sharing no SQL with the dbt models. Each figure is kept per child
(the return's CHILD / LAchildID), so that a difference with the marts names its children.

``figures`` returns one row per (measure, collection_year, child) with a value: ``1`` for a child counted
in a cohort, a number for a count per child (referrals, assessments, ...), a code for a breakdown (age band,
legal status, placement), ``true``/``false`` for an outcome of a cohort member.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from orchestration.returns.common import Authority, CollectionYear
from orchestration.settings import DBT_PROJECT_DIR

BANK_HOLIDAYS = DBT_PROJECT_DIR / "seeds" / "bank_holidays_england.csv"
COLUMNS = ["measure", "collection_year", "child", "value"]

# what each measure means, for the reconciliation report
MEASURES = {
    "looked_after_at_31_march": "SSDA903: looked after at 31 March (episode open that day, not V3/V4)",
    "looked_after_at_31_march_by_age": "SSDA903: age band at 31 March of those looked after then",
    "looked_after_at_31_march_by_legal_status": "SSDA903: legal status of the episode open on 31 March",
    "looked_after_at_31_march_by_placement": "SSDA903: placement type of the episode open on 31 March",
    "started_to_be_looked_after": "SSDA903: an episode with reason for new episode S began in the year",
    "ceased_to_be_looked_after": "SSDA903: an episode ended in the year for a reason other than X1",
    "three_or_more_placements": "SSDA903: looked after at 31 March, three or more placements (carers) in the year",
    "long_term_stability_cohort": "SSDA903: under 16 at 31 March, looked after continuously for 2.5 years",
    "long_term_stability": "SSDA903: of that cohort, with the same carer for 2 years (or placed for adoption "
    "with the previous placement together lasting 2 years)",
    "looked_after_12_months": "SSDA903: looked after continuously for 12 months at 31 March (the OC2 cohort)",
    "oc2_health_assessment": "SSDA903 OC2: HEALTH_ASSESSMENT = 1",
    "oc2_dental_check": "SSDA903 OC2: TEETH_CHECK = 1",
    "oc2_immunisations_up_to_date": "SSDA903 OC2: IMMUNISATIONS = 1",
    "oc2_substance_misuse": "SSDA903 OC2: SUBSTANCE_MISUSE = 1",
    "oc2_development_check": "SSDA903 OC2: HEALTH_CHECK = 1 (under 5 at 31 March)",
    "oc2_sdq_score": "SSDA903 OC2: SDQ_SCORE of those aged 5 to 16 at 31 March",
    "care_leavers": "SSDA903 OC3: care leavers followed up at their 17th to 21st birthday, by that age",
    "care_leavers_in_touch": "SSDA903 OC3: IN_TOUCH = YES",
    "care_leavers_in_education_employment_or_training": "SSDA903 OC3: ACTIV F1, P1, F2, P2, and F3, P3 until "
    "2020/21, F4, P4, F5, P5 from 2021/22",
    "care_leavers_suitably_accommodated": "SSDA903 OC3: ACCOM ending in 1 (suitable)",
    "in_need_at_31_march": "CIN census: an episode of need open on 31 March (not a referral ending in NFA)",
    "referrals": "CIN census: referrals (CINreferralDate) in the year, per child",
    "re_referrals_within_12_months": "CIN census: referrals in the year within 12 months of the child's "
    "previous referral",
    "assessments_completed": "CIN census: assessments authorised in the year",
    "assessments_within_45_working_days": "CIN census: of those, authorised within 45 working days of starting",
    "s47_enquiries_started": "CIN census: section 47 enquiries started in the year",
    "initial_cp_conferences": "CIN census: initial child protection conferences held in the year",
    "initial_cp_conferences_within_15_working_days": "CIN census: of those, within 15 working days of the "
    "section 47 enquiry starting",
    "cp_plans_started": "CIN census: child protection plans started in the year",
    "second_or_subsequent_cp_plans": "CIN census: of those, with NumberOfPreviousCPP above 0",
}
# OC3 activities in education, employment or training: training or employment was F3/P3 until 2020/21, and
# apprenticeships (F4/P4) and other training or employment (F5/P5) from 2021/22
EET = """(ACTIV in ('F1', 'P1', 'F2', 'P2')
          or (collection_year <= 2021 and ACTIV in ('F3', 'P3'))
          or (collection_year >= 2022 and ACTIV in ('F4', 'P4', 'F5', 'P5')))"""


def age_band_sql(age: str) -> str:
    """The DfE's age bands of children looked after, from an age in years."""
    return f"""case when {age} < 1 then 'Under 1' when {age} < 5 then '1 to 4' when {age} < 10 then '5 to 9'
                    when {age} < 16 then '10 to 15' else '16 and over' end"""


@dataclass(frozen=True)
class Returns:
    """The returns of a run of collection years, as built: the 903 tables per year, the CIN XML per year."""

    ssda903: dict[int, dict[str, pd.DataFrame]]
    cin: dict[int, bytes]


def build_returns(
    con: duckdb.DuckDBPyConnection, years: list[int], authority: Authority, ready: Returns | None = None
) -> Returns:
    """Every year's SSDA903 and CIN census, built in memory from the vault attached to ``con``; a year in
    ``ready`` (built already from the same vault) is taken from it."""
    from orchestration.returns.cin.build import build as build_cin
    from orchestration.returns.ssda903.build import build as build_903

    ready = ready or Returns({}, {})
    return Returns(
        ssda903={
            y: ready.ssda903[y] if y in ready.ssda903 else build_903(con, CollectionYear(y)) for y in years
        },
        cin={
            y: ready.cin[y] if y in ready.cin else build_cin(con, CollectionYear(y), authority) for y in years
        },
    )


def figures(returns: Returns) -> pd.DataFrame:
    """Every measure of every year, per child, worked out from the returns alone."""
    con = duckdb.connect()
    try:
        _load_903(con, returns.ssda903)
        _load_cin(con, returns.cin)
        _working_days(con)
        parts = [con.execute(sql).df() for sql in (*_903_SQL, *_CIN_SQL)]
    finally:
        con.close()
    out = pd.concat(parts, ignore_index=True)[COLUMNS]
    out["value"] = out["value"].astype(str)
    out["collection_year"] = out["collection_year"].astype(int)
    return out


def broken_continuations(returns: Returns) -> pd.DataFrame:
    """Episodes that end X1 (a new episode begins) with none starting that day after them: the child's care
    history breaks off there, a row quarantined or missing from the extract (the DfE's rule 388). Columns
    ``child`` (the LA child id) and ``dec``, the date it breaks off."""
    con = duckdb.connect()
    try:
        _load_903(con, returns.ssda903)
        return con.execute(
            """select child, dec from y903_history h
               where rec = 'X1' and dec is not null
                 and not exists (select 1 from y903_history n where n.child = h.child and n.decom = h.dec)
               order by child, dec"""
        ).df()
    finally:
        con.close()


# --- loading the returns -----------------------------------------------------------------------------------


def _dmy(column: str) -> str:
    return f"try_strptime(nullif({column}, ''), '%d/%m/%Y')::date"


def _load_903(con: duckdb.DuckDBPyConnection, years: dict[int, dict[str, pd.DataFrame]]) -> None:
    """Tables y903_<table> of every year, dates as dates and a collection_year column; episodes also as one
    history (each episode once, as the latest return holds it)."""
    for table in ("header", "episodes", "oc2", "oc3"):
        frames = [t[table].assign(collection_year=y) for y, t in years.items()]
        con.register(f"_in_{table}", pd.concat(frames, ignore_index=True))
    con.execute(
        f"""create table y903_episodes as
            select CHILD as child, collection_year, {_dmy("DECOM")} as decom, RNE as rne, LS as ls,
                   PLACE as place, {_dmy("DEC")} as dec, nullif(REC, '') as rec
            from _in_episodes where LS not in ('V3', 'V4')"""
    )
    con.execute(
        """create table y903_history as
           select * exclude (collection_year) from y903_episodes
           qualify row_number() over (partition by child, decom order by collection_year desc) = 1"""
    )
    con.execute(
        f"""create table y903_people as
            select CHILD as child, any_value({_dmy("DOB")}) as dob from _in_header group by CHILD"""
    )
    con.execute(f"create table y903_oc2 as select * exclude (DOB), {_dmy('DOB')} as dob from _in_oc2")
    con.execute(f"create table y903_oc3 as select * exclude (DOB), {_dmy('DOB')} as dob from _in_oc3")


# what the figures read of a CIN census: its table -> the columns used below
CIN_READ = {
    "cin_details": ("LAchildID", "CINreferralDate", "CINclosureDate", "ReferralNFA"),
    "assessments": ("LAchildID", "AssessmentActualStartDate", "AssessmentAuthorisationDate"),
    "section_47": ("LAchildID", "S47ActualStartDate", "DateOfInitialCPC"),
    "child_protection_plans": ("LAchildID", "CPPstartDate", "NumberOfPreviousCPP"),
}


def _load_cin(con: duckdb.DuckDBPyConnection, years: dict[int, bytes]) -> None:
    """The CIN census XML of every year, read as Whole Child reads any CIN census (the cin_census contract):
    tables cin_<table> with a collection_year column."""
    from dataclasses import replace

    from orchestration.ingest.contracts import load_contracts
    from orchestration.ingest.sources import read_xml

    # only the tables and columns the figures use, each read by the contract's own path: the reader's cost
    # is per element and column, and the other seven tables were more than half of it
    whole = load_contracts()["cin_census"]
    contract = replace(
        whole,
        tables=tuple(
            replace(table, columns=tuple(c for c in table.columns if c.name in CIN_READ[table.name]))
            for table in whole.tables
            if table.name in CIN_READ
        ),
    )
    frames: dict[str, list[pd.DataFrame]] = {}
    with tempfile.TemporaryDirectory(prefix="wc-cin-figures-") as work:
        for year, xml in years.items():
            path = Path(work) / f"cin_census_{year}.xml"
            path.write_bytes(xml)
            read = read_xml(con, contract, path, path.name, None)
            for staged in read.staged:
                frames.setdefault(staged.table.name, []).append(
                    con.execute(f"select * from {staged.temp}").df().assign(collection_year=year)
                )
                con.execute(f"drop table {staged.temp}")
    for name in CIN_READ:
        con.register(f"_in_cin_{name}", pd.concat(frames[name], ignore_index=True))
    iso = "try_strptime({c}, '%Y-%m-%d')::date"
    con.execute(
        f"""create table cin_details as
            select LAchildID as child, collection_year, {iso.format(c="CINreferralDate")} as referral_date,
                   {iso.format(c="CINclosureDate")} as closure_date, ReferralNFA in ('1', 'TRUE') as nfa
            from _in_cin_cin_details"""
    )
    con.execute(
        f"""create table cin_assessments as
            select LAchildID as child, collection_year, {iso.format(c="AssessmentActualStartDate")} as started,
                   {iso.format(c="AssessmentAuthorisationDate")} as authorised
            from _in_cin_assessments"""
    )
    con.execute(
        f"""create table cin_section_47 as
            select LAchildID as child, collection_year, {iso.format(c="S47ActualStartDate")} as started,
                   {iso.format(c="DateOfInitialCPC")} as icpc
            from _in_cin_section_47"""
    )
    con.execute(
        f"""create table cin_plans as
            select LAchildID as child, collection_year, {iso.format(c="CPPstartDate")} as started,
                   try_cast(NumberOfPreviousCPP as integer) as previous
            from _in_cin_child_protection_plans"""
    )


def _working_days(con: duckdb.DuckDBPyConnection) -> None:
    """working_days (day, n): n is the count of working days up to and including the day (weekends and
    English bank holidays not counted), so the working days from a to b are n(b) - n(a)."""
    holidays = pd.read_csv(BANK_HOLIDAYS, parse_dates=["holiday_date"]).holiday_date.to_numpy("datetime64[D]")
    days = np.arange(np.datetime64("2005-01-01"), np.datetime64("2031-01-01"), dtype="datetime64[D]")
    working = np.is_busday(days, holidays=holidays)
    con.register("_days", pd.DataFrame({"day": days, "n": np.cumsum(working)}))
    con.execute("create table working_days as select day::date as day, n from _days")


# --- the SSDA903 --------------------------------------------------------------------------------------------

_YEAR = "make_date(collection_year - 1, 4, 1) as year_start, make_date(collection_year, 3, 31) as year_end"

_903_SQL = (
    # looked after at 31 March, with the breakdowns the DfE publishes
    f"""with open_on_31_march as (
            select e.*, make_date(e.collection_year, 3, 31) as day from y903_episodes e
            where e.decom <= make_date(e.collection_year, 3, 31)
              and (e.dec is null or e.dec > make_date(e.collection_year, 3, 31))
        ),
        aged as (
            select o.*, date_sub('year', p.dob, o.day) as age
            from open_on_31_march o left join y903_people p using (child)
        )
        select 'looked_after_at_31_march' as measure, collection_year, child, '1' as value from aged
        union all select 'looked_after_at_31_march_by_age', collection_year, child, {age_band_sql("age")} from aged
        union all select 'looked_after_at_31_march_by_legal_status', collection_year, child, ls from aged
        union all select 'looked_after_at_31_march_by_placement', collection_year, child, place from aged""",
    # started and ceased: only the first start and the last end of a child in a year are counted
    f"""with e as (select *, {_YEAR} from y903_episodes)
        select distinct 'started_to_be_looked_after' as measure, collection_year, child, '1' as value from e
        where rne = 'S' and decom between year_start and year_end
        union all
        select distinct 'ceased_to_be_looked_after', collection_year, child, '1' from e
        where dec between year_start and year_end and coalesce(rec, '') <> 'X1'""",
    # placements by carer: a new carer with S, P or B (not into or back from a temporary placement T0-T4);
    # placements in the year: the one under way on 1 April or at the first episode, then each new carer
    f"""with ordered as (
            select *, {_YEAR},
                   lag(place) over (partition by child, collection_year order by decom) as previous_place,
                   row_number() over (partition by child, collection_year order by decom) as n
            from y903_episodes
        ),
        counted as (
            select child, collection_year,
                   count(*) filter (where n = 1 or (rne in ('S', 'P', 'B') and place not like 'T%'
                                                     and coalesce(previous_place, '') not like 'T%'))
                       as placements,
                   bool_or(decom <= year_end and (dec is null or dec > year_end)) as at_31_march
            from ordered group by all
        )
        select 'three_or_more_placements' as measure, collection_year, child, '1' as value from counted
        where at_31_march and placements >= 3""",
    # long-term stability, from each child's history of episodes: the period of care and the carer spell
    # under way on 31 March, and the spell before it when placed for adoption
    f"""with years as (select distinct collection_year, {_YEAR} from y903_episodes),
        history as (
            select *,
                   coalesce(lag(dec) over (partition by child order by decom) = decom
                            and lag(rec) over (partition by child order by decom) = 'X1', false) as continues,
                   lag(place) over (partition by child order by decom) as previous_place
            from y903_history
        ),
        marked as (
            select *,
                   sum(case when continues then 0 else 1 end) over (partition by child order by decom) as period,
                   sum(case when not continues or (rne in ('P', 'B') and place not like 'T%'
                                                   and coalesce(previous_place, '') not like 'T%')
                            then 1 else 0 end) over (partition by child order by decom) as spell
            from history
        ),
        periods as (select child, period, min(decom) as period_start from marked group by all),
        spell_starts as (
            select child, spell, min(decom) as spell_start, any_value(period) as period from marked group by all
        ),
        spells as (
            select *,
                   case when lag(period) over (partition by child order by spell) = period
                        then lag(spell_start) over (partition by child order by spell) end as previous_spell_start
            from spell_starts
        ),
        at_31_march as (
            select y.collection_year, y.year_end, m.child, m.place, p.period_start, s.spell_start,
                   s.previous_spell_start
            from marked m join years y on m.decom <= y.year_end and (m.dec is null or m.dec > y.year_end)
            join periods p using (child, period) join spells s using (child, spell)
        ),
        cohort as (
            select a.* from at_31_march a join y903_people p using (child)
            where date_sub('year', p.dob, a.year_end) < 16
              and a.period_start <= a.year_end - interval 30 month
        )
        select 'long_term_stability_cohort' as measure, collection_year, child, '1' as value from cohort
        union all
        select 'long_term_stability', collection_year, child,
               (spell_start <= year_end - interval 24 month
                or (place in ('A3', 'A4', 'A5', 'A6')
                    and coalesce(previous_spell_start <= year_end - interval 24 month, false)))::varchar
        from cohort""",
    # looked after continuously for 12 months at 31 March: looked after on 1 April and every day since
    f"""with e as (select *, {_YEAR} from y903_episodes),
        by_child as (
            select child, collection_year, min(decom) as first_start, any_value(year_start) as year_start,
                   bool_and(not (rne = 'S' and decom > year_start)) as no_new_start,
                   bool_and(dec is null or rec = 'X1') as no_end
            from e group by all
        )
        select 'looked_after_12_months' as measure, collection_year, child, '1' as value from by_child
        where first_start <= year_start and no_new_start and no_end""",
    # OC2 outcomes, of the children the OC2 table lists
    """with oc2 as (select *, date_sub('year', dob, make_date(collection_year, 3, 31)) as age from y903_oc2)
        select 'oc2_health_assessment' as measure, collection_year, CHILD as child,
               (HEALTH_ASSESSMENT = '1')::varchar as value from oc2
        union all select 'oc2_dental_check', collection_year, CHILD, (TEETH_CHECK = '1')::varchar from oc2
        union all select 'oc2_immunisations_up_to_date', collection_year, CHILD, (IMMUNISATIONS = '1')::varchar
        from oc2
        union all select 'oc2_substance_misuse', collection_year, CHILD, (SUBSTANCE_MISUSE = '1')::varchar
        from oc2
        union all select 'oc2_development_check', collection_year, CHILD, (HEALTH_CHECK = '1')::varchar from oc2
        where age < 5
        union all select 'oc2_sdq_score', collection_year, CHILD, SDQ_SCORE from oc2
        where age between 5 and 16 and SDQ_SCORE <> ''""",
    # OC3 care leavers, by their age at the birthday the year holds
    f"""with oc3 as (
            -- the birthday the year holds is on or before its 31 March: the age at it is the age then
            select *, date_sub('year', dob, make_date(collection_year, 3, 31)) as age from y903_oc3
        )
        select 'care_leavers' as measure, collection_year, CHILD as child, age::varchar as value from oc3
        union all select 'care_leavers_in_touch', collection_year, CHILD, (IN_TOUCH = 'YES')::varchar from oc3
        union all select 'care_leavers_in_education_employment_or_training', collection_year, CHILD,
               {EET}::varchar from oc3
        union all select 'care_leavers_suitably_accommodated', collection_year, CHILD,
               (length(ACCOM) = 2 and right(ACCOM, 1) = '1')::varchar from oc3""",
)

# --- the CIN census -----------------------------------------------------------------------------------------


def _timed(table: str, start: str, end: str, limit: int, measure: str, within: str) -> str:
    """Events that ended in the year (the count per child) and those that ended within ``limit`` working days
    of their start (working days: the DfE's, weekends and England's bank holidays left out)."""
    return f"""with timed as (
            select t.*, e.n - b.n as working_days from {table} t
            join working_days b on b.day = t.{start} join working_days e on e.day = t.{end}
            where t.{end} between make_date(t.collection_year - 1, 4, 1) and make_date(t.collection_year, 3, 31)
        )
        select '{measure}' as measure, collection_year, child, count(*)::varchar as value from timed group by all
        union all
        select '{within}', collection_year, child, count(*)::varchar from timed
        where working_days <= {limit} group by all"""


_CIN_SQL = (
    """select 'in_need_at_31_march' as measure, collection_year, child, '1' as value from cin_details
        where not nfa and referral_date <= make_date(collection_year, 3, 31)
          and (closure_date is null or closure_date > make_date(collection_year, 3, 31))
        group by all""",
    # referrals and re-referrals: every referral the child had in any year's census is a previous one
    """with referrals as (select distinct child, referral_date from cin_details),
        in_year as (
            select c.child, c.collection_year, c.referral_date from cin_details c
            where c.referral_date between make_date(c.collection_year - 1, 4, 1)
                                      and make_date(c.collection_year, 3, 31)
        ),
        flagged as (
            select i.*, exists (select 1 from referrals r where r.child = i.child
                                and r.referral_date < i.referral_date
                                and r.referral_date >= i.referral_date - interval 12 month) as is_re_referral
            from in_year i
        )
        select 'referrals' as measure, collection_year, child, count(*)::varchar as value from flagged
        group by all
        union all
        select 're_referrals_within_12_months', collection_year, child, count(*)::varchar from flagged
        where is_re_referral group by all""",
    # assessments authorised in the year, and within 45 working days of their start
    _timed(
        "cin_assessments",
        "started",
        "authorised",
        45,
        "assessments_completed",
        "assessments_within_45_working_days",
    ),
    """select 's47_enquiries_started' as measure, collection_year, child, count(*)::varchar as value
        from cin_section_47
        where started between make_date(collection_year - 1, 4, 1) and make_date(collection_year, 3, 31)
        group by all""",
    # initial child protection conferences held in the year, and within 15 working days of the S47's start
    _timed(
        "cin_section_47",
        "started",
        "icpc",
        15,
        "initial_cp_conferences",
        "initial_cp_conferences_within_15_working_days",
    ),
    """with started as (
            select * from cin_plans
            where started between make_date(collection_year - 1, 4, 1) and make_date(collection_year, 3, 31)
        )
        select 'cp_plans_started' as measure, collection_year, child, count(*)::varchar as value from started
        group by all
        union all
        select 'second_or_subsequent_cp_plans', collection_year, child, count(*)::varchar from started
        where previous > 0 group by all""",
)
