-- The outcome rows (a child and a year each) of the years the reports cover: the last `report_years`
-- collection years of the marts, the latest included. Every report figure is counted from these rows.
with latest as (
    select max(collection_year) as last_year
    from {{ ref('fct_child_outcomes_by_year') }}
)

select outcomes.*
from {{ ref('fct_child_outcomes_by_year') }} as outcomes
inner join latest
    on outcomes.collection_year > latest.last_year - {{ var('report_years') }}
