-- The DfE's published figures that match a report indicator (seed dfe_indicator_map: which publication
-- column, under which filter values, is which indicator), one row per indicator, period and area, from the
-- latest delivery that has it. Time periods are put in the reports' form: a reporting year 2024 (the year
-- to 31 March 2024) is the financial year 202324; academic and financial years are published that way.
with files as (
    select * from {{ ref('stg_dfe__statistics') }}
    where geographic_level in ('National', 'Regional', 'Local authority')
),

indicator_map as (
    select * from {{ ref('dfe_indicator_map') }}
),

matched as (
    select
        indicator_map.report_table,
        indicator_map.indicator,
        indicator_map.row_key,
        indicator_map.row_value,
        files.geographic_level,
        files.old_la_code,
        files.delivery_id,
        files.received_period,
        indicator_map.data_set,
        case
            when files.time_identifier = 'Reporting year' and regexp_full_match(files.time_period, '\d{4}')
                then (files.time_period::integer - 1)::varchar || right(files.time_period, 2)
            else files.time_period
        end as time_period,
        case files.geographic_level
            when 'National' then files.country_code
            when 'Regional' then files.region_code
            else files.new_la_code
        end as area_code,
        case files.geographic_level
            when 'National' then files.country_name
            when 'Regional' then files.region_name
            else files.la_name
        end as area_name,
        trim(json_extract_string(files.figures, '$."' || indicator_map.value_column || '"'))
            as published_value
    from files
    inner join indicator_map
        on
            json_extract_string(files.figures, '$."' || indicator_map.filter_1 || '"') = indicator_map.value_1
            and (
                indicator_map.filter_2 is null
                or json_extract_string(files.figures, '$."' || indicator_map.filter_2 || '"')
                = indicator_map.value_2
            )
)

select * exclude (delivery_id, received_period)
from matched
where published_value is not null
qualify row_number() over (
    partition by report_table, indicator, row_value, time_period, geographic_level, area_code
    order by received_period desc, delivery_id desc
) = 1
