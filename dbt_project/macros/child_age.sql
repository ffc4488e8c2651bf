{#- Age in whole years on the 31 March ending a collection year, from the month of birth ('2015-03'): exact,
    because every child born in March or earlier has had their birthday by 31 March. -#}
{% macro age_at_31_march(birth_month, collection_year) -%}
    ({{ collection_year }} - cast(left({{ birth_month }}, 4) as integer)
    - case when cast(right({{ birth_month }}, 2) as integer) > 3 then 1 else 0 end)
{%- endmacro %}

{#- The census day of a school census: the first Thursday of October (autumn), the third Thursday of January
    (spring), the third Thursday of May (summer), in the census's calendar year. -#}
{% macro census_day(calendar_year, term) -%}
    (
        case {{ term }}
            when 'autumn' then make_date({{ calendar_year }}, 10, 1)
            when 'spring' then make_date({{ calendar_year }}, 1, 15)
            when 'summer' then make_date({{ calendar_year }}, 5, 15)
        end
        + ((4 - isodow(case {{ term }}
            when 'autumn' then make_date({{ calendar_year }}, 10, 1)
            when 'spring' then make_date({{ calendar_year }}, 1, 15)
            when 'summer' then make_date({{ calendar_year }}, 5, 15)
        end) + 7) % 7)::integer
    )
{%- endmacro %}

{#- Age in whole years on 31 August of a calendar year (the start of the academic year that follows), from the
    month of birth: exact for the same reason. Compulsory school age for absence is 5 to 15 on that day. -#}
{% macro age_at_31_august(birth_month, calendar_year) -%}
    ({{ calendar_year }} - cast(left({{ birth_month }}, 4) as integer)
    - case when cast(right({{ birth_month }}, 2) as integer) > 8 then 1 else 0 end)
{%- endmacro %}
