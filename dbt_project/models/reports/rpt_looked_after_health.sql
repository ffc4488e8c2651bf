-- Health of children looked after for at least 12 months at 31 March: the figures of the report table
-- `looked_after_health` (orchestration/reports/packs.py) before disclosure control, one row per time_period.
select
    collection_year as time_period,
    count(*) as children,
    count(*) filter (where has_health_assessment_in_year) as health_assessment,
    count(*) filter (where immunisations_up_to_date) as immunisations,
    count(*) filter (where immunisations_up_to_date is null) as immunisations_not_recorded,
    count(*) filter (where has_dental_check_in_year) as dental_check,
    count(*) filter (where has_substance_misuse_in_year) as substance_misuse,
    count(*) filter (where has_development_check_in_year is not null) as under_five,
    count(*) filter (where has_development_check_in_year) as development_check,
    bool_and(is_collection_year_complete) as is_complete
from {{ ref('rpt_outcomes_in_window') }}
where is_looked_after_continuously_12_months
group by 1
