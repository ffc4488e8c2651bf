{#- Initial child protection conferences held, each with the section 47 enquiry it followed and the working
    days from the enquiry's start (the strategy discussion) to the conference. Conferences for children
    transferred in from another authority are not timed, as the DfE does not time them. -#}
with conferences as (
    select * from {{ ref('stg_ssd__initial_cp_conferences') }}
    where icpc_date is not null and not is_transfer_in
),

enquiries as (
    select * from {{ ref('stg_ssd__s47_enquiries') }}
),

calendar as (
    select * from {{ ref('int_calendar') }}
),

years as (
    select * from {{ ref('int_collection_years') }}
)

select
    conferences.icpc_id,
    conferences.person_key,
    enquiries.s47_start_date,
    conferences.icpc_date,
    {{ working_days_between('started.working_day_index', 'held.working_day_index') }}
        as working_days_from_s47_start,
    {{ working_days_between('started.working_day_index', 'held.working_day_index') }} <= 15
        as is_within_15_working_days,
    years.collection_year
from conferences
inner join enquiries on conferences.s47_enquiry_id = enquiries.s47_enquiry_id
inner join calendar as started on enquiries.s47_start_date = started.calendar_date
inner join calendar as held on conferences.icpc_date = held.calendar_date
inner join
    years
    on conferences.icpc_date between years.collection_year_start_date and years.collection_year_end_date
