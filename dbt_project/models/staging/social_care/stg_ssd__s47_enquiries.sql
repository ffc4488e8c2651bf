with source as (
    select * from {{ latest_extract(source('social_care', 'ssd_s47_enquiry')) }}
)

select
    s47e_s47_enquiry_id as s47_enquiry_id,
    person_key,
    s47e_referral_id as referral_id,
    s47e_s47_start_date as s47_start_date,
    s47e_s47_end_date as s47_end_date,
    coalesce(s47e_s47_nfa = 'Y', false) as is_no_further_action,
    try_cast(_period as date) as extract_date
from source
where person_key is not null
