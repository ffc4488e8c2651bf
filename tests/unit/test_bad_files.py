"""The bad files partners really send, each with the outcome a data officer should see.

Every case delivers the bad file beside a good one in the same run. For each we assert what happened to
the bad file (status, and a message naming the file and, where it applies, the row and column), that the
good file loaded untouched, and that every delivery's rows add up.
"""

import io
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import openpyxl
import pytest

from orchestration.ingest.archive import receive
from orchestration.ingest.contracts import load_contract_versions, load_contracts
from orchestration.ingest.service import load_pending

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "reference"
HEALTH = "health/health_assessments/health_assessments_2024-05.csv"
HEADER = (
    "assessment_id,nhs_number,forename,surname,date_of_birth,sex,postcode,assessment_type,assessment_date,"
    "due_date,outcome\n"
)
ROW = "A{n},9990000018,Amy,Khan,01/02/2015,F,DY1 4QT,Initial health assessment,03/04/2024,,Completed\n"
GOOD_COMPANION = (
    "health/dental_checks/dental_checks_2024-05.csv",
    "check_id,nhs_number,forename,surname,date_of_birth,sex,postcode,check_date,practice_code\n"
    "D1,9990000018,Amy,Khan,01/02/2015,F,DY1 4QT,04/04/2024,V12345\n"
    "D2,9990000026,Ben,Ali,11/12/2014,M,DY2 7DL,05/04/2024,V12345\n",
)


def rows(*numbers: int) -> str:
    return "".join(ROW.format(n=n) for n in numbers)


def workbook(sheets: dict[str, list[list]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, data in sheets.items():
        sheet = book.create_sheet(title)
        for r in data:
            sheet.append(r)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@dataclass
class Case:
    name: str
    path: str
    content: bytes
    status: str  # loaded, failed or unrecognised
    says: list[str] = field(default_factory=list)  # fragments the message (or a quarantine entry) must hold
    loaded: int | None = None
    quarantined: int | None = None
    duplicate: int | None = None
    issue: tuple | None = None  # (line, column, rule) that must be in the quarantine


def text(s: str, encoding: str = "utf-8") -> bytes:
    return s.encode(encoding)


CASES = [
    Case("empty file", HEALTH, b"", "unrecognised", ["health_assessments_2024-05.csv", "is empty"]),
    Case("only blank lines", HEALTH, b"\n\n\r\n", "unrecognised", ["is empty"]),
    Case("byte-order mark", HEALTH, b"\xef\xbb\xbf" + text(HEADER + rows(1, 2)), "loaded", loaded=2),
    Case(
        "Windows-1252 text",
        HEALTH,
        text(HEADER + rows(1).replace("Khan", "O\u2019Neill"), "cp1252"),
        "loaded",
        ["cp1252"],
        loaded=1,
    ),
    Case(
        "UTF-16 text (Excel 'Unicode text')", HEALTH, text(HEADER + rows(1, 2), "utf-16"), "loaded", loaded=2
    ),
    Case("binary file named .csv", HEALTH, bytes(range(256)) * 4, "unrecognised", ["not a text file"]),
    Case(
        "Excel workbook where CSV was expected",
        HEALTH.replace(".csv", ".xlsx"),
        workbook({"Sheet1": [HEADER.strip().split(","), ROW.format(n=1).strip().split(",")]}),
        "loaded",
        ["Excel workbook where a CSV file was expected"],
        loaded=1,
    ),
    Case(
        "CSV where a workbook was expected (Annex A list)",
        "social_care/annex_a/list1.csv",
        text(
            "Child Unique ID,Gender,Ethnicity,Date of Birth,Age,Date of Contact,Contact Source\n"
            "1,a) Male,a) WBRI,01/01/2015,9,01/09/2024,6\n"
        ),
        "unrecognised",
        ["send the whole workbook"],
    ),
    Case(
        "missing required columns",
        HEALTH,
        text("assessment_id,nhs_number,forename\nA1,9990000018,Amy\n"),
        "failed",
        ["required column(s) missing", "assessment_type", "assessment_date"],
    ),
    Case(
        "required column dropped from an otherwise full file",
        HEALTH,
        text(HEADER.replace("assessment_date,", "") + rows(1).replace("03/04/2024,", "")),
        "failed",
        ["health_assessments_2024-05.csv", "required column(s) missing", "assessment_date"],
    ),
    Case(
        "unknown extra column",
        HEALTH,
        text(HEADER.strip() + ",gp_practice\n" + rows(1).strip() + ",M83001\n"),
        "loaded",
        ["unknown extra columns kept: gp_practice"],
        loaded=1,
    ),
    Case("no header row", HEALTH, text(rows(1, 2, 3)), "unrecognised", ["header row missing"]),
    Case("header only", HEALTH, text(HEADER), "loaded", ["has a header but no rows"], loaded=0),
    Case(
        "header only, with a byte-order mark",
        HEALTH,
        text(HEADER, "utf-8-sig"),
        "loaded",
        ["has a header but no rows"],
        loaded=0,
    ),
    Case(
        "truncated last line",
        HEALTH,
        text(HEADER + rows(1, 2) + "A3,999000"),
        "loaded",
        loaded=2,
        quarantined=1,
        issue=(4, None, "malformed:MISSING COLUMNS"),
    ),
    Case(
        "mixed date formats",
        HEALTH,
        text(
            HEADER
            + rows(1)
            + rows(2).replace("03/04/2024", "2024-04-03")
            + rows(3).replace("03/04/2024", "3-4-2024")
        ),
        "loaded",
        loaded=3,
    ),
    Case(
        "invalid date",
        HEALTH,
        text(HEADER + rows(1) + rows(2).replace("03/04/2024", "31/02/2024")),
        "loaded",
        loaded=1,
        quarantined=1,
        issue=(3, "assessment_date", "type:date"),
    ),
    Case(
        "Excel serial date",
        HEALTH,
        text(HEADER + rows(1).replace("03/04/2024", "45385")),
        "loaded",
        loaded=1,
        issue=(2, "assessment_date", "excel_serial_date"),
    ),
    Case(
        "trailing .0 on an identifier",
        HEALTH,
        text(HEADER + rows(1).replace("9990000018", "9990000018.0")),
        "loaded",
        loaded=1,
        issue=(2, "nhs_number", "trailing_decimal"),
    ),
    Case(
        "whitespace and case in codes",
        HEALTH,
        text(HEADER + rows(1).replace(",F,", ", f ,")),
        "loaded",
        loaded=1,
        quarantined=0,
    ),
    Case(
        "code not in the list",
        HEALTH,
        text(HEADER + rows(1).replace(",F,", ",X,")),
        "loaded",
        loaded=0,
        quarantined=1,
        issue=(2, "sex", "code_list"),
    ),
    Case(
        "invalid NHS number (kept, flagged)",
        HEALTH,
        text(HEADER + rows(1).replace("9990000018", "9990000019")),
        "loaded",
        loaded=1,
        issue=(2, "nhs_number", "nhs_number_check_digit"),
    ),
    Case(
        "required value empty",
        HEALTH,
        text(HEADER + rows(1).replace("03/04/2024", "")),
        "loaded",
        loaded=0,
        quarantined=1,
        issue=(2, "assessment_date", "required"),
    ),
    Case("exact duplicate rows", HEALTH, text(HEADER + rows(1, 1, 1, 2)), "loaded", loaded=2, duplicate=2),
    Case(
        "too many fields on a row",
        HEALTH,
        text(HEADER + rows(1) + rows(2).strip() + ",extra,more\n"),
        "loaded",
        loaded=1,
        quarantined=1,
        issue=(3, None, "malformed:TOO MANY COLUMNS"),
    ),
    Case(
        "quoted newline inside a field",
        HEALTH,
        text(HEADER + rows(1).replace("Completed", '"Completed\nlate"') + rows(2).replace(",F,", ",Q,")),
        "loaded",
        loaded=1,
        quarantined=1,
        issue=(4, "sex", "code_list"),
    ),
    Case(
        "blank lines between rows",
        HEALTH,
        text(HEADER + rows(1) + "\n\n" + rows(2).replace(",F,", ",Q,")),
        "loaded",
        loaded=1,
        issue=(5, "sex", "code_list"),
    ),
    Case(
        "rows of empty cells (Excel export)",
        HEALTH,
        text(HEADER + rows(1) + ",,,,,,,,,,\n"),
        "loaded",
        loaded=1,
        quarantined=1,
        issue=(3, "assessment_id", "required"),
    ),
    Case(
        "commas in numbers",
        "health/sdq_scores/sdq_scores_2024-05.csv",
        text(
            "sdq_id,nhs_number,forename,surname,date_of_birth,sex,completed_date,informant,total_difficulties_score\n"
            'S1,9990000018,Amy,Khan,01/02/2015,F,03/04/2024,Carer,"1,0"\n'
        ),
        "loaded",
        loaded=1,
    ),
    Case(
        "headers renamed the way people write them",
        HEALTH,
        text(
            "Assessment ID,NHS Number,First Name,Last Name,Date of Birth,Gender,Post Code,Assessment Type,"
            "Assessment Date,Due Date,Outcome\n" + rows(1)
        ),
        "loaded",
        loaded=1,
    ),
    Case(
        "columns in another order",
        HEALTH,
        text(
            "outcome,assessment_date,assessment_type,postcode,sex,date_of_birth,surname,forename,nhs_number,"
            "assessment_id,due_date\nCompleted,03/04/2024,Initial health assessment,DY1 4QT,F,01/02/2015,Khan,"
            "Amy,9990000018,A1,\n"
        ),
        "loaded",
        loaded=1,
    ),
    Case(
        "wrong period: no period in the name",
        "health/health_assessments/health_assessments_latest.csv",
        text(HEADER + rows(1)),
        "failed",
        ["carries no reporting period"],
    ),
    Case(
        "wrong period: dates after the period it is named for",
        "health/health_assessments/health_assessments_2023-01.csv",
        text(HEADER + rows(1)),
        "loaded",
        loaded=1,
        issue=(2, "assessment_date", "after_period"),
    ),
    Case(
        "right dataset in the wrong folder",
        "schools/school_census/health_assessments_2024-05.csv",
        text(HEADER + rows(1)),
        "loaded",
        ["arrived outside health/health_assessments/"],
        loaded=1,
    ),
    Case(
        "a file that is not what its name says",
        "health/health_assessments/dental_checks_2024-06.csv",
        text(HEADER + rows(1)),
        "loaded",
        ["its name says dental_checks but its content is health_assessments"],
        loaded=1,
    ),
    Case(
        "semicolon-separated file",
        HEALTH,
        text(HEADER.replace(",", ";") + rows(1).replace(",", ";")),
        "unrecognised",
        ["match no known dataset"],
    ),
    Case(
        "XML that is not well-formed",
        "social_care/cin_census/cin_2025.xml",
        text("<Message><Children><Child></Children></Message>"),
        "unrecognised",
        ["not well-formed XML", "line 1"],
    ),
    Case(
        "XML of an unknown kind",
        "social_care/cin_census/other.xml",
        text("<Invoice><Total>3</Total></Invoice>"),
        "unrecognised",
        ["root <Invoice>"],
    ),
    Case(
        "workbook with no known sheets",
        "social_care/annex_a/annex_a_2025-01-31.xlsx",
        workbook({"Notes": [["nothing here"]]}),
        "unrecognised",
        ["match no known dataset"],
    ),
    Case(
        "a plan that ends before it began",
        "social_care/ssd/2026-03-31/ssd_cp_plans.csv",
        text(
            "cppl_cp_plan_id,cppl_referral_id,cppl_icpc_id,cppl_person_id,cppl_cp_plan_start_date,"
            "cppl_cp_plan_end_date,cppl_cp_plan_initial_category,cppl_cp_plan_ola,cppl_cp_plan_latest_category\n"
            "P1,R1,I1,1000001,2024-05-01 00:00:00.000,2024-09-01 00:00:00.000,NEG,N,NEG\n"
            "P2,R2,I2,1000002,2024-05-01 00:00:00.000,2023-09-01 00:00:00.000,NEG,N,NEG\n"
        ),
        "loaded",
        ["cppl_cp_plan_end_date is before cppl_cp_plan_start_date"],
        loaded=1,
        quarantined=1,
        issue=(3, "cppl_cp_plan_end_date", "before:cppl_cp_plan_start_date"),
    ),
]


def _ingest(home: Path, files: dict[str, bytes]):
    landing = home / "landing"
    for relative, content in files.items():
        path = landing / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    (home / "warehouse").mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(home / "warehouse" / "vault.duckdb"))
    receive(con, landing, home / "archive", load_contracts())
    for versions in load_contract_versions().values():
        load_pending(con, versions, home / "warehouse", home / "feedback")
    return con


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_file(case: Case, tmp_path):
    assert len(CASES) >= 25
    con = _ingest(tmp_path, {case.path: case.content, GOOD_COMPANION[0]: GOOD_COMPANION[1].encode()})
    deliveries = con.execute(
        """select landing_path, status, coalesce(status_detail, '') || ' ' || coalesce(recognition_notes, ''),
                  rows_in_file, rows_loaded, rows_quarantined, rows_duplicate, delivery_id
           from ingest.deliveries"""
    ).fetchall()
    by_path = {d[0]: d for d in deliveries}
    _, status, message, _, loaded, quarantined, duplicate, delivery_id = by_path[case.path]
    issues = con.execute(
        "select line_number, column_name, rule, message from ingest.quarantine where delivery_id = ?",
        [delivery_id],
    ).fetchall()
    said = message + " " + " ".join(i[3] for i in issues)
    assert status == case.status, said
    for fragment in case.says:
        assert fragment in said, said
    if case.status != "loaded":
        assert Path(case.path).name in said, "the message names the file"
    for expected, actual in (
        (case.loaded, loaded),
        (case.quarantined, quarantined),
        (case.duplicate, duplicate),
    ):
        if expected is not None:
            assert actual == expected, (case.name, loaded, quarantined, duplicate, issues)
    if case.issue is not None:
        line, column, rule = case.issue
        assert any(i[0] == line and i[1] == column and i[2] == rule for i in issues), issues
    # nothing else in the run is affected
    companion = by_path[GOOD_COMPANION[0]]
    assert companion[1:3] == ("loaded", companion[2]) and companion[4] == 2 and companion[5] == 0
    # every delivery that was read adds up
    for d in deliveries:
        if d[1] in ("loaded", "failed") and d[3] is not None:  # null: never read (no period, say)
            assert d[3] == d[4] + d[5] + d[6], d
    if case.status == "loaded" and issues:
        reports = list((tmp_path / "feedback").rglob(f"*{delivery_id}-errors.xlsx"))
        assert reports, "a partner error report is written"


def test_the_reference_samples_all_load(tmp_path):
    samples = SHARED / "samples"
    if not samples.exists():
        pytest.skip("../shared/reference is not available")
    files = {
        "social_care/annex_a/Annex_A.xlsx": (samples / "annex_a" / "Annex_A.xlsx").read_bytes(),
        "social_care/cin_census/cin-2022.xml": (samples / "cin_census" / "cin-2022.xml").read_bytes(),
        "social_care/ssda903/SSDA903_2020_episodes.csv": (
            samples / "ssda903" / "SSDA903_2020_episodes.csv"
        ).read_bytes(),
    }
    for p in (samples / "school_census_2024_autumn").glob("*.csv"):
        files[f"schools/school_census/{p.name}"] = p.read_bytes()
    con = _ingest(tmp_path, files)
    statuses = con.execute(
        "select landing_path, status, rows_in_file, rows_loaded from ingest.deliveries"
    ).fetchall()
    assert len(statuses) == len(files)
    for path, status, rows_in_file, rows_loaded in statuses:
        assert status == "loaded", path
        assert rows_loaded >= 0.8 * rows_in_file, path
    assert con.execute("select count(*) from raw.annex_a__list_8").fetchall()[0][0] == 5
    assert con.execute("select count(*) from raw.cin_census__child_identifiers").fetchall()[0][0] >= 1
    xsd = con.execute("select count(*) from ingest.quarantine where rule = 'xsd'").fetchall()[0][0]
    assert xsd >= 1, "the CIN sample's schema problems are reported against its rows"
    shutil.rmtree(tmp_path / "archive")
