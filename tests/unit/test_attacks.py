"""Drills written from an attacker's (or a careless operator's) side: each one failed on the code before
the hardening of issue 14 and must keep failing to get in now."""

from pathlib import Path

import duckdb

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
        con.execute(f"delete from {temp}_text where rowid = 4")  # the fifth record: line 6

    monkeypatch.setattr(sources, "_stage_text", losing_a_row)
    _deliver(home, "health/camhs_referrals/camhs_referrals_2024-03.csv", _camhs(20))
    [outcome] = _ingest(home)
    assert outcome.status == "failed"
    assert (outcome.rows_in_file, outcome.rows_loaded, outcome.rows_quarantined) == (20, 0, 20)
    assert "holds 20 rows, but the CSV reader returned 19" in outcome.detail
    assert "line 6" in outcome.detail


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
    import pandas as pd

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

    # a deployment that shares the analytics file with its group says so; the vault stays private
    monkeypatch.setenv("WHOLECHILD_SHARE_ANALYTICS", "group")
    Paths.from_env().ensure()
    assert (_mode(paths.analytics_db), _mode(paths.warehouse), _mode(paths.vault_db)) == (0o640, 0o750, 0o600)
