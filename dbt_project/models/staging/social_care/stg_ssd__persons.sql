with source as (
    select * from {{ latest_extract(source('social_care', 'ssd_person')) }}
)

select
    person_key,
    case upper(pers_sex) when 'M' then 'M' when 'F' then 'F' else 'U' end as sex,
    pers_ethnicity as ethnicity,
    pers_dob as birth_month,
    pers_upn_unknown as upn_unknown_reason,
    coalesce(pers_send_flag = 'Y', false) as has_ehc_plan,
    pers_death_date as death_date,
    try_cast(_period as date) as extract_date
from source
where person_key is not null
