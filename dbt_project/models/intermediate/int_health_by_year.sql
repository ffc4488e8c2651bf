{#- Health by child and collection year. The DfE's health outcomes of looked after children (SSDA903 OC2) come
    from social care's own record, so these do too:

    - a health assessment, a dental check and (for under-fives) a development check completed in the year;
    - (immunisations up to date at 31 March: int_immunisations_at_31_march);
    - the latest SDQ total difficulties score of the year and its band (0-13 normal, 14-16 borderline, 17-40
      cause for concern);
    - a substance misuse problem identified in the year.

    Beside them, what the health partners' own files show: a health assessment or dental check in the year
    recorded by social care or by health (so a gap between the two records can be seen), and referrals
    to CAMHS. Which children each measure applies to is decided in the outcomes mart. -#}
with years as (
    select
        *,
        collection_year_start_date as year_start,
        collection_year_end_date as year_end
    from {{ ref('int_collection_years') }}
),

events as (
    select
        person_key,
        health_check_date as event_date,
        health_check_type as kind,
        'social_care' as recorded_by
    from {{ ref('stg_ssd__health_checks') }}
    where health_check_status = 'completed'
    union all
    select
        person_key,
        assessment_date as event_date,
        'health_assessment' as kind,
        'health' as recorded_by
    from {{ ref('stg_health__health_assessments') }}
    where outcome = 'completed'
    union all
    select
        person_key,
        dental_check_date as event_date,
        'dental_check' as kind,
        'health' as recorded_by
    from {{ ref('stg_health__dental_checks') }}
    union all
    select
        person_key,
        camhs_referral_date as event_date,
        'camhs_referral' as kind,
        'health' as recorded_by
    from {{ ref('stg_health__camhs_referrals') }}
    union all
    select
        person_key,
        identified_date as event_date,
        'substance_misuse' as kind,
        'social_care' as recorded_by
    from {{ ref('stg_ssd__substance_misuse') }}
),

checks as (
    select
        events.person_key,
        years.collection_year,
        bool_or(events.kind = 'health_assessment' and events.recorded_by = 'social_care')
            as has_health_assessment,
        bool_or(events.kind = 'dental_check' and events.recorded_by = 'social_care') as has_dental_check,
        bool_or(events.kind = 'development_check' and events.recorded_by = 'social_care')
            as has_development_check,
        bool_or(events.kind = 'substance_misuse') as has_substance_misuse,
        bool_or(events.kind = 'health_assessment') as has_health_assessment_any_partner,
        bool_or(events.kind = 'dental_check') as has_dental_check_any_partner,
        count(*) filter (where events.kind = 'camhs_referral')::integer as camhs_referrals
    from events
    inner join years
        on events.event_date between years.year_start and years.year_end
    group by all
),

sdq as (
    select
        scores.person_key,
        years.collection_year,
        arg_max(scores.sdq_score, scores.sdq_completed_date)::integer as sdq_score
    from {{ ref('stg_ssd__sdq_scores') }} as scores
    inner join years
        on scores.sdq_completed_date between years.year_start and years.year_end
    where scores.sdq_score is not null
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
    from sdq
)

select
    keys.person_key,
    keys.collection_year,
    coalesce(checks.has_health_assessment, false) as has_health_assessment_in_year,
    coalesce(checks.has_dental_check, false) as has_dental_check_in_year,
    coalesce(checks.has_development_check, false) as has_development_check_in_year,
    coalesce(checks.has_substance_misuse, false) as has_substance_misuse_in_year,
    coalesce(checks.has_health_assessment_any_partner, false) as has_health_assessment_any_partner_in_year,
    coalesce(checks.has_dental_check_any_partner, false) as has_dental_check_any_partner_in_year,
    coalesce(checks.camhs_referrals, 0) as camhs_referrals_in_year,
    sdq.sdq_score,
    case
        when sdq.sdq_score between 0 and 13 then 'normal'
        when sdq.sdq_score between 14 and 16 then 'borderline'
        when sdq.sdq_score between 17 and 40 then 'cause for concern'
    end as sdq_band
from keys
left join checks on keys.person_key = checks.person_key and keys.collection_year = checks.collection_year
left join sdq on keys.person_key = sdq.person_key and keys.collection_year = sdq.collection_year
