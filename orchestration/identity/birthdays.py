"""Facts about a child that need the day they were born, worked out in the vault and copied to analytics
without it.

The analytics file holds a month of birth, never a date (docs/adr/0003). One DfE measure cannot be computed
from a month: the SSDA903 OC3 follows up care leavers around their 17th to 21st birthdays, and who is a care
leaver, and which contact counts, turn on the day. So the vault works out, for each 17th to 21st birthday
up to the latest extract, the facts that need the day, and ``pseudonymised.care_leaver_birthdays`` holds
those facts by person_key: no date, nothing finer than the collection year of the birthday. The measures
themselves (in touch, in education, employment or training, suitably accommodated) are worked out from
them in dbt (int_care_leavers_by_year); docs/adr/0004 has the definition.

For each birthday:

- ``is_looked_after_on_birthday``: in an episode of care on the day, counting the day care ceased (a young
  person who leaves care on the birthday is not yet a care leaver for the OC3: validator rule 1016);
- ``is_relevant_care_leaver``: looked after for at least 13 weeks (91 days) since the 14th birthday, at
  least one day of it since the 16th, counting care before the birthday (agreed short breaks, legal status
  V3 or V4, are not care): the DfE's relevant and former relevant children, as validator rule 1001 tests;
- ``care_ceased_reason``: why the last period of care before the birthday ended (an adopted child, E11 or
  E12, one who died, E2, or whose care passed to another authority, E3, is not the authority's care
  leaver);
- the status recorded at the contact nearest the birthday within three months before it to one month after
  (the SSDA903 OC3 window), or nulls when no contact falls in the window: in touch, activity,
  accommodation and whether it is suitable, as recorded.
"""

from __future__ import annotations

import duckdb

from orchestration.identity.pseudonymise import ANALYTICS_SCHEMA

TABLE = f"{ANALYTICS_SCHEMA}.care_leaver_birthdays"
SOURCES = ("ssd_person", "ssd_cla_episodes", "ssd_legal_status", "ssd_care_leavers")
CARE_LEAVER_AGES = (17, 18, 19, 20, 21)
SHORT_BREAKS = ("V3", "V4")


def _latest(vault: str, table: str) -> str:
    return (
        f"(select * from {vault}.raw.{table} where _period = (select max(_period) from {vault}.raw.{table}))"
    )


def care_leaver_birthdays_sql(vault: str = "vault") -> str:
    ages = ", ".join(f"({a})" for a in CARE_LEAVER_AGES)
    short = ", ".join(f"'{c}'" for c in SHORT_BREAKS)
    return f"""
        with extract as (
            select max(_period)::date as extract_date from {vault}.raw.ssd_cla_episodes
        ),
        keys as (
            select record_id, person_key from {vault}.identity.record_keys where namespace = 'la_person'
        ),
        -- by child (person_key), not by LA person id: a child recorded twice has one care history
        persons as (
            select k.person_key as person_id, min(p.pers_dob)::date as dob
            from {_latest(vault, "ssd_person")} p join keys k on k.record_id = p.pers_person_id
            where p.pers_dob is not null group by k.person_key
        ),
        statuses as (
            select k.person_key as person_id, s.lega_legal_status as legal_status,
                   s.lega_legal_status_start_date as status_from, s.lega_legal_status_end_date as status_to
            from {_latest(vault, "ssd_legal_status")} s join keys k on k.record_id = s.lega_person_id
        ),
        episodes as (
            select k.person_key as person_id, e.clae_cla_episode_id as episode_id,
                   e.clae_cla_episode_start_date as started, e.clae_cla_episode_ceased_date as ceased,
                   nullif(e.clae_cla_episode_ceased_reason, '') as ceased_reason,
                   arg_max(s.legal_status, s.status_from) as legal_status
            from {_latest(vault, "ssd_cla_episodes")} e join keys k on k.record_id = e.clae_person_id
            left join statuses s
              on s.person_id = k.person_key and s.status_from <= e.clae_cla_episode_start_date
             and (s.status_to is null or e.clae_cla_episode_start_date < s.status_to)
            group by all
        ),
        care as (
            select * from episodes where coalesce(legal_status, '') not in ({short})
        ),
        birthdays as (
            select p.person_id, p.dob, a.age, (p.dob + to_years(a.age))::date as birthday
            from persons p cross join (values {ages}) a(age) cross join extract x
            where (p.dob + to_years(a.age))::date <= x.extract_date
        ),
        histories as (
            select b.person_id, b.age, b.birthday,
                   sum(greatest(0, date_diff('day', greatest(c.started, (b.dob + interval 14 year)::date),
                                             least(coalesce(c.ceased, b.birthday), b.birthday))))
                       as days_since_14th_birthday,
                   sum(greatest(0, date_diff('day', greatest(c.started, (b.dob + interval 16 year)::date),
                                             least(coalesce(c.ceased, b.birthday), b.birthday))))
                       as days_since_16th_birthday,
                   bool_or(c.started <= b.birthday and (c.ceased is null or c.ceased >= b.birthday))
                       as is_looked_after_on_birthday,
                   arg_max(c.ceased_reason, c.ceased) filter (where c.ceased <= b.birthday) as care_ceased_reason
            from birthdays b join care c on c.person_id = b.person_id and c.started <= b.birthday
            group by b.person_id, b.age, b.birthday
        ),
        contacts as (
            select h.person_id, h.age, l.clea_care_leaver_in_touch as in_touch,
                   l.clea_care_leaver_activity as activity, l.clea_care_leaver_accommodation as accommodation,
                   l.clea_care_leaver_accom_suitable as accommodation_suitable
            from histories h
            join keys k on k.person_key = h.person_id
            join {_latest(vault, "ssd_care_leavers")} l
              on l.clea_person_id = k.record_id
             and l.clea_care_leaver_latest_contact
                 between (h.birthday - interval 3 month)::date and (h.birthday + interval 1 month)::date
            qualify row_number() over (
                partition by h.person_id, h.age
                order by abs(date_diff('day', l.clea_care_leaver_latest_contact, h.birthday)), l.clea_table_id desc
            ) = 1
        )
        select h.person_id as person_key, h.age as birthday_age,
               (year(h.birthday) + case when month(h.birthday) > 3 then 1 else 0 end)::integer as collection_year,
               h.is_looked_after_on_birthday,
               h.days_since_14th_birthday >= 91 and h.days_since_16th_birthday >= 1 as is_relevant_care_leaver,
               h.care_ceased_reason,
               c.in_touch, c.activity, c.accommodation, c.accommodation_suitable
        from histories h
        left join contacts c on c.person_id = h.person_id and c.age = h.age
        order by h.person_id, h.age"""


def publish_care_leaver_birthdays(con: duckdb.DuckDBPyConnection, vault: str = "vault") -> int:
    """Replace ``pseudonymised.care_leaver_birthdays`` in the analytics file (``con``, with the vault
    attached as ``vault``); returns its rows. With no SSD extract yet, the table is empty."""
    con.execute(f"create schema if not exists {ANALYTICS_SCHEMA}")
    present = {
        t
        for (t,) in con.execute(
            f"select table_name from duckdb_tables() where database_name = '{vault}' and schema_name = 'raw'"
        ).fetchall()
    }
    if all(source in present for source in SOURCES):
        con.execute(f"create or replace table {TABLE} as {care_leaver_birthdays_sql(vault)}")
    else:
        con.execute(
            f"""create or replace table {TABLE} (person_key varchar, birthday_age integer,
                collection_year integer, is_looked_after_on_birthday boolean, is_relevant_care_leaver boolean,
                care_ceased_reason varchar, in_touch varchar, activity varchar, accommodation varchar,
                accommodation_suitable varchar)"""
        )
    return con.execute(f"select count(*) from {TABLE}").fetchall()[0][0]
