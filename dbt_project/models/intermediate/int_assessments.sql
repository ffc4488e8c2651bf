{#- Every authorised assessment, with the working days from its start to its authorisation (the start day
    is day 0; weekends and bank holidays are not counted) and the collection year it was completed in. -#}
with assessments as (
    select * from {{ ref('stg_ssd__assessments') }}
    where assessment_authorised_date is not null
),

calendar as (
    select * from {{ ref('int_calendar') }}
),

years as (
    select * from {{ ref('int_collection_years') }}
)

select
    assessments.assessment_id,
    assessments.person_key,
    assessments.assessment_start_date,
    assessments.assessment_authorised_date,
    {{ working_days_between('started.working_day_index', 'authorised.working_day_index') }}
        as working_days_to_authorisation,
    {{ working_days_between('started.working_day_index', 'authorised.working_day_index') }} <= 45
        as is_within_45_working_days,
    years.collection_year
from assessments
inner join calendar as started on assessments.assessment_start_date = started.calendar_date
inner join calendar as authorised on assessments.assessment_authorised_date = authorised.calendar_date
inner join years
    on
        assessments.assessment_authorised_date
        between years.collection_year_start_date and years.collection_year_end_date
