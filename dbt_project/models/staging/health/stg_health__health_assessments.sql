with source as (
    select * from {{ source('health', 'health_assessments') }}
)

select
    assessment_id,
    person_key,
    date_of_birth as birth_month,
    sex,
    postcode as postcode_sector,
    case assessment_type
        when 'INITIAL HEALTH ASSESSMENT' then 'initial'
        when 'REVIEW HEALTH ASSESSMENT' then 'review'
    end as assessment_type,
    assessment_date,
    due_date,
    outcome
from source
