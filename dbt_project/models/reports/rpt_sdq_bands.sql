-- Emotional and behavioural health (SDQ bands) of children looked after for 12 months, aged 5 to 16: the
-- figures of the report table `sdq_bands` (orchestration/reports/packs.py) before disclosure control, one
-- row per time_period and sdq_band.
select
    collection_year as time_period,
    coalesce(band, 'Total') as sdq_band,
    count(*) as children,
    -- the bands from normal to cause for concern, the total last
    row_number() over (
        order by
            collection_year, grouping(band),
            case band when 'Normal' then 1 when 'Borderline' then 2 else 3 end
    ) as row_order,
    bool_and(is_collection_year_complete) as is_complete
from (
    select
        collection_year,
        is_collection_year_complete,
        case sdq_band
            when 'normal' then 'Normal' when 'borderline' then 'Borderline'
            when 'cause for concern' then 'Cause for concern' else sdq_band
        end as band
    from {{ ref('rpt_outcomes_in_window') }}
    -- the DfE publishes SDQ scores of the OC2 cohort aged 5 to 16 at 31 March
    where
        is_looked_after_continuously_12_months and age_at_31_march between 5 and 16
        and sdq_band is not null
)
group by grouping sets ((collection_year, band), (collection_year))
