{#- Suspensions and permanent exclusions by the academic year their first day fell in (1 September to 31
    August, named by the year it ends, paired with that collection year). An exclusion reported by more
    than one census is counted once. -#}
with exclusions as (
    select distinct on (person_key, exclusion_start_date, exclusion_category)
        person_key,
        exclusion_start_date,
        exclusion_category,
        sessions_excluded
    from {{ ref('stg_school_census__exclusions') }}
    where exclusion_start_date is not null
    order by person_key asc, exclusion_start_date asc, exclusion_category asc, sessions_excluded desc
)

select
    person_key,
    (year(exclusion_start_date) + case when month(exclusion_start_date) >= 9 then 1 else 0 end)::integer
        as collection_year,
    count(*) filter (where exclusion_category = 'SUSP')::integer as suspensions,
    coalesce(sum(sessions_excluded) filter (where exclusion_category = 'SUSP'), 0)::integer
        as sessions_suspended,
    bool_or(exclusion_category = 'PERM') as is_permanently_excluded
from exclusions
group by all
