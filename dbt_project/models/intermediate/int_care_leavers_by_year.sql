{#- Care leavers as social care last recorded them, in the collection year of the latest contact (or of the
    extract, if none is recorded): in touch, in education, employment or training (by the activity codes
    in use that year), and in suitable accommodation. -#}
with leavers as (
    select
        *,
        coalesce(latest_contact_date, extract_date) as as_at_date
    from {{ ref('stg_ssd__care_leavers') }}
),

years as (
    select * from {{ ref('int_collection_years') }}
),

activities as (
    select * from {{ ref('care_leaver_activity_codes') }}
)

select
    leavers.person_key,
    years.collection_year,
    arg_max(leavers.in_touch = 'YES', leavers.as_at_date) as is_in_touch,
    arg_max(activities.is_in_education_employment_or_training, leavers.as_at_date)
        as is_in_education_employment_or_training,
    arg_max(leavers.is_accommodation_suitable, leavers.as_at_date) as is_suitably_accommodated
from leavers
inner join
    years
    on leavers.as_at_date between years.collection_year_start_date and years.collection_year_end_date
left join activities
    on
        leavers.activity = activities.activity_code
        and years.collection_year between activities.first_collection_year and activities.last_collection_year
group by leavers.person_key, years.collection_year
