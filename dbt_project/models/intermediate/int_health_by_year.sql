{#- Health by child and collection year, from social care's records and the health partners' own:

    - a health assessment completed in the year, and a dental check in the year;
    - immunisations up to date: the latest status recorded during the year (social care's record before a
      health assessment's on the same day); null if none was recorded;
    - the latest SDQ total difficulties score of the year and its band (0-13 normal, 14-16 borderline,
      17-40 cause for concern);
    - a substance misuse problem identified in the year; referrals to CAMHS in the year. -#}
with years as (
    select
        *,
        collection_year_start_date as year_start,
        collection_year_end_date as year_end
    from {{ ref('int_collection_years') }}
),

assessments as (
    select
        person_key,
        health_check_date as event_date,
        'health_assessment' as kind
    from {{ ref('stg_ssd__health_checks') }}
    where health_check_type = 'health_assessment' and health_check_status = 'completed'
    union all
    select
        person_key,
        assessment_date as event_date,
        'health_assessment' as kind
    from {{ ref('stg_health__health_assessments') }}
    where outcome = 'completed'
    union all
    select
        person_key,
        health_check_date as event_date,
        'dental_check' as kind
    from {{ ref('stg_ssd__health_checks') }}
    where health_check_type = 'dental_check' and health_check_status = 'completed'
    union all
    select
        person_key,
        dental_check_date as event_date,
        'dental_check' as kind
    from {{ ref('stg_health__dental_checks') }}
    union all
    select
        person_key,
        camhs_referral_date as event_date,
        'camhs_referral' as kind
    from {{ ref('stg_health__camhs_referrals') }}
),

checks as (
    select
        assessments.person_key,
        years.collection_year,
        bool_or(assessments.kind = 'health_assessment') as has_health_assessment,
        bool_or(assessments.kind = 'dental_check') as has_dental_check,
        count(*) filter (where assessments.kind = 'camhs_referral')::integer as camhs_referrals
    from assessments
    inner join years
        on assessments.event_date between years.year_start and years.year_end
    group by all
),

immunisation_statuses as (
    select
        person_key,
        status_date,
        is_up_to_date,
        1 as preference
    from {{ ref('stg_ssd__immunisations') }}
    where is_up_to_date is not null
    union all
    select
        person_key,
        assessment_date as status_date,
        immunisations_up_to_date as is_up_to_date,
        2 as preference
    from {{ ref('stg_health__health_assessments') }}
    where immunisations_up_to_date is not null
),

immunisations as (
    select
        statuses.person_key,
        years.collection_year,
        statuses.is_up_to_date as immunisations_up_to_date
    from immunisation_statuses as statuses
    inner join years
        on statuses.status_date between years.year_start and years.year_end
    qualify row_number() over (
        partition by statuses.person_key, years.collection_year
        order by statuses.status_date desc, statuses.preference asc
    ) = 1
),

sdq_scores as (
    select
        person_key,
        sdq_completed_date,
        sdq_score
    from {{ ref('stg_ssd__sdq_scores') }}
    where sdq_score is not null
    union all
    select
        person_key,
        sdq_completed_date,
        sdq_score
    from {{ ref('stg_health__sdq_scores') }}
    where sdq_score is not null
),

sdq as (
    select
        sdq_scores.person_key,
        years.collection_year,
        arg_max(sdq_scores.sdq_score, sdq_scores.sdq_completed_date)::integer as sdq_score
    from sdq_scores
    inner join years
        on
            sdq_scores.sdq_completed_date between years.year_start and years.year_end
    group by all
),

substance as (
    select
        misuse.person_key,
        years.collection_year,
        true as has_substance_misuse
    from {{ ref('stg_ssd__substance_misuse') }} as misuse
    inner join years
        on misuse.identified_date between years.year_start and years.year_end
    group by all
),

keys as (
    select
        person_key,
        collection_year
    from checks
    union
    select
        person_key,
        collection_year
    from immunisations
    union
    select
        person_key,
        collection_year
    from sdq
    union
    select
        person_key,
        collection_year
    from substance
)

select
    keys.person_key,
    keys.collection_year,
    coalesce(checks.has_health_assessment, false) as has_health_assessment_in_year,
    coalesce(checks.has_dental_check, false) as has_dental_check_in_year,
    coalesce(checks.camhs_referrals, 0) as camhs_referrals_in_year,
    immunisations.immunisations_up_to_date,
    sdq.sdq_score,
    case
        when sdq.sdq_score between 0 and 13 then 'normal'
        when sdq.sdq_score between 14 and 16 then 'borderline'
        when sdq.sdq_score between 17 and 40 then 'cause for concern'
    end as sdq_band,
    coalesce(substance.has_substance_misuse, false) as has_substance_misuse
from keys
left join checks on keys.person_key = checks.person_key and keys.collection_year = checks.collection_year
left join immunisations
    on keys.person_key = immunisations.person_key and keys.collection_year = immunisations.collection_year
left join sdq on keys.person_key = sdq.person_key and keys.collection_year = sdq.collection_year
left join
    substance
    on keys.person_key = substance.person_key and keys.collection_year = substance.collection_year
