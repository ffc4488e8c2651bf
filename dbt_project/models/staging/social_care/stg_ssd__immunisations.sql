with source as (
    select * from {{ latest_extract(source('social_care', 'ssd_cla_immunisations')) }}
)

select
    person_key,
    clai_immunisations_status = 'Y' as is_up_to_date,
    clai_immunisations_status_date as status_date,
    try_cast(_period as date) as extract_date
from source
where person_key is not null
