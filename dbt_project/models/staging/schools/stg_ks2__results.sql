{#- Key stage 2 results, one row per pupil per academic year (KS2_ACADYR '2023/2024' ends in 2024). -#}
with source as (
    select * from {{ source('schools', 'ks2_results') }}
)

select
    person_key,
    cast(split_part(ks2_acadyr, '/', 2) as integer) as academic_year_ending,
    ks2_urn as school_urn,
    ks2_readscore as reading_scaled_score,
    ks2_matscore as maths_scaled_score,
    ks2_gpsscore as gps_scaled_score,
    ks2_readexp = 1 as reading_expected_standard,
    ks2_matexp = 1 as maths_expected_standard,
    ks2_writtaexp = 1 as writing_expected_standard,
    ks2_rwmexp = 1 as reading_writing_maths_expected_standard
from source
where person_key is not null
