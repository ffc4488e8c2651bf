with source as (
    select * from {{ source('social_care', 'ssd_person') }}
)

select
    person_key,
    pers_sex as sex,
    pers_ethnicity as ethnicity,
    pers_dob as birth_month,
    pers_upn_unknown as upn_unknown_reason,
    coalesce(pers_send_flag = 'Y', false) as has_ehc_plan,
    _delivery_id as delivery_id
from source
