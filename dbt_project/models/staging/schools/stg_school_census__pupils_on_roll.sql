with source as (
    select * from {{ source('schools', 'school_census_pupil_on_roll') }}
)

select
    pupilonrolltableid as pupil_on_roll_id,
    person_key,
    nativeid as school_id,
    _period as census_period,
    cast(split_part(_period, '-', 1) as integer) as census_year,
    split_part(_period, '-', 2) as census_term,
    dob as birth_month,
    sex,
    entrydate as entry_date,
    enrolstatus as enrolment_status,
    ncyearactual as national_curriculum_year,
    senprovision as sen_provision,
    termlysessionspossible as sessions_possible,
    termlysessionsauthorised as sessions_authorised_absence,
    termlysessionsunauthorised as sessions_unauthorised_absence
from source
