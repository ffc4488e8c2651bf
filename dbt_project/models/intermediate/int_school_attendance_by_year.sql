{#- Attendance by child and collection year, as the DfE's absence statistics count it ("Pupil absence in
    schools in England", docs/adr/0004): every enrolment's sessions in the academic year, those of pupils
    still on roll and of enrolments that ended during it (a pupil who moved school, or was dual registered,
    has the sessions of each enrolment), for pupils of compulsory school age, 5 to 15 at the start of the
    academic year (31 August). The censuses of calendar year Y report the terms of the academic year ending
    in summer Y, paired with the collection year ending 31 March Y; the autumn census reports both halves of
    the summer term.

    Rates: sessions missed over sessions possible; persistently absent at 10% or more of possible sessions
    missed, severely absent at 50% or more (at pupil level, across the pupil's enrolments). -#}
{%- set enrolment_models = [
    'stg_school_census__pupils_on_roll',
    'stg_school_census__pupils_no_longer_on_roll',
] %}

with enrolments as (
    {%- for enrolments in enrolment_models %}
        select
            person_key,
            attendance_academic_year,
            birth_month,
            sessions_possible,
            coalesce(sessions_authorised_absence, 0) as sessions_authorised_absence,
            coalesce(sessions_unauthorised_absence, 0) as sessions_unauthorised_absence
        from {{ ref(enrolments) }}
        where sessions_possible is not null
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

of_compulsory_school_age as (
    select * from enrolments
    where
        birth_month is not null
        and {{ age_at_31_august('birth_month', 'attendance_academic_year - 1') }} between 5 and 15
),

summed as (
    select
        person_key,
        attendance_academic_year as collection_year,
        sum(sessions_possible)::integer as sessions_possible,
        sum(sessions_authorised_absence)::integer as sessions_authorised_absence,
        sum(sessions_unauthorised_absence)::integer as sessions_unauthorised_absence,
        count(*)::integer as enrolment_terms_recorded
    from of_compulsory_school_age
    group by person_key, attendance_academic_year
)

select
    *,
    sessions_authorised_absence + sessions_unauthorised_absence as sessions_missed,
    round((sessions_authorised_absence + sessions_unauthorised_absence) / nullif(sessions_possible, 0), 6)
        as overall_absence_rate,
    round(sessions_authorised_absence / nullif(sessions_possible, 0), 6) as authorised_absence_rate,
    round(sessions_unauthorised_absence / nullif(sessions_possible, 0), 6) as unauthorised_absence_rate,
    case
        when sessions_possible > 0
            then (sessions_authorised_absence + sessions_unauthorised_absence) >= 0.1 * sessions_possible
    end as is_persistently_absent,
    case
        when sessions_possible > 0
            then (sessions_authorised_absence + sessions_unauthorised_absence) >= 0.5 * sessions_possible
    end as is_severely_absent
from summed
