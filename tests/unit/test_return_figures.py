"""The DfE's figures worked out from returns written by hand, at the edges of each definition, and the
reconciliation's verdicts on a made-up difference of each kind."""

import pandas as pd
import pytest

from orchestration.returns.figures import Returns, broken_continuations, figures
from orchestration.returns.reconcile import BROKEN_HISTORY, DUPLICATE_RECORDS, reconcile
from orchestration.returns.ssda903.build import COLUMNS


def _table(name: str, rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{c: r.get(c, "") for c in COLUMNS[name]} for r in rows], columns=COLUMNS[name])


def _903(header, episodes, oc2=(), oc3=()):
    return {
        "header": _table("header", header),
        "episodes": _table("episodes", episodes),
        "oc2": _table("oc2", list(oc2)),
        "oc3": _table("oc3", list(oc3)),
    }


def _ep(child, decom, rne, place, dec="", rec="", ls="C2"):
    return {"CHILD": child, "DECOM": decom, "RNE": rne, "LS": ls, "PLACE": place, "DEC": dec, "REC": rec}


# a: three carers in 2024/25 (a change of placement with the same carer, T, is not a fourth)
# b: the same carer since January 2021 (a T move in 2023 does not end it): long-term stability at 31 March 2024
# c: placed for adoption in June 2023, in foster care with another carer from February 2021 before that
# d: entered care in October 2021, too recently for the 2.5-year cohort at 31 March 2024
# e: a respite episode (V3) is not care
# t: two carers in 2024/25 and a change of placement with the first of them (T): not three placements
HEADER = [
    {"CHILD": "t", "DOB": "01/01/2012"},
    {"CHILD": "a", "DOB": "01/01/2012"},
    {"CHILD": "b", "DOB": "01/01/2012"},
    {"CHILD": "c", "DOB": "01/01/2020"},
    {"CHILD": "d", "DOB": "01/01/2012"},
    {"CHILD": "e", "DOB": "01/01/2012"},
]
HISTORY = [
    _ep("a", "01/06/2023", "S", "U4", "01/05/2024", "X1"),
    _ep("a", "01/05/2024", "P", "U6", "01/09/2024", "X1"),
    _ep("a", "01/09/2024", "T", "U6", "10/01/2025", "X1"),
    _ep("a", "10/01/2025", "P", "K2"),
    _ep("b", "01/01/2021", "S", "U4", "01/01/2023", "X1"),
    _ep("b", "01/01/2023", "T", "U4"),
    _ep("c", "01/02/2021", "S", "U4", "01/06/2023", "X1"),
    _ep("c", "01/06/2023", "P", "A6"),
    _ep("d", "01/10/2021", "S", "U4"),
    _ep("e", "01/05/2024", "S", "U4", "03/05/2024", "E4A", ls="V3"),
    _ep("t", "01/06/2023", "S", "U4", "01/09/2024", "X1"),
    _ep("t", "01/09/2024", "T", "U4", "10/01/2025", "X1"),
    _ep("t", "10/01/2025", "P", "K2"),
]


def _year(year: int) -> list[dict]:
    """The episodes a return for the year holds: those open in it, with an end after 31 March blanked."""
    start, end = pd.Timestamp(year - 1, 4, 1), pd.Timestamp(year, 3, 31)
    out = []
    for e in HISTORY:
        decom = pd.to_datetime(e["DECOM"], dayfirst=True)
        dec = pd.to_datetime(e["DEC"], dayfirst=True) if e["DEC"] else None
        if decom <= end and (dec is None or dec >= start):
            out.append(e | ({"DEC": "", "REC": ""} if dec is None or dec > end else {}))
    return out


CARE_LEAVERS_2021 = [
    {"CHILD": "f", "DOB": "01/06/2002", "IN_TOUCH": "YES", "ACTIV": "F3", "ACCOM": "U1"},
    {"CHILD": "g", "DOB": "01/06/2002", "IN_TOUCH": "NO", "ACTIV": "0", "ACCOM": "0"},
]
CARE_LEAVERS_2022 = [
    {"CHILD": "f", "DOB": "01/06/2002", "IN_TOUCH": "YES", "ACTIV": "F3", "ACCOM": "U2"},
    {"CHILD": "h", "DOB": "01/06/2003", "IN_TOUCH": "YES", "ACTIV": "F5", "ACCOM": "D1"},
]

CIN_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Message><Header><CollectionDetails><Collection>CIN</Collection><Year>{year}</Year>
<ReferenceDate>{year}-03-31</ReferenceDate></CollectionDetails><Source><SourceLevel>L</SourceLevel><LEA>332</LEA>
<SoftwareCode>test</SoftwareCode><Release>1</Release><SerialNo>001</SerialNo><DateTime>{year}-04-01T00:00:00</DateTime>
</Source></Header><Children>{children}</Children></Message>"""

CHILD_2024 = """<Child><ChildIdentifiers><LAchildID>x</LAchildID><PersonBirthDate>2015-01-01</PersonBirthDate>
<Sex>M</Sex></ChildIdentifiers><ChildCharacteristics><Ethnicity>WBRI</Ethnicity></ChildCharacteristics>
<CINdetails><CINreferralDate>2023-06-01</CINreferralDate><ReferralSource>2A</ReferralSource>
<PrimaryNeedCode>N1</PrimaryNeedCode><CINclosureDate>2023-07-01</CINclosureDate><ReasonForClosure>RC8</ReasonForClosure>
<ReferralNFA>0</ReferralNFA></CINdetails></Child>"""

# x: re-referred on 1 May 2024 (previous referral 1 June 2023); two assessments started on Monday 25 November 2024
# authorised on 30 January 2025 (45 working days: Christmas, Boxing Day, New Year's Day not counted) and on
# 31 January (46); a section 47 enquiry on 2 December 2024 with a conference 15 working days later (23
# December) and a second plan ever; open at 31 March
CHILD_2025 = """<Child><ChildIdentifiers><LAchildID>x</LAchildID><PersonBirthDate>2015-01-01</PersonBirthDate>
<Sex>M</Sex></ChildIdentifiers><ChildCharacteristics><Ethnicity>WBRI</Ethnicity></ChildCharacteristics>
<CINdetails><CINreferralDate>2024-05-01</CINreferralDate><ReferralSource>2A</ReferralSource>
<PrimaryNeedCode>N1</PrimaryNeedCode>
<Assessments><AssessmentActualStartDate>2024-11-25</AssessmentActualStartDate>
<AssessmentAuthorisationDate>2025-01-30</AssessmentAuthorisationDate></Assessments>
<Assessments><AssessmentActualStartDate>2024-11-25</AssessmentActualStartDate>
<AssessmentAuthorisationDate>2025-01-31</AssessmentAuthorisationDate></Assessments>
<Section47><S47ActualStartDate>2024-12-02</S47ActualStartDate><InitialCPCtarget>2024-12-23</InitialCPCtarget>
<DateOfInitialCPC>2024-12-23</DateOfInitialCPC><ICPCnotRequired>0</ICPCnotRequired></Section47>
<ReferralNFA>0</ReferralNFA>
<ChildProtectionPlans><CPPstartDate>2024-12-23</CPPstartDate><InitialCategoryOfAbuse>NEG</InitialCategoryOfAbuse>
<LatestCategoryOfAbuse>NEG</LatestCategoryOfAbuse><NumberOfPreviousCPP>1</NumberOfPreviousCPP></ChildProtectionPlans>
</CINdetails></Child>"""


@pytest.fixture(scope="module")
def worked_out():
    returns = Returns(
        ssda903={
            2021: _903(HEADER, _year(2021), oc3=CARE_LEAVERS_2021),
            2022: _903(HEADER, _year(2022), oc3=CARE_LEAVERS_2022),
            2023: _903(HEADER, _year(2023)),
            2024: _903(HEADER, _year(2024)),
            2025: _903(HEADER, _year(2025)),
        },
        cin={
            2024: CIN_XML.format(year=2024, children=CHILD_2024).encode(),
            2025: CIN_XML.format(year=2025, children=CHILD_2025).encode(),
        },
    )
    return figures(returns)


def _of(frame, measure, year):
    part = frame[(frame.measure == measure) & (frame.collection_year == year)]
    return dict(zip(part.child, part.value, strict=True))


def test_placements_are_counted_by_carer_for_children_looked_after_at_31_march(worked_out):
    assert _of(worked_out, "three_or_more_placements", 2025) == {"a": "1"}
    assert _of(worked_out, "looked_after_at_31_march", 2025) == {
        "a": "1",
        "b": "1",
        "c": "1",
        "d": "1",
        "t": "1",
    }
    assert "e" not in _of(worked_out, "started_to_be_looked_after", 2025)  # respite


def test_long_term_stability_by_carer_and_with_the_placement_before_adoption(worked_out):
    # a entered care in June 2023 and d in October 2021: too recently for the cohort at 31 March 2024
    assert _of(worked_out, "long_term_stability_cohort", 2024) == {"b": "1", "c": "1"}
    stability = _of(worked_out, "long_term_stability", 2024)
    assert stability["b"] == "true"  # same carer since January 2021, through a T move
    assert (
        stability["c"] == "true"
    )  # placed for adoption, with the foster placement before: since February 2021
    assert "d" not in stability  # in care since October 2021: under two and a half years at 31 March 2024


def test_care_leavers_activity_codes_of_their_year(worked_out):
    eet = "care_leavers_in_education_employment_or_training"
    assert _of(worked_out, eet, 2021) == {
        "f": "true",
        "g": "false",
    }  # F3 is training or employment in 2020/21
    assert _of(worked_out, eet, 2022) == {"f": "false", "h": "true"}  # F3 is no longer a code; F5 is
    assert _of(worked_out, "care_leavers", 2021) == {"f": "18", "g": "18"}
    assert _of(worked_out, "care_leavers_suitably_accommodated", 2022) == {"f": "false", "h": "true"}


def test_children_in_need_measures_from_the_census(worked_out):
    assert _of(worked_out, "referrals", 2025) == {"x": "1"}
    assert _of(worked_out, "re_referrals_within_12_months", 2025) == {"x": "1"}
    assert _of(worked_out, "re_referrals_within_12_months", 2024) == {}
    assert _of(worked_out, "assessments_completed", 2025) == {"x": "2"}
    assert _of(worked_out, "assessments_within_45_working_days", 2025) == {"x": "1"}
    assert _of(worked_out, "initial_cp_conferences_within_15_working_days", 2025) == {"x": "1"}
    assert _of(worked_out, "second_or_subsequent_cp_plans", 2025) == {"x": "1"}
    assert _of(worked_out, "in_need_at_31_march", 2025) == {"x": "1"}
    assert _of(worked_out, "in_need_at_31_march", 2024) == {}


DUPLICATES = DUPLICATE_RECORDS.format(n=2)


def test_every_kind_of_difference_is_named_and_only_duplicate_records_are_explained():
    years = [2025]
    returned = pd.DataFrame(
        [
            ("looked_after_at_31_march", 2025, "A1", "1"),  # the marts have it too
            ("looked_after_at_31_march", 2025, "B1", "1"),  # only the return
            ("looked_after_at_31_march_by_legal_status", 2025, "A1", "C2"),  # the marts say V2
            ("referrals", 2025, "D1", "1"),  # one child, two LA records: 1 + 1 referrals
            ("referrals", 2025, "D2", "1"),
            ("looked_after_at_31_march", 2025, "E1", "1"),  # one child, two LA records, the marts once
            ("looked_after_at_31_march", 2025, "E2", "1"),
            ("looked_after_at_31_march_by_legal_status", 2025, "E1", "C2"),  # the two records disagree
            ("looked_after_at_31_march_by_legal_status", 2025, "E2", "V2"),
        ],
        columns=["measure", "collection_year", "child", "value"],
    )
    marts = pd.DataFrame(
        [
            ("looked_after_at_31_march", 2025, "pk_a", "1"),
            ("looked_after_at_31_march", 2025, "pk_c", "1"),  # only the marts
            ("looked_after_at_31_march_by_legal_status", 2025, "pk_a", "V2"),
            ("referrals", 2025, "pk_d", "2"),
            ("looked_after_at_31_march", 2025, "pk_e", "1"),
            ("looked_after_at_31_march_by_legal_status", 2025, "pk_e", "C2"),
            # the child's two referrals are one under each LA record: a re-referral only to the marts
            ("re_referrals_within_12_months", 2025, "pk_e", "1"),
        ],
        columns=["measure", "collection_year", "child", "value"],
    )
    keys = pd.DataFrame(
        {
            "record_id": ["A1", "B1", "D1", "D2", "E1", "E2"],
            "person_key": ["pk_a", "pk_b", "pk_d", "pk_d", "pk_e", "pk_e"],
        }
    )
    result = reconcile(returned, marts, keys, years)
    found = {(r.measure, r.person_key): (r.reason, r.explained) for r in result.differences.itertuples()}
    assert found == {
        ("looked_after_at_31_march", "pk_b"): ("in the return, not in the marts", False),
        ("looked_after_at_31_march", "pk_c"): ("in the marts, not in the return", False),
        ("looked_after_at_31_march_by_legal_status", "pk_a"): ("the return says C2, the marts say V2", False),
        ("looked_after_at_31_march_by_legal_status", "pk_e"): (DUPLICATES, True),
        ("re_referrals_within_12_months", "pk_e"): (DUPLICATES, True),
    }
    assert not result.passed
    row = result.summary.set_index(["measure", "collection_year"]).loc[("looked_after_at_31_march", 2025)]
    assert (row["return"], row["marts"], row["differences"]) == (3, 3, 2)


def test_a_care_history_that_breaks_off_explains_differences_from_that_year_only():
    # k: an episode ends X1 on 15 November 2022 and its continuation is missing from the extract (rule 388);
    # m: an X1 whose continuation is there; n: an X1 the next episode does not start on (a gap, also 388)
    header = [{"CHILD": c, "DOB": "01/01/2012"} for c in "kmn"]
    episodes = [
        _ep("k", "01/06/2021", "S", "U4", "15/11/2022", "X1"),
        _ep("m", "01/06/2021", "S", "U4", "15/11/2022", "X1"),
        _ep("m", "15/11/2022", "P", "U5"),
        _ep("n", "01/06/2021", "S", "U4", "15/11/2022", "X1"),
        _ep("n", "20/11/2022", "P", "U5"),
    ]
    broken = broken_continuations(Returns(ssda903={2023: _903(header, episodes)}, cin={}))
    assert list(broken.child) == ["k", "n"]
    assert [str(d)[:10] for d in broken.dec] == ["2022-11-15", "2022-11-15"]

    returned = pd.DataFrame(
        [
            ("looked_after_12_months", 2022, "K1", "1"),  # before it breaks: a difference like any other
            ("looked_after_12_months", 2023, "K1", "1"),  # the return reads care as going on
            ("looked_after_12_months", 2023, "M1", "1"),
        ],
        columns=["measure", "collection_year", "child", "value"],
    )
    marts = pd.DataFrame([("looked_after_12_months", 2023, "pk_m", "1")], columns=returned.columns)
    keys = pd.DataFrame({"record_id": ["K1", "M1"], "person_key": ["pk_k", "pk_m"]})
    broken = pd.DataFrame({"child": ["K1"], "dec": [pd.Timestamp(2022, 11, 15)]})
    result = reconcile(returned, marts, keys, [2022, 2023], broken)
    found = {
        (r.collection_year, r.person_key): (r.reason, r.explained) for r in result.differences.itertuples()
    }
    assert found == {
        (2022, "pk_k"): ("in the return, not in the marts", False),
        (2023, "pk_k"): (BROKEN_HISTORY.format(dec="2022-11-15"), True),
    }
    assert not result.passed  # the 2022 difference still blocks

    # no history breaks off (what a clean authority gives): the same differences, none explained by it
    none = broken_continuations(Returns(ssda903={2023: _903(header[1:2], episodes[1:3])}, cin={}))
    assert none.empty
    result = reconcile(returned, marts, keys, [2022, 2023], none)
    assert result.differences.explained.tolist() == [False, False]
