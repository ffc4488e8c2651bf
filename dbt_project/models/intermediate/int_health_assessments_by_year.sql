with assessments as (
    select
        person_key,
        assessment_type,
        assessment_date
    from {{ ref('stg_health__health_assessments') }}
    where person_key is not null
),

years as (
    select * from {{ ref('int_collection_years') }}
)

select
    assessments.person_key,
    years.collection_year,
    count(*)::integer as health_assessments_in_year,
    count(*) filter (
        where assessments.assessment_type = 'initial'
    )::integer as initial_health_assessments_in_year
from assessments
inner join years
    on assessments.assessment_date between years.collection_year_start_date and years.collection_year_end_date
group by assessments.person_key, years.collection_year
