{#- One row per pupil per census. A census is named by its calendar year and term; the censuses of calendar
    year Y report the terms of the academic year ending in summer Y (census_academic_year). -#}
with source as (
    select * from {{ source('schools', 'school_census_pupil_on_roll') }}
),

sen as (
    select * from {{ ref('sen_provision_codes') }}
)

select
    source.pupilonrolltableid as pupil_on_roll_id,
    source.person_key,
    source.nativeid as school_id,
    source._period as census_period,
    cast(split_part(source._period, '-', 1) as integer) as census_academic_year,
    split_part(source._period, '-', 2) as census_term,
    source.dob as birth_month,
    source.sex,
    source.entrydate as entry_date,
    source.enrolstatus as enrolment_status,
    source.ncyearactual as national_curriculum_year,
    sen.sen_provision,
    source.termlysessionspossible as sessions_possible,
    source.termlysessionsauthorised as sessions_authorised_absence,
    source.termlysessionsunauthorised as sessions_unauthorised_absence
from source
left join sen
    on
        source.senprovision = sen.source_code
        and cast(split_part(source._period, '-', 1) as integer)
        between sen.first_academic_year and sen.last_academic_year
where source.person_key is not null
