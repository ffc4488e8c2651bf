with source as (
    select * from {{ latest_extract(source('social_care', 'ssd_cin_assessments')) }}
)

select
    cina_assessment_id as assessment_id,
    person_key,
    cina_referral_id as referral_id,
    cina_assessment_start_date as assessment_start_date,
    cina_assessment_auth_date as assessment_authorised_date,
    coalesce(cina_assessment_outcome_nfa = 'Y', false) as is_no_further_action,
    try_cast(_period as date) as extract_date
from source
where person_key is not null
