"""The parts of identity that need no authority: pseudonyms, clustering, the audit log."""

import hashlib
import hmac
import json

import duckdb
import pytest

from orchestration import audit
from orchestration.identity.cluster import connected_components, constrained_clusters
from orchestration.identity.integrity import persons_holding_two_children
from orchestration.identity.linkage import EXCLUSIVE_SQL, _contested_identifiers, _deterministic_groups
from orchestration.identity.pseudonyms import (
    KEY_ENV,
    PseudonymKey,
    PseudonymKeyError,
    hmac_sql,
    install_hmac,
    pseudonym_key,
)
from orchestration.identity.records import IDENTITY_SCHEMA_DDL
from orchestration.identity.review import DECISIONS_DDL

# --- pseudonyms -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "secret", [b"k" * 32, b"a much longer key " * 8], ids=["short", "longer-than-a-block"]
)
def test_sql_hmac_is_rfc_2104_hmac_sha256(secret):
    key = PseudonymKey(secret, throwaway=False)
    con = duckdb.connect()
    install_hmac(con, key)
    values = ["9434765919", "A123456789012", "", None]
    got = con.execute(f"select {hmac_sql('v', 'nhs')} from (select unnest(?) as v)", [values]).fetchall()
    expected = [
        hmac.new(secret, f"nhs:{v}".encode(), hashlib.sha256).hexdigest() if v is not None else None
        for v in values
    ]
    assert [g[0] for g in got] == expected
    assert key.pseudonym("nhs", "9434765919") == expected[0]


def test_a_domain_tag_keeps_identifiers_of_different_kinds_apart():
    key = PseudonymKey(b"k" * 32, throwaway=False)
    assert key.pseudonym("nhs", "1234567890") != key.pseudonym("upn", "1234567890")


def test_the_key_comes_from_the_environment_or_is_a_throwaway_that_says_so(monkeypatch):
    pseudonym_key.cache_clear()
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.warns(UserWarning, match="throwaway pseudonym key"):
        throwaway = pseudonym_key()
    assert throwaway.throwaway
    pseudonym_key.cache_clear()
    monkeypatch.setenv(KEY_ENV, "x" * 40)
    assert pseudonym_key() == PseudonymKey(b"x" * 40, throwaway=False)
    assert "x" * 40 not in repr(pseudonym_key())
    pseudonym_key.cache_clear()
    monkeypatch.setenv(KEY_ENV, "too short")
    with pytest.raises(PseudonymKeyError, match="at least 32"):
        pseudonym_key()
    pseudonym_key.cache_clear()


# --- clustering -------------------------------------------------------------------------------------


def _components(con, table="_out"):
    groups: dict[int, set[int]] = {}
    for node, component in con.execute(f"select node, component from {table}").fetchall():
        groups.setdefault(component, set()).add(node)
    return sorted(sorted(g) for g in groups.values())


def test_connected_components_of_a_long_chain_and_an_island():
    con = duckdb.connect()
    con.execute("create table n as select range as node from range(1, 42)")
    con.execute("create table e as select range as a, range + 1 as b from range(1, 40)")  # 1-2-...-40
    connected_components(con, "select node from n", "select a, b from e", "_out")
    assert _components(con) == [list(range(1, 41)), [41]]


def test_constraints_keep_two_children_of_one_census_apart_but_strong_links_still_join():
    """Twins 1 and 2 each appear in census delivery C; a health record (3) scores high against both.
    At the link threshold all three chain together, which would put two census rows in one person: the
    group is formed again from stronger edges, and the health record joins the twin it matches best."""
    con = duckdb.connect()
    con.execute("create table n as select * from (values (1), (2), (3), (4), (5)) t(node)")
    con.execute(
        "create table e as select * from (values (1, 3, 0.999), (2, 3, 0.96), (4, 5, 0.97)) t(a, b, p)"
    )
    con.execute("create table x as select * from (values (1, 'C'), (2, 'C')) t(node, grp)")
    con.execute("create table k as select * from (values (4, 5)) t(a, b)")
    stats = constrained_clusters(
        con, "select node from n", "select * from e", "select * from x", "select * from k", 0.95, "_out"
    )
    assert _components(con) == [[1, 3], [2], [4], [5]]  # 4 and 5: a reviewer said they differ
    assert stats["held_apart"] == 0


# --- strong identifiers that name two children ---------------------------------------------------------

_RECORD = (
    "(rid, namespace, record_id, dataset, exclusive_group, nhs_token, upn_token, former_upn_token, sex, dob)"
)


def _records(con, rows):
    con.execute(IDENTITY_SCHEMA_DDL)
    con.execute(DECISIONS_DDL)
    con.execute(
        """create or replace table identity.person_records (rid bigint, namespace varchar, record_id varchar,
           dataset varchar, delivery_id varchar, exclusive_group varchar, nhs_token varchar,
           upn_token varchar, former_upn_token varchar, forename varchar, surname varchar, dob date,
           sex varchar, postcode varchar)"""
    )
    con.executemany(
        f"insert into identity.person_records {_RECORD} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
    )


def _groups(con):
    _contested_identifiers(con)
    _deterministic_groups(con)
    con.execute("create or replace temp table _g as select rid as node, dc as component from _dc")
    return _components(con, "_g")


def test_a_temporary_upn_given_to_two_children_of_one_census_joins_neither_to_the_other():
    """Seen at scale 0.25: a girl and a boy were issued one temporary UPN at the same school. Both census
    rows carry it, and each child's later rows carry it as the former UPN. It still joins each child's own
    rows (same date of birth and sex) but never the two children."""
    con = duckdb.connect()
    _records(
        con,
        [
            # census 1: both children on the shared temporary UPN T
            (1, "pupil", "r1", "census", "C1", None, "T", None, "F", "2016-10-21"),
            (2, "pupil", "r2", "census", "C1", None, "T", None, "M", "2017-02-11"),
            # census 2: each on a permanent UPN, with T as the former UPN
            (3, "pupil", "r3", "census", "C2", None, "P1", "T", "F", "2016-10-21"),
            (4, "pupil", "r4", "census", "C2", None, "P2", "T", "M", "2017-02-11"),
            # social care knows the boy by his permanent UPN and an NHS number
            (5, "la_person", "7", "ssd_person", None, "N2", "P2", None, "M", "2017-02-11"),
            # a health record with the girl's NHS number only
            (6, "health", "h1", "camhs", None, "N1", None, None, "F", "2016-10-21"),
            (7, "health", "h2", "camhs", None, "N1", None, None, "F", "2016-10-21"),
        ],
    )
    assert _contested_identifiers(con) == 1  # T, as a UPN and as a former UPN
    assert _groups(con) == [[1, 3], [2, 4, 5], [6, 7]]


def test_an_uncontested_identifier_still_joins_records_that_disagree_on_everything_else():
    con = duckdb.connect()
    _records(
        con,
        [
            (1, "pupil", "r1", "census", "C1", None, "U", None, "F", "2016-10-21"),
            (2, "health", "h1", "camhs", None, None, "U", None, None, None),  # nothing else known
            (3, "pupil", "r9", "census", "C2", None, "V", "U", "F", "2016-10-12"),  # a typo in the date
        ],
    )
    assert _contested_identifiers(con) == 0
    assert _groups(con) == [[1, 2, 3]]


def test_a_record_with_no_identifier_cannot_bridge_two_children_with_different_nhs_numbers():
    """Seen at scale 1: two girls of one name born on one day, each with her own NHS number and UPN. One
    census row of the second girl had lost its UPN; it scored 0.998 against each girl's records (name, date
    of birth and sex, nothing against), and the chain made the two girls one person. Groups with different
    NHS numbers, or different UPNs, are now never one person; a record without any identifier next to a
    group without one (the authority's second record of a child) still joins it."""
    con = duckdb.connect()
    _records(
        con,
        [
            (1, "la_person", "11", "ssd_person", None, "N1", "U1", None, "F", "2012-07-08"),  # the first girl
            (2, "la_person", "22", "ssd_person", None, "N2", "U2", None, "F", "2012-07-08"),  # the second
            (3, "pupil", "p1", "census", "C1", None, "U2", None, "F", "2012-07-08"),
            (4, "pupil", "p2", "census", "C2", None, None, None, "F", "2012-07-08"),  # her row without a UPN
            (5, "la_person", "33", "ssd_person", None, "N3", "U3", None, "M", "2010-01-01"),  # a boy
            (
                6,
                "la_person",
                "34",
                "ssd_person",
                None,
                None,
                None,
                None,
                "M",
                "2010-01-01",
            ),  # his second record
            (7, "pupil", "p3", "census", "C2", None, None, None, "M", "2010-01-01"),  # his row without a UPN
            # two more look-alikes: one known to social care by her UPN, the other a pupil with another UPN
            (8, "la_person", "44", "ssd_person", None, "N4", "U4", None, "F", "2013-09-14"),
            (9, "pupil", "p4", "census", "C3", None, "U5", None, "F", "2013-09-14"),
        ],
    )
    _contested_identifiers(con)
    assert _groups(con) == [[1], [2, 3], [4], [5], [6], [7], [8], [9]]
    con.execute("create table n as select distinct dc as node from _dc")
    dc = dict(con.execute("select rid, dc from _dc").fetchall())
    con.execute(
        "create table e as select * from (values (?, ?, 0.998), (?, ?, 0.998), (?, ?, 0.998), (?, ?, 0.97),"
        " (?, ?, 0.988)) t(a, b, p)",
        [dc[4], dc[1], dc[4], dc[2], dc[7], dc[5], dc[6], dc[7], dc[8], dc[9]],
    )
    constrained_clusters(
        con, "select node from n", "select * from e", EXCLUSIVE_SQL, "select 0 as a, 0 as b", 0.95, "_out"
    )
    con.execute(
        "create table _r as select d.rid as node, o.component from _dc d join _out o on o.node = d.dc"
    )
    assert _components(con, "_r") == [[1], [2, 3], [4], [5, 6, 7], [8], [9]]


def _keyed(con, keys):
    con.executemany("insert into identity.record_keys values (?, ?, ?, now())", keys)


def test_the_integrity_check_finds_two_children_in_one_person_and_passes_one_child():
    con = duckdb.connect()
    _records(
        con,
        [
            # person A: two rows of one census
            (1, "pupil", "r1", "census", "C1", None, "U1", None, "F", "2016-10-21"),
            (2, "pupil", "r2", "census", "C1", None, "U2", None, "F", "2016-10-21"),
            # person B: a boy and a girl with different dates of birth, joined through a third record
            (3, "pupil", "r3", "census", "C2", None, "U3", None, "M", "2017-02-11"),
            (4, "health", "h4", "camhs", None, "N4", None, None, "F", "2016-10-21"),
            # person C: sex and date disagree, but they share an NHS number nobody contests: one child
            (5, "health", "h5", "camhs", None, "N5", None, None, "M", "2015-01-02"),
            (6, "health", "h6", "dental", None, "N5", None, None, "F", "2015-01-09"),
            # person D: sex differs, the date is a day/month swap: one child with a typo
            (7, "pupil", "r7", "census", "C3", None, "U7", None, "M", "2014-03-04"),
            (8, "health", "h8", "camhs", None, None, None, None, "F", "2014-04-03"),
        ],
    )
    _keyed(
        con,
        [
            ("pupil", "r1", "pk_A"),
            ("pupil", "r2", "pk_A"),
            ("pupil", "r3", "pk_B"),
            ("health", "h4", "pk_B"),
            ("health", "h5", "pk_C"),
            ("health", "h6", "pk_C"),
            ("pupil", "r7", "pk_D"),
            ("health", "h8", "pk_D"),
        ],
    )
    found = persons_holding_two_children(con)
    assert sorted(zip(found.person_key, found.problem, strict=True)) == [
        ("pk_A", "two records of one delivery that lists each child once"),
        ("pk_B", "different sex and date of birth, no identifier in common"),
    ]


# --- the audit log ----------------------------------------------------------------------------------


def _log_with_three(tmp_path):
    path = tmp_path / "audit" / "log"
    con = duckdb.connect(str(tmp_path / "vault.duckdb"))
    for i in range(3):
        audit.append(path, con, "subject_access_search", {"kind": "upn", "term_pseudonym": f"t{i}"})
    return path, con


def test_the_audit_log_verifies_when_untouched(tmp_path):
    path, con = _log_with_three(tmp_path)
    assert audit.verify(path, con).entries == 3


def test_an_edited_entry_is_detected(tmp_path):
    path, con = _log_with_three(tmp_path)
    lines = path.read_text().splitlines()
    entry = json.loads(lines[1])
    entry["term_pseudonym"] = "someone else"
    lines[1] = json.dumps(entry, sort_keys=True)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(audit.AuditLogError, match="entry 2 has been altered"):
        audit.verify(path, con)
    with pytest.raises(audit.AuditLogError):  # and nothing more is written to an altered log
        audit.append(path, con, "subject_access_search", {})


def test_a_deleted_entry_is_detected(tmp_path):
    path, con = _log_with_three(tmp_path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], lines[2]]) + "\n")
    with pytest.raises(audit.AuditLogError, match="entry 2 is missing"):
        audit.verify(path, con)


def test_entries_cut_off_the_end_are_detected_by_the_head_in_the_vault(tmp_path):
    path, con = _log_with_three(tmp_path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:2]) + "\n")
    with pytest.raises(audit.AuditLogError, match=r"log\.head records entry 3: entries were removed"):
        audit.verify(path)  # the anchor beside the log
    audit.anchor_path(path).unlink()  # and without the anchor, the vault
    with pytest.raises(audit.AuditLogError, match="the vault records entry 3: entries were removed"):
        audit.verify(path, con)
