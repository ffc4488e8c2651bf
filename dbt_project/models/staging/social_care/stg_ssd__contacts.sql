with source as (
    select * from {{ latest_extract(source('social_care', 'ssd_contacts')) }}
)

select
    cont_contact_id as contact_id,
    person_key,
    cont_contact_date as contact_date,
    cont_contact_source_code as contact_source,
    try_cast(_period as date) as extract_date
from source
where person_key is not null
