with source as (
    select * from {{ latest_extract(source('social_care', 'ssd_cla_episodes')) }}
)

select
    clae_cla_episode_id as episode_id,
    person_key,
    clae_cla_id as period_of_care_id,
    clae_cla_placement_id as placement_id,
    clae_cla_episode_start_date as episode_start_date,
    clae_cla_episode_ceased_date as episode_end_date,
    clae_cla_episode_start_reason as reason_for_new_episode,
    nullif(clae_cla_episode_ceased_reason, '') as reason_episode_ceased,
    clae_cla_primary_need_code as category_of_need,
    clae_entered_care_date as entered_care_date,
    try_cast(_period as date) as extract_date
from source
where person_key is not null
