-- England, the authority's region and its statistical neighbours beside the authority's own figures: one
-- row per report table, indicator, period and comparator, with the published value as published (text) and
-- where it comes from. The DfE's files an authority drops into landing win over the figures shipped with
-- Whole Child (seed dfe_published_figures, each cited). Statistical neighbours (var statistical_neighbours,
-- the authority's ten LA codes) are the mean of their published percentages, as the DfE's LA interactive
-- tool shows them; a mean of counts would say nothing.
{%- set neighbours = var('statistical_neighbours') %}
{%- set listed = neighbours.split(',') if neighbours is string else neighbours %}
{%- set neighbour_codes = listed | map('trim') | reject('equalto', '') | list %}

with from_files as (
    select
        report_table,
        indicator,
        row_key,
        row_value,
        time_period,
        geographic_level,
        area_code,
        area_name,
        old_la_code,
        published_value,
        'DfE statistics file received: ' || data_set as source,
        'the DfE statistics file received (' || data_set || ')' as citation
    from {{ ref('int_dfe_published_figures') }}
),

shipped as (
    select
        shipped.report_table,
        shipped.indicator,
        shipped.row_key,
        shipped.row_value,
        shipped.time_period,
        shipped.geographic_level,
        shipped.area_code,
        shipped.area_name,
        null::varchar as old_la_code,
        shipped.value::varchar as published_value,
        shipped.publication || ', ' || shipped.release || ': ' || shipped.section
        || ' (' || shipped.source_url || ')'
        || case when shipped.read_from != 'the page' then '; read from ' || shipped.read_from else '' end
            as source,
        shipped.publication || ', ' || lower(shipped.release) || ' (' || shipped.source_url || ')' as citation
    from {{ ref('dfe_published_figures') }} as shipped
    anti join from_files
        on
            shipped.report_table = from_files.report_table
            and shipped.indicator = from_files.indicator
            and shipped.row_value is not distinct from from_files.row_value
            and shipped.time_period = from_files.time_period
            and shipped.geographic_level = from_files.geographic_level
            and shipped.area_code = from_files.area_code
),

published as (
    select * from from_files
    union all
    select * from shipped
),

areas as (
    select
        report_table,
        indicator,
        row_key,
        row_value,
        time_period,
        case geographic_level when 'National' then 'England' else 'Region' end as comparator,
        area_code,
        area_name,
        published_value,
        source,
        citation
    from published
    where
        (geographic_level = 'National' and area_code = 'E92000001')
        or (geographic_level = 'Regional' and area_code = '{{ var("region_code") }}')
),

neighbours as (
    select
        report_table,
        indicator,
        row_key,
        row_value,
        time_period,
        'Statistical neighbours' as comparator,
        null::varchar as area_code,
        'Statistical neighbours (mean of ' || count(*) || ' of {{ neighbour_codes | length }})' as area_name,
        round(avg(try_cast(published_value as double)), 1)::varchar as published_value,
        'Mean of the published percentages of ' || string_agg(area_name, ', ' order by area_name) as source,
        string_agg(distinct citation, '; ' order by citation) as citation
    from published
    where
        geographic_level = 'Local authority'
        and indicator like '%\_rate' escape '\'
        and try_cast(published_value as double) is not null
        {%- if neighbour_codes %}
            and (
                area_code in ('{{ neighbour_codes | join("', '") }}')
                or old_la_code in ('{{ neighbour_codes | join("', '") }}')
            )
        {%- else %}
            and false
        {%- endif %}
    group by report_table, indicator, row_key, row_value, time_period
)

-- the two have the same columns in the same order
select * from areas
union all
select * from neighbours
