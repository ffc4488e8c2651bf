{#- Spells with one carer: a child's episodes from one placement with a new carer (reason for new episode S, P
    or B) to the next. A change of placement with the same carer(s) (T, U), a change of legal status (L), a
    temporary placement (T0-T4) and the return from it to the usual carer stay in the spell: the DfE counts
    placements, and asks about stability, by carer. A spell already under way at the extract's first
    episode starts when its placement began. -#}
with episodes as (
    select * from {{ ref('int_cla_episodes') }}
),

ordered as (
    select
        *,
        row_number() over (partition by person_key order by episode_start_date, episode_id) as episode_number
    from episodes
),

numbered as (
    select
        *,
        sum(case when starts_placement_with_new_carer or episode_number = 1 then 1 else 0 end) over (
            partition by person_key order by episode_start_date, episode_id rows unbounded preceding
        ) as spell_number
    from ordered
),

spells as (
    select
        person_key,
        spell_number::integer as spell_number,
        arg_min(episode_start_date, episode_start_date) as first_episode_start_date,
        arg_min(starts_placement_with_new_carer, episode_start_date) as begins_with_new_carer,
        arg_min(placement_start_date, episode_start_date) as first_placement_start_date,
        max(followed_until) as followed_until
    from numbered
    group by person_key, spell_number
),

started as (
    select
        person_key,
        spell_number,
        case
            when begins_with_new_carer then first_episode_start_date
            else
                least(
                    first_episode_start_date, coalesce(first_placement_start_date, first_episode_start_date)
                )
        end as spell_start_date,
        followed_until
    from spells
)

select
    person_key,
    spell_number,
    spell_start_date,
    followed_until,
    -- the spell just before, if the child was looked after without a break between the two
    case
        when lag(followed_until) over (partition by person_key order by spell_number) >= spell_start_date
            then lag(spell_start_date) over (partition by person_key order by spell_number)
    end as previous_spell_start_date
from started
