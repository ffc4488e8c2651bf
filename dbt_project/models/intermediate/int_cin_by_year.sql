{#- Children in need by collection year: an episode of need runs from the referral to the day it is closed
    (not in need on that day); referrals that ended in no further action are not episodes of need. An
    episode still open is followed to its extract date; at a 31 March after the latest extract, whether
    the child is in need is not known (null). -#}
with episodes as (
    select
        person_key,
        referral_date,
        coalesce(closed_date, extract_date + 1) as followed_until
    from {{ ref('stg_ssd__referrals') }}
    where not is_no_further_action and referral_date <= extract_date
),

latest as (
    select max(extract_date) as latest_extract_date from {{ ref('stg_ssd__referrals') }}
),

years as (
    select * from {{ ref('int_collection_years') }}
)

select
    episodes.person_key,
    years.collection_year,
    true as is_in_need_during_year,
    case
        when any_value(years.collection_year_end_date) > any_value(latest.latest_extract_date) then null
        else bool_or(
            episodes.referral_date <= years.collection_year_end_date
            and episodes.followed_until > years.collection_year_end_date
        )
    end as is_in_need_at_31_march
from episodes
cross join latest
inner join years
    on
        episodes.referral_date <= years.collection_year_end_date
        and episodes.followed_until > years.collection_year_start_date
group by episodes.person_key, years.collection_year
