-- One regional child for each member's child. A member keys a child by its NHS number where it holds one,
-- else by its description (names, date of birth, sex), and sends every description its records give. A
-- child a member knows only by description takes the NHS key of the child another member describes alike,
-- when its descriptions lead to exactly one NHS key (two children described alike are never joined through
-- it); failing that, the smallest key among the children of other members described alike.
with children as (
    -- a member may send two of its persons under one key: described alike with no NHS number (the member's
    -- own linkage kept them apart); to the region they are one child
    select distinct
        authority,
        regional_key,
        keyed_by_nhs_number
    from {{ ref('stg_region__children') }}
),

described as (
    select
        descriptions.description_key,
        children.authority,
        children.regional_key,
        children.keyed_by_nhs_number
    from {{ ref('stg_region__descriptions') }} as descriptions
    inner join children
        on descriptions.authority = children.authority and descriptions.regional_key = children.regional_key
),

nhs_key_of_description as (
    select
        description_key,
        min(regional_key) as nhs_key
    from described
    where keyed_by_nhs_number
    group by description_key
    having count(distinct regional_key) = 1
),

nhs_match as (
    select
        described.authority,
        described.regional_key,
        min(nhs_key_of_description.nhs_key) as nhs_key
    from described
    inner join nhs_key_of_description on described.description_key = nhs_key_of_description.description_key
    where not described.keyed_by_nhs_number
    group by described.authority, described.regional_key
    having count(distinct nhs_key_of_description.nhs_key) = 1
),

described_alike as (
    select
        one.authority,
        one.regional_key,
        min(other.regional_key) as smallest_key
    from described as one
    inner join described as other
        on
            one.description_key = other.description_key
            and (one.authority <> other.authority or one.regional_key = other.regional_key)
    where not one.keyed_by_nhs_number and not other.keyed_by_nhs_number
    group by one.authority, one.regional_key
)

select
    children.authority,
    children.regional_key,
    case
        when children.keyed_by_nhs_number then children.regional_key
        when nhs_match.nhs_key is not null then nhs_match.nhs_key
        else coalesce(described_alike.smallest_key, children.regional_key)
    end as region_child_key
from children
left join nhs_match
    on children.authority = nhs_match.authority and children.regional_key = nhs_match.regional_key
left join described_alike
    on children.authority = described_alike.authority and children.regional_key = described_alike.regional_key
