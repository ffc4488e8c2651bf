with source as (
    select * from {{ latest_extract(source('social_care', 'ssd_missing')) }}
)

select
    miss_table_id as missing_episode_id,
    person_key,
    miss_missing_episode_start_date as missing_start_date,
    miss_missing_episode_end_date as missing_end_date,
    case upper(miss_missing_episode_type) when 'M' then 'missing' when 'A' then 'absent' end as missing_type,
    miss_missing_rhi_offered = 'Y' as return_interview_offered,
    miss_missing_rhi_accepted = 'Y' as return_interview_accepted,
    try_cast(_period as date) as extract_date
from source
where person_key is not null
