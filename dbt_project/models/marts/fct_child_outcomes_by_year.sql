with spine as (
    select * from {{ ref('int_child_years') }}
),

years as (
    select * from {{ ref('int_collection_years') }}
),

looked_after as (
    select * from {{ ref('int_looked_after_by_year') }}
),

attendance as (
    select * from {{ ref('int_school_attendance_by_year') }}
),

health as (
    select * from {{ ref('int_health_assessments_by_year') }}
)

select
    spine.person_key,
    spine.collection_year,
    years.academic_year,
    looked_after.person_key is not null as is_looked_after_during_year,
    case
        when looked_after.person_key is null then false else looked_after.is_looked_after_at_31_march
    end as is_looked_after_at_31_march,
    coalesce(looked_after.days_looked_after_in_year, 0) as days_looked_after_in_year,
    coalesce(looked_after.placements_in_year, 0) as placements_in_year,
    coalesce(looked_after.placements_in_year, 0) >= 3 as has_three_or_more_placements,
    attendance.sessions_possible,
    attendance.sessions_authorised_absence,
    attendance.sessions_unauthorised_absence,
    round(
        (attendance.sessions_authorised_absence + attendance.sessions_unauthorised_absence)
        / nullif(attendance.sessions_possible, 0),
        6
    )::decimal(9, 6) as overall_absence_rate,
    (attendance.sessions_authorised_absence + attendance.sessions_unauthorised_absence)
    >= 0.1 * attendance.sessions_possible as is_persistently_absent,
    coalesce(health.health_assessments_in_year, 0) as health_assessments_in_year,
    coalesce(health.health_assessments_in_year, 0) > 0 as has_health_assessment_in_year
from spine
inner join years on spine.collection_year = years.collection_year
left join looked_after
    on spine.person_key = looked_after.person_key and spine.collection_year = looked_after.collection_year
left join attendance
    on spine.person_key = attendance.person_key and spine.collection_year = attendance.collection_year
left join health
    on spine.person_key = health.person_key and spine.collection_year = health.collection_year
