{#- Periods of care: a child's episodes joined while each starts no later than the previous one ended (a
    change of placement or legal status is a new episode, not a new period). A child who leaves care and
    comes back has two periods. -#}
with episodes as (
    select * from {{ ref('int_cla_episodes') }}
),

marked as (
    select
        *,
        case
            when
                episode_start_date
                <= max(followed_until) over (
                    partition by person_key order by episode_start_date, episode_id
                    rows between unbounded preceding and 1 preceding
                )
                then 0
            else 1
        end as starts_period
    from episodes
),

numbered as (
    select
        *,
        sum(starts_period) over (
            partition by person_key order by episode_start_date, episode_id rows unbounded preceding
        ) as period_number
    from marked
)

select
    person_key,
    period_number::integer as period_number,
    min(episode_start_date) as period_start_date,
    max(followed_until) as followed_until,
    bool_or(episode_end_date is null) as is_open,
    count(*)::integer as episodes
from numbered
group by person_key, period_number
