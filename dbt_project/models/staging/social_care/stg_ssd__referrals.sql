{#- CIN episodes: each starts with a referral and ends when the episode is closed. -#}
with source as (
    select * from {{ latest_extract(source('social_care', 'ssd_cin_episodes')) }}
)

select
    cine_referral_id as referral_id,
    person_key,
    cine_referral_date as referral_date,
    cine_close_date as closed_date,
    nullif(cine_close_reason, '') as closure_reason,
    cine_cin_primary_need_code as category_of_need,
    cine_referral_source_code as referral_source,
    coalesce(cine_referral_nfa = 'Y', false) as is_no_further_action,
    try_cast(_period as date) as extract_date
from source
where person_key is not null
