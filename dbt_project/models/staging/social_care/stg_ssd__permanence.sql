with source as (
    select * from {{ latest_extract(source('social_care', 'ssd_permanence')) }}
)

select
    perm_table_id as permanence_id,
    person_key,
    perm_adm_decision_date as adoption_decision_date,
    perm_placement_order_date as placement_order_date,
    perm_matched_date as matched_date,
    perm_placed_for_adoption_date as placed_for_adoption_date,
    perm_decision_reversed_date as decision_reversed_date,
    perm_permanence_order_date as permanence_order_date,
    nullif(perm_permanence_order_type, '') as permanence_order_type,
    try_cast(_period as date) as extract_date
from source
where person_key is not null
