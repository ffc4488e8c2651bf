{#- Attendance by child and collection year. The censuses of calendar year Y report the three terms of the
    academic year ending in summer Y, which is paired with the collection year ending 31 March Y. Rates are
    the DfE's: sessions missed over sessions possible; persistently absent at 10% or more of possible
    sessions missed, severely absent at 50% or more. -#}
with pupils as (
    select
        person_key,
        census_academic_year,
        sessions_possible,
        coalesce(sessions_authorised_absence, 0) as sessions_authorised_absence,
        coalesce(sessions_unauthorised_absence, 0) as sessions_unauthorised_absence
    from {{ ref('stg_school_census__pupils_on_roll') }}
    where sessions_possible is not null
),

summed as (
    select
        person_key,
        census_academic_year as collection_year,
        sum(sessions_possible)::integer as sessions_possible,
        sum(sessions_authorised_absence)::integer as sessions_authorised_absence,
        sum(sessions_unauthorised_absence)::integer as sessions_unauthorised_absence,
        count(*)::integer as terms_recorded
    from pupils
    group by person_key, census_academic_year
)

select
    *,
    sessions_authorised_absence + sessions_unauthorised_absence as sessions_missed,
    round((sessions_authorised_absence + sessions_unauthorised_absence) / nullif(sessions_possible, 0), 6)
        as overall_absence_rate,
    round(sessions_authorised_absence / nullif(sessions_possible, 0), 6) as authorised_absence_rate,
    round(sessions_unauthorised_absence / nullif(sessions_possible, 0), 6) as unauthorised_absence_rate,
    case
        when sessions_possible > 0
            then (sessions_authorised_absence + sessions_unauthorised_absence) >= 0.1 * sessions_possible
    end as is_persistently_absent,
    case
        when sessions_possible > 0
            then (sessions_authorised_absence + sessions_unauthorised_absence) >= 0.5 * sessions_possible
    end as is_severely_absent
from summed
