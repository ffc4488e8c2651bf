with source as (
    select * from {{ latest_version(source('health', 'sdq_scores'), 'sdq_id') }}
)

select
    sdq_id,
    person_key,
    completed_date as sdq_completed_date,
    lower(informant) as informant,
    total_difficulties_score as sdq_score
from source
where person_key is not null
