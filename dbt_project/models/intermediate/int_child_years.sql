{#- The spine of the outcomes mart: every child and collection year in which any partner recorded them. -#}
select
    person_key,
    collection_year
from {{ ref('int_cin_by_year') }}
union
select
    person_key,
    collection_year
from {{ ref('int_cp_by_year') }}
union
select
    person_key,
    collection_year
from {{ ref('int_looked_after_by_year') }}
union
select
    person_key,
    collection_year
from {{ ref('int_social_care_by_year') }}
union
select
    person_key,
    collection_year
from {{ ref('int_missing_by_year') }}
union
select
    person_key,
    collection_year
from {{ ref('int_care_leavers_by_year') }}
union
select
    person_key,
    collection_year
from {{ ref('int_school_attendance_by_year') }}
union
select
    person_key,
    collection_year
from {{ ref('int_exclusions_by_year') }}
union
select
    person_key,
    collection_year
from {{ ref('int_school_characteristics_by_year') }}
union
select
    person_key,
    collection_year
from {{ ref('int_attainment_by_year') }}
union
select
    person_key,
    collection_year
from {{ ref('int_health_by_year') }}
