{#- Care leavers as the SSDA903 OC3 follows them up (docs/adr/0004): young people whose 17th, 18th, 19th, 20th
    or 21st birthday fell in the collection year, who were relevant or former relevant children by then (13
    weeks looked after since their 14th birthday, some of it since their 16th) and had left care before the
    birthday (one leaving care on the day is not yet a care leaver, as validator rule 1016 has it), except
    those whose care ended in adoption, death or a transfer to another authority.

    Their status is the one recorded at the contact nearest the birthday from three months before it to one
    month after (worked out in the vault: stg_ssd__care_leaver_birthdays). A young person with no contact in
    that window stays in the cohort as not in touch, with activity and accommodation not known: counted in
    every denominator, never in a numerator. In education, employment or training by the activity codes in
    use that year; suitably accommodated when the accommodation was recorded as suitable. -#}
with birthdays as (
    select * from {{ ref('stg_ssd__care_leaver_birthdays') }}
),

activities as (
    select * from {{ ref('care_leaver_activity_codes') }}
),

care_ended as (
    select * from {{ ref('reason_episode_ceased_codes') }}
)

select
    birthdays.person_key,
    birthdays.collection_year,
    birthdays.birthday_age as care_leaver_age,
    coalesce(birthdays.in_touch, 'NO') as in_touch_status,
    coalesce(birthdays.in_touch = 'YES', false) as is_in_touch,
    coalesce(birthdays.in_touch = 'YES' and activities.is_in_education_employment_or_training, false)
        as is_in_education_employment_or_training,
    coalesce(
        birthdays.in_touch = 'YES'
        and birthdays.accommodation_type is not null
        and birthdays.is_accommodation_suitable,
        false
    ) as is_suitably_accommodated
from birthdays
left join activities
    on
        birthdays.activity = activities.activity_code
        and birthdays.collection_year
        between activities.first_collection_year and activities.last_collection_year
left join care_ended on birthdays.care_ceased_reason = care_ended.reason_episode_ceased
where
    birthdays.is_relevant_care_leaver
    and not coalesce(birthdays.is_looked_after_on_birthday, false)
    and not coalesce(care_ended.ends_leaving_care_duties, false)
