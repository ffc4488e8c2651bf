{#- One row per day from 2005 to 2030 (the years the bank holiday seed covers), with whether it is a
    working day (not a weekend, not an English bank holiday) and a running count of working days: the
    working days from one date to another are the difference of their counts. -#}
with days as (
    select
        unnest(
            range(
                date '{{ var("calendar_start", "2005-01-01") }}',
                date '{{ var("calendar_end", "2030-12-31") }}' + 1,
                interval 1 day
            )
        )::date as calendar_date
),

holidays as (
    select holiday_date from {{ ref('bank_holidays_england') }}
),

flagged as (
    select
        days.calendar_date,
        isodow(days.calendar_date) in (6, 7) as is_weekend,
        holidays.holiday_date is not null as is_bank_holiday
    from days
    left join holidays on days.calendar_date = holidays.holiday_date
)

select
    calendar_date,
    is_weekend,
    is_bank_holiday,
    not is_weekend and not is_bank_holiday as is_working_day,
    sum(case when not is_weekend and not is_bank_holiday then 1 else 0 end)
        over (order by calendar_date rows unbounded preceding)
    ::integer as working_day_index
from flagged
