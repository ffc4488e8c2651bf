select
    event_id,
    person_key,
    event_date,
    partner,
    event_type,
    source_id,
    detail
from {{ ref('int_child_events') }}
