{#- Whether a child's immunisations were up to date on each 31 March, as social care last recorded it on or
    before that day (SSDA903 OC2); years after the latest extract are not yet known and have no row. Not a
    reason for a child to be in the outcomes mart: joined to the years it already holds. -#}
with statuses as (
    select * from {{ ref('stg_ssd__immunisations') }}
    where is_up_to_date is not null
),

latest as (
    select max(extract_date) as latest_extract_date from {{ ref('stg_ssd__immunisations') }}
),

years as (
    select years.*
    from {{ ref('int_collection_years') }} as years
    inner join latest on years.collection_year_end_date <= latest.latest_extract_date
)

select
    statuses.person_key,
    years.collection_year,
    arg_max(statuses.is_up_to_date, statuses.status_date) as immunisations_up_to_date
from statuses
inner join years on statuses.status_date <= years.collection_year_end_date
group by statuses.person_key, years.collection_year
