{#- Care leavers followed up around their 17th to 21st birthday in the year (SSDA903 OC3: relevant and former
    relevant young people not looked after on the birthday), with their age at that birthday: the DfE's care
    leaver cohorts (in touch, in education, employment or training, in suitable accommodation). Everyone in
    the cohort counts in every denominator; one not in touch is in no numerator. -#}
select
    person_key,
    collection_year,
    care_leaver_age,
    care_leaver_in_touch,
    care_leaver_in_education_employment_or_training,
    care_leaver_suitably_accommodated
from {{ ref('fct_child_outcomes_by_year') }}
where care_leaver_age is not null
