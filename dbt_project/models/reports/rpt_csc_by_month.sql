-- Month by month: referrals, assessments, section 47 enquiries, conferences, plans and entries to care: the
-- figures of the report table `csc_by_month` (orchestration/reports/packs.py) before disclosure control, one
-- row per time_period, month.
with latest as (
    select max(event_date) as last_event
    from {{ ref('fct_child_events') }}
    where partner = 'social_care'
),

months as (
    select
        strftime(events.event_date, '%Y-%m') as month,
        extract(year from events.event_date)
        + case when extract(month from events.event_date) > 3 then 1 else 0 end as collection_year,
        events.event_type
    from {{ ref('fct_child_events') }} as events
    inner join latest on events.event_date > latest.last_event - interval 24 month
    where events.partner = 'social_care'
)

select
    collection_year as time_period,
    month,
    count(*) filter (where event_type = 'referral') as referrals,
    count(*) filter (where event_type = 'assessment completed') as assessments_completed,
    count(*) filter (where event_type = 'section 47 enquiry started') as s47_enquiries,
    count(*) filter (where event_type = 'initial child protection conference') as icpcs,
    count(*) filter (where event_type = 'child protection plan started') as cp_plans_started,
    count(*) filter (where event_type = 'care episode started') as care_episodes_started,
    count(*) filter (where event_type = 'went missing') as missing_incidents
from months
group by 1, 2
