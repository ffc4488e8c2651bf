with source as (
    select * from {{ latest_version(source('health', 'camhs_referrals'), 'referral_id') }}
)

select
    referral_id as camhs_referral_id,
    person_key,
    referral_date as camhs_referral_date,
    referral_source,
    lower(outcome) as outcome,
    first_appointment_date
from source
where person_key is not null
