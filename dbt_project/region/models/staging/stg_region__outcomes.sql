-- Each member's outcomes per child and collection year as it sent them (the columns the regional marts
-- read), under the regional key.
select
    cast(authority as string) as authority,
    regional_key,
    cast(collection_year as integer) as collection_year,
    is_collection_year_complete,
    is_in_need_during_year,
    is_looked_after_during_year,
    is_looked_after_at_31_march,
    has_three_or_more_placements,
    sessions_possible,
    is_persistently_absent,
    ks4_english_maths_grade_4_or_above,
    has_health_assessment_in_year,
    has_health_assessment_any_partner_in_year
from {{ member_parquet('fct_child_outcomes_by_year') }}
