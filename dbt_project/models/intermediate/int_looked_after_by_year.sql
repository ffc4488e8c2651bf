{#- Looked after children by collection year (episodes of respite excluded, see int_cla_episodes):

    - days looked after in the year, and whether looked after at 31 March (null when that 31 March falls
      after the latest social care extract, so is not yet known);
    - placements during the year (three or more: the DfE's short-term placement instability measure);
    - looked after continuously for at least 12 months at 31 March: in a period of care that began on or
      before 1 April of the year before;
    - long-term stability: aged under 16 at 31 March, looked after continuously for at least two and a
      half years, in the same placement for at least two years (the DfE measure; the adoption variant is
      not applied);
    - entered and left care during the year. -#}
with episodes as (
    select * from {{ ref('int_cla_episodes') }}
),

periods as (
    select * from {{ ref('int_periods_of_care') }}
),

placements as (
    select
        placement_id,
        any_value(placement_start_date) as placement_start_date
    from {{ ref('stg_ssd__cla_placements') }}
    group by placement_id
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
        episodes.person_key,
        years.collection_year,
        episodes.placement_id,
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
        sum(day_to - day_from + 1)::integer as days_looked_after_in_year,
        bool_or(covers_31_march) as covers_31_march,
        count(distinct placement_id)::integer as placements_in_year,
        any_value(placement_id) filter (where covers_31_march) as placement_at_31_march
    from clipped
    where day_to >= day_from
    group by person_key, collection_year
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

movements as (
    select
        years.collection_year,
        periods.person_key,
        bool_or(
            periods.period_start_date between years.year_start and years.year_end
        )
            as entered_care_in_year,
        bool_or(
            not periods.is_open
            and periods.followed_until between years.year_start and years.year_end
        ) as left_care_in_year
    from periods
    inner join years
        on
            periods.period_start_date <= years.year_end
            and periods.followed_until > years.year_start
    group by years.collection_year, periods.person_key
)

select
    by_year.person_key,
    by_year.collection_year,
    by_year.days_looked_after_in_year,
    case
        when years.year_end > latest.latest_extract_date then null else
            by_year.covers_31_march
    end
        as is_looked_after_at_31_march,
    by_year.placements_in_year,
    case
        when years.year_end > latest.latest_extract_date then null
        else coalesce(period_at_31_march.period_start_date <= years.year_start, false)
    end as is_looked_after_continuously_12_months,
    case
        when
            years.year_end > latest.latest_extract_date or not by_year.covers_31_march
            then null
        when {{ age_at_31_march('children.birth_month', 'by_year.collection_year') }} >= 16 then null
        when
            period_at_31_march.period_start_date > years.year_end - interval 30 month
            then null
        else placements.placement_start_date <= years.year_end - interval 24 month
    end as has_long_term_stability,
    movements.entered_care_in_year,
    movements.left_care_in_year
from by_year
cross join latest
inner join years on by_year.collection_year = years.collection_year
left join period_at_31_march
    on
        by_year.person_key = period_at_31_march.person_key
        and by_year.collection_year = period_at_31_march.collection_year
left join placements on by_year.placement_at_31_march = placements.placement_id
left join children on by_year.person_key = children.person_key
left join movements
    on by_year.person_key = movements.person_key and by_year.collection_year = movements.collection_year
