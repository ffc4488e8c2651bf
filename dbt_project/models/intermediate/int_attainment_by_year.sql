{#- Key stage results by the academic year they were taken in (paired with the collection year ending in
    that academic year's spring). A pupil with two results in one year (a resit recorded twice) keeps the
    better. -#}
with ks2 as (
    select
        person_key,
        academic_year_ending as collection_year,
        bool_or(reading_writing_maths_expected_standard) as ks2_reading_writing_maths_expected
    from {{ ref('stg_ks2__results') }}
    group by all
),

ks4 as (
    select
        person_key,
        academic_year_ending as collection_year,
        max(attainment_8) as ks4_attainment_8,
        max(progress_8) as ks4_progress_8,
        bool_or(english_and_maths_grade_4_or_above) as ks4_english_maths_grade_4_or_above
    from {{ ref('stg_ks4__results') }}
    group by all
)

select
    coalesce(ks2.person_key, ks4.person_key) as person_key,
    coalesce(ks2.collection_year, ks4.collection_year) as collection_year,
    ks2.ks2_reading_writing_maths_expected,
    ks4.ks4_attainment_8,
    ks4.ks4_progress_8,
    ks4.ks4_english_maths_grade_4_or_above
from ks2
full join ks4 on ks2.person_key = ks4.person_key and ks2.collection_year = ks4.collection_year
