{#- Every dated event about a child, from every partner: the child's timeline; a detail that is a code
    names the code list it comes from. -#}
with events as (
    select
        person_key,
        referral_date as event_date,
        'social_care' as partner,
        'referral' as event_type,
        referral_id as source_id,
        case when is_no_further_action then 'no further action' end as detail,
        null as code_list
    from {{ ref('stg_ssd__referrals') }}
    union all
    select
        person_key,
        assessment_authorised_date as event_date,
        'social_care' as partner,
        'assessment completed' as event_type,
        assessment_id as source_id,
        null as detail,
        null as code_list
    from {{ ref('stg_ssd__assessments') }}
    where assessment_authorised_date is not null
    union all
    select
        person_key,
        s47_start_date as event_date,
        'social_care' as partner,
        'section 47 enquiry started' as event_type,
        s47_enquiry_id as source_id,
        null as detail,
        null as code_list
    from {{ ref('stg_ssd__s47_enquiries') }}
    union all
    select
        person_key,
        icpc_date as event_date,
        'social_care' as partner,
        'initial child protection conference' as event_type,
        icpc_id as source_id,
        null as detail,
        null as code_list
    from {{ ref('stg_ssd__initial_cp_conferences') }}
    where icpc_date is not null
    union all
    select
        person_key,
        cp_plan_start_date as event_date,
        'social_care' as partner,
        'child protection plan started' as event_type,
        cp_plan_id as source_id,
        initial_category_of_abuse as detail,
        'category_of_abuse' as code_list
    from {{ ref('stg_ssd__cp_plans') }}
    union all
    select
        person_key,
        cp_plan_end_date as event_date,
        'social_care' as partner,
        'child protection plan ended' as event_type,
        cp_plan_id as source_id,
        null as detail,
        null as code_list
    from {{ ref('stg_ssd__cp_plans') }}
    where cp_plan_end_date is not null
    union all
    select
        person_key,
        episode_start_date as event_date,
        'social_care' as partner,
        'care episode started' as event_type,
        episode_id as source_id,
        reason_for_new_episode as detail,
        'reason_for_new_episode' as code_list
    from {{ ref('stg_ssd__cla_episodes') }}
    union all
    select
        person_key,
        episode_end_date as event_date,
        'social_care' as partner,
        'care episode ceased' as event_type,
        episode_id as source_id,
        reason_episode_ceased as detail,
        'reason_episode_ceased' as code_list
    from {{ ref('stg_ssd__cla_episodes') }}
    where episode_end_date is not null
    union all
    select
        person_key,
        contact_date as event_date,
        'social_care' as partner,
        'contact' as event_type,
        contact_id as source_id,
        contact_source as detail,
        'referral_source' as code_list
    from {{ ref('stg_ssd__contacts') }}
    union all
    select
        person_key,
        early_help_start_date as event_date,
        'social_care' as partner,
        'early help assessment started' as event_type,
        early_help_episode_id as source_id,
        null as detail,
        null as code_list
    from {{ ref('stg_ssd__early_help_episodes') }}
    union all
    select
        person_key,
        assessment_start_date as event_date,
        'social_care' as partner,
        'assessment started' as event_type,
        assessment_id as source_id,
        null as detail,
        null as code_list
    from {{ ref('stg_ssd__assessments') }}
    where assessment_start_date is not null
    union all
    select
        person_key,
        closed_date as event_date,
        'social_care' as partner,
        'children in need episode closed' as event_type,
        referral_id as source_id,
        closure_reason as detail,
        'cin_closure_reason' as code_list
    from {{ ref('stg_ssd__referrals') }}
    where closed_date is not null
    union all
    select
        person_key,
        adoption_decision_date as event_date,
        'social_care' as partner,
        'decision to place for adoption' as event_type,
        permanence_id as source_id,
        null as detail,
        null as code_list
    from {{ ref('stg_ssd__permanence') }}
    where adoption_decision_date is not null
    union all
    select
        person_key,
        decision_reversed_date as event_date,
        'social_care' as partner,
        'adoption decision reversed' as event_type,
        permanence_id as source_id,
        null as detail,
        null as code_list
    from {{ ref('stg_ssd__permanence') }}
    where decision_reversed_date is not null
    union all
    select
        person_key,
        permanence_order_date as event_date,
        'social_care' as partner,
        'permanence order' as event_type,
        permanence_id as source_id,
        permanence_order_type as detail,
        null as code_list
    from {{ ref('stg_ssd__permanence') }}
    where permanence_order_date is not null
    union all
    select
        person_key,
        latest_contact_date as event_date,
        'social_care' as partner,
        'care leaver contact' as event_type,
        care_leaver_record_id as source_id,
        in_touch as detail,
        'care_leaver_in_touch' as code_list
    from {{ ref('stg_ssd__care_leavers') }}
    where latest_contact_date is not null
    union all
    select
        person_key,
        missing_start_date as event_date,
        'social_care' as partner,
        'went ' || missing_type as event_type,
        missing_episode_id as source_id,
        null as detail,
        null as code_list
    from {{ ref('stg_ssd__missing_episodes') }}
    union all
    select
        person_key,
        exclusion_start_date as event_date,
        'schools' as partner,
        'exclusion' as event_type,
        exclusion_id as source_id,
        exclusion_category as detail,
        'exclusion_category' as code_list
    from {{ ref('stg_school_census__exclusions') }}
    where exclusion_start_date is not null
    union all
    select
        person_key,
        entry_date as event_date,
        'schools' as partner,
        'joined school' as event_type,
        school_id as source_id,
        null as detail,
        null as code_list
    from {{ ref('stg_school_census__pupils_on_roll') }}
    where entry_date is not null
    union all
    select
        person_key,
        assessment_date as event_date,
        'health' as partner,
        assessment_type || ' health assessment' as event_type,
        assessment_id as source_id,
        outcome as detail,
        null as code_list
    from {{ ref('stg_health__health_assessments') }}
    union all
    select
        person_key,
        dental_check_date as event_date,
        'health' as partner,
        'dental check' as event_type,
        dental_check_id as source_id,
        null as detail,
        null as code_list
    from {{ ref('stg_health__dental_checks') }}
    union all
    select
        person_key,
        camhs_referral_date as event_date,
        'health' as partner,
        'CAMHS referral' as event_type,
        camhs_referral_id as source_id,
        outcome as detail,
        null as code_list
    from {{ ref('stg_health__camhs_referrals') }}
    union all
    select
        person_key,
        sdq_completed_date as event_date,
        'health' as partner,
        'SDQ completed' as event_type,
        sdq_id as source_id,
        sdq_score::varchar as detail,
        null as code_list
    from {{ ref('stg_health__sdq_scores') }}
)

select distinct on (person_key, partner, event_type, source_id, event_date)
    md5(concat_ws('|', person_key, partner, event_type, source_id, event_date)) as event_id,
    person_key,
    event_date,
    partner,
    event_type,
    source_id,
    detail,
    code_list
from events
where event_date is not null
order by person_key, partner, event_type, source_id, event_date
