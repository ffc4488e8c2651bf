{#- Children looked after continuously for at least 12 months at 31 March: the cohort of the DfE's outcomes
    statistics (the SSDA903 OC2 return), with the outcomes reported for it. -#}
select
    person_key,
    collection_year,
    age_at_31_march,
    has_health_assessment_in_year,
    immunisations_up_to_date,
    has_dental_check_in_year,
    has_development_check_in_year,
    sdq_score,
    sdq_band,
    has_substance_misuse_in_year,
    is_persistently_absent,
    ks2_reading_writing_maths_expected,
    ks4_attainment_8
from {{ ref('fct_child_outcomes_by_year') }}
where is_looked_after_continuously_12_months
