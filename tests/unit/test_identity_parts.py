"""The parts of identity that need no authority: pseudonyms, clustering, the audit log."""

import hashlib
import hmac
import json

import duckdb
import pytest

from orchestration import audit
from orchestration.identity.cluster import connected_components, constrained_clusters
from orchestration.identity.pseudonyms import (
    KEY_ENV,
    PseudonymKey,
    PseudonymKeyError,
    hmac_sql,
    install_hmac,
    pseudonym_key,
)

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
    assert audit.verify(path).entries == 2  # the file alone looks whole
    with pytest.raises(audit.AuditLogError, match="entries were removed"):
        audit.verify(path, con)
