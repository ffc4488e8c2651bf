{#- Key stage 4 results, one row per pupil per academic year (KS4_ACADYR '2023/2024' ends in 2024). -#}
with source as (
    select * from {{ source('schools', 'ks4_results') }}
)

select
    person_key,
    cast(split_part(ks4_acadyr, '/', 2) as integer) as academic_year_ending,
    ks4_urn as school_urn,
    ks4_att8 as attainment_8,
    ks4_p8score as progress_8,
    ks4_eng_grade as english_grade,
    ks4_mat_grade as maths_grade,
    ks4_l2basics_94 = 1 as english_and_maths_grade_4_or_above,
    ks4_l2basics_95 = 1 as english_and_maths_grade_5_or_above
from source
where person_key is not null
