"""Bounded work per file (orchestration/ingest/limits.py): a file over a limit is a failed delivery that
says which limit and how to raise it, within seconds, and the file beside it loads as if it were alone."""

import io
import time
import zipfile

import pytest

from tests.unit.test_bad_files import GOOD_COMPANION, HEADER, ROW, _ingest, workbook

ANNEX_A = "social_care/annex_a/annex_a_2025-01-31.xlsx"


def bomb_workbook(unpacked_mb: int) -> bytes:
    """A valid workbook whose first sheet is ``unpacked_mb`` MB of rows of XML: small packed, large
    unpacked, like the 10 MB workbook holding 1.7 GB of sheet XML."""
    small = workbook({"List 1": [["Child Unique ID", "Gender"], ["C1", "a"]]})
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(small)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as book,
    ):
        for part in source.infolist():
            if part.filename != "xl/worksheets/sheet1.xml":
                book.writestr(part, source.read(part))
                continue
            row = '<row><c t="inlineStr"><is><t>C1</t></is></c><c t="inlineStr"><is><t>a</t></is></c></row>'
            with book.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
                sheet.write(
                    b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
                    b'spreadsheetml/2006/main"><sheetData>'
                )
                block = (row * 10_000).encode()
                for _ in range(unpacked_mb * (1 << 20) // len(block) + 1):
                    sheet.write(block)
                sheet.write(b"</sheetData></worksheet>")
    return out.getvalue()


def _outcome(con, path: str) -> tuple[str, str]:
    return con.execute(
        "select status, status_detail from ingest.deliveries where landing_path = ?", [path]
    ).fetchall()[0]


def _companion_loaded(con) -> None:
    status, rows = con.execute(
        "select status, rows_loaded from ingest.deliveries where landing_path = ?", [GOOD_COMPANION[0]]
    ).fetchall()[0]
    assert (status, rows) == ("loaded", 2)


def test_a_workbook_that_unpacks_past_the_limit_fails_before_it_is_parsed(tmp_path, monkeypatch):
    monkeypatch.setenv("WHOLECHILD_MAX_UNPACKED_BYTES", str(20 << 20))
    content = bomb_workbook(60)
    assert len(content) < 3 << 20  # small packed
    started = time.monotonic()
    con = _ingest(tmp_path, {ANNEX_A: content, GOOD_COMPANION[0]: GOOD_COMPANION[1].encode()})
    seconds = time.monotonic() - started
    status, detail = _outcome(con, ANNEX_A)
    assert status == "failed"
    assert "annex_a_2025-01-31.xlsx" in detail and "unpacks to 60.4 MiB" in detail, detail
    assert "xl/worksheets/sheet1.xml" in detail and "WHOLECHILD_MAX_UNPACKED_BYTES" in detail
    assert seconds < 20, "judged from the zip directory, not by parsing 60 MB of XML"
    _companion_loaded(con)


def test_a_file_with_more_rows_than_the_limit_fails_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("WHOLECHILD_MAX_ROWS", "10")
    path = "health/health_assessments/health_assessments_2024-05.csv"
    body = "".join(ROW.format(n=n) for n in range(30))
    con = _ingest(tmp_path, {path: (HEADER + body).encode(), GOOD_COMPANION[0]: GOOD_COMPANION[1].encode()})
    status, detail = _outcome(con, path)
    assert status == "failed"
    assert "more than 10 rows" in detail and "WHOLECHILD_MAX_ROWS" in detail, detail
    assert con.execute("select count(*) from raw.health_assessments").fetchall()[0][0] == 0
    _companion_loaded(con)


def test_a_workbook_with_more_rows_than_the_limit_stops_reading_at_the_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("WHOLECHILD_MAX_ROWS", "50")
    rows = [["Child Unique ID", "Gender"]] + [[f"C{n}", "a"] for n in range(200)]
    con = _ingest(
        tmp_path, {ANNEX_A: workbook({"List 1": rows}), GOOD_COMPANION[0]: GOOD_COMPANION[1].encode()}
    )
    status, detail = _outcome(con, ANNEX_A)
    assert status == "failed" and "more than 50 rows" in detail, detail


def test_a_file_that_takes_longer_than_the_limit_fails_and_loads_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("WHOLECHILD_MAX_SECONDS_PER_FILE", "0.01")
    path = "health/health_assessments/health_assessments_2024-05.csv"
    body = "".join(ROW.format(n=n) for n in range(2000))
    con = _ingest(tmp_path, {path: (HEADER + body).encode()})
    status, detail = _outcome(con, path)
    assert status == "failed"
    assert "longer than 0 s" in detail and "WHOLECHILD_MAX_SECONDS_PER_FILE" in detail, detail
    assert con.execute("select count(*) from raw.health_assessments").fetchall()[0][0] == 0
    accounted = con.execute("select count(*) from ingest.quarantine where rule = 'over_limit'").fetchall()[0][
        0
    ]
    assert accounted == 1


def test_a_file_over_the_size_limit_is_refused_without_being_copied(tmp_path, monkeypatch):
    monkeypatch.setenv("WHOLECHILD_MAX_FILE_BYTES", "1000")
    path = "health/health_assessments/health_assessments_2024-05.csv"
    body = "".join(ROW.format(n=n) for n in range(30))
    con = _ingest(tmp_path, {path: (HEADER + body).encode(), GOOD_COMPANION[0]: GOOD_COMPANION[1].encode()})
    (outcome,) = con.execute("select outcome from ingest.receipts where landing_path = ?", [path]).fetchall()[
        0
    ]
    assert outcome.startswith("refused:") and "WHOLECHILD_MAX_FILE_BYTES" in outcome, outcome
    assert not list((tmp_path / "archive").rglob("health_assessments_2024-05.csv"))
    _companion_loaded(con)


@pytest.mark.parametrize("value", ["ten", "0", "-5"])
def test_a_limit_that_is_not_a_positive_number_is_named(monkeypatch, value):
    from orchestration.ingest.limits import Limits

    monkeypatch.setenv("WHOLECHILD_MAX_ROWS", value)
    with pytest.raises(ValueError, match="WHOLECHILD_MAX_ROWS"):
        Limits.from_env()


def test_a_record_longer_than_the_limit_is_quarantined_with_its_line_and_the_rest_loads(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("WHOLECHILD_MAX_RECORD_BYTES", "2000")
    path = "health/health_assessments/health_assessments_2024-05.csv"
    rows = [ROW.format(n=n) for n in range(5)]
    rows[2] = rows[2].replace("Completed", "Completed " + "x" * 5000)  # line 4 of the file
    con = _ingest(tmp_path, {path: (HEADER + "".join(rows)).encode()})
    status, detail = _outcome(con, path)
    assert status == "loaded", detail
    loaded, quarantined = con.execute(
        "select rows_loaded, rows_quarantined from ingest.deliveries where landing_path = ?", [path]
    ).fetchall()[0]
    assert (loaded, quarantined) == (4, 1)
    (line, message) = con.execute("select line_number, message from ingest.quarantine").fetchall()[0]
    assert line == 4 and "WHOLECHILD_MAX_RECORD_BYTES" in message and "5092 bytes" in message, message
