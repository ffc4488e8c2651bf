{#- One row per pupil (enrolment) per census. A census is named by its calendar year and term. Two academic
    years matter: the one the census was taken in (an autumn census of October Y opens the year ending Y + 1;
    spring and summer censuses of Y belong to the year ending Y), which its characteristics describe, and the
    one its attendance reports, one term in arrears: every census of calendar year Y reports a term of the
    year ending in summer Y (the autumn census reports the summer term, both halves). -#}
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
    cast(split_part(source._period, '-', 1) as integer) as census_year,
    cast(split_part(source._period, '-', 1) as integer)
    + case when split_part(source._period, '-', 2) = 'autumn' then 1 else 0 end as census_academic_year,
    cast(split_part(source._period, '-', 1) as integer) as attendance_academic_year,
    split_part(source._period, '-', 2) as census_term,
    source.dob as birth_month,
    source.sex,
    source.entrydate as entry_date,
    source.enrolstatus as enrolment_status,
    source.ncyearactual as national_curriculum_year,
    sen.sen_provision,
    source.termlysessionspossible + coalesce(source.summerhalfterm2sessionspossible, 0) as sessions_possible,
    source.termlysessionsauthorised + coalesce(source.summerhalfterm2sessionsauthorised, 0)
        as sessions_authorised_absence,
    source.termlysessionsunauthorised + coalesce(source.summerhalfterm2sessionsunauthorised, 0)
        as sessions_unauthorised_absence
from source
left join sen
    on
        source.senprovision = sen.source_code
        and cast(split_part(source._period, '-', 1) as integer)
        + case when split_part(source._period, '-', 2) = 'autumn' then 1 else 0 end
        between sen.first_academic_year and sen.last_academic_year
where source.person_key is not null
