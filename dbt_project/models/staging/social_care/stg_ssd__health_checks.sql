with source as (
    select * from {{ latest_extract(source('social_care', 'ssd_cla_health')) }}
)

select
    clah_health_check_id as health_check_id,
    person_key,
    case
        when upper(clah_health_check_type) like '%DENTAL%' then 'dental_check'
        when upper(clah_health_check_type) like '%HEALTH ASSESSMENT%' then 'health_assessment'
        when
            upper(clah_health_check_type) like '%DEVELOPMENT%'
            or upper(clah_health_check_type) like '%SURVEILLANCE%'
            then 'development_check'
        else 'other'
    end as health_check_type,
    clah_health_check_date as health_check_date,
    lower(clah_health_check_status) as health_check_status,
    try_cast(_period as date) as extract_date
from source
where person_key is not null
