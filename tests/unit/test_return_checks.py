"""Return pre-checks, publishing and schedules, on small hand-made returns; and the known validator
defects, each shown by running the real DfE validator on a minimal correct return."""

from datetime import datetime

import dagster as dg
import pandas as pd
import pytest

from orchestration.identifiers import upn_check_letter
from orchestration.returns.cin.prechecks import precheck as precheck_cin
from orchestration.returns.common import publish
from orchestration.returns.ssda903.build import COLUMNS
from orchestration.returns.ssda903.prechecks import precheck as precheck_903


def _upn(body: str) -> str:
    return upn_check_letter(body) + body


def _return(**tables: list[dict]) -> dict[str, pd.DataFrame]:
    """A return with every table, empty unless given (deprivation of liberty orders, collected from 2026/27,
    only when given)."""
    return {
        name: pd.DataFrame(tables.get(name, []), columns=columns).fillna("").astype(str)
        for name, columns in COLUMNS.items()
        if name != "dolo" or name in tables
    }


def _episode(child, decom, dec="", rne="S", rec="", place="U4", ls="C2", provider="PR1", **extra) -> dict:
    return {"CHILD": child, "DECOM": decom, "RNE": rne, "LS": ls, "CIN": "N1", "PLACE": place,
            "PLACE_PROVIDER": provider, "DEC": dec, "REC": rec, "REASON_PLACE_CHANGE": "", "HOME_POST": "DY1 1AA",
            "PL_POST": "DY1 2AA", "URN": "SC123456", **extra}  # fmt: skip


def _header(child, dob, upn) -> dict:
    return {"CHILD": child, "SEX": "F", "DOB": dob, "ETHNIC": "WBRI", "UPN": upn, "MOTHER": "0", "MC_DOB": ""}


def _rules(found: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(found.rule, found.child, strict=True))


def test_903_prechecks_pass_a_correct_return():
    tables = _return(
        header=[_header("1", "01/05/2012", _upn("332201712001"))],
        episodes=[
            _episode("1", "03/06/2025", "10/09/2025", rec="X1"),
            _episode("1", "10/09/2025", rne="P", place="U6", provider="PR4"),
        ],
    )
    assert precheck_903(tables, 2026).empty


def test_903_prechecks_find_what_the_team_must_fix_and_say_where():
    good = _upn("332201712001")
    tables = _return(
        header=[
            _header("1", "01/05/2012", "A" + good[1:] if good[0] != "A" else "B" + good[1:]),  # wrong letter
            _header("2", "01/05/2014", "UN1"),  # of school age
            _header("3", "01/05/2013", _upn("332201712003")),
            _header("4", "01/05/2013", _upn("332201712003")),  # same UPN as child 3
        ],
        episodes=[
            _episode("1", "03/06/2025", "10/09/2025", rec="X1"),
            _episode("1", "11/09/2025", rne="P"),  # chain broken: should start 10/09/2025
            _episode("2", "03/06/2025", "10/09/2025", rec="E4A"),
            _episode("2", "01/09/2025", place="Z1"),  # overlaps, and Z1 is retired in 2025/26
            _episode("3", "03/06/2025", "01/06/2025", rec="E4A"),  # ends before it starts
            _episode("4", "03/06/2025", rec="E4A"),  # a reason but no end
        ],
    )
    found = precheck_903(tables, 2026)
    assert {
        ("WC903-01", "1"),
        ("WC903-02", "2"),
        ("WC903-25", "3"),
        ("WC903-25", "4"),
        ("WC903-18", "1"),
        ("WC903-19", "2"),
        ("WC903-14", "2"),
        ("WC903-09", "3"),
        ("WC903-10", "4"),
    } <= _rules(found)
    row = found[found.rule.eq("WC903-14")].iloc[0]
    assert (row.table, row.field, row.value, row.row) == ("episodes", "PLACE", "Z1", "3")
    assert "Z1" not in set(precheck_903(tables, 2025).query("rule == 'WC903-14'").value)


CIN_XML = """<?xml version="1.0" encoding="utf-8"?>
<Message><Header><Collection><CollectionName>CIN</CollectionName><Year>2026</Year>
<ReferenceDate>2026-03-31</ReferenceDate></Collection><Source><SourceLevel>L</SourceLevel><LEA>332</LEA>
<SoftwareCode>Local Authority</SoftwareCode><Release>ver 3.1.21</Release><SerialNo>001</SerialNo>
<DateTime>2026-04-01T00:00:00</DateTime></Source><Content><CBDSLevels><CBDSLevel>Child</CBDSLevel>
</CBDSLevels></Content></Header>
<Children><Child><ChildIdentifiers><LAchildID>1</LAchildID><UPN>{upn}</UPN>
<PersonBirthDate>2015-01-01</PersonBirthDate><Sex>M</Sex></ChildIdentifiers>
<ChildCharacteristics><Ethnicity>WBRI</Ethnicity><Disabilities><Disability>NONE</Disability></Disabilities>
</ChildCharacteristics>
<CINdetails><CINreferralDate>2025-06-01</CINreferralDate><ReferralSource>1A</ReferralSource>
<PrimaryNeedCode>N1</PrimaryNeedCode><CINclosureDate>{closed}</CINclosureDate><ReasonForClosure>RC1</ReasonForClosure>
<DateOfInitialCPC /></CINdetails></Child></Children></Message>"""


def test_cin_prechecks_report_schema_and_identifier_faults_with_their_line():
    good = CIN_XML.format(upn=_upn("332201512001"), closed="2025-09-01").encode()
    found, valid = precheck_cin(good, 2026)
    assert not found[found.rule.ne("WCCIN-XSD")].shape[0], found
    bad = CIN_XML.format(upn="A332201512001X", closed="2025-05-01").encode()
    found, valid = precheck_cin(bad, 2026)
    assert not valid
    rules = set(found.rule)
    assert {"WCCIN-XSD", "WCCIN-01", "WCCIN-03"} <= rules
    assert found.loc[found.rule.eq("WCCIN-01"), "row"].astype(int).gt(0).all()  # the XML line
    # a schema fault names the child whose block it is in (the <Child> opens on line 7), with its line; one
    # in the header names nobody
    xsd = found[found.rule.eq("WCCIN-XSD")]
    in_child = xsd.row.astype(int).ge(7)
    assert in_child.sum() >= 2 and xsd[in_child].child.eq("1").all() and xsd[~in_child].child.eq("").all(), (
        xsd
    )
    unnamed = CIN_XML.format(upn=_upn("332201512001"), closed="2025-09-01").replace("<Sex>M</Sex>", "")
    found, valid = precheck_cin(unnamed.encode(), 2026)
    xsd = found[found.rule.eq("WCCIN-XSD") & found.message.str.contains("ChildIdentifiers")]
    assert not valid and len(xsd) and xsd.child.eq("1").all(), xsd


def test_a_return_is_promoted_to_latest_only_when_it_passes(tmp_path):
    passed = publish({"a.csv": b"x\n"}, tmp_path, "cin", 2026, {}, promote=True)
    failed = publish({"a.csv": b"y\n"}, tmp_path, "cin", 2026, {}, promote=False)
    base = tmp_path / "returns" / "cin" / "2026"
    assert (base / "latest").resolve() == passed
    assert (base / "last_attempt").resolve() == failed
    assert (failed / "manifest.json").exists()


def test_903_and_cin_schedules_ask_for_the_year_that_ended_on_31_march():
    from orchestration.returns.assets import annex_a_schedule, cin_schedule, ssda903_schedule

    for schedule in (ssda903_schedule, cin_schedule):
        context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 4, 6, 7))
        request = schedule(context)
        assert request.partition_key == "2026"
        assert schedule.cron_schedule == "0 7 * 4-7 1"
    assert annex_a_schedule.cron_schedule == "0 6 * * 1"


# --- the known validator defects, on minimal correct returns -----------------------------------------


@pytest.fixture
def validate(tmp_path):
    from orchestration.returns.validation import ValidatorUnavailable, dfe_python, validate_903

    try:
        dfe_python()
    except ValidatorUnavailable as exc:
        pytest.fail(str(exc))  # make test builds .venv-dfe first: its absence is a broken set-up

    def run(this, last, year, providers=None):
        return validate_903(this, last, year, "E08000027", tmp_path / str(year), providers).findings

    return run


def test_k3_supported_accommodation_is_rejected_by_the_2024_25_rule_146_and_explained(validate):
    # K3 became valid in 2024/25, but that year's list has "k3" in lower case
    tables = _return(
        header=[_header("1", "01/05/2008", _upn("332200812001"))],
        episodes=[_episode("1", "03/06/2024", place="K3", provider="PR4", ls="V2")],
    )
    found = validate(tables, None, 2025)
    hits = found[found.rule.eq("146")]
    assert len(hits) and hits.explained_by.str.contains("146").all()
    assert found[found.rule.eq("146")].child.eq("1").all()


def test_rule_146_is_a_defect_only_where_its_corrected_copy_clears_the_record(validate):
    """Both sides, with the real validator: a correct K3 placement (the original flags it, the corrected
    copy clears it: a defect) beside a placement type that exists in no year (both flag it: an error)."""
    tables = _return(
        header=[
            _header("1", "01/05/2008", _upn("332200812001")),
            _header("2", "01/05/2009", _upn("332200912002")),
        ],
        episodes=[
            _episode("1", "03/06/2024", place="K3", provider="PR4", ls="V2"),
            _episode("2", "03/06/2024", place="Q9", provider="PR4", ls="V2"),
        ],
    )
    found = validate(tables, None, 2025)
    hits = found[found.rule.eq("146")].set_index("child")
    assert set(hits.index) == {"1", "2"}  # the published rule flags both
    assert "corrected copy of the rule" in hits.loc["1", "explained_by"]
    assert hits.loc["2", "explained_by"] == ""  # a real error: it blocks


def test_rule_sw11b_is_a_defect_only_where_its_corrected_copy_clears_the_record(validate):
    """Both sides, with the real validator (2025/26): a child whose worker changes twice in the year's last
    five days, each episode followed by one starting the day it ends (the published rule flags the middle
    one, the corrected copy clears it), beside an episode ending on 28 March with nothing after it (both
    flag it: a real error)."""

    def sw(child, start, end=""):
        return {"CHILD": child, "DOB": "01/05/2012", "SW_ID": f"SW{child}{start[:2]}", "SW_DECOM": start,
                "SW_DEC": end, "SW_REASON": "MANAGE" if end else ""}  # fmt: skip

    children = ("1", "2")
    tables = _return(
        header=[_header(c, "01/05/2012", _upn(f"33220121200{c}")) for c in children],
        episodes=[_episode(c, "01/06/2024", ls="C2") for c in children],
        sw_episodes=[
            sw("1", "01/06/2024", "27/03/2026"),
            sw("1", "27/03/2026", "29/03/2026"),
            sw("1", "29/03/2026"),
            sw("2", "01/06/2024", "28/03/2026"),
        ],
    )
    found = validate(tables, None, 2026)
    hits = found[found.rule.eq("SW11bSTG2")]
    assert set(hits.child) == {"1", "2"}, hits  # the published rule flags both children
    assert hits[hits.child.eq("1")].explained_by.str.contains("corrected copy").all()
    assert hits[hits.child.eq("2")].explained_by.eq("").all()  # a real error: it blocks


@pytest.mark.parametrize("year", [2024, 2026])
def test_rule_sw12_is_a_defect_only_where_its_corrected_copy_clears_the_record(validate, year):
    """Both sides, with the real validator (2023/24's rule, and 2025/26's with SW17STG2, which asks every
    child reported in SWEpisodes to have an episode open on 31 March). The published SW12STG2 flags all
    three children; its corrected copy clears the first two: a child looked after on 31 March whose worker
    was allocated before they came into care (reported, as the rule's message asks: "even those whilst
    they were not looked after"), and a child who came into care and left it in the year, their worker no
    longer allocated on 31 March, so not reported. The third, looked after on 31 March with no social
    worker episode at all, is an error of both: it blocks."""
    y = year - 1  # the collection year runs from 1 April of the year before

    def sw(child, start, end=""):
        return {"CHILD": child, "DOB": "01/05/2012", "SW_ID": f"SW{child}{start[:2]}", "SW_DECOM": start,
                "SW_DEC": end, "SW_REASON": "MANAGE"}  # fmt: skip

    tables = _return(
        header=[_header(c, "01/05/2012", _upn(f"33220121200{c}")) for c in ("1", "2", "3")],
        episodes=[
            # (a placement change after the care start: in a full run of the validator the published rule does
            # not flag an episode still open for this, as rules before it change the data store they share,
            # so it is the first episode, ended X1, that it flags)
            _episode("1", f"01/06/{y}", f"01/09/{y}", rec="X1", ls="C2", REASON_PLACE_CHANGE="CARPL"),
            _episode("1", f"01/09/{y}", rne="P", place="U6", provider="PR4", ls="C2"),
            _episode("2", f"01/06/{y}", f"01/12/{y}", rec="E4A", ls="C2"),
            _episode("3", f"01/06/{y}", ls="C2"),
        ],
        sw_episodes=[sw("1", f"10/04/{y}")],  # allocated before care, the same worker since
    )
    found = validate(tables, None, year)
    hits = found[found.rule.eq("SW12STG2")]
    assert set(hits.child) == {"1", "2", "3"}, hits  # the published rule flags all three
    for cleared in ("1", "2"):
        assert hits[hits.child.eq(cleared)].explained_by.str.contains("corrected copy").all(), cleared
    assert hits[hits.child.eq("3")].explained_by.eq("").all()  # looked after on 31 March: it blocks


def test_rule_1001_flags_20_year_olds_and_its_corrected_copy_clears_only_real_care_leavers(validate):
    """Both sides, with the real validator: three 20-year-olds in OC3, each with their whole care history
    given as last year's. One left care at 18 after five years looked after (a former relevant child: the
    published rule flags them for their age, the corrected copy clears them); one left care by adoption and
    one was never looked after (both flag them: real errors)."""

    def leaver(child):
        return {"CHILD": child, "DOB": "01/05/2005", "IN_TOUCH": "YES", "ACTIV": "F2", "ACCOM": "S"}

    people = [_header(c, "01/05/2005", _upn(f"33220051200{c}")) for c in ("7", "6", "5")]
    history = [
        _episode("7", "01/05/2018", "01/05/2023", rec="E17", ls="C2"),  # care leaver
        _episode("6", "01/05/2018", "01/05/2020", rec="E11", ls="C2"),  # adopted at 15
    ]  # and 5: never looked after
    this = _return(header=people, oc3=[leaver(c) for c in ("7", "6", "5")])
    last = _return(header=people[:2], episodes=history)
    this["episodes"] = pd.DataFrame(
        [_episode("9", "01/06/2025")], columns=COLUMNS["episodes"]
    )  # rule needs rows
    this["header"] = pd.concat(
        [this["header"], pd.DataFrame([_header("9", "01/05/2012", _upn("332201212009"))])], ignore_index=True
    )
    found = validate(this, last, 2026)
    hits = found[found.rule.eq("1001")].drop_duplicates("child").set_index("child")
    assert set(hits.index) >= {"7", "6", "5"}  # the published rule flags all three
    assert "corrected copy of the rule" in hits.loc["7", "explained_by"]
    assert hits.loc["6", "explained_by"] == "" and hits.loc["5", "explained_by"] == ""  # they block


def _provider_lists(*providers: tuple[str, str, str, str]):
    """Ofsted's lists as the validator reads them: (URN, placement code, provider code, premises postcode),
    all in the social care providers list."""
    from orchestration.returns.ssda903.providers import HOMES, PROVIDERS, ProviderLists

    current = pd.DataFrame(
        [{"URN": u, "Local authority": "", "Placement code": pl, "Placement provider code": pr,
          "Deregistration date": pd.NaT, "Setting postcode": pc} for u, pl, pr, pc in providers]
    )  # fmt: skip
    return ProviderLists(
        pd.DataFrame(columns=list(HOMES.values())),
        current[list(PROVIDERS.values())],
        pd.DataFrame(columns=list(PROVIDERS.values())),
        {"homes": "2026-03-31", "providers": "2026-03-31"},
    )


def test_rule_241_is_a_defect_only_where_the_provider_lists_give_premises_in_the_placements_la(validate):
    """Both sides, with the real validator (2025/26) and Ofsted's lists: supported accommodation (K3) in
    Sandwell from a provider with premises there (the published rule flags every K3 outside the reporting
    authority; the corrected copy, reading the lists as the rule's comment says, clears it), beside a K3
    placement in Sandwell from a provider whose only premises are in Dudley (both flag it: a real error).
    Without the lists the corrected copy cannot judge, and both findings block."""
    in_sandwell, in_dudley = "B69 3BG", "B62 0BP"
    lists = _provider_lists(("SC200001", "K3", "PR4", in_sandwell), ("SC200002", "K3", "PR4", in_dudley))
    tables = _return(
        header=[_header(c, "01/05/2008", _upn(f"33220081200{c}")) for c in ("1", "2")],
        episodes=[
            _episode(
                "1", "03/06/2025", place="K3", provider="PR4", ls="C2", URN="SC200001", PL_POST=in_sandwell
            ),
            _episode(
                "2", "03/06/2025", place="K3", provider="PR4", ls="C2", URN="SC200002", PL_POST=in_sandwell
            ),
        ],
    )
    found = validate(tables, None, 2026, lists)
    hits = found[found.rule.eq("241")].set_index("child")
    assert set(hits.index) == {"1", "2"}  # the published rule flags both
    assert "corrected copy of the rule" in hits.loc["1", "explained_by"]
    assert hits.loc["2", "explained_by"] == ""  # no premises of SC200002 in Sandwell: it blocks
    # the lists were given, so the URN rules ran: of them only 221 speaks, of the second's postcode,
    # which is not its provider's
    urn_rules = found[found.rule.isin(["1008", "219", "221", "224", "227", "228", "229"])]
    assert set(zip(urn_rules.rule, urn_rules.child, strict=True)) == {("221", "2")}, urn_rules[
        ["rule", "child"]
    ]

    without = validate(tables, None, 2026)
    hits = without[without.rule.eq("241")]
    assert set(hits.child) == {"1", "2"} and hits.explained_by.eq("").all()


def test_without_ofsted_lists_the_urn_rules_are_skipped_saying_so_and_105_runs_on_the_xml(tmp_path):
    from orchestration.returns.validation import validate_903

    tables = _return(
        header=[_header("1", "01/05/2008", _upn("332200812001"))],
        episodes=[_episode("1", "03/06/2025", place="K3", provider="PR4", ls="C2")],
    )
    validation = validate_903(tables, None, 2026, "E08000027", tmp_path, None, "none in landing")
    skipped = validation.skipped_rules
    assert {"1008", "219", "221", "224", "227", "228", "229"} <= set(skipped)
    assert (
        skipped["1008"]
        == "needs Ofsted's lists of children's homes and social care providers: none in landing"
    )
    assert "105" not in skipped and validation.provider_lists == "none in landing"


def test_the_validation_page_opens_with_its_verdict_and_groups_findings_by_rule():
    from orchestration.returns.validation import COLUMNS, Validation, report_files

    def finding(stage, rule, severity, child, row, explained=""):
        return dict(zip(COLUMNS, ["ssda903", stage, rule, severity, f"message of {rule}", child, "episodes",
                                  "DECOM", row, "", explained], strict=True))  # fmt: skip

    findings = pd.DataFrame(
        [
            finding("validator", "103", "error", "C1", "3"),
            finding("validator", "103", "error", "C2", "9"),
            finding("validator", "103", "error", "C2", "9"),  # the same record named twice (two fields)
            finding("validator", "1001", "error", "C3", "4", explained="defect-1001"),
            finding("validator", "8873Q", "query", "C4", "5"),
        ]
    )
    blocked = Validation("ssda903", 2026, findings, crashed_rules={"231": "KeyError: 'URN'"}, rules_run=300)
    page = report_files(blocked)["validation.html"].decode()
    assert page.index("Not ready to submit: 2 blocking error(s)") < page.index("Findings by rule")
    assert "not applicable (a CSV return)" in page and "None" not in page.split("<details>")[0]
    assert "231: KeyError: &#x27;URN&#x27;" in page  # a crashed rule named with why, not a dict
    row_103 = next(line for line in page.splitlines() if "<td>103</td>" in line and "class='n'" in line)
    assert "<td class='n'>2</td>" in row_103 and "C1, C2" in row_103  # one line per rule, each record once
    row_1001 = next(line for line in page.splitlines() if "<td>1001</td>" in line and "class='n'" in line)
    assert "error: a validator defect, not blocking" in row_1001 and "does not block: defect-1001" in row_1001

    ready = Validation("ssda903", 2026, findings[findings.rule != "103"], rules_run=300, xsd_valid=None)
    assert "Ready to submit: no blocking errors; 1 validator finding(s) are known defects" in (
        report_files(ready)["validation.html"].decode()
    )


def test_deprivation_of_liberty_orders_pass_the_2026_27_rules_where_placed_as_they_allow(validate):
    """The 2026/27 collection's DoLo table, with the real validator: an order within a children's home
    placement (K2) of a child looked after on 31 March passes rules 700-710; an order during a foster
    placement (U4), and one ending before it starts, are errors that block."""
    tables = _return(
        header=[
            _header("1", "01/05/2011", _upn("332201112001")),
            _header("2", "01/05/2010", _upn("332201012002")),
        ],
        episodes=[
            _episode("1", "03/06/2026", place="K2", provider="PR4", urn="SC123456"),
            _episode("2", "03/06/2026", place="U4", provider="PR4"),
        ],
        dolo=[
            {"CHILD": "1", "DOB": "01/05/2011", "DOLO_START": "10/06/2026", "DOLO_END": "10/09/2026"},
            {"CHILD": "2", "DOB": "01/05/2010", "DOLO_START": "10/06/2026", "DOLO_END": "10/09/2026"},
            {"CHILD": "2", "DOB": "01/05/2010", "DOLO_START": "10/12/2026", "DOLO_END": "01/12/2026"},
        ],
    )
    found = validate(tables, None, 2027)
    dolo = found[found.rule.str.contains(r"^(?:WC903-)?7(?:0\d|10)$")]
    assert not dolo.child.eq("1").any(), dolo
    # 702 by the validator; 709, which fails inside the validator, by the pre-check that covers it
    assert {("702", "2"), ("WC903-709", "2")} <= _rules(dolo), dolo
    assert dolo.explained_by.eq("").all()  # no registered defect explains them: they block


def test_a_finding_only_another_rules_writes_made_is_the_validators_and_a_real_one_blocks(validate):
    """The validator's rules share one data store, and rule 365 writes 31 March into every open episode's
    DEC before 707 runs. With the real validator (2026/27): an open order of a child still looked after
    (707 reports it in the full run; run alone on an untouched copy it does not: a validator defect), beside
    an open order of a child who left care in the year (707 reports it both ways: it blocks)."""
    tables = _return(
        header=[_header(c, "01/05/2011", _upn(f"33220111200{c}")) for c in ("1", "2")],
        episodes=[
            _episode("1", "29/01/2027", "05/03/2027", rec="X1", place="U4", provider="PR1"),
            _episode("1", "05/03/2027", rne="P", place="K2", provider="PR4", URN="SC123457"),
            _episode("2", "01/06/2026", "01/09/2026", rec="E13", place="K2", provider="PR4"),
        ],
        dolo=[
            {"CHILD": "1", "DOB": "01/05/2011", "DOLO_START": "21/03/2027", "DOLO_END": ""},
            {"CHILD": "2", "DOB": "01/05/2011", "DOLO_START": "01/07/2026", "DOLO_END": ""},
        ],
    )
    found = validate(tables, None, 2027)
    hits = found[found.rule.eq("707")].drop_duplicates("child").set_index("child")
    assert set(hits.index) == {"1", "2"}  # the full run reports both
    assert "shared data store" in hits.loc["1", "explained_by"]
    assert hits.loc["2", "explained_by"] == ""


def test_903_prechecks_cover_the_deprivation_of_liberty_rules_that_fail_inside_the_validator():
    tables = _return(
        header=[_header(c, "01/05/2011", _upn(f"33220111200{c}")) for c in ("1", "2", "3")],
        episodes=[
            _episode("1", "03/06/2026", place="K2", provider="PR4"),
            _episode("2", "03/06/2026", "01/08/2026", place="K2", provider="PR4", rec="X1"),
            _episode("2", "01/08/2026", place="K1", provider="PR4", rne="P"),
            _episode("3", "03/06/2026", place="U4", provider="PR4"),
        ],
        dolo=[
            {"CHILD": "1", "DOB": "01/05/2011", "DOLO_START": "10/06/2026", "DOLO_END": ""},  # open: fine
            {
                "CHILD": "2",
                "DOB": "01/05/2011",
                "DOLO_START": "10/06/2026",
                "DOLO_END": "10/07/2026",
            },  # in K2
            {"CHILD": "2", "DOB": "01/05/2011", "DOLO_START": "10/09/2026", "DOLO_END": ""},  # in secure (K1)
            {
                "CHILD": "3",
                "DOB": "01/05/2011",
                "DOLO_START": "01/02/2027",
                "DOLO_END": "01/03/2027",
            },  # foster
        ],
    )
    found = precheck_903(tables, 2027)
    dolo = found[found.table.eq("dolo")]
    assert _rules(dolo) == {("WC903-709", "2"), ("WC903-710", "2"), ("WC903-709", "3")}
    assert set(dolo[dolo.child.eq("2")].row) == {"2"}  # the order in the secure home, not the one before it


def test_the_903_dolo_table_holds_the_orders_of_the_year_as_last_sent_from_2026_27():
    import duckdb

    from orchestration.returns.ssda903.build import _dolo

    con = duckdb.connect()
    con.execute("attach ':memory:' as vault")
    con.execute("create schema vault.raw")
    con.execute(
        "create table vault.raw.ssda903_dolo (CHILD varchar, DOB date, DOLO_START date, DOLO_END date,"
        " _period varchar, _delivery_id varchar)"
    )
    con.execute(
        """insert into vault.raw.ssda903_dolo values
           ('1', '2011-05-01', '2026-06-10', null, '2027', 'a'),           -- open, then ended in a later list
           ('1', '2011-05-01', '2026-06-10', '2026-09-10', '2027', 'b'),
           ('2', '2010-05-01', '2025-01-10', '2025-03-01', '2027', 'a'),   -- ended before the year
           ('2', '2010-05-01', '2027-02-01', '2027-06-30', '2027', 'a'),   -- open at 31 March
           ('3', '2012-01-01', '2026-05-01', null, '2027', 'a')"""  # not looked after in the year
    )
    con.execute("create schema vault.ingest")
    con.execute(
        "create table vault.ingest.deliveries as select * from (values ('a', timestamp '2026-10-31 09:00'),"
        " ('b', timestamp '2026-11-30 09:00')) t(delivery_id, received_at)"
    )
    con.execute(
        "create temp table _903_people as select * from (values ('1', date '2011-05-01'),"
        " ('2', date '2010-05-01'), ('3', date '2012-01-01')) t(child, dob)"
    )
    con.execute("create temp table _903_episodes as select * from (values ('1'), ('2')) t(child)")
    rows = con.execute(_dolo(con, "date '2026-04-01'", "date '2027-03-31'")).fetchall()
    assert rows == [("1", "01/05/2011", "10/06/2026", "10/09/2026"), ("2", "01/05/2010", "01/02/2027", "")]


def test_903_prechecks_cover_rules_231_and_233_that_fail_inside_the_validator_on_csv_returns():
    tables = _return(
        header=[_header("1", "01/05/2018", "UN2"), _header("2", "01/05/2009", _upn("332200912002"))],
        episodes=[
            _episode("1", "03/06/2025", ls="V2"),
            _episode("2", "03/06/2025", REASON_PLACE_CHANGE="CARPL"),  # still open: no reason yet
            _episode("2", "03/06/2024", "03/06/2025", rec="X1", REASON_PLACE_CHANGE="CARPL"),  # ended: fine
        ],
        uasc=[
            {"CHILD": "1", "SEX": "F", "DOB": "01/05/2018", "DUC": "01/05/2036"},  # 7 at the end of the year
            {"CHILD": "2", "SEX": "F", "DOB": "01/05/2009", "DUC": "01/05/2027"},
        ],
    )
    assert _rules(precheck_903(tables, 2026)) >= {("WC903-231", "1"), ("WC903-233", "2")}
    found = precheck_903(tables, 2026)
    assert found[found.rule.eq("WC903-233")].row.tolist() == ["1"]
    assert not found.rule.eq("WC903-231").loc[found.child.eq("2")].any()
    # neither rule is in the 2023/24 validator: nor are the checks that stand in for them
    assert not precheck_903(tables, 2024).rule.isin(["WC903-231", "WC903-233"]).any()


def test_every_rule_that_fails_inside_the_validator_has_a_pre_check_standing_in(tmp_path):
    """With the real validator (2026/27, every table given): the rules that fail inside it are exactly those
    a pre-check stands in for, and the validation page names the stand-in."""
    from orchestration.returns.ssda903.prechecks import _checks
    from orchestration.returns.validation import STANDS_IN, report_files, validate_903

    tables = _return(
        header=[_header("1", "01/05/2011", _upn("332201112001"))],
        episodes=[_episode("1", "03/06/2026", place="K2", provider="PR4")],
        uasc=[{"CHILD": "1", "SEX": "F", "DOB": "01/05/2011", "DUC": "01/05/2029"}],
        dolo=[{"CHILD": "1", "DOB": "01/05/2011", "DOLO_START": "10/06/2026", "DOLO_END": "10/09/2026"}],
    )
    last_year = _return(  # as the pipeline gives it (rule 706 reads last year's orders)
        header=[_header("1", "01/05/2011", _upn("332201112001"))],
        episodes=[_episode("1", "03/06/2025", "03/06/2026", rec="X1")],
        dolo=[],
    )
    validation = validate_903(tables, last_year, 2027, "E08000027", tmp_path)
    crashed = set(validation.crashed_rules)
    assert crashed and crashed <= set(STANDS_IN), crashed - set(STANDS_IN)
    assert {STANDS_IN[r] for r in crashed} <= {rule for rule, *_ in _checks(2027)}
    page = report_files(validation)["validation.html"].decode()
    assert all(f"pre-check {STANDS_IN[r]})" in page for r in crashed), page


CIN_READ_CHECK = """
import sys
import xml.etree.ElementTree as ET

import pandas as pd
from cin_validator import cin_validator

sys.path.insert(0, sys.argv[1])
import run_cin

for path in sys.argv[2:]:
    root = ET.parse(path).getroot()
    shipped = cin_validator.convert_data(root)
    read = run_cin.read_census(root)
    assert list(read) == list(shipped)
    for name, table in shipped.items():
        pd.testing.assert_frame_equal(read[name], table, check_index_type=True)
    print(len(shipped["ChildIdentifiers"]), len(shipped["CINdetails"]), len(shipped["Disabilities"]))
"""


def test_the_cin_validators_reader_making_each_table_once_gives_the_tables_it_makes_a_child_at_a_time(
    tmp_path,
):
    """run_cin.py runs the validator's own XML reader with each table's rows put together once, not appended
    a child at a time (that grows as the square of the children): the tables must be the very tables of
    the reader as shipped, for children with and without each block, several CIN episodes and none, a child
    without its id, and a census of no children."""
    import copy
    import subprocess
    import xml.etree.ElementTree as ET
    from pathlib import Path

    from orchestration.returns.validation import SCRIPTS, dfe_python

    corpus = Path(__file__).parents[1] / "corpus" / "social_care" / "cin_census" / "CIN_Census.xml"
    root = ET.parse(corpus).getroot()
    children = root.find("Children")
    full = children.find("Child")
    for n in range(2, 8):
        child = copy.deepcopy(full)
        child.find("ChildIdentifiers/LAchildID").text = f"DfEX000000{n}"
        if n % 2 == 0:  # no disabilities, and a second CIN episode
            child.find("ChildCharacteristics").remove(child.find("ChildCharacteristics/Disabilities"))
            child.append(copy.deepcopy(child.find("CINdetails")))
        if n % 3 == 0:  # no assessment, plan, enquiry or protection plan
            details = child.find("CINdetails")
            for tag in ("Assessments", "CINPlanDates", "Section47", "ChildProtectionPlans"):
                details.remove(details.find(tag))
        if n == 7:  # known only by who they are
            for details in child.findall("CINdetails"):
                child.remove(details)
        if n == 5:  # without its id: the reader fills it as absent in every table of the child's
            identifiers = child.find("ChildIdentifiers")
            identifiers.remove(identifiers.find("LAchildID"))
        children.append(child)
    census = tmp_path / "census.xml"
    ET.ElementTree(root).write(census, encoding="utf-8")
    for child in list(children):
        children.remove(child)
    nobody = tmp_path / "nobody.xml"
    ET.ElementTree(root).write(nobody, encoding="utf-8")
    done = subprocess.run(
        [str(dfe_python()), "-c", CIN_READ_CHECK, str(SCRIPTS), str(census), str(nobody)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # every child, episode and disability read; then none
    assert done.stdout.split() == ["7", "9", "8", "0", "0", "0"], done.stdout


def test_the_903_xml_puts_each_childs_rows_under_that_child_in_the_tables_order():
    from lxml import etree

    from orchestration.returns.ssda903.build import to_xml

    tables = _return(
        header=[
            _header("1", "01/05/2008", _upn("332200812001")),
            _header("2", "01/05/2009", _upn("332200912002")),
        ],
        episodes=[
            _episode("2", "03/06/2024", "01/09/2024", rec="X1"),
            _episode("1", "03/06/2023"),
            _episode("2", "01/09/2024", place="U6"),
        ],
        missing=[
            {"CHILD": "2", "DOB": "01/05/2009", "MISSING": "M", "MIS_START": "05/07/2024", "MIS_END": ""}
        ],
    )
    root = etree.fromstring(to_xml(tables))
    children = root.findall("CHILD")
    assert [c.findtext("HEADER/CHILDID") for c in children] == ["1", "2"]
    assert [e.findtext("DECOM") for e in children[0].findall("EPISODE")] == ["03/06/2023"]
    assert [(e.findtext("DECOM"), e.findtext("PL")) for e in children[1].findall("EPISODE")] == [
        ("03/06/2024", "U4"),
        ("01/09/2024", "U6"),
    ]
    assert children[0].find("HEADER/AMISSING") is None
    assert children[1].findtext("HEADER/AMISSING/MIS_START") == "05/07/2024"
    assert children[1].find("HEADER/AMISSING/MIS_END").text is None  # blank: an empty tag
