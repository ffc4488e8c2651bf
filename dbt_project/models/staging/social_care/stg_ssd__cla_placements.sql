with source as (
    select * from {{ latest_extract(source('social_care', 'ssd_cla_placement')) }}
)

select
    clap_cla_placement_id as placement_id,
    person_key,
    clap_cla_id as period_of_care_id,
    clap_cla_placement_start_date as placement_start_date,
    clap_cla_placement_end_date as placement_end_date,
    clap_cla_placement_type as placement_type,
    clap_cla_placement_provider as placement_provider,
    clap_cla_placement_urn as placement_urn,
    clap_cla_placement_postcode as placement_postcode_sector,
    nullif(clap_cla_placement_change_reason, '') as placement_change_reason,
    try_cast(_period as date) as extract_date
from source
where person_key is not null
