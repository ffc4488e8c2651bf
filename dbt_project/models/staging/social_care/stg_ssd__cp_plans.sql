with source as (
    select * from {{ latest_extract(source('social_care', 'ssd_cp_plans')) }}
)

select
    cppl_cp_plan_id as cp_plan_id,
    person_key,
    cppl_referral_id as referral_id,
    cppl_icpc_id as icpc_id,
    cppl_cp_plan_start_date as cp_plan_start_date,
    cppl_cp_plan_end_date as cp_plan_end_date,
    cppl_cp_plan_initial_category as initial_category_of_abuse,
    cppl_cp_plan_latest_category as latest_category_of_abuse,
    coalesce(upper(cppl_cp_plan_ola) = 'Y', false) as is_other_authority_plan,
    try_cast(_period as date) as extract_date
from source
where person_key is not null
