{#- Looked after children by collection year (episodes of respite excluded, see int_cla_episodes), as the DfE
    counts them from the SSDA903 ("Children looked after in England including adoptions"; docs/adr/0004):

    - days looked after in the year, and whether looked after at 31 March, with the legal status and
      placement type of the episode open that day (null when that 31 March falls after the latest social
      care extract, so is not yet known);
    - started to be looked after in the year (an episode with reason S began in it) and ceased to be (an
      episode ended in it for any reason but X1);
    - placements in the year, counted by carer (int_cla_carer_spells); three or more is the DfE's short-term
      instability measure, whose cohort is the children looked after at 31 March (null for others);
    - looked after continuously for at least 12 months at 31 March: in a period of care that began on or
      before 1 April of the year before (the OC2 cohort);
    - long-term stability: aged under 16 at 31 March and looked after continuously for at least two and a
      half years, living with the same carer for at least two years, or placed for adoption with that
      placement and the one before it together lasting two years (null outside that cohort). -#}
with episodes as (
    select * from {{ ref('int_cla_episodes') }}
),

periods as (
    select * from {{ ref('int_periods_of_care') }}
),

spells as (
    select * from {{ ref('int_cla_carer_spells') }}
),

children as (
    select
        person_key,
        any_value(birth_month) as birth_month
    from {{ ref('stg_ssd__persons') }}
    group by person_key
),

years as (
    select
        *,
        collection_year_start_date as year_start,
        collection_year_end_date as year_end
    from {{ ref('int_collection_years') }}
),

latest as (
    select max(extract_date) as latest_extract_date from {{ ref('stg_ssd__cla_episodes') }}
),

clipped as (
    select
        episodes.*,
        years.collection_year,
        years.year_start,
        years.year_end,
        greatest(episodes.episode_start_date, years.year_start) as day_from,
        least(episodes.followed_until - 1, years.year_end) as day_to,
        episodes.episode_start_date <= years.year_end
        and episodes.followed_until > years.year_end as covers_31_march
    from episodes
    inner join years
        on
            episodes.episode_start_date <= years.year_end
            and episodes.followed_until > years.year_start
),

by_year as (
    select
        person_key,
        collection_year,
        sum(greatest(day_to - day_from + 1, 0))::integer as days_looked_after_in_year,
        bool_or(covers_31_march) as covers_31_march,
        any_value(legal_status) filter (where covers_31_march) as legal_status_at_31_march,
        any_value(placement_type) filter (where covers_31_march) as placement_type_at_31_march,
        bool_or(is_placed_for_adoption) filter (where covers_31_march) as is_placed_for_adoption_at_31_march
    from clipped
    group by person_key, collection_year
),

-- started and ceased by the day the episode began or ended: one that ceased on 1 April ceased in that
-- year though the child was not looked after on any day of it
movements as (
    select
        episodes.person_key,
        years.collection_year,
        bool_or(
            episodes.starts_period_of_care
            and episodes.episode_start_date between years.year_start and years.year_end
        )
            as started_in_year,
        bool_or(episodes.ends_care and episodes.episode_end_date between years.year_start and years.year_end)
            as ceased_in_year
    from episodes
    inner join years
        on
            episodes.episode_start_date between years.year_start and years.year_end
            or episodes.episode_end_date between years.year_start and years.year_end
    group by episodes.person_key, years.collection_year
),

child_years as (
    select
        coalesce(by_year.person_key, movements.person_key) as person_key,
        coalesce(by_year.collection_year, movements.collection_year) as collection_year,
        coalesce(by_year.days_looked_after_in_year, 0) as days_looked_after_in_year,
        coalesce(by_year.covers_31_march, false) as covers_31_march,
        by_year.legal_status_at_31_march,
        by_year.placement_type_at_31_march,
        by_year.is_placed_for_adoption_at_31_march,
        coalesce(movements.started_in_year, false) as started_in_year,
        coalesce(movements.ceased_in_year, false) as ceased_in_year
    from by_year
    full join movements
        on by_year.person_key = movements.person_key and by_year.collection_year = movements.collection_year
),

placements as (
    select
        spells.person_key,
        years.collection_year,
        count(*)::integer as placements_in_year,
        any_value(spells.spell_start_date) filter (
            where spells.spell_start_date <= years.year_end and spells.followed_until > years.year_end
        ) as spell_start_at_31_march,
        any_value(spells.previous_spell_start_date) filter (
            where spells.spell_start_date <= years.year_end and spells.followed_until > years.year_end
        ) as previous_spell_start_at_31_march
    from spells
    inner join years
        on
            spells.spell_start_date <= years.year_end
            -- a placement that ended on 1 April is one of the year's, as in the SSDA903: its episode, ending
            -- that day, is in the year's return (a move on 1 April had been counted by the return, not here)
            and spells.followed_until >= years.year_start
    group by spells.person_key, years.collection_year
),

period_at_31_march as (
    select
        years.collection_year,
        periods.person_key,
        periods.period_start_date
    from periods
    inner join years
        on
            periods.period_start_date <= years.year_end
            and periods.followed_until > years.year_end
),

known as (
    select
        child_years.*,
        years.year_start,
        years.year_end,
        years.year_end > latest.latest_extract_date as is_after_extract,
        case when years.year_end <= latest.latest_extract_date then child_years.covers_31_march end
            as is_looked_after_at_31_march
    from child_years
    cross join latest
    inner join years on child_years.collection_year = years.collection_year
)

select
    known.person_key,
    known.collection_year,
    known.days_looked_after_in_year,
    known.is_looked_after_at_31_march,
    case when known.is_looked_after_at_31_march then known.legal_status_at_31_march end
        as legal_status_at_31_march,
    case when known.is_looked_after_at_31_march then known.placement_type_at_31_march end
        as placement_type_at_31_march,
    coalesce(placements.placements_in_year, 0) as placements_in_year,
    case
        when known.is_looked_after_at_31_march then coalesce(placements.placements_in_year, 0) >= 3
    end as has_three_or_more_placements,
    case
        when known.is_after_extract then null
        else coalesce(period_at_31_march.period_start_date <= known.year_start, false)
    end as is_looked_after_continuously_12_months,
    case
        when not known.is_looked_after_at_31_march or known.is_looked_after_at_31_march is null then null
        when children.birth_month is null then null
        when {{ age_at_31_march('children.birth_month', 'known.collection_year') }} >= 16 then null
        when period_at_31_march.period_start_date > known.year_end - interval 30 month then null
        else
            placements.spell_start_at_31_march <= known.year_end - interval 24 month
            or coalesce(
                known.is_placed_for_adoption_at_31_march
                and placements.previous_spell_start_at_31_march <= known.year_end - interval 24 month,
                false
            )
    end as has_long_term_stability,
    known.started_in_year as entered_care_in_year,
    known.ceased_in_year as left_care_in_year
from known
left join period_at_31_march
    on
        known.person_key = period_at_31_march.person_key
        and known.collection_year = period_at_31_march.collection_year
left join placements
    on known.person_key = placements.person_key and known.collection_year = placements.collection_year
left join children on known.person_key = children.person_key
