-- Every child known to the region: how many member authorities know them, and which.
with members as (
    select * from {{ ref('int_region_children') }}
)

select
    region_child_key,
    count(distinct authority) as authorities,
    min(authority) as first_authority,
    max(authority) as last_authority
from members
group by region_child_key
