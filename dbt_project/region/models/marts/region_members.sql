-- Each member authority: the children it sent, and of them those another member also knows.
with members as (
    select distinct
        authority,
        region_child_key
    from {{ ref('int_region_children') }}
),

regional as (
    select * from {{ ref('region_children') }}
)

select
    members.authority,
    count(*) as children,
    sum(case when regional.authorities > 1 then 1 else 0 end) as children_known_to_another_member
from members
inner join regional on members.region_child_key = regional.region_child_key
group by members.authority
