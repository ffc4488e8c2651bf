with source as (
    select * from {{ latest_extract(source('social_care', 'ssd_early_help_episodes')) }}
)

select
    earl_episode_id as early_help_episode_id,
    person_key,
    earl_episode_start_date as early_help_start_date,
    earl_episode_end_date as early_help_end_date,
    earl_episode_organisation as organisation,
    try_cast(_period as date) as extract_date
from source
where person_key is not null
