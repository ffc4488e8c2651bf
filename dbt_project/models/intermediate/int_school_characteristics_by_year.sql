{#- SEN provision and free school meals by child and collection year (the academic year ending that
    summer), from the censuses taken in that academic year (October, January and May). SEN provision is the
    highest recorded in them (an EHC plan above SEN support above none). FSM eligible: an FSM period open on
    the spring census day (the January census the DfE uses), or, for a pupil not in that census, on the day
    of any census of the year. -#}
with pupils as (
    select * from {{ ref('stg_school_census__pupils_on_roll') }}
),

fsm as (
    select * from {{ ref('stg_school_census__fsm_periods') }}
),

census_fsm as (
    select
        pupils.person_key,
        pupils.census_academic_year,
        pupils.census_term,
        bool_or(
            fsm.fsm_start_date <= {{ census_day('pupils.census_year', 'pupils.census_term') }}
            and (
                fsm.fsm_end_date is null
                or fsm.fsm_end_date >= {{ census_day('pupils.census_year', 'pupils.census_term') }}
            )
        ) as is_fsm_eligible
    from pupils
    left join
        fsm
        on pupils.pupil_on_roll_id = fsm.pupil_on_roll_id and pupils.census_period = fsm.census_period
    group by all
),

fsm_by_year as (
    select
        person_key,
        census_academic_year as collection_year,
        coalesce(
            bool_or(is_fsm_eligible) filter (where census_term = 'spring'),
            bool_or(coalesce(is_fsm_eligible, false))
        ) as is_fsm_eligible
    from census_fsm
    group by all
)

select
    pupils.person_key,
    pupils.census_academic_year as collection_year,
    case max(case pupils.sen_provision when 'E' then 2 when 'K' then 1 when 'N' then 0 end)
        when 2 then 'E' when 1 then 'K' when 0 then 'N'
    end as sen_provision,
    coalesce(any_value(fsm_by_year.is_fsm_eligible), false) as is_fsm_eligible,
    count(distinct pupils.school_id)::integer as schools_in_year
from pupils
left join fsm_by_year
    on
        pupils.person_key = fsm_by_year.person_key
        and pupils.census_academic_year = fsm_by_year.collection_year
group by pupils.person_key, pupils.census_academic_year
