{#- Child protection plans as earlier CIN census submissions reported them, one row per plan per
    submission. -#}
with source as (
    select * from {{ source('social_care', 'cin_census__child_protection_plans') }}
)

select
    person_key,
    cppstartdate as cp_plan_start_date,
    cppenddate as cp_plan_end_date,
    numberofpreviouscpp as previous_cp_plans_reported,
    _period as census_period
from source
where person_key is not null
