with source as (
    select * from {{ latest_version(source('health', 'dental_checks'), 'check_id') }}
)

select
    check_id as dental_check_id,
    person_key,
    check_date as dental_check_date,
    practice_code
from source
where person_key is not null
