-- The DfE's published figures that match a report indicator (seed dfe_indicator_map: which publication
-- column, under which filter values, is which indicator), one row per indicator, period and area, from the
-- latest delivery that has it. Time periods are put in the reports' form: a reporting year 2024 (the year
-- to 31 March 2024) is the financial year 202324; academic and financial years are published that way.
-- A map's value_column is one column as published, or a sum of count columns (`a+b`: ICPCs within 15
-- working days are two duration bands), or a percentage of two such sums (`a+b/c`, to one decimal place,
-- as the DfE rounds the CIN census rates). Where a part is suppressed, the figure is that symbol.
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
        list_transform(
            string_split(split_part(indicator_map.value_column, '/', 1), '+'),
            lambda c: trim(json_extract_string(files.figures, '$."' || trim(c) || '"'))  -- noqa: RF02
        ) as numerator_parts,
        case when contains(indicator_map.value_column, '/') then list_transform(
            string_split(split_part(indicator_map.value_column, '/', 2), '+'),
            lambda c: trim(json_extract_string(files.figures, '$."' || trim(c) || '"'))  -- noqa: RF02
        ) end as denominator_parts
    from files
    inner join indicator_map
        on
            json_extract_string(files.figures, '$."' || indicator_map.filter_1 || '"') = indicator_map.value_1
            and (
                indicator_map.filter_2 is null
                or json_extract_string(files.figures, '$."' || indicator_map.filter_2 || '"')
                = indicator_map.value_2
            )
),

figures as (
    select
        * exclude (numerator_parts, denominator_parts),
        list_concat(numerator_parts, coalesce(denominator_parts, [])) as parts,
        case
            when denominator_parts is null and len(numerator_parts) = 1 then numerator_parts[1]
            when list_bool_and(list_transform(parts, lambda p: try_cast(p as bigint) is not null))
                then case
                    when denominator_parts is null
                        then list_sum(list_transform(parts, lambda p: p::bigint))::varchar
                    when list_sum(list_transform(denominator_parts, lambda p: p::bigint)) > 0
                        then round(
                            100 * list_sum(list_transform(numerator_parts, lambda p: p::bigint))
                            / list_sum(list_transform(denominator_parts, lambda p: p::bigint)),
                            1
                        )::varchar
                end
            -- a suppressed part: the figure is its symbol (a part the file lacks leaves no figure)
            else list_filter(parts, lambda p: try_cast(p as bigint) is null)[1]
        end as published_value
    from matched
)

select * exclude (delivery_id, received_period, parts)
from figures
where published_value is not null
qualify row_number() over (
    partition by report_table, indicator, row_value, time_period, geographic_level, area_code
    order by received_period desc, delivery_id desc
) = 1
