{#- Social care activity by child and collection year: referrals (and re-referrals within 12 months),
    assessments completed (and within 45 working days), section 47 enquiries started, initial child
    protection conferences (and within 15 working days of the section 47 enquiry starting). -#}
with referrals as (
    select
        person_key,
        collection_year,
        count(*)::integer as referrals,
        count(*) filter (where is_re_referral_within_12_months)::integer as re_referrals_within_12_months
    from {{ ref('int_referrals') }}
    group by all
),

assessments as (
    select
        person_key,
        collection_year,
        count(*)::integer as assessments_completed,
        count(*) filter (where is_within_45_working_days)::integer as assessments_within_45_working_days
    from {{ ref('int_assessments') }}
    group by all
),

enquiries as (
    select
        enquiries.person_key,
        years.collection_year,
        count(*)::integer as s47_enquiries_started
    from {{ ref('stg_ssd__s47_enquiries') }} as enquiries
    inner join {{ ref('int_collection_years') }} as years
        on
            enquiries.s47_start_date
            between years.collection_year_start_date and years.collection_year_end_date
    group by all
),

conferences as (
    select
        person_key,
        collection_year,
        count(*)::integer as initial_cp_conferences,
        count(*) filter (where is_within_15_working_days)::integer
            as initial_cp_conferences_within_15_working_days
    from {{ ref('int_initial_cp_conferences') }}
    group by all
),

keys as (
    select
        person_key,
        collection_year
    from referrals
    union
    select
        person_key,
        collection_year
    from assessments
    union
    select
        person_key,
        collection_year
    from enquiries
    union
    select
        person_key,
        collection_year
    from conferences
)

select
    keys.person_key,
    keys.collection_year,
    coalesce(referrals.referrals, 0) as referrals,
    coalesce(referrals.re_referrals_within_12_months, 0) as re_referrals_within_12_months,
    coalesce(assessments.assessments_completed, 0) as assessments_completed,
    coalesce(assessments.assessments_within_45_working_days, 0) as assessments_within_45_working_days,
    coalesce(enquiries.s47_enquiries_started, 0) as s47_enquiries_started,
    coalesce(conferences.initial_cp_conferences, 0) as initial_cp_conferences,
    coalesce(conferences.initial_cp_conferences_within_15_working_days, 0)
        as initial_cp_conferences_within_15_working_days
from keys
left join
    referrals
    on keys.person_key = referrals.person_key and keys.collection_year = referrals.collection_year
left join assessments
    on keys.person_key = assessments.person_key and keys.collection_year = assessments.collection_year
left join enquiries
    on keys.person_key = enquiries.person_key and keys.collection_year = enquiries.collection_year
left join conferences
    on keys.person_key = conferences.person_key and keys.collection_year = conferences.collection_year
