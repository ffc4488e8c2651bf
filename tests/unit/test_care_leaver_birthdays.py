"""Care leavers at their birthdays (SSDA903 OC3), at every edge, by both roads the figures take: the facts the
vault works out for the marts (identity/birthdays.py) and the OC3 table of the SSDA903 built from the same
vault. Each young person is born on 15 June 2006, so the 18th birthday, 15 June 2024, is in collection year
2025."""

import duckdb
import pytest

from orchestration.identity.birthdays import publish_care_leaver_birthdays
from orchestration.ingest.contracts import load_contract_versions
from orchestration.ingest.load import ensure_raw_tables
from orchestration.returns.common import CollectionYear, returns_connection
from orchestration.returns.ssda903.build import build

EXTRACT = "2025-03-31"

# who: (care started, care ceased, reason ceased, contact date, in touch, activity, accommodation, suitable)
YOUNG_PEOPLE = {
    # the contact window runs from three months before the birthday to one month after, both days included
    "first_day": ("2020-01-01", "2024-06-01", "E5", "2024-03-15", "YES", "F2", "D", "1"),
    "day_before": ("2020-01-01", "2024-06-01", "E5", "2024-03-14", "YES", "F2", "D", "1"),
    "last_day": ("2020-01-01", "2024-06-01", "E5", "2024-07-15", "YES", "G5", "U", "2"),
    "day_after": ("2020-01-01", "2024-06-01", "E5", "2024-07-16", "YES", "F2", "D", "1"),
    # left care on the birthday: not yet a care leaver (rule 1016)
    "left_on_birthday": ("2020-01-01", "2024-06-15", "E5", "2024-06-20", "YES", "F2", "D", "1"),
    # 91 days looked after since the 14th birthday (15 June 2020), some since the 16th: relevant
    "ninety_one_days": ("2022-06-14", "2022-09-13", "E4A", "2024-06-15", "YES", "F1", "U", "1"),
    # 90 days: not a relevant care leaver
    "ninety_days": ("2022-06-15", "2022-09-13", "E4A", "2024-06-15", "YES", "F1", "U", "1"),
    # adopted: not this authority's care leaver
    "adopted": ("2020-01-01", "2023-01-01", "E11", "2024-06-15", "YES", "F1", "U", "1"),
}


@pytest.fixture(scope="module")
def vault(tmp_path_factory):
    path = tmp_path_factory.mktemp("birthdays") / "vault.duckdb"
    versions = load_contract_versions()
    with duckdb.connect(str(path)) as con:
        ensure_raw_tables(con, *(versions[name] for name in versions if name.startswith("ssd_")))
        con.execute("create schema identity")
        con.execute(
            "create table identity.record_keys (namespace varchar, record_id varchar, person_key varchar)"
        )
        meta = f"'d1' as _delivery_id, '{EXTRACT}' as _period"
        for n, (who, (started, ceased, reason, contact, touch, activity, place, suitable)) in enumerate(
            YOUNG_PEOPLE.items()
        ):
            con.execute(f"insert into identity.record_keys values ('la_person', '{who}', 'pk_{who}')")
            con.execute(
                f"""insert into raw.ssd_person by name select {meta}, '{who}' as pers_person_id,
                    date '2006-06-15' as pers_dob, 'M' as pers_sex"""
            )
            con.execute(
                f"""insert into raw.ssd_cla_episodes by name select {meta}, 'e{n}' as clae_cla_episode_id,
                    '{who}' as clae_person_id, date '{started}' as clae_cla_episode_start_date, 'S' as
                    clae_cla_episode_start_reason, date '{ceased}' as clae_cla_episode_ceased_date,
                    '{reason}' as clae_cla_episode_ceased_reason"""
            )
            con.execute(
                f"""insert into raw.ssd_legal_status by name select {meta}, 'l{n}' as lega_legal_status_id,
                    '{who}' as lega_person_id, 'C2' as lega_legal_status,
                    date '{started}' as lega_legal_status_start_date"""
            )
            con.execute(
                f"""insert into raw.ssd_care_leavers by name select {meta}, 'c{n}' as clea_table_id,
                    '{who}' as clea_person_id, date '{contact}' as clea_care_leaver_latest_contact,
                    '{touch}' as clea_care_leaver_in_touch, '{activity}' as clea_care_leaver_activity,
                    '{place}' as clea_care_leaver_accommodation, '{suitable}' as clea_care_leaver_accom_suitable"""
            )
    return path


def _marts_facts(vault):
    con = duckdb.connect()
    con.execute(f"attach '{vault}' as vault (read_only)")
    publish_care_leaver_birthdays(con)
    rows = con.execute(
        """select person_key, is_looked_after_on_birthday, is_relevant_care_leaver, care_ceased_reason, in_touch,
                  activity, accommodation, accommodation_suitable
           from pseudonymised.care_leaver_birthdays where birthday_age = 18"""
    ).df()
    return rows.set_index("person_key")


def _oc3(vault):
    con = returns_connection(vault)
    return build(con, CollectionYear(2025))["oc3"].set_index("CHILD")


def test_the_contact_window_is_three_months_before_to_one_month_after_the_birthday(vault):
    facts, oc3 = _marts_facts(vault), _oc3(vault)
    assert facts.loc["pk_first_day", "in_touch"] == "YES"
    assert facts.loc["pk_last_day", "activity"] == "G5"
    assert facts.loc[["pk_day_before", "pk_day_after"], "in_touch"].isna().all()
    # the return says the same: in touch at the window's edges, not in touch (no contact) just outside
    assert oc3.loc["first_day"].tolist()[1:] == ["YES", "F2", "D1"]
    assert oc3.loc["last_day"].tolist()[1:] == ["YES", "G5", "U2"]
    assert oc3.loc["day_before"].tolist()[1:] == ["NO", "0", "0"]
    assert oc3.loc["day_after"].tolist()[1:] == ["NO", "0", "0"]


def test_who_is_a_care_leaver_at_the_birthday(vault):
    facts, oc3 = _marts_facts(vault), _oc3(vault)
    assert bool(facts.loc["pk_left_on_birthday", "is_looked_after_on_birthday"])
    assert bool(facts.loc["pk_ninety_one_days", "is_relevant_care_leaver"])
    assert not bool(facts.loc["pk_ninety_days", "is_relevant_care_leaver"])
    assert facts.loc["pk_adopted", "care_ceased_reason"] == "E11"
    assert sorted(oc3.index) == sorted(
        ["first_day", "day_before", "last_day", "day_after", "ninety_one_days"]
    )
    assert oc3.loc["ninety_one_days"].tolist()[1:] == ["YES", "F1", "U1"]
