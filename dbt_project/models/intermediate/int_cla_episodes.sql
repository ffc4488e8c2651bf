{#- Care episodes as the SSDA903 records them, each followed up to the day it ceased (the child is not looked
    after that day) or, if still open, to the day after its extract date, with:

    - its legal status: the SSDA903 legal status in force on the day the episode began (as the 903 records
      it per episode);
    - its placement type, and whether that is a temporary placement (T0-T4) or placed for adoption (A3-A6);
    - whether it starts a period of care (reason for new episode S) or a placement with a new carer (S, P or
      B, not into a temporary placement, and not the return to the usual carer after one), and whether it
      ends care (ceased for any reason but X1) and by adoption (E11, E12).

    An episode under an agreed series of short breaks (legal status V3 or V4) is respite, not care: the DfE's
    counts of children looked after leave it out, and so does every measure built on this model. -#}
with episodes as (
    select * from {{ ref('stg_ssd__cla_episodes') }}
    where episode_start_date <= extract_date
),

placements as (
    select
        placement_id,
        any_value(placement_type) as placement_type,
        min(placement_start_date) as placement_start_date
    from {{ ref('stg_ssd__cla_placements') }}
    group by placement_id
),

statuses as (
    select statuses.*
    from {{ ref('stg_ssd__legal_statuses') }} as statuses
    inner join {{ ref('legal_status_codes') }} as codes
        on statuses.legal_status = codes.legal_status_code
),

episode_status as (
    select
        episodes.episode_id,
        arg_max(statuses.legal_status, statuses.legal_status_start_date) as legal_status
    from episodes
    inner join statuses
        on
            episodes.person_key = statuses.person_key
            and episodes.episode_start_date >= statuses.legal_status_start_date
            and (
                statuses.legal_status_end_date is null
                or episodes.episode_start_date < statuses.legal_status_end_date
            )
    group by episodes.episode_id
),

described as (
    select
        episodes.*,
        episode_status.legal_status,
        coalesce(status_codes.is_short_break, false) as is_short_break,
        placements.placement_type,
        placements.placement_start_date,
        coalesce(place_codes.is_temporary, false) as is_temporary_placement,
        coalesce(place_codes.is_placed_for_adoption, false) as is_placed_for_adoption,
        coalesce(new_codes.starts_period_of_care, false) as starts_period_of_care,
        coalesce(new_codes.starts_placement_with_new_carer, false) as changes_carer,
        ceased_codes.ends_care as ends_care_by_reason,
        coalesce(ceased_codes.is_adoption, false) as is_adopted
    from episodes
    left join episode_status on episodes.episode_id = episode_status.episode_id
    left join {{ ref('legal_status_codes') }} as status_codes
        on episode_status.legal_status = status_codes.legal_status_code
    left join placements on episodes.placement_id = placements.placement_id
    left join {{ ref('placement_type_codes') }} as place_codes
        on placements.placement_type = place_codes.placement_type
    left join {{ ref('reason_for_new_episode_codes') }} as new_codes
        on episodes.reason_for_new_episode = new_codes.reason_for_new_episode
    left join {{ ref('reason_episode_ceased_codes') }} as ceased_codes
        on episodes.reason_episode_ceased = ceased_codes.reason_episode_ceased
    where not coalesce(status_codes.is_short_break, false)
)

select
    episode_id,
    person_key,
    period_of_care_id,
    placement_id,
    placement_type,
    placement_start_date,
    legal_status,
    episode_start_date,
    episode_end_date,
    coalesce(episode_end_date, extract_date + 1) as followed_until,
    reason_for_new_episode,
    reason_episode_ceased,
    entered_care_date,
    starts_period_of_care,
    changes_carer
    and not is_temporary_placement
    and not coalesce(
        lag(is_temporary_placement) over (partition by person_key order by episode_start_date, episode_id),
        false
    ) as starts_placement_with_new_carer,
    is_temporary_placement,
    is_placed_for_adoption,
    -- ceased for any reason but X1; with no reason recorded, when no episode follows on the same day
    episode_end_date is not null and coalesce(
        ends_care_by_reason,
        lead(episode_start_date) over (partition by person_key order by episode_start_date, episode_id)
        is distinct from episode_end_date
    ) as ends_care,
    is_adopted,
    extract_date
from described
