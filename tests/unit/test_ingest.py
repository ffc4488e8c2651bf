"""Archive and load: every row accounted for, the same bytes loaded once, lines as a person sees them."""

import os
from pathlib import Path

import duckdb
import pytest

from orchestration.ingest.archive import receive
from orchestration.ingest.contracts import load_contracts
from orchestration.ingest.load import load_delivery

HEADER = (
    "assessment_id,nhs_number,forename,surname,date_of_birth,sex,postcode,assessment_type,assessment_date,"
    "due_date,outcome\n"
)
GOOD = "A1,9990000018,Amy,Khan,01/02/2015,F,DY1 4QT,Initial health assessment,03/04/2024,,Completed\n"


def _deliver(landing, relative, text, encoding="utf-8"):
    path = landing / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def _ingest(paths):
    contracts = load_contracts()
    with duckdb.connect(str(paths.vault_db)) as con:
        receipts = receive(con, paths.landing, paths.archive, contracts)
        pending = con.execute(
            "select delivery_id, dataset, archive_path, period, file_name from ingest.deliveries"
            " where status = 'received' order by received_at"
        ).fetchall()
        outcomes = [
            load_delivery(con, contracts[ds], d, Path(a), p, f, paths.warehouse) for d, ds, a, p, f in pending
        ]
    return receipts, outcomes


def _query(paths, sql, params=None):
    with duckdb.connect(str(paths.vault_db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def test_rows_are_loaded_quarantined_or_duplicates_and_add_up(home):
    text = (
        HEADER
        + GOOD
        + GOOD  # exact duplicate
        + "A2,9990000018,Amy,Khan,31/02/2015,F,DY1 4QT,Initial health assessment,04/04/2024,,Completed\n"
        + "\n"  # blank line: not a row
        + "A3,9990000019,Amy,Khan,01/02/2015,F,DY1 4QT,Review health assessment,05/04/2024,,Completed\n"
        + "A4,9990000018,Amy,Khan,01/02/2015,F,DY1 4QT,Dental,06/04/2024,,Completed\n"
        + "A5,9990000018,Amy\n"
    )  # malformed: too few columns
    _deliver(home.landing, "health/health_assessments/health_assessments_2024-04.csv", text)
    _, [outcome] = _ingest(home)
    assert outcome.rows_in_file == 6
    assert (outcome.rows_loaded, outcome.rows_quarantined, outcome.rows_duplicate) == (2, 3, 1)
    assert outcome.rows_loaded + outcome.rows_quarantined + outcome.rows_duplicate == outcome.rows_in_file
    issues = _query(
        home,
        "select line_number, column_name, rule, severity, value from ingest.quarantine "
        "order by line_number, rule",
    )
    # the invalid date is on line 4; the bad NHS number (a warning: row still loaded) on line 6
    assert (4, "date_of_birth", "type:date", "error", "3********5") in issues
    assert (6, "nhs_number", "nhs_number_check_digit", "warning", "9********9") in issues
    assert (7, "assessment_type", "code_list", "error", "Dental") in issues
    assert any(line == 8 and rule.startswith("malformed") for line, _, rule, _, _ in issues)
    loaded = _query(home, "select assessment_id, _source_line from raw.health_assessments order by 1")
    assert loaded == [("A1", 2), ("A3", 6)]


def test_same_bytes_delivered_again_are_recorded_once_and_load_nothing(home):
    first = _deliver(home.landing, "health/health_assessments/health_assessments_2024-04.csv", HEADER + GOOD)
    _ingest(home)
    _deliver(home.landing, "health/health_assessments/copy_health_assessments_2024-04.csv", HEADER + GOOD)
    os.utime(first, ns=(1, 1))  # the original touched again: a new sighting of the same content
    receipts, outcomes = _ingest(home)
    assert outcomes == []
    assert {r.outcome.split(" delivery")[0] for r in receipts} == {"same content as"}
    assert _query(home, "select count(*) from ingest.deliveries")[0][0] == 1
    assert _query(home, "select count(*) from ingest.receipts")[0][0] == 3
    assert _query(home, "select count(*) from raw.health_assessments")[0][0] == 1


def test_the_same_bytes_sent_for_a_later_period_are_that_periods_delivery(home):
    # a monthly snapshot whose table did not change: last month's bytes again, in this month's name
    _deliver(home.landing, "health/health_assessments/health_assessments_2024-04.csv", HEADER + GOOD)
    _ingest(home)
    _deliver(home.landing, "health/health_assessments/health_assessments_2024-05.csv", HEADER + GOOD)
    [receipt], [outcome] = _ingest(home)
    assert receipt.outcome == "new delivery"
    assert "sent again for period 2024-05" in receipt.detail
    assert outcome.rows_loaded == 1
    rows = _query(home, "select period, status, rows_loaded from ingest.deliveries order by period")
    assert rows == [("2024-04", "loaded", 1), ("2024-05", "loaded", 1)]
    assert _query(home, "select _period from raw.health_assessments order by 1") == [
        ("2024-04",),
        ("2024-05",),
    ]
    assert len(list(home.archive.rglob("*.csv"))) == 1  # one copy of the bytes is archived
    # and sent a third time for May, it is May's delivery again: nothing new
    _deliver(home.landing, "health/health_assessments/copy_health_assessments_2024-05.csv", HEADER + GOOD)
    [receipt], outcomes = _ingest(home)
    assert receipt.outcome.startswith("same content as delivery") and outcomes == []


def test_a_changed_file_for_the_same_period_supersedes_and_keeps_both(home):
    _deliver(home.landing, "health/health_assessments/health_assessments_2024-04.csv", HEADER + GOOD)
    _ingest(home)
    second = GOOD.replace("A1,", "B1,")
    _deliver(home.landing, "health/health_assessments/health_assessments_2024-04.csv", HEADER + GOOD + second)
    _ingest(home)
    statuses = _query(home, "select status, rows_loaded from ingest.deliveries order by received_at")
    assert statuses == [("superseded", 1), ("loaded", 2)]
    assert _query(home, "select count(*) from raw.health_assessments")[0][0] == 2
    assert len(list(home.archive.rglob("*.csv"))) == 2  # both stay archived


def test_windows_1252_file_with_bom_less_header_loads(home):
    text = HEADER + GOOD.replace("Khan", "O\u2019Neill")
    _deliver(home.landing, "health/health_assessments/health_assessments_2024-05.csv", text, "cp1252")
    _, [outcome] = _ingest(home)
    assert outcome.rows_loaded == 1
    assert _query(home, "select surname from raw.health_assessments")[0][0] == "O\u2019Neill"


def test_header_only_file_loads_no_rows_and_says_so(home):
    _deliver(home.landing, "health/health_assessments/health_assessments_2024-06.csv", HEADER)
    _, [outcome] = _ingest(home)
    assert (outcome.status, outcome.rows_in_file, outcome.rows_loaded) == ("loaded", 0, 0)
    assert "has a header but no rows" in outcome.detail


@pytest.mark.parametrize(
    "text, message",
    [
        ("assessment_id,nhs_number\nA1,9990000018\n", "required column(s) missing"),
    ],
)
def test_file_level_faults_fail_the_delivery_with_a_clear_message(home, text, message):
    _deliver(home.landing, "health/health_assessments/health_assessments_2024-06.csv", text)
    receipts, outcomes = _ingest(home)
    assert len(receipts) == 1
    if outcomes:
        assert outcomes[0].status == "failed"
        assert message in outcomes[0].detail
        assert "health_assessments_2024-06.csv" in outcomes[0].detail
    else:  # too little to recognise: archived and reported, never guessed
        assert receipts[0].status == "unrecognised"


def test_excel_serial_dates_are_read_and_reported(home):
    # 45385 is 3 April 2024 in Excel's day numbering
    text = HEADER + GOOD.replace("03/04/2024", "45385")
    _deliver(home.landing, "health/health_assessments/health_assessments_2024-07.csv", text)
    _, [outcome] = _ingest(home)
    assert outcome.rows_loaded == 1
    assert str(_query(home, "select assessment_date from raw.health_assessments")[0][0]) == "2024-04-03"
    rule, severity = _query(home, "select rule, severity from ingest.quarantine")[0]
    assert (rule, severity) == ("excel_serial_date", "warning")


@pytest.mark.parametrize("quoted_newline", [False, True], ids=["one-line-records", "a-quoted-newline"])
def test_every_row_of_a_large_file_keeps_its_own_line(home, quoted_newline):
    """Rows are read in parallel; each must still carry the line it was on. The id of each row here is
    the line it is written on, so any row given another row's line shows up."""
    n = 400_000  # about 40 MB: more than one of the reader's buffers, so it is read in parallel
    rows = [
        f"L{line},9990000018,Amy,Khan,01/02/2015,F,DY1 4QT,Initial health assessment,03/04/2024,,Completed\n"
        for line in range(2, n + 2)
    ]
    if quoted_newline:  # the record on line 1001 spans two lines, so every later record starts a line later
        rows[999] = rows[999].replace("Amy", '"Amy\nMay"')
        rows[1000:] = [
            r.replace(f"L{i + 2},", f"L{i + 3},", 1) for i, r in enumerate(rows[1000:], start=1000)
        ]
    _deliver(home.landing, "health/health_assessments/health_assessments_2024-04.csv", HEADER + "".join(rows))
    _, [outcome] = _ingest(home)
    assert (outcome.rows_in_file, outcome.rows_loaded) == (n, n)
    wrong = _query(
        home,
        "select count(*) filter (where assessment_id <> 'L' || _source_line), count(distinct _record)"
        " from raw.health_assessments",
    )
    assert wrong == [(0, n)]


def test_error_report_lists_every_problem_and_counts_them_by_kind(home, monkeypatch):
    import csv

    import openpyxl

    from orchestration.ingest import report

    monkeypatch.setattr(report, "MAX_WORKBOOK_ROWS", 2)
    bad = [GOOD.replace("A1,", f"B{i},").replace("01/02/2015", "31/02/2015") for i in range(3)]
    text = HEADER + GOOD + "".join(bad) + GOOD.replace("A1,", "C1,").replace("DY1 4QT", "NOWHERE")
    _deliver(home.landing, "health/health_assessments/health_assessments_2024-04.csv", text)
    _, [outcome] = _ingest(home)
    with duckdb.connect(str(home.vault_db)) as con:
        csv_path, xlsx_path = report.write_error_report(con, outcome.delivery_id, home.feedback)
    with csv_path.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["Row"], r["Column"], r["What happened"]) for r in rows] == [
        ("3", "date_of_birth", "Row not loaded"),
        ("4", "date_of_birth", "Row not loaded"),
        ("5", "date_of_birth", "Row not loaded"),
        ("6", "postcode", "Row loaded; please check"),
    ]
    assert rows[0]["Value (masked if an identifier)"] == "3********5"  # a date of birth is masked
    book = openpyxl.load_workbook(xlsx_path, read_only=True)
    summary = [tuple(r) for r in book["Summary"].iter_rows(values_only=True)]
    assert ("Problems sheet", f"the first 2 of 4 problems; every one is in {csv_path.name}") in summary
    assert (
        "date_of_birth",
        "date_of_birth should be a date such as dd/mm/yyyy or yyyy-mm-dd or dd-mm-yyyy",
        "Row not loaded",
        3,
        3,
    ) in summary
    assert (
        "postcode",
        "postcode is not a full UK postcode such as DY1 4QT",
        "Row loaded; please check",
        1,
        6,
    ) in (summary)
    assert len(list(book["Problems"].iter_rows(values_only=True))) == 1 + 2


def test_dfe_open_data_is_recognised_by_its_time_and_geography_columns_however_many_indicators_it_has(home):
    """The explore education statistics layout: the time and geography columns, then each publication's own
    filters and indicators (here more of them than the contract knows columns), every row loaded and every
    figure kept as it was published, symbols included."""
    indicators = [f"indicator_{i}" for i in range(14)]
    header = "time_period,time_identifier,geographic_level,country_code,country_name,region_code,region_name,"
    header += "old_la_code,new_la_code,la_name,characteristic," + ",".join(indicators) + "\n"
    rows = [
        "2024,Reporting year,National,E92000001,England,,,,,,Total,"
        + ",".join(str(10 * i) for i in range(14)),
        "2024,Reporting year,Regional,E92000001,England,E12000005,West Midlands,,,,Total,"
        + ",".join("c" * 14),
        "2024,Reporting year,Local authority,E92000001,England,E12000005,West Midlands,332,E08000027,Dudley,"
        "Total," + ",".join(["x", "z", "low", "5"] + ["1"] * 10),
    ]
    _deliver(home.landing, "dfe/cla_2024_la.csv", header + "\n".join(rows) + "\n")
    _, [outcome] = _ingest(home)
    assert _query(home, "select dataset from ingest.deliveries") == [("dfe_statistics",)]
    assert (outcome.rows_in_file, outcome.rows_loaded, outcome.rows_quarantined) == (3, 3, 0)
    loaded = _query(
        home,
        "select geographic_level, new_la_code, _extra->>'$.characteristic', _extra->>'$.indicator_0',"
        " _extra->>'$.indicator_13' from raw.dfe_statistics order by _source_line",
    )
    assert loaded == [
        ("National", None, "Total", "0", "130"),
        ("Regional", None, "Total", "c", "c"),
        ("Local authority", "E08000027", "Total", "x", "1"),
    ]
