-- The outcomes summary's figures (orchestration/reports/outcomes.py), one row per collection year, before
-- disclosure control.
select
    collection_year,
    any_value(academic_year) as academic_year,
    count(*) as children_recorded,
    count(*) filter (where is_looked_after_during_year) as looked_after_during_year,
    count(*) filter (where is_looked_after_at_31_march) as looked_after_at_31_march,
    count(*) filter (where has_three_or_more_placements) as three_or_more_placements,
    count(*) filter (where sessions_possible > 0) as pupils,
    count(*) filter (where sessions_possible > 0 and is_persistently_absent) as pupils_persistently_absent,
    count(*) filter (where sessions_possible > 0 and is_looked_after_during_year) as looked_after_pupils,
    count(*) filter (where sessions_possible > 0 and is_looked_after_during_year and is_persistently_absent)
        as looked_after_pupils_persistently_absent,
    bool_and(is_collection_year_complete) as collection_year_complete,
    bool_and(is_academic_year_complete) as academic_year_complete,
    count(*) filter (where is_looked_after_continuously_12_months) as looked_after_12_months,
    count(*) filter (where is_looked_after_continuously_12_months and has_health_assessment_in_year)
        as looked_after_12_months_with_health_assessment
from {{ ref('rpt_outcomes_in_window') }}
group by collection_year
