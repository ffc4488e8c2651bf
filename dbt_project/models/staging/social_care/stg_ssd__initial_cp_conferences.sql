with source as (
    select * from {{ latest_extract(source('social_care', 'ssd_initial_cp_conference')) }}
)

select
    icpc_icpc_id as icpc_id,
    person_key,
    icpc_s47_enquiry_id as s47_enquiry_id,
    icpc_cp_plan_id as cp_plan_id,
    icpc_referral_id as referral_id,
    coalesce(icpc_icpc_transfer_in = 'Y', false) as is_transfer_in,
    icpc_icpc_target_date as icpc_target_date,
    icpc_icpc_date as icpc_date,
    coalesce(icpc_icpc_outcome_cp_flag = 'Y', false) as resulted_in_cp_plan,
    try_cast(_period as date) as extract_date
from source
where person_key is not null
