{#- Episodes of going missing (and of being away from placement without authorisation, "absent") that began
    in each collection year. -#}
with episodes as (
    select * from {{ ref('stg_ssd__missing_episodes') }}
),

years as (
    select * from {{ ref('int_collection_years') }}
)

select
    episodes.person_key,
    years.collection_year,
    count(*) filter (where episodes.missing_type = 'missing')::integer as missing_incidents,
    count(*) filter (where episodes.missing_type = 'absent')::integer as absent_incidents
from episodes
inner join years
    on episodes.missing_start_date between years.collection_year_start_date and years.collection_year_end_date
group by episodes.person_key, years.collection_year
