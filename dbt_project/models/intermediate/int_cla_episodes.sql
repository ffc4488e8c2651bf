{#- Care episodes, each followed up to the day it ceased (the child is not looked after on that day) or, if
    still open, to the day after its extract date. An episode that began while the child was under an
    agreed series of short breaks (legal status V3 or V4) is respite, not care: the DfE's counts of
    children looked after leave it out, and so does every measure built on this model. -#}
with episodes as (
    select * from {{ ref('stg_ssd__cla_episodes') }}
    where episode_start_date <= extract_date
),

short_breaks as (
    select statuses.*
    from {{ ref('stg_ssd__legal_statuses') }} as statuses
    inner join {{ ref('legal_status_codes') }} as codes
        on statuses.legal_status = codes.legal_status_code
    where codes.is_short_break
),

flagged as (
    select
        episodes.episode_id,
        bool_or(short_breaks.legal_status_id is not null) as is_short_break
    from episodes
    left join short_breaks
        on
            episodes.person_key = short_breaks.person_key
            and episodes.episode_start_date >= short_breaks.legal_status_start_date
            and (
                short_breaks.legal_status_end_date is null
                or episodes.episode_start_date < short_breaks.legal_status_end_date
            )
    group by episodes.episode_id
)

select
    episodes.episode_id,
    episodes.person_key,
    episodes.placement_id,
    episodes.episode_start_date,
    episodes.episode_end_date,
    coalesce(episodes.episode_end_date, episodes.extract_date + 1) as followed_until,
    episodes.reason_for_new_episode,
    episodes.reason_episode_ceased,
    episodes.extract_date
from episodes
inner join flagged on episodes.episode_id = flagged.episode_id
where not flagged.is_short_break
