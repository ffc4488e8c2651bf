{#- An SSD extract is a snapshot of the case management system: every extract lists every record again.
    Staging reads the latest extract only, so a record corrected or removed since is not kept in its
    old form. -#}
{% macro latest_extract(relation) -%}
    (select * from {{ relation }} where _period = (select max(_period) from {{ relation }}))
{%- endmacro %}

{#- A partner file may repeat earlier rows (monthly files that overlap): the latest delivery of each record
    wins. -#}
{% macro latest_version(relation, key) -%}
    (
        select * from {{ relation }}
        qualify row_number() over (partition by {{ key }} order by _period desc, _delivery_id desc) = 1
    )
{%- endmacro %}
