{#- Every child protection plan: how many plans the child had had before it, whether it is therefore a second
    or subsequent plan (the DfE counts plans ever, not plans in the extract), how long it lasted, and whether
    it lasted two years or more. A plan ends on the day it ceased.

    Earlier plans are counted from the SSD history the extract holds, and from the number of previous plans
    the authority's earlier CIN census submissions reported for the same plan (matched by child and start
    date), which reaches back beyond the extract: the larger of the two. -#}
with plans as (
    -- a plan held by another authority is theirs to count
    select * from {{ ref('stg_ssd__cp_plans') }}
    where not is_other_authority_plan
),

reported as (
    select
        person_key,
        cp_plan_start_date,
        max(previous_cp_plans_reported) as previous_cp_plans_reported
    from {{ ref('stg_cin_census__cp_plans') }}
    group by person_key, cp_plan_start_date
),

sequenced as (
    select
        *,
        (row_number() over (partition by person_key order by cp_plan_start_date, cp_plan_id) - 1)::integer
            as previous_cp_plans_in_extract
    from plans
)

select
    sequenced.cp_plan_id,
    sequenced.person_key,
    sequenced.cp_plan_start_date,
    sequenced.cp_plan_end_date,
    greatest(
        sequenced.previous_cp_plans_in_extract, coalesce(reported.previous_cp_plans_reported, 0)
    )::integer
        as previous_cp_plans,
    greatest(sequenced.previous_cp_plans_in_extract, coalesce(reported.previous_cp_plans_reported, 0)) > 0
        as is_second_or_subsequent,
    (sequenced.cp_plan_end_date - sequenced.cp_plan_start_date)::integer as duration_days,
    sequenced.cp_plan_end_date >= sequenced.cp_plan_start_date + interval 2 year as lasted_two_years_or_more,
    sequenced.extract_date
from sequenced
left join reported
    on
        sequenced.person_key = reported.person_key
        and sequenced.cp_plan_start_date = reported.cp_plan_start_date
