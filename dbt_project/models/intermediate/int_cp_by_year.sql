{#- Child protection by collection year: on a plan during the year and at 31 March (a plan that ceased on
    31 March is not open at 31 March), plans started (and how many of them were a second or subsequent plan
    ever: the DfE's repeat plans are a share of plans, not of children), and plans ended that had lasted two
    years or more. -#}
with plans as (
    select
        *,
        coalesce(cp_plan_end_date, extract_date + 1) as followed_until
    from {{ ref('int_cp_plans') }}
    where cp_plan_start_date <= extract_date
),

latest as (
    select max(extract_date) as latest_extract_date from {{ ref('int_cp_plans') }}
),

years as (
    select
        *,
        collection_year_start_date as year_start,
        collection_year_end_date as year_end
    from {{ ref('int_collection_years') }}
)

select
    plans.person_key,
    years.collection_year,
    true as is_on_cp_plan_during_year,
    case
        when any_value(years.year_end) > any_value(latest.latest_extract_date) then null
        else bool_or(plans.followed_until > years.year_end)
    end as is_on_cp_plan_at_31_march,
    count(*) filter (
        where plans.cp_plan_start_date between years.year_start and years.year_end
    )::integer as cp_plans_started_in_year,
    count(*) filter (
        where plans.is_second_or_subsequent
        and plans.cp_plan_start_date between years.year_start and years.year_end
    )::integer as second_or_subsequent_cp_plans_started_in_year,
    count(*) filter (
        where plans.cp_plan_end_date between years.year_start and years.year_end
    )::integer as cp_plans_ended_in_year,
    count(*) filter (
        where
        plans.cp_plan_end_date between years.year_start and years.year_end
        and plans.lasted_two_years_or_more
    )::integer as cp_plans_ended_lasting_two_years
from plans
cross join latest
inner join years
    on
        plans.cp_plan_start_date <= years.year_end
        and plans.followed_until > years.year_start
group by plans.person_key, years.collection_year
