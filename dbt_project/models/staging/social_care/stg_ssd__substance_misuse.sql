with source as (
    select * from {{ latest_extract(source('social_care', 'ssd_cla_substance_misuse')) }}
)

select
    clas_substance_misuse_id as substance_misuse_id,
    person_key,
    clas_substance_misuse_date as identified_date,
    clas_substance_misused as substance,
    clas_intervention_received = 'Y' as intervention_received,
    try_cast(_period as date) as extract_date
from source
where person_key is not null
