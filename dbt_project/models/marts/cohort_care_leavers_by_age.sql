{#- Care leavers aged 17 to 21 at 31 March with an outcome recorded in the year, by age: the DfE's care
    leaver cohorts (in touch, in education, employment or training, in suitable accommodation). -#}
select
    person_key,
    collection_year,
    age_at_31_march,
    care_leaver_in_touch,
    care_leaver_in_education_employment_or_training,
    care_leaver_suitably_accommodated
from {{ ref('fct_child_outcomes_by_year') }}
where care_leaver_in_touch is not null and age_at_31_march between 17 and 21
