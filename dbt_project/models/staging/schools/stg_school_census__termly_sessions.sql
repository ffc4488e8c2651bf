{#- Absence sessions by reason, one row per pupil per census per reason, each reason recoded to whether it
    is authorised or unauthorised absence in the academic year reported. -#}
with source as (
    select * from {{ source('schools', 'school_census_termly_sessions') }}
),

codes as (
    select * from {{ ref('attendance_codes') }}
)

select
    source.termlysessiondetailsonrolltableid as session_detail_id,
    source.pupilonrolltableid as pupil_on_roll_id,
    source.person_key,
    source._period as census_period,
    cast(split_part(source._period, '-', 1) as integer) as census_academic_year,
    source.attendancereason as attendance_reason,
    codes.counts_as as absence_type,
    source.sessions
from source
left join codes
    on
        source.attendancereason = codes.attendance_code
        and cast(split_part(source._period, '-', 1) as integer)
        between codes.first_academic_year and codes.last_academic_year
where source.person_key is not null
