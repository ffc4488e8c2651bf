{#- The spine of the outcomes mart: every child and collection year in which any partner recorded them. -#}
select
    person_key,
    collection_year
from {{ ref('int_looked_after_by_year') }}
union
select
    person_key,
    collection_year
from {{ ref('int_school_attendance_by_year') }}
union
select
    person_key,
    collection_year
from {{ ref('int_health_assessments_by_year') }}
