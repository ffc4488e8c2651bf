-- Children looked after by one member authority during a collection year whom another member also holds
-- records of in that year (at school there, seen by its health partners, known to its social care): the
-- regional picture of children placed, or living, across a border; with how they fare as their looked-
-- after authority records it.
with outcomes as (
    select
        outcomes.*,
        members.region_child_key
    from {{ ref('stg_region__outcomes') }} as outcomes
    inner join {{ ref('int_region_children') }} as members
        on outcomes.authority = members.authority and outcomes.regional_key = members.regional_key
),

looked_after as (
    select * from outcomes
    where is_looked_after_during_year and is_collection_year_complete
),

elsewhere as (
    select distinct
        region_child_key,
        collection_year,
        authority
    from outcomes
),

across as (
    select
        looked_after.authority,
        looked_after.collection_year,
        looked_after.region_child_key,
        max(looked_after.is_persistently_absent) as is_persistently_absent,
        max(looked_after.has_health_assessment_in_year) as has_health_assessment_in_year,
        max(case when elsewhere.authority is not null then 1 else 0 end) as is_known_to_another_member
    from looked_after
    left join elsewhere
        on
            looked_after.region_child_key = elsewhere.region_child_key
            and looked_after.collection_year = elsewhere.collection_year
            and looked_after.authority <> elsewhere.authority
    group by looked_after.authority, looked_after.collection_year, looked_after.region_child_key
)

select
    authority,
    collection_year,
    count(*) as looked_after_during_year,
    sum(is_known_to_another_member) as known_to_another_member,
    sum(case when is_known_to_another_member = 1 and is_persistently_absent then 1 else 0 end)
        as known_to_another_member_persistently_absent,
    sum(case when is_known_to_another_member = 1 and has_health_assessment_in_year then 1 else 0 end)
        as known_to_another_member_with_health_assessment
from across
group by authority, collection_year
