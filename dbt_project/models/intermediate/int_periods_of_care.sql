{#- Periods of care: a child's episodes joined while each starts no later than the previous one ended (a
    change of placement or legal status is a new episode, not a new period). A child who leaves care and
    comes back has two periods. A period starts on the day the child started to be looked after: the start
    of its first episode when that episode is a start (reason S), otherwise (a period that began before the
    extract's first episode) the date the child entered care, as recorded on the episode. -#}
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
),

periods as (
    select
        person_key,
        period_number,
        arg_min(episode_start_date, episode_start_date) as first_episode_start_date,
        arg_min(starts_period_of_care, episode_start_date) as first_episode_is_a_start,
        arg_min(entered_care_date, episode_start_date) as first_episode_entered_care_date,
        max(followed_until) as followed_until,
        bool_or(episode_end_date is null) as is_open,
        count(*)::integer as episodes
    from numbered
    group by person_key, period_number
)

select
    person_key,
    period_number::integer as period_number,
    case
        when first_episode_is_a_start then first_episode_start_date
        else
            least(
                first_episode_start_date, coalesce(first_episode_entered_care_date, first_episode_start_date)
            )
    end as period_start_date,
    followed_until,
    is_open,
    episodes
from periods
