with source as (
    select * from {{ latest_extract(source('social_care', 'ssd_legal_status')) }}
)

select
    lega_legal_status_id as legal_status_id,
    person_key,
    lega_legal_status as legal_status,
    lega_legal_status_start_date as legal_status_start_date,
    lega_legal_status_end_date as legal_status_end_date,
    try_cast(_period as date) as extract_date
from source
where person_key is not null
