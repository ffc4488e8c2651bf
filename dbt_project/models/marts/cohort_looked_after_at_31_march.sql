{#- Children looked after at 31 March, the DfE's headline cohort (respite excluded), with their legal status
    and placement that day and the stability measures asked of this cohort. -#}
select
    person_key,
    collection_year,
    age_at_31_march,
    legal_status_at_31_march,
    placement_type_at_31_march,
    is_looked_after_continuously_12_months,
    days_looked_after_in_year,
    placements_in_year,
    has_three_or_more_placements,
    has_long_term_stability
from {{ ref('fct_child_outcomes_by_year') }}
where is_looked_after_at_31_march
