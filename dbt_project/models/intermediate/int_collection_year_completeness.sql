{#- Whether each collection year is complete in the data, so a figure for a part year is never set beside full
    years (docs/adr/0004):

    - social care and health: the year lies wholly inside the latest SSD extract's look-back window (by
      default six years back from the extract date, the SSD's ssd_timeframe_years) and has ended by the
      extract date;
    - schools: all three censuses reporting the paired academic year's attendance have arrived (spring, summer
      and autumn of the calendar year it ends in; the autumn one reports the summer term). -#}
with years as (
    select * from {{ ref('int_collection_years') }}
),

extract as (
    select
        max(extract_date) as extract_date,
        max(extract_date) - interval {{ var('ssd_timeframe_years', 6) }} year as window_start_date
    from {{ ref('stg_ssd__persons') }}
),

censuses as (
    select
        census_year,
        count(distinct census_term) as terms
    from {{ ref('stg_school_census__pupils_on_roll') }}
    group by census_year
)

select
    years.collection_year,
    coalesce(
        years.collection_year_start_date >= extract.window_start_date
        and years.collection_year_end_date <= extract.extract_date,
        false
    ) as is_collection_year_complete,
    coalesce(censuses.terms = 3, false) as is_academic_year_complete
from years
cross join extract
left join censuses on years.collection_year = censuses.census_year
