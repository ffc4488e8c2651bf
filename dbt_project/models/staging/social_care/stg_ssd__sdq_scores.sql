with source as (
    select * from {{ latest_extract(source('social_care', 'ssd_sdq_scores')) }}
)

select
    csdq_table_id as sdq_id,
    person_key,
    csdq_sdq_completed_date as sdq_completed_date,
    nullif(csdq_sdq_reason, '') as sdq_reason,
    csdq_sdq_score as sdq_score,
    try_cast(_period as date) as extract_date
from source
where person_key is not null
