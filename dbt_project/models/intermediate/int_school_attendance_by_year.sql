{#- Sessions possible and missed by child and collection year. A census reports the term before its census
    day, so the autumn, spring and summer censuses of calendar year Y between them report the three terms
    of the academic year ending in summer Y, which pairs with the collection year ending 31 March Y. -#}
with pupils as (
    select
        person_key,
        census_year,
        sessions_possible,
        coalesce(sessions_authorised_absence, 0) as sessions_authorised_absence,
        coalesce(sessions_unauthorised_absence, 0) as sessions_unauthorised_absence
    from {{ ref('stg_school_census__pupils_on_roll') }}
    where person_key is not null and sessions_possible is not null
)

select
    person_key,
    census_year as collection_year,
    sum(sessions_possible)::integer as sessions_possible,
    sum(sessions_authorised_absence)::integer as sessions_authorised_absence,
    sum(sessions_unauthorised_absence)::integer as sessions_unauthorised_absence,
    count(*)::integer as terms_recorded
from pupils
group by person_key, census_year
