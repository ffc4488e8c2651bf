with source as (
    select * from {{ source('schools', 'school_census_termly_sessions') }}
)

select
    termlysessiondetailsonrolltableid as session_detail_id,
    pupilonrolltableid as pupil_on_roll_id,
    person_key,
    _period as census_period,
    cast(split_part(_period, '-', 1) as integer) as census_year,
    attendancereason as attendance_reason,
    sessions
from source
