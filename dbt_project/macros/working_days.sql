{#- Working days from one date to another (weekends and English bank holidays not counted; the first day
    is day 0, so a working day to the next working day is 1). Needs int_calendar joined as `cal_from` and
    `cal_to`, or use the expression on two working-day indices. -#}
{% macro working_days_between(index_from, index_to) -%}
    ({{ index_to }} - {{ index_from }})
{%- endmacro %}
