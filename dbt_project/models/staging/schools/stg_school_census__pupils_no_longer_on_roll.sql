{#- One row per enrolment that ended since the previous census (a pupil who left a school), with the
    attendance of the part of the term the pupil was on roll: reported like the pupils on roll, one term in
    arrears (every census of calendar year Y reports a term of the academic year ending in summer Y). -#}
with source as (
    select * from {{ source('schools', 'school_census_pupil_no_longer_on_roll') }}
)

select
    pupilnolongeronrolltableid as pupil_no_longer_on_roll_id,
    person_key,
    nativeid as school_id,
    _period as census_period,
    cast(split_part(_period, '-', 1) as integer) as attendance_academic_year,
    split_part(_period, '-', 2) as census_term,
    dob as birth_month,
    entrydate as entry_date,
    leavingdate as leaving_date,
    termlysessionspossible + coalesce(summerhalfterm2sessionspossible, 0) as sessions_possible,
    termlysessionsauthorised + coalesce(summerhalfterm2sessionsauthorised, 0) as sessions_authorised_absence,
    termlysessionsunauthorised
    + coalesce(summerhalfterm2sessionsunauthorised, 0) as sessions_unauthorised_absence
from source
where person_key is not null
