"""Drills written from an attacker's (or a careless operator's) side: each one failed on the code before
the hardening of issue 14 and must keep failing to get in now."""

from pathlib import Path

import duckdb
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
        return [load_delivery(con, contracts[ds], d, Path(a), p, f, paths.warehouse) for d, ds, a, p, f in pending]


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
