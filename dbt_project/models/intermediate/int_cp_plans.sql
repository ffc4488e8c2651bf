{#- Every child protection plan: its place among the child's plans (a second or subsequent plan), how long
    it lasted, and whether it lasted two years or more. A plan ends on the day it ceased. -#}
with plans as (
    select * from {{ ref('stg_ssd__cp_plans') }}
)

select
    cp_plan_id,
    person_key,
    cp_plan_start_date,
    cp_plan_end_date,
    row_number() over (partition by person_key order by cp_plan_start_date, cp_plan_id)::integer
        as plan_sequence,
    row_number() over (partition by person_key order by cp_plan_start_date, cp_plan_id) > 1
        as is_second_or_subsequent,
    (cp_plan_end_date - cp_plan_start_date)::integer as duration_days,
    cp_plan_end_date >= cp_plan_start_date + interval 2 year as lasted_two_years_or_more,
    extract_date
from plans
