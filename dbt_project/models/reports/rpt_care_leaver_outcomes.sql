-- Care leavers followed up around their 17th to 21st birthdays: in touch, in education, employment or
-- training, suitably accommodated: the figures of the report table `care_leaver_outcomes`
-- (orchestration/reports/packs.py) before disclosure control, one row per time_period.
select
    c.collection_year as time_period,
    count(*) as care_leavers,
    count(*) filter (where c.care_leaver_in_touch) as in_touch,
    count(*) filter (where c.care_leaver_in_education_employment_or_training) as in_eet,
    count(*) filter (where c.care_leaver_suitably_accommodated) as suitably_accommodated,
    bool_and(f.is_collection_year_complete) as is_complete
from {{ ref('cohort_care_leavers_by_age') }} as c
inner join
    {{ ref('rpt_outcomes_in_window') }} as f
    on c.person_key = f.person_key and c.collection_year = f.collection_year
group by 1
