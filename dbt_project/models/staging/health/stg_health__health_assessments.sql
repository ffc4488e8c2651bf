with source as (
    select * from {{ latest_version(source('health', 'health_assessments'), 'assessment_id') }}
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
    lower(outcome) as outcome,
    case immunisations_up_to_date when 'Y' then true when 'N' then false end as immunisations_up_to_date
from source
where person_key is not null
