"""Drills written from an attacker's (or a careless operator's) side: each one failed on the code before
the hardening of issue 14 and must keep failing to get in now."""

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from orchestration.ingest import sources
from orchestration.ingest.archive import receive
from orchestration.ingest.contracts import load_contracts
from orchestration.ingest.load import load_delivery

CAMHS_HEADER = (
    "referral_id,nhs_number,forename,surname,date_of_birth,sex,postcode,referral_date,referral_source,"
    "outcome,first_appointment_date"
)


def _camhs(rows: int, outcome_of_second: str = "seen") -> str:
    lines = [CAMHS_HEADER]
    for i in range(rows):
        outcome = outcome_of_second if i == 1 else "seen"
        lines.append(f"R{i},9990000018,Amy,Smith,01/02/2015,F,DY1 4QT,01/03/2024,GP,{outcome},")
    return "\n".join(lines) + "\n"


def _ingest(paths):
    contracts = load_contracts()
    with duckdb.connect(str(paths.vault_db)) as con:
        receive(con, paths.landing, paths.archive, contracts)
        pending = con.execute(
            "select delivery_id, dataset, archive_path, period, file_name from ingest.deliveries"
            " where status = 'received' order by received_at"
        ).fetchall()
        return [
            load_delivery(con, contracts[ds], d, Path(a), p, f, paths.warehouse) for d, ds, a, p, f in pending
        ]


def _vault(paths, sql, params=None):
    with duckdb.connect(str(paths.vault_db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _deliver(paths, relative: str, data: str | bytes) -> Path:
    path = paths.landing / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


# --- row loss -----------------------------------------------------------------------------------------


def test_a_50_mb_field_is_quarantined_with_its_line_not_lost(home):
    # DuckDB's reader skips, without a word, a record longer than its read buffer
    _deliver(home, "health/camhs_referrals/camhs_referrals_2024-03.csv", _camhs(20, "x" * (50 << 20)))
    [outcome] = _ingest(home)
    assert outcome.rows_in_file == 20
    assert (outcome.rows_loaded, outcome.rows_quarantined, outcome.rows_duplicate) == (19, 1, 0)
    [(line, rule, message)] = _vault(home, "select line_number, rule, message from ingest.quarantine")
    assert (line, rule) == (3, "malformed:oversized_record")
    assert "'outcome'" in message and "52,428,800 bytes" in message
    loaded = _vault(home, "select referral_id from raw.camhs_referrals order by _source_line")
    assert [r[0] for r in loaded] == [f"R{i}" for i in range(20) if i != 1]


def test_a_row_the_reader_loses_without_a_word_fails_the_delivery_naming_its_line(home, monkeypatch):
    # whatever the cause, the count of records comes from the bytes, not from the reader
    real = sources._stage_text

    def losing_a_row(con, temp, source, names):
        real(con, temp, source, names)
        con.execute(f"delete from {temp}_text where rowid in (4, 11)")  # the 5th and 12th records

    monkeypatch.setattr(sources, "_stage_text", losing_a_row)
    _deliver(home, "health/camhs_referrals/camhs_referrals_2024-03.csv", _camhs(20))
    [outcome] = _ingest(home)
    assert outcome.status == "failed"
    assert (outcome.rows_in_file, outcome.rows_loaded, outcome.rows_quarantined) == (20, 0, 20)
    assert "holds 20 rows, but the CSV reader returned 18" in outcome.detail
    assert "the rows it did not return are on lines 6, 13." in outcome.detail


# --- formula injection ----------------------------------------------------------------------------------

PAYLOADS = [
    '=HYPERLINK("http://x","y")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "-2+3+cmd|' /C calc'!A0",
    "\t=1+1",
]


def _csv_field(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def test_formula_payloads_in_a_partners_file_reach_no_feedback_file_as_a_formula(home):
    import csv

    import openpyxl

    from orchestration.ingest.report import write_error_report

    lines = [CAMHS_HEADER]
    for i, payload in enumerate(PAYLOADS):  # a date that is no date: quarantined, its value reported
        lines.append(f"R{i},9990000018,Amy,Smith,01/02/2015,F,DY1 4QT,{_csv_field(payload)},GP,seen,")
    _deliver(home, "health/camhs_referrals/=1+2 x 2024-03.csv", "\n".join(lines) + "\n")
    [outcome] = _ingest(home)
    assert outcome.rows_quarantined == len(PAYLOADS)
    with duckdb.connect(str(home.vault_db)) as con:
        csv_path, xlsx_path = write_error_report(con, outcome.delivery_id, home.feedback)

    with csv_path.open(encoding="utf-8-sig", newline="") as fh:
        cells = [cell for row in csv.reader(fh) for cell in row]
    for payload in PAYLOADS:
        assert payload not in cells  # not verbatim,
        assert "'" + payload in cells  # but quoted as text, as OWASP says
    assert "'=1+2 x 2024-03.csv" in cells
    assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r") or (c[:1] == "-" and c[1:2] != "")]

    book = openpyxl.load_workbook(xlsx_path)  # not read-only: data_type is what Excel would see
    seen = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    assert cell.data_type == "s", (sheet.title, cell.coordinate, cell.value)
                    assert not cell.value.startswith(("=", "+", "-", "@", "\t")), cell.value
                    seen.append(cell.value)
    summary_file = book["Summary"]["B1"].value
    assert summary_file == "'=1+2 x 2024-03.csv"
    for payload in PAYLOADS:
        assert "'" + payload in seen


def test_a_plain_negative_number_is_no_formula_and_is_left_alone():

    from orchestration.cells import safe_frame, safe_text

    assert safe_text("-3") == "-3" and safe_text("+0.5") == "+0.5"
    assert safe_text("-3+cmd") == "'-3+cmd"
    assert safe_text("\uff1dSUM(1)") == "'\uff1dSUM(1)"  # a full-width equals sign
    frame = safe_frame(pd.DataFrame({"=a": ["=1", "x", None], "n": [-1, 2, 3]}))
    assert list(frame.columns) == ["'=a", "n"]
    assert frame["'=a"].tolist()[:2] == ["'=1", "x"] and pd.isna(frame["'=a"].iloc[2])
    assert frame["n"].tolist() == [-1, 2, 3]


# --- files on disk ----------------------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_a_link_in_landing_to_the_vault_is_refused_and_nothing_of_it_is_archived(home):
    from orchestration.ingest.archive import receive as receive_files

    _deliver(home, "health/camhs_referrals/camhs_referrals_2024-03.csv", _camhs(3))
    _ingest(home)  # the vault now exists and holds a child's name
    link = home.landing / "health" / "camhs_referrals" / "camhs_referrals_2024-04.csv"
    link.symlink_to(home.vault_db)
    archived_before = sorted(p for p in home.archive.rglob("*") if p.is_file())
    contracts = load_contracts()
    for _ in range(2):  # and again at the next ingest: still nothing
        with duckdb.connect(str(home.vault_db)) as con:
            receipts = receive_files(con, home.landing, home.archive, contracts)
    assert sorted(p for p in home.archive.rglob("*") if p.is_file()) == archived_before
    refusals = _vault(home, "select landing_path, outcome from ingest.receipts where outcome like 'refused%'")
    assert refusals == [
        (
            "health/camhs_referrals/camhs_referrals_2024-04.csv",
            f"refused: a symbolic link (to {home.vault_db}), not a file: links in landing are never followed",
        )
    ]
    assert receipts == []  # recorded once: the second ingest did not see it as new
    assert _vault(home, "select count(*) from ingest.deliveries") == [(1,)]


def test_a_link_to_a_system_file_puts_nothing_of_it_in_the_manifest(home, tmp_path):
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    (home.landing / "health").mkdir(parents=True)
    (home.landing / "health" / "passwd.csv").symlink_to(secret)
    (home.landing / "ssd").mkdir()
    (home.landing / "ssd" / "linked_folder").symlink_to(tmp_path, target_is_directory=True)
    os_fifo = home.landing / "health" / "pipe.csv"
    import os

    os.mkfifo(os_fifo)  # would block a reader forever
    _ingest(home)
    with duckdb.connect(str(home.vault_db), read_only=True) as con:
        dumped = str(con.execute("select * from ingest.deliveries").fetchall())
        dumped += str(con.execute("select * from ingest.receipts").fetchall())
        dumped += str(con.execute("select * from ingest.quarantine").fetchall())
        outcomes = dict(con.execute("select landing_path, outcome from ingest.receipts").fetchall())
    assert "root:x" not in dumped
    assert outcomes["health/passwd.csv"].startswith("refused: a symbolic link")
    assert outcomes["ssd/linked_folder"].startswith("refused: a symbolic link")
    assert (
        outcomes["health/pipe.csv"]
        == "refused: a named pipe, not a file: only regular files are read from landing"
    )
    assert not [p for p in home.archive.rglob("*") if p.is_file()]


def test_what_whole_child_writes_under_its_home_is_private_but_the_published_release(tmp_path, monkeypatch):
    from orchestration.ingest.report import write_error_report
    from orchestration.reports.publish import building_release
    from orchestration.settings import Paths

    monkeypatch.setenv("WHOLECHILD_HOME", str(tmp_path / "home"))
    paths = Paths.from_env().ensure()
    _deliver(
        paths, "health/camhs_referrals/camhs_referrals_2024-03.csv", _camhs(3).replace("01/03/2024", "bad", 1)
    )
    [outcome] = _ingest(paths)
    with duckdb.connect(str(paths.vault_db)) as con:
        written = write_error_report(con, outcome.delivery_id, paths.feedback / "health")
    duckdb.connect(str(paths.analytics_db)).close()
    with building_release(paths.published, "r1") as folder:
        (folder / "report.csv").write_text("x\n")
        (folder / "restricted").mkdir()
        (folder / "restricted" / "quality.csv").write_text("x\n")

    assert _mode(paths.home) == 0o711
    assert _mode(paths.vault_db) == 0o600 and _mode(paths.analytics_db) == 0o600
    assert all(_mode(p) == 0o600 for p in written)
    archived = [p for p in paths.archive.rglob("*") if p.is_file()]
    assert archived and all(_mode(p) == 0o400 for p in archived)
    for folder in (paths.archive, paths.warehouse, paths.feedback, paths.landing, paths.quality):
        assert all(_mode(d) == 0o700 for d in [folder, *(p for p in folder.rglob("*") if p.is_dir())]), folder
    release = paths.published / "r1"
    assert (_mode(paths.published), _mode(release), _mode(release / "report.csv")) == (0o755, 0o755, 0o644)
    assert (_mode(release / "restricted"), _mode(release / "restricted" / "quality.csv")) == (0o700, 0o600)

    # a deployment that shares the analysts' copy with its group says so; the warehouse stays private
    from orchestration.duckdb_files import publish_copy

    monkeypatch.setenv("WHOLECHILD_SHARE_ANALYTICS", "group")
    publish_copy(paths.analytics_db, paths.analyst_copy)
    Paths.from_env().ensure()
    assert (_mode(paths.analyst_copy), _mode(paths.analysts)) == (0o640, 0o750)
    assert (_mode(paths.analytics_db), _mode(paths.warehouse), _mode(paths.vault_db)) == (0o600, 0o700, 0o600)


# --- the subject access log -------------------------------------------------------------------------------

AUDIT_KEY = "audit-key-for-the-tests-" + "k" * 20


def _keyed_log(tmp_path, monkeypatch, entries: int = 3):
    from orchestration import audit

    monkeypatch.setenv("WHOLECHILD_AUDIT_KEY", AUDIT_KEY)
    monkeypatch.delenv("WHOLECHILD_AUDIT_ANCHOR", raising=False)
    home = tmp_path / "home"
    log = home / "audit" / "subject_access.log"
    home.mkdir(parents=True)
    con = duckdb.connect(str(home / "vault.duckdb"))
    for i in range(entries):
        audit.append(
            log, con, "subject_access_search", {"kind": "upn", "term_pseudonym": f"t{i}", "reason": "r"}
        )
    return home, log, con


def _rewrite_as_an_insider(log: Path, con, change: dict, mac) -> None:
    """Edit an entry, recompute every link with ``mac`` (the insider's best guess at the scheme), and move
    every head the insider can reach to the new end."""
    import json

    entries = [json.loads(line) for line in log.read_text().splitlines()]
    entries[1].update(change)
    previous = "0" * 64
    for entry in entries:
        entry.pop("hash")
        entry["prev"] = previous
        entry["hash"] = previous = mac(previous, entry)
    log.write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in entries))
    con.execute("update audit.log_head set seq = ?, hash = ?", [len(entries), previous])
    anchor = log.with_suffix(".head")
    if anchor.exists():
        saved = json.loads(anchor.read_text())
        saved.update(seq=len(entries), hash=previous)
        anchor.write_text(json.dumps(saved))


def test_an_insider_who_rewrites_the_log_and_both_heads_without_the_key_is_caught(tmp_path, monkeypatch):
    import hashlib
    import hmac
    import json

    from orchestration import audit

    def plain_chain(previous, entry):  # what anyone can recompute
        body = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256((previous + body).encode()).hexdigest()

    def guessed_key(previous, entry):  # the keyed scheme, with the pseudonym key or a guess
        body = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hmac.new(b"a guess at the key " * 2, (previous + body).encode(), hashlib.sha256).hexdigest()

    for mac in (plain_chain, guessed_key):
        _home, log, con = _keyed_log(tmp_path / mac.__name__, monkeypatch)
        _rewrite_as_an_insider(log, con, {"reason": "nobody searched for this child"}, mac)
        with pytest.raises(audit.AuditLogError, match="entry 1 has been altered"):
            audit.verify(log, con)
        with pytest.raises(audit.AuditLogError):  # and no search is made on an altered log
            audit.append(log, con, "subject_access_search", {})


def test_a_copy_of_the_home_at_another_path_with_the_last_entry_cut_is_caught(tmp_path, monkeypatch):
    import shutil

    from orchestration import audit

    home, _log, con = _keyed_log(tmp_path, monkeypatch)
    con.close()
    copy = tmp_path / "elsewhere" / "home"
    shutil.copytree(home, copy)
    copied_log = copy / "audit" / "subject_access.log"
    lines = copied_log.read_text().splitlines()
    copied_log.write_text("\n".join(lines[:-1]) + "\n")
    with duckdb.connect(str(copy / "vault.duckdb")) as copied_vault:
        with pytest.raises(audit.AuditLogError, match="entries were removed"):
            audit.verify(copied_log, copied_vault)
        audit.anchor_path(copied_log).unlink()  # the anchor thrown away too: the vault's head still knows
        with pytest.raises(audit.AuditLogError, match="the vault records entry 3: entries were removed"):
            audit.verify(copied_log, copied_vault)


@pytest.mark.parametrize("crash_before", ["_write_anchor", "_write_vault_head"])
def test_a_crash_between_the_log_write_and_the_heads_is_recovered_exactly_and_said(
    tmp_path, monkeypatch, crash_before
):
    import json

    from orchestration import audit

    _home, log, con = _keyed_log(tmp_path, monkeypatch)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed")

    with monkeypatch.context() as m:
        m.setattr(audit, crash_before, crash)
        with pytest.raises(KeyboardInterrupt):
            audit.append(log, con, "subject_access_search", {"kind": "upn", "term_pseudonym": "t3"})
    state = audit.verify(log, con)  # not "entries were removed": the entry verifies under the key
    assert state.entries == 4
    missed = ["anchor", "vault"] if crash_before == "_write_anchor" else ["vault"]
    assert sorted(state.behind) == missed
    entry = audit.append(log, con, "subject_access_search", {"kind": "upn", "term_pseudonym": "t4"})
    assert entry["seq"] == 5
    assert entry["recovered_head_of_entry"]["seq"] == 4
    assert sorted(entry["recovered_head_of_entry"]["missed_by"]) == missed
    assert audit.verify(log, con).behind == ()
    assert json.loads(log.read_text().splitlines()[3])["term_pseudonym"] == "t3"  # nothing lost

    # a last line cut short while it was written is moved aside, not taken for an alteration
    with log.open("ab") as fh:
        fh.write(b'{"seq": 6, "act')
    assert audit.verify(log, con).torn_tail == b'{"seq": 6, "act'
    entry = audit.append(log, con, "subject_access_search", {})
    assert entry["seq"] == 6 and entry["recovered_torn_line"]["bytes"] == 15
    assert (log.parent / entry["recovered_torn_line"]["kept_in"]).read_bytes() == b'{"seq": 6, "act'
    assert audit.verify(log, con).entries == 6


def test_the_anchor_cannot_be_moved_back_without_the_key(tmp_path, monkeypatch):
    import json

    from orchestration import audit

    _home, log, con = _keyed_log(tmp_path, monkeypatch)
    anchor = audit.anchor_path(log)
    saved = json.loads(anchor.read_text())
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    saved.update(seq=2, hash=entries[1]["hash"])
    anchor.write_text(json.dumps(saved))
    with pytest.raises(audit.AuditLogError, match="the anchor has been altered"):
        audit.verify(log, con)


# --- keys ---------------------------------------------------------------------------------------------------


def test_a_run_without_a_real_key_stops_with_one_clear_line(home, monkeypatch, capsys):
    from orchestration import cli
    from orchestration.identity.pseudonyms import PseudonymKeyError, pseudonym_key

    monkeypatch.delenv("WHOLECHILD_DEMO", raising=False)
    monkeypatch.delenv("WHOLECHILD_PSEUDONYM_KEY", raising=False)
    monkeypatch.delenv("WHOLECHILD_AUDIT_KEY", raising=False)
    pseudonym_key.cache_clear()
    try:
        assert cli.main(["run"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert "WHOLECHILD_PSEUDONYM_KEY is not set" in err and "--demo" in err
        with pytest.raises(PseudonymKeyError):  # a Dagster step (the UI, a schedule) stops the same way
            pseudonym_key()

        monkeypatch.setenv("WHOLECHILD_PSEUDONYM_KEY", "short")
        pseudonym_key.cache_clear()
        assert cli.main(["run"]) == 2
        assert "at least 32 characters" in capsys.readouterr().err

        monkeypatch.setenv("WHOLECHILD_PSEUDONYM_KEY", "p" * 40)
        pseudonym_key.cache_clear()
        assert cli.main(["sar", "--upn", "A123", "--reason", "test"]) == 2
        assert "WHOLECHILD_AUDIT_KEY is not set" in capsys.readouterr().err
        monkeypatch.setenv("WHOLECHILD_AUDIT_KEY", "p" * 40)
        assert cli.main(["audit-verify"]) == 2
        assert "must differ from WHOLECHILD_PSEUDONYM_KEY" in capsys.readouterr().err

        # the demo says so explicitly
        monkeypatch.delenv("WHOLECHILD_PSEUDONYM_KEY")
        monkeypatch.delenv("WHOLECHILD_AUDIT_KEY")
        pseudonym_key.cache_clear()
        assert cli.main(["audit-verify", "--demo"]) == 0
    finally:
        pseudonym_key.cache_clear()


# --- what reaches the analytics file ------------------------------------------------------------------------


def test_a_column_without_a_privacy_class_cannot_be_loaded():
    from orchestration.ingest.contracts import ContractError, _column

    shared = {"date_formats": {}, "code_lists": {}, "value_patterns": {}}
    with pytest.raises(ContractError, match="has no privacy class"):
        _column({"name": "new_column", "type": "varchar"}, shared, "test.yml")
    with pytest.raises(ContractError, match="names its kind"):
        _column({"name": "x_id", "type": "varchar", "privacy": "record_id"}, shared, "test.yml")
    assert _column({"name": "x_id", "privacy": "record_id:x"}, shared, "t").id_domain == "x"
    for versions in load_contracts().values():  # and every column of every contract has one
        assert all(c.privacy for t in versions.tables for c in t.columns)


def test_only_an_open_layout_of_published_aggregates_passes_its_extra_columns_to_analytics(tmp_path):
    """The columns a file carries beyond its contract (``_extra``) stay in the vault, unless the contract
    is an open layout that says they are published aggregates (the DfE's statistics files)."""
    from orchestration.identity.pseudonymise import pseudonymised_select
    from orchestration.ingest.contracts import ContractError, _load_contract_versions

    for name, contract in load_contracts().items():
        sql = pseudonymised_select(contract, contract.tables[0])
        assert ("r._extra" in sql) == (name == "dfe_statistics"), name
    folder = tmp_path / "contracts"
    (folder / "closed").mkdir(parents=True)
    (folder / "_shared.yml").write_text("date_formats: {}\ncode_lists: {}\nvalue_patterns: {}\n")
    (folder / "closed" / "base.yml").write_text(
        "dataset: closed\npartner: x\ndescription: d\nextra: attribute\nkey: []\n"
        "columns:\n  - {name: a, type: varchar, privacy: attribute}\n"
    )
    with pytest.raises(ContractError, match="only an open layout"):
        _load_contract_versions(folder)


def test_dates_about_a_person_reach_the_analytics_file_as_months_and_record_ids_as_keyed_pseudonyms(home):
    from orchestration.identity.pseudonymise import publish_to_analytics
    from orchestration.ingest.contracts import load_contract_versions

    header = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\n"
    rows = "1234567,M,01/02/2010,WBRI,A123456789012,1,17/06/2025\n7654321,F,03/04/2009,WBRI,,0,\n"
    _deliver(home, "social_care/ssda903/header_2025.csv", header + rows)
    person = (
        "pers_person_id,pers_sex,pers_gender,pers_ethnicity,pers_dob,pers_common_child_id,pers_upn_unknown,"
        "pers_send_flag,pers_expected_dob,pers_death_date,pers_is_mother,pers_nationality\n"
    )
    _deliver(
        home,
        "social_care/ssd/2025-03-31/ssd_person.csv",
        person + "1234567,M,M,WBRI,2010-02-01,,,,,2024-11-23,N,\n",
    )
    _deliver(home, "health/camhs_referrals/camhs_referrals_2024-03.csv", _camhs(2))
    outcomes = _ingest(home)
    assert all(o.status == "loaded" for o in outcomes), outcomes
    with duckdb.connect(str(home.vault_db)) as con:
        con.execute("create schema if not exists identity")
        con.execute(
            "create table identity.record_keys (namespace varchar, record_id varchar, person_key varchar)"
        )
    versions = load_contract_versions()
    with duckdb.connect(str(home.analytics_db)) as con:
        con.execute(f"attach '{home.vault_db}' as vault (read_only)")
        for dataset in ("ssda903_header", "ssd_person", "camhs_referrals"):
            publish_to_analytics(con, versions[dataset])
        mc_dob = con.execute('select "MC_DOB" from pseudonymised.ssda903_header order by "MC_DOB"').fetchall()
        death = con.execute("select pers_death_date from pseudonymised.ssd_person").fetchall()
        referral_ids = [
            r[0] for r in con.execute("select referral_id from pseudonymised.camhs_referrals").fetchall()
        ]
        types = dict(
            con.execute(
                "select column_name, data_type from information_schema.columns"
                " where table_name = 'ssda903_header' and table_schema = 'pseudonymised'"
            ).fetchall()
        )
    assert mc_dob == [("2025-06",), (None,)] and types["MC_DOB"] == "VARCHAR"
    assert death == [("2024-11",)]
    assert "UPN" not in types and "CHILD" not in types
    assert "R0" not in referral_ids and "R1" not in referral_ids
    assert all(len(r) == 32 and int(r, 16) >= 0 for r in referral_ids)
    assert len(set(referral_ids)) == 2


# --- disclosure across tables and releases ------------------------------------------------------------------


def _ks_spec():
    from orchestration.reports.disclosure import TableSpec

    return TableSpec(
        keys=("time_period", "pupil_group"),
        additive=(),
        counts=("pupils", "achieving"),
        rates=(("achieving_rate", "achieving", "pupils"),),
    )


def test_a_zero_beside_a_suppressed_count_is_not_published(home):

    from orchestration.reports.disclosure import attack, protect

    frame = pd.DataFrame(
        {
            "time_period": ["202425"] * 2,
            "pupil_group": ["All pupils", "Looked after"],
            "pupils": [180, 4],
            "achieving": [100, 0],
        }
    )
    published, _ = protect(frame, _ks_spec())
    assert published.loc[1, ["pupils", "achieving", "achieving_rate"]].tolist() == ["c", "c", "c"]
    assert attack(published, _ks_spec()) == []
    # the table as it used to be published: "c pupils, 0 achieving" says all of them failed
    naive = published.assign(achieving=["100", "0"])
    assert attack(naive, _ks_spec()) == ["achieving row 1: 0 published beside a suppressed pupils"]


def _age_spec():
    from orchestration.reports.disclosure import TableSpec

    return TableSpec(keys=("time_period", "age_group"), additive=("age_group",), counts=("children",))


def _ages(counts: list[int]) -> pd.DataFrame:

    return pd.DataFrame(
        {
            "time_period": "202425",
            "age_group": ["Under 1", "1 to 4", "5 to 9", "10 to 15", "Total"],
            "children": [*counts, sum(counts)],
        }
    )


def test_no_suppressed_count_can_be_bounded_to_within_one_to_five():
    from orchestration.reports.disclosure import attack, protect

    frame = _ages([1, 2, 17, 30])  # two small parts summing to 3: each would be 1 or 2
    published, _ = protect(frame, _age_spec())
    assert attack(published, _age_spec()) == []
    assert published.children.tolist() == ["c", "c", "c", "30", "50"]
    naive = published.assign(children=["c", "c", "17", "30", "50"])
    assert attack(naive, _age_spec()) == [
        "children row 0: suppressed, but the totals bound it to 1 to 2",
        "children row 1: suppressed, but the totals bound it to 1 to 2",
    ]


def test_a_cell_suppressed_in_one_table_and_published_in_another_is_caught():
    from orchestration.reports.disclosure import attack_release

    table_a = _ages([3, 12, 17, 30]).astype(str).assign(children=["c", "c", "17", "30", "62"])
    by_sex = table_a.iloc[[4]].assign(age_group="Total")  # the same total, published again
    labels = {"a.csv": {"children": "Children looked after"}, "b.csv": {"children": "Children looked after"}}
    # a second table publishing one of the suppressed cells
    table_b = table_a.assign(children=["c", "12", "17", "30", "62"])
    problems = attack_release(
        {"a.csv": (table_a, _age_spec()), "b.csv": (table_b, _age_spec())}, labels=labels
    )
    assert "a.csv: children row 1: suppressed, but b.csv: children row 1 publishes it: 12" in problems
    assert (
        attack_release({"a.csv": (table_a, _age_spec()), "b.csv": (by_sex, _age_spec())}, labels=labels) == []
    )


def test_a_revision_keeps_what_the_previous_release_suppressed():
    from orchestration.reports.disclosure import attack_release, protect

    before, _ = protect(_ages([4, 13, 20, 30]), _age_spec())  # 4 suppressed (and a neighbour with it)
    assert before.children.iloc[0] == "c"
    revised = _ages([6, 11, 20, 30])  # two children moved between the groups: c -> 6, 13 -> 11
    published, _ = protect(revised, _age_spec(), previous=before)
    assert published.children.iloc[0] == "c"  # 6 stays suppressed: the difference would show the 2
    assert attack_release({"t": (published, _age_spec())}, previous={"t": (before, _age_spec())}) == []
    naive, _ = protect(revised, _age_spec())
    assert naive.children.iloc[0] == "6"
    assert attack_release({"t": (naive, _age_spec())}, previous={"t": (before, _age_spec())}) == [
        "t: children row 0: suppressed in the previous release, now 6: the two releases differenced give a small group"
    ]
    grown, _ = protect(_ages([15, 11, 20, 30]), _age_spec(), previous=before)
    assert grown.children.iloc[0] == "15"  # a change of 10 or more children is no small group


def test_the_outcomes_summary_keeps_what_the_previous_release_and_the_other_tables_suppress(tmp_path):
    from orchestration.reports.outcomes import INDICATORS, protect_summary, summary_keys

    def figure(indicator, count, percent="z"):
        label = next(label for key, label, _ in INDICATORS if key == indicator)
        return {"time_period": 2025, "academic_year": "2024/25", "indicator": indicator, "label": label,
                "count": count, "percent": percent}  # fmt: skip

    figures = [figure("looked_after_at_31_march", "8"), figure("looked_after_12_months", "30")]
    previous = tmp_path / "previous"
    previous.mkdir()
    pd.DataFrame([figure("looked_after_at_31_march", "c"), figure("looked_after_12_months", "29")]).to_csv(
        previous / "outcomes_summary.csv", index=False
    )
    protected = protect_summary(figures, previous)
    assert [f["count"] for f in protected] == ["c", "30"]  # 8 stays suppressed: it was c before
    key = summary_keys(figures)[1]
    assert key == "indicator=Looked after continuously for 12 months at 31 March|time_period=202425"
    assert [f["count"] for f in protect_summary(figures, None, {key})] == ["8", "c"]


def test_a_release_suppresses_a_cell_wherever_another_table_suppresses_it(monkeypatch):
    """As on a small authority: the by-age table must suppress its total (6 looked after), which the
    headline table publishes as its own figure. Protected together, neither shows it."""
    from orchestration.reports import packs
    from orchestration.reports.disclosure import TableSpec, attack_release

    monkeypatch.setenv("WHOLECHILD_LA_CODE", "332")
    label = "Children looked after at 31 March"
    by_age = packs.Table("by_age", "", "", _age_spec(), {"children": label})
    headline = packs.Table(
        "headline", "", "", TableSpec(keys=("time_period",), additive=(), counts=("looked_after",)),
        {"looked_after": label},
    )  # fmt: skip
    report = packs.Report("pack", "", "", "", "", (by_age, headline))
    frames = {
        "by_age": _ages([1, 2, 3, 0]),  # three small parts: the total of 6 must go too
        "headline": pd.DataFrame({"time_period": ["202425"], "looked_after": [6]}),
    }
    queried = [packs.Queried(report, frames, {"by_age": None, "headline": None}, [])]
    alone = next(packs.protect_report(q) for q in queried)
    assert (
        alone.tables["by_age"].children.tolist()[-1] == "c"
        and alone.tables["headline"].looked_after[0] == "6"
    )
    built, _hidden = packs.protect_release(queried)
    tables = built[0].tables
    assert tables["headline"].looked_after.tolist() == ["c"]
    specs = {"by_age": by_age.spec, "headline": headline.spec}
    labels = {"by_age": {"children": label}, "headline": {"looked_after": label}}
    assert attack_release({n: (tables[n], specs[n]) for n in specs}, labels=labels) == []
    leaky = {
        "by_age": (alone.tables["by_age"], by_age.spec),
        "headline": (alone.tables["headline"], headline.spec),
    }
    assert any("publishes it: 6" in p for p in attack_release(leaky, labels=labels))


def test_the_privacy_scan_finds_each_identifier_that_reaches_the_analytics_file(tmp_path):
    """The scan behind `wholechild privacy-scan`, the pipeline's tests and the region's: an id held only in
    a landing CSV (delivered with spaces around it, under a heading spelled another way), an NHS number
    held only in the vault, and nothing else, are found in exactly the columns (of a table and of a view)
    that hold them. Short values, public names and values of other columns are not ids."""
    from orchestration.identity.privacy_scan import scan

    landing = tmp_path / "landing" / "health" / "camhs_referrals"
    landing.mkdir(parents=True)
    (landing / "camhs_2026-03.csv").write_text(
        'Referral ID,NHS Number,Outcome\n  REF-70001  ,9990000018,seen\nREF-70002,,"Dudley"\n'
    )
    (landing / "notes.csv").write_text("comment,author\nREF-70003,someone\n")  # no id heading: not held
    vault = tmp_path / "vault.duckdb"
    with duckdb.connect(str(vault)) as con:
        con.execute("create schema raw")
        (table,) = load_contracts()["camhs_referrals"].tables  # the raw table as its contract has it
        con.execute(
            "create table raw.camhs_referrals ("
            + ", ".join(f'"{c.name}" varchar' for c in table.columns)
            + ")"
        )
        con.execute(
            "insert into raw.camhs_referrals by name"
            " select * from (values ('REF-1', '9990000026'), (null, '  9990000034')) t(referral_id, nhs_number)"
        )
    analytics = tmp_path / "analytics.duckdb"
    with duckdb.connect(str(analytics)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.leaky as select * from (values"
            " ('REF-70001', 9990000034, 'seen', 'Dudley', 'REF-70003'),"
            " ('REF-70002 ', 9990000034, 'REF-1', 'x', 'REF-70003'))"
            " t(source_id, number, outcome, area, note)"
        )
        con.execute("create view marts.leaky_view as select source_id as copied from marts.leaky")
        con.execute("create table marts.clean as select 'REF-7' as source_id, 42 as n")
    result = scan(analytics, vault, tmp_path / "landing")
    assert sorted(result.found) == [
        ("marts.leaky.number", 1),  # the vault's NHS number, held with a space before it, found as a number
        ("marts.leaky.source_id", 2),  # both landing ids, one with a space after it
        ("marts.leaky_view.copied", 2),
    ]
    assert result.columns_scanned == 8
