{#- The child's timeline, each coded detail with its meaning from the code lists (seeds). -#}
with events as (
    select * from {{ ref('int_child_events') }}
),

labels as (
    select
        code_list,
        code,
        label
    from {{ ref('code_labels') }}
    union all
    select
        'reason_for_new_episode' as code_list,
        reason_for_new_episode as code,
        meaning as label
    from {{ ref('reason_for_new_episode_codes') }}
    union all
    select
        'reason_episode_ceased' as code_list,
        reason_episode_ceased as code,
        meaning as label
    from {{ ref('reason_episode_ceased_codes') }}
)

select
    events.event_id,
    events.person_key,
    events.event_date,
    events.partner,
    events.event_type,
    events.source_id,
    events.detail,
    case
        when events.code_list is null then events.detail
        else coalesce(labels.label, events.detail || ' (not a known code)')
    end as detail_label
from events
left join labels on events.code_list = labels.code_list and events.detail = labels.code
