{#- One row per child (person_key): sex, ethnicity, month of birth, and the first and latest dates each
    partner recorded anything about them. Sex and month of birth come from social care's record, else the
    school census, else health; ethnicity from social care's record. -#}
with events as (
    select * from {{ ref('int_child_events') }}
),

spine as (
    select distinct person_key from {{ ref('int_child_years') }}
    union
    select distinct person_key from events
    union
    select distinct person_key from {{ ref('stg_ssd__persons') }}
),

social_care as (
    select
        person_key,
        any_value(sex) as sex,
        any_value(ethnicity) as ethnicity,
        any_value(birth_month) as birth_month
    from {{ ref('stg_ssd__persons') }}
    group by person_key
),

census as (
    select
        person_key,
        arg_max(sex, census_period) as sex,
        arg_max(birth_month, census_period) as birth_month
    from {{ ref('stg_school_census__pupils_on_roll') }}
    group by person_key
),

health as (
    select
        person_key,
        arg_max(sex, assessment_date) as sex,
        arg_max(birth_month, assessment_date) as birth_month
    from {{ ref('stg_health__health_assessments') }}
    group by person_key
),

ethnicities as (
    select * from {{ ref('ethnicity_codes') }}
),

involvement as (
    select
        person_key,
        min(event_date) filter (where partner = 'social_care') as first_social_care_date,
        max(event_date) filter (where partner = 'social_care') as latest_social_care_date,
        min(event_date) filter (where partner = 'schools') as first_school_date,
        max(event_date) filter (where partner = 'schools') as latest_school_date,
        min(event_date) filter (where partner = 'health') as first_health_date,
        max(event_date) filter (where partner = 'health') as latest_health_date
    from events
    group by person_key
),

census_terms as (
    select
        person_key,
        min({{ census_day('census_year', 'census_term') }}) as first_census_date,
        max({{ census_day('census_year', 'census_term') }}) as latest_census_date
    from {{ ref('stg_school_census__pupils_on_roll') }}
    group by person_key
)

select
    spine.person_key,
    coalesce(
        nullif(social_care.sex, 'U'),
        case census.sex when 'M' then 'M' when 'F' then 'F' end,
        case health.sex when 'M' then 'M' when 'F' then 'F' end,
        'U'
    ) as sex,
    social_care.ethnicity,
    ethnicities.ethnicity_major_group,
    coalesce(social_care.birth_month, census.birth_month, health.birth_month) as birth_month,
    involvement.first_social_care_date,
    involvement.latest_social_care_date,
    least(involvement.first_school_date, census_terms.first_census_date) as first_school_date,
    greatest(involvement.latest_school_date, census_terms.latest_census_date) as latest_school_date,
    involvement.first_health_date,
    involvement.latest_health_date
from spine
left join social_care on spine.person_key = social_care.person_key
left join census on spine.person_key = census.person_key
left join health on spine.person_key = health.person_key
left join ethnicities on social_care.ethnicity = ethnicities.ethnicity_code
left join involvement on spine.person_key = involvement.person_key
left join census_terms on spine.person_key = census_terms.person_key
