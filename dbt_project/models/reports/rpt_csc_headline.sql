-- Referrals, assessments, child protection and children looked after, by year: the figures of the report
-- table `csc_headline` (orchestration/reports/packs.py) before disclosure control, one row per time_period.
select
    collection_year as time_period,
    sum(referrals_in_year) as referrals,
    sum(re_referrals_within_12_months) as re_referrals,
    sum(assessments_completed_in_year) as assessments,
    sum(assessments_within_45_working_days) as assessments_in_time,
    sum(initial_cp_conferences_in_year) as icpcs,
    sum(initial_cp_conferences_within_15_working_days) as icpcs_in_time,
    sum(cp_plans_started_in_year) as cp_plans_started,
    sum(second_or_subsequent_cp_plans_started_in_year) as repeat_cp_plans,
    count(*) filter (where is_looked_after_at_31_march) as looked_after_at_31_march,
    count(*) filter (where is_looked_after_during_year) as looked_after_during_year,
    count(*) filter (where has_three_or_more_placements) as three_or_more_placements,
    -- as the DfE counts them: incidents of children looked after (the SSDA903's missing table)
    sum(missing_incidents_in_year) filter (where is_looked_after_during_year) as missing_incidents,
    count(*) filter (where is_looked_after_during_year and missing_incidents_in_year > 0) as children_missing,
    bool_and(is_collection_year_complete) as is_complete
from {{ ref('rpt_outcomes_in_window') }}
group by 1
