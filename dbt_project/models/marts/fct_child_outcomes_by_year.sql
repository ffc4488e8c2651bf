{#- One row per child per collection year in which any partner recorded them, with every outcome measure
    (see _marts.yml for each definition). -#}
with spine as (
    select * from {{ ref('int_child_years') }}
),

years as (
    select
        years.*,
        completeness.is_collection_year_complete,
        completeness.is_academic_year_complete
    from {{ ref('int_collection_years') }} as years
    inner join {{ ref('int_collection_year_completeness') }} as completeness
        on years.collection_year = completeness.collection_year
),

children as (
    select * from {{ ref('dim_children') }}
),

cin as (select * from {{ ref('int_cin_by_year') }}),

cp as (select * from {{ ref('int_cp_by_year') }}),

cla as (select * from {{ ref('int_looked_after_by_year') }}),

activity as (select * from {{ ref('int_social_care_by_year') }}),

missing as (select * from {{ ref('int_missing_by_year') }}),

leavers as (select * from {{ ref('int_care_leavers_by_year') }}),

attendance as (select * from {{ ref('int_school_attendance_by_year') }}),

exclusions as (select * from {{ ref('int_exclusions_by_year') }}),

pupil as (select * from {{ ref('int_school_characteristics_by_year') }}),

attainment as (select * from {{ ref('int_attainment_by_year') }}),

health as (select * from {{ ref('int_health_by_year') }}),

immunisations as (select * from {{ ref('int_immunisations_at_31_march') }})

select
    spine.person_key,
    spine.collection_year,
    years.academic_year,
    years.is_collection_year_complete,
    years.is_academic_year_complete,
    case
        when children.birth_month is not null
            then {{ age_at_31_march('children.birth_month', 'spine.collection_year') }}
    end::integer as age_at_31_march,
    -- children in need and child protection
    coalesce(cin.is_in_need_during_year, false) as is_in_need_during_year,
    case when cin.person_key is null then false else cin.is_in_need_at_31_march end as is_in_need_at_31_march,
    coalesce(activity.referrals, 0) as referrals_in_year,
    coalesce(activity.re_referrals_within_12_months, 0) as re_referrals_within_12_months,
    coalesce(activity.assessments_completed, 0) as assessments_completed_in_year,
    coalesce(activity.assessments_within_45_working_days, 0) as assessments_within_45_working_days,
    coalesce(activity.s47_enquiries_started, 0) as s47_enquiries_started_in_year,
    coalesce(activity.initial_cp_conferences, 0) as initial_cp_conferences_in_year,
    coalesce(activity.initial_cp_conferences_within_15_working_days, 0)
        as initial_cp_conferences_within_15_working_days,
    coalesce(cp.is_on_cp_plan_during_year, false) as is_on_cp_plan_during_year,
    case when cp.person_key is null then false else cp.is_on_cp_plan_at_31_march end
        as is_on_cp_plan_at_31_march,
    coalesce(cp.cp_plans_started_in_year, 0) as cp_plans_started_in_year,
    coalesce(cp.second_or_subsequent_cp_plans_started_in_year, 0)
        as second_or_subsequent_cp_plans_started_in_year,
    coalesce(cp.cp_plans_ended_lasting_two_years, 0) as cp_plans_ended_lasting_two_years,
    -- looked after children
    coalesce(cla.days_looked_after_in_year, 0) > 0 as is_looked_after_during_year,
    case when cla.person_key is null then false else cla.is_looked_after_at_31_march end
        as is_looked_after_at_31_march,
    case when cla.person_key is null then false else cla.is_looked_after_continuously_12_months end
        as is_looked_after_continuously_12_months,
    cla.legal_status_at_31_march,
    cla.placement_type_at_31_march,
    coalesce(cla.days_looked_after_in_year, 0) as days_looked_after_in_year,
    coalesce(cla.placements_in_year, 0) as placements_in_year,
    cla.has_three_or_more_placements,
    cla.has_long_term_stability,
    coalesce(cla.entered_care_in_year, false) as entered_care_in_year,
    coalesce(cla.left_care_in_year, false) as left_care_in_year,
    coalesce(missing.missing_incidents, 0) as missing_incidents_in_year,
    coalesce(missing.absent_incidents, 0) as absent_incidents_in_year,
    -- care leavers
    leavers.care_leaver_age,
    leavers.is_in_touch as care_leaver_in_touch,
    leavers.is_in_education_employment_or_training as care_leaver_in_education_employment_or_training,
    leavers.is_suitably_accommodated as care_leaver_suitably_accommodated,
    -- school: attendance, exclusions, SEN, FSM
    attendance.sessions_possible,
    attendance.sessions_authorised_absence,
    attendance.sessions_unauthorised_absence,
    attendance.overall_absence_rate::decimal(9, 6) as overall_absence_rate,
    attendance.authorised_absence_rate::decimal(9, 6) as authorised_absence_rate,
    attendance.unauthorised_absence_rate::decimal(9, 6) as unauthorised_absence_rate,
    attendance.is_persistently_absent,
    attendance.is_severely_absent,
    case
        when attendance.person_key is not null or exclusions.person_key is not null
            then coalesce(exclusions.suspensions, 0)
    end as suspensions_in_year,
    case
        when attendance.person_key is not null or exclusions.person_key is not null
            then coalesce(exclusions.is_permanently_excluded, false)
    end as is_permanently_excluded,
    pupil.sen_provision,
    pupil.is_fsm_eligible,
    -- attainment
    attainment.ks2_reading_writing_maths_expected,
    attainment.ks4_attainment_8::decimal(5, 2) as ks4_attainment_8,
    attainment.ks4_progress_8::decimal(5, 2) as ks4_progress_8,
    attainment.ks4_english_maths_grade_4_or_above,
    -- health of children looked after for 12 months at 31 March (the SSDA903 OC2 cohort); null for others
    case
        when
            cla.is_looked_after_continuously_12_months
            then coalesce(health.has_health_assessment_in_year, false)
    end
        as has_health_assessment_in_year,
    -- null when social care recorded no status by 31 March (the SSD may keep only each child's latest)
    case when cla.is_looked_after_continuously_12_months then immunisations.immunisations_up_to_date end
        as immunisations_up_to_date,
    case
        when cla.is_looked_after_continuously_12_months then coalesce(health.has_dental_check_in_year, false)
    end
        as has_dental_check_in_year,
    case
        when
            cla.is_looked_after_continuously_12_months
            and {{ age_at_31_march('children.birth_month', 'spine.collection_year') }} < 5
            then coalesce(health.has_development_check_in_year, false)
    end as has_development_check_in_year,
    case when cla.is_looked_after_continuously_12_months then health.sdq_score end as sdq_score,
    case when cla.is_looked_after_continuously_12_months then health.sdq_band end as sdq_band,
    case
        when
            cla.is_looked_after_continuously_12_months
            then coalesce(health.has_substance_misuse_in_year, false)
    end
        as has_substance_misuse_in_year,
    case
        when cla.is_looked_after_continuously_12_months
            then coalesce(health.has_health_assessment_any_partner_in_year, false)
    end as has_health_assessment_any_partner_in_year,
    case
        when cla.is_looked_after_continuously_12_months
            then coalesce(health.has_dental_check_any_partner_in_year, false)
    end as has_dental_check_any_partner_in_year,
    coalesce(health.camhs_referrals_in_year, 0) as camhs_referrals_in_year
from spine
inner join years on spine.collection_year = years.collection_year
left join children on spine.person_key = children.person_key
left join cin on spine.person_key = cin.person_key and spine.collection_year = cin.collection_year
left join cp on spine.person_key = cp.person_key and spine.collection_year = cp.collection_year
left join cla on spine.person_key = cla.person_key and spine.collection_year = cla.collection_year
left join
    activity
    on spine.person_key = activity.person_key and spine.collection_year = activity.collection_year
left join missing on spine.person_key = missing.person_key and spine.collection_year = missing.collection_year
left join leavers on spine.person_key = leavers.person_key and spine.collection_year = leavers.collection_year
left join attendance
    on spine.person_key = attendance.person_key and spine.collection_year = attendance.collection_year
left join exclusions
    on spine.person_key = exclusions.person_key and spine.collection_year = exclusions.collection_year
left join pupil on spine.person_key = pupil.person_key and spine.collection_year = pupil.collection_year
left join attainment
    on spine.person_key = attainment.person_key and spine.collection_year = attainment.collection_year
left join health on spine.person_key = health.person_key and spine.collection_year = health.collection_year
left join immunisations
    on spine.person_key = immunisations.person_key and spine.collection_year = immunisations.collection_year
