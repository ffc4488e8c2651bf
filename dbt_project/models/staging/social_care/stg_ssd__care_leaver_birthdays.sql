with source as (
    select * from {{ source('social_care', 'care_leaver_birthdays') }}
)

select
    person_key,
    birthday_age,
    collection_year,
    is_looked_after_on_birthday,
    is_relevant_care_leaver,
    nullif(care_ceased_reason, '') as care_ceased_reason,
    upper(nullif(in_touch, '')) as in_touch,
    upper(nullif(activity, '')) as activity,
    upper(nullif(accommodation, '')) as accommodation_type,
    case accommodation_suitable when '1' then true when '2' then false end as is_accommodation_suitable
from source
where person_key is not null
