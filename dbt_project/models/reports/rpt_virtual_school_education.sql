-- Attendance, suspensions and attainment of children looked after, compared with all pupils: the figures of
-- the report table `virtual_school_education` (orchestration/reports/packs.py) before disclosure control,
-- one row per time_period, pupil_group.
select
    academic_year as time_period,
    pupil_group,
    count(*) filter (where sessions_possible > 0) as pupils,
    sum(sessions_possible) as sessions_possible,
    sum(sessions_authorised_absence + sessions_unauthorised_absence) as sessions_missed,
    count(*) filter (where sessions_possible > 0 and is_persistently_absent) as persistently_absent,
    count(*) filter (where suspensions_in_year > 0) as pupils_suspended,
    {{ key_stage_counts() }},
    bool_and(is_academic_year_complete) as is_complete
from (select
    *,
    unnest(list_filter([
        'All pupils',
        case when is_looked_after_during_year then 'Looked after' end,
        case
            when is_in_need_during_year and not is_looked_after_during_year
                then 'In need (not looked after)'
        end
    ], lambda x: x is not null)) as pupil_group
from {{ ref('rpt_outcomes_in_window') }})
group by 1, 2
