with source as (
    select * from {{ latest_extract(source('social_care', 'ssd_care_leavers')) }}
)

select
    clea_table_id as care_leaver_record_id,
    person_key,
    clea_care_leaver_eligibility as eligibility,
    upper(clea_care_leaver_in_touch) as in_touch,
    clea_care_leaver_latest_contact as latest_contact_date,
    upper(clea_care_leaver_accommodation) as accommodation_type,
    case clea_care_leaver_accom_suitable when '1' then true when '2' then false end
        as is_accommodation_suitable,
    upper(clea_care_leaver_activity) as activity,
    clea_pathway_plan_review_date as pathway_plan_review_date,
    try_cast(_period as date) as extract_date
from source
where person_key is not null
