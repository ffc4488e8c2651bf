-- Key stage 2 and 4 outcomes of children looked after for 12 months, compared with all pupils: the figures
-- of the report table `key_stage_outcomes` (orchestration/reports/packs.py) before disclosure control, one
-- row per time_period, pupil_group.
select
    academic_year as time_period,
    pupil_group,
    {{ key_stage_counts() }},
    bool_and(is_academic_year_complete) as is_complete
from (select
    *,
    unnest(list_filter(['All pupils', case
        when is_looked_after_continuously_12_months
            then 'Looked after 12 months'
    end], lambda x: x is not null))
        as pupil_group
from {{ ref('rpt_outcomes_in_window') }})
group by 1, 2
having count(
    *) filter (
    where ks2_reading_writing_maths_expected is not null
    or ks4_english_maths_grade_4_or_above is not null
) > 0
