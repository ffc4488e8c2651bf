with source as (
    select * from {{ source('schools', 'school_census_fsm_periods') }}
)

select
    fsmperiodsonrolltableid as fsm_period_id,
    pupilonrolltableid as pupil_on_roll_id,
    person_key,
    _period as census_period,
    fsmstartdate as fsm_start_date,
    fsmenddate as fsm_end_date,
    ukcountry as uk_country
from source
where person_key is not null
