-- Children looked after at 31 March, by age: the figures of the report table `looked_after_by_age`
-- (orchestration/reports/packs.py) before disclosure control, one row per time_period and age_group, with
-- the year's total beside each band for its share (as the DfE publishes the bands: number and percentage).
select
    collection_year as time_period,
    coalesce(age_band, 'Total') as age_group,
    count(*) as children,
    -- every child looked after at 31 March that year: the denominator of each band's share (the total row's)
    sum(count(*)) filter (where grouping(age_band) = 1) over (
        partition by collection_year
    ) as children_all_ages,
    -- youngest band first, the total last (as text, '10 to 15' would sort before '5 to 9')
    row_number() over (
        order by collection_year, grouping(age_band), min(age_at_31_march)
    ) as row_order,
    bool_and(is_collection_year_complete) as is_complete
from (
    select
        collection_year,
        is_collection_year_complete,
        age_at_31_march,
        case
            when age_at_31_march < 1 then 'Under 1' when age_at_31_march < 5 then '1 to 4'
            when age_at_31_march < 10 then '5 to 9' when age_at_31_march < 16 then '10 to 15'
            else '16 and over'
        end as age_band
    from {{ ref('rpt_outcomes_in_window') }}
    where is_looked_after_at_31_march
)
group by grouping sets ((collection_year, age_band), (collection_year))
