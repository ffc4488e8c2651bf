-- Each member's children as it sent them: one row per member and child, under the regional key.
select
    cast(authority as string) as authority,
    regional_key,
    keyed_by_nhs_number,
    sex,
    ethnicity_major_group,
    first_social_care_date,
    latest_social_care_date,
    first_school_date,
    latest_school_date,
    first_health_date,
    latest_health_date
from {{ member_parquet('dim_children') }}
