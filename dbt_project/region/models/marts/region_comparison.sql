-- The members side by side, per collection year: children in need, looked after at 31 March and with 3 or
-- more placements, persistently absent pupils, as each member's own marts count them; complete years only.
select
    authority,
    collection_year,
    sum(case when is_in_need_during_year then 1 else 0 end) as in_need_during_year,
    sum(case when is_looked_after_at_31_march then 1 else 0 end) as looked_after_at_31_march,
    sum(case when is_looked_after_at_31_march and has_three_or_more_placements then 1 else 0 end)
        as three_or_more_placements,
    sum(case when sessions_possible > 0 then 1 else 0 end) as pupils,
    sum(case when sessions_possible > 0 and is_persistently_absent then 1 else 0 end) as persistently_absent
from {{ ref('stg_region__outcomes') }}
where is_collection_year_complete
group by authority, collection_year
