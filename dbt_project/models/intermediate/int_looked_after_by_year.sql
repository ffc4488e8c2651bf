{#- Care episodes clipped to each collection year they overlap: one row per child per collection year in
    which they were looked after on at least one day. An episode's end date is the day it ceased, and the
    child is no longer looked after on that day. An episode still open is followed up to the date of the
    extract it came from and no further; whether a child is looked after on a 31 March after that date is
    not known (null). -#}
with episodes as (
    select
        person_key,
        episode_id,
        placement_id,
        episode_start_date,
        episode_end_date,
        coalesce(episode_end_date, extract_date + 1) as followed_until
    from {{ ref('stg_ssd__cla_episodes') }}
    where person_key is not null and episode_start_date <= extract_date
),

years as (
    select * from {{ ref('int_collection_years') }}
),

extract_dates as (
    select max(extract_date) as latest_extract_date from {{ ref('stg_ssd__cla_episodes') }}
),

clipped as (
    select
        episodes.person_key,
        years.collection_year,
        episodes.placement_id,
        greatest(episodes.episode_start_date, years.collection_year_start_date) as day_from,
        least(episodes.followed_until - 1, years.collection_year_end_date) as day_to,
        case
            when years.collection_year_end_date > extract_dates.latest_extract_date then null
            else
                episodes.episode_start_date <= years.collection_year_end_date
                and episodes.followed_until > years.collection_year_end_date
        end as covers_31_march
    from episodes
    cross join extract_dates
    inner join years
        on
            episodes.episode_start_date <= years.collection_year_end_date
            and episodes.followed_until > years.collection_year_start_date
)

select
    person_key,
    collection_year,
    sum(day_to - day_from + 1)::integer as days_looked_after_in_year,
    bool_or(covers_31_march) as is_looked_after_at_31_march,
    count(distinct placement_id)::integer as placements_in_year
from clipped
where day_to >= day_from
group by person_key, collection_year
