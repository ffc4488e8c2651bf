{#- Every referral, with whether it came within 12 months of the child's previous referral (a re-referral,
    as the CIN census counts them) and the collection year it fell in. -#}
with referrals as (
    select * from {{ ref('stg_ssd__referrals') }}
),

years as (
    select * from {{ ref('int_collection_years') }}
),

ordered as (
    select
        *,
        lag(referral_date) over (partition by person_key order by referral_date, referral_id)
            as previous_referral_date
    from referrals
)

select
    ordered.referral_id,
    ordered.person_key,
    ordered.referral_date,
    ordered.closed_date,
    ordered.is_no_further_action,
    ordered.previous_referral_date,
    coalesce(ordered.previous_referral_date >= ordered.referral_date - interval 12 month, false)
        as is_re_referral_within_12_months,
    years.collection_year
from ordered
inner join years
    on ordered.referral_date between years.collection_year_start_date and years.collection_year_end_date
