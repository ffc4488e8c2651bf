-- For each pair of member authorities (both ways round), the children both know: moved between them,
-- placed or at school across their border.
with members as (
    select distinct
        authority,
        region_child_key
    from {{ ref('int_region_children') }}
)

select
    one.authority,
    other.authority as other_authority,
    count(*) as children_known_to_both
from members as one
inner join members as other
    on one.region_child_key = other.region_child_key and one.authority <> other.authority
group by one.authority, other.authority
