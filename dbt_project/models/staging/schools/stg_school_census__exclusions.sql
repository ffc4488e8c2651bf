{#- Exclusions reported by each census, with the category recoded to today's DfE codes (FIXD is SUSP). -#}
with source as (
    select * from {{ source('schools', 'school_census_exclusions') }}
),

categories as (
    select * from {{ ref('exclusion_categories') }}
)

select
    source.termlyexclusionsonrolltableid as exclusion_id,
    source.pupilonrolltableid as pupil_on_roll_id,
    source.person_key,
    source._period as census_period,
    source.startdate as exclusion_start_date,
    source.sessions as sessions_excluded,
    categories.exclusion_category,
    source.reason1 as exclusion_reason
from source
left join categories on source.category = categories.source_category
where source.person_key is not null
