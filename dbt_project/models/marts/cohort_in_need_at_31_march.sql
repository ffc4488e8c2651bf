{#- Children in need at 31 March (an open episode of need; NFA referrals are not episodes), as the CIN
    census counts them, with whether they were also on a child protection plan or looked after. -#}
select
    person_key,
    collection_year,
    age_at_31_march,
    is_on_cp_plan_at_31_march,
    is_looked_after_at_31_march
from {{ ref('fct_child_outcomes_by_year') }}
where is_in_need_at_31_march
