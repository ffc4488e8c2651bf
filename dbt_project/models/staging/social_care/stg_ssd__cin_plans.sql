with source as (
    select * from {{ latest_extract(source('social_care', 'ssd_cin_plans')) }}
)

select
    cinp_cin_plan_id as cin_plan_id,
    person_key,
    cinp_referral_id as referral_id,
    cinp_cin_plan_start_date as cin_plan_start_date,
    cinp_cin_plan_end_date as cin_plan_end_date,
    try_cast(_period as date) as extract_date
from source
where person_key is not null
