{#- One row per collection year (1 April to 31 March, named by the year of its 31 March), paired with the
    academic year that ends the following summer: the DfE convention for outcomes of children in need and
    looked after. -#}
with years as (
    select
        unnest(
            range({{ var("first_collection_year", 2010) }}, {{ var("last_collection_year", 2035) }} + 1)
        )::integer as collection_year
)

select
    collection_year,
    make_date(collection_year - 1, 4, 1) as collection_year_start_date,
    make_date(collection_year, 3, 31) as collection_year_end_date,
    (collection_year - 1)::varchar || '/' || right(collection_year::varchar, 2) as academic_year,
    make_date(collection_year - 1, 9, 1) as academic_year_start_date,
    make_date(collection_year, 8, 31) as academic_year_end_date
from years
