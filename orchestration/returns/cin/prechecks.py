"""The project's own checks on a CIN census XML, run before the DfE validator: the year's XSD first,
then identifiers and dates in the returns team's terms. Works on any CIN XML, not only Whole Child's.
"""

from __future__ import annotations

import bisect
import re

import duckdb
import pandas as pd
from lxml import etree

from orchestration.identifiers import install_sql_macros
from orchestration.returns.cin.build import validate_xsd

_FIELDS = {
    "children": ("ChildIdentifiers/LAchildID", "ChildIdentifiers/UPN", "ChildIdentifiers/PersonBirthDate"),
    "episodes": ("CINreferralDate", "CINclosureDate", "ReasonForClosure"),
}


def _frames(root: etree._Element) -> dict[str, pd.DataFrame]:
    """Children and CIN episodes as tables (child id, fields) from the XML, by XPath."""
    children = root.findall(".//Children/Child")
    kids = pd.DataFrame(
        {
            "child": [c.findtext("ChildIdentifiers/LAchildID") or "" for c in children],
            "upn": [c.findtext("ChildIdentifiers/UPN") or "" for c in children],
            "upn_unknown": [c.findtext("ChildIdentifiers/UPNunknown") or "" for c in children],
            "dob": [c.findtext("ChildIdentifiers/PersonBirthDate") or "" for c in children],
            "line": [c.sourceline for c in children],
        }
    )
    details = [
        (c.findtext("ChildIdentifiers/LAchildID") or "", d) for c in children for d in c.findall("CINdetails")
    ]
    episodes = pd.DataFrame(
        {
            "child": [child for child, _ in details],
            "referral": [d.findtext("CINreferralDate") or "" for _, d in details],
            "closure": [d.findtext("CINclosureDate") or "" for _, d in details],
            "reason": [d.findtext("ReasonForClosure") or "" for _, d in details],
            "line": [d.sourceline for _, d in details],
        }
    )
    plans = [(child, p) for child, d in details for p in d.findall("CINplanDates")]
    plan_frame = pd.DataFrame(
        {
            "child": [child for child, _ in plans],
            "start": [p.findtext("CINPlanStartDate") or "" for _, p in plans],
            "finish": [p.findtext("CINPlanEndDate") or "" for _, p in plans],
            "line": [p.sourceline for _, p in plans],
        }
    )
    return {"children": kids, "episodes": episodes, "plans": plan_frame}


_CHECKS = (
    (
        "WCCIN-01", "children", "UPN",
        "UPN is not a valid UPN (13 characters, check letter matching) and no UPNunknown reason is given",
        "select child, line, upn from children where not (upn = '' and upn_unknown <> '') "
        "and not coalesce(wc_is_valid_upn(upn), false)",
    ),
    (
        "WCCIN-02", "episodes", "CINreferralDate", "referral is before the child's date of birth",
        "select e.child, e.line, e.referral || ' (born ' || c.dob || ')' from episodes e join children c "
        "using (child) where c.dob <> '' and try_cast(e.referral as date) < try_cast(c.dob as date)",
    ),
    (
        "WCCIN-03", "episodes", "CINclosureDate", "episode closes before its referral",
        "select child, line, referral || ' -> ' || closure from episodes "
        "where closure <> '' and try_cast(closure as date) < try_cast(referral as date)",
    ),
    (
        "WCCIN-04", "episodes", "ReasonForClosure", "a closed episode needs a reason for closure, an open one none",
        "select child, line, closure || ' / ' || reason from episodes where (closure = '') <> (reason = '')",
    ),
    (
        "WCCIN-06", "children", "UPN",
        "the same UPN is on more than one child: probably one child recorded twice (merge the records)",
        "select child, line, upn from children where upn <> '' "
        "and upn in (select upn from children where upn <> '' group by upn having count(*) > 1)",
    ),
    (
        "WCCIN-07", "plans", "CINPlanEndDate",
        "more than one open CIN plan for the child: end the earlier plan, or remove a plan recorded twice",
        "select child, line, start from plans where finish = '' "
        "and child in (select child from plans where finish = '' group by child having count(*) > 1)",
    ),
    (
        "WCCIN-08", "plans", "CINPlanStartDate",
        "CIN plans overlap: a plan starts before the child's previous plan ended (or the same plan is recorded twice)",
        "select child, line, start from (select *, lag(coalesce(nullif(finish, ''), '9999-12-31')) over "
        "(partition by child order by start, line) as previous_end from plans) where start < previous_end",
    ),
    (
        "WCCIN-05", "children", "PersonBirthDate", "date of birth is not a date",
        "select child, line, dob from children where dob <> '' and try_cast(dob as date) is null",
    ),
)  # fmt: skip


def _children_by_line(root) -> tuple[list[int], list[tuple[int, str]]]:
    """Each <Child> block's first line (sorted, for bisect), with its last line (its closing tag) and
    LAchildID: made once for all of a return's schema faults."""
    starts, blocks = [], []
    for child in root.iterfind(".//Children/Child"):
        last = max((e.sourceline or 0) for e in child.iter()) + 1  # (+1: its closing tag)
        starts.append(child.sourceline or 0)
        blocks.append((last, (child.findtext("ChildIdentifiers/LAchildID") or "").strip()))
    return starts, blocks


def _child_at(children: tuple[list[int], list[tuple[int, str]]], line: int | None) -> tuple[str, str]:
    """The LAchildID of the child whose <Child> block holds ``line``, and that line ('' when none)."""
    if line is None:
        return "", ""
    starts, blocks = children
    at = bisect.bisect_right(starts, line) - 1
    if at >= 0 and line <= blocks[at][0]:
        return blocks[at][1], str(line)
    return "", str(line)


def precheck(xml: bytes, year: int) -> tuple[pd.DataFrame, bool]:
    """Findings (stage "pre-check") and whether the XML is valid against the year's XSD."""
    rows = []
    xsd_errors = validate_xsd(xml, year)
    try:
        root = etree.fromstring(xml)
    except etree.XMLSyntaxError as exc:
        rows.append({"rule": "WCCIN-XML", "table": "(XML)", "message": f"not well-formed XML: {exc}"})
        return _finish(pd.DataFrame(rows)), False
    children = _children_by_line(root) if xsd_errors else ([], [])
    for error in xsd_errors:
        # the child whose block the broken line is in (their <Child> line and LAchildID), so that the
        # team knows whose record to mend; a line outside every child's block (the header) names nobody
        line = int(match.group(1)) if (match := re.match(r"line (\d+):", error)) else None
        child, at = _child_at(children, line)
        rows.append(
            {"rule": "WCCIN-XSD", "table": "(XML)", "field": "", "message": error, "child": child, "row": at}
        )
    con = duckdb.connect()
    install_sql_macros(con)
    for name, frame in _frames(root).items():
        con.register(name, frame)
    for rule, table, column, message, sql in _CHECKS:
        hits = con.execute(sql).df()
        hits.columns = ["child", "row", "value"]
        hits["rule"], hits["table"], hits["field"], hits["message"] = rule, table, column, message
        rows.extend(hits.to_dict("records"))
    con.close()
    return _finish(pd.DataFrame(rows)), not xsd_errors


def _finish(found: pd.DataFrame) -> pd.DataFrame:
    for column in ("child", "table", "field", "value", "row", "message", "rule"):
        if column not in found:
            found[column] = ""
    found["return"], found["stage"], found["severity"], found["explained_by"] = (
        "cin",
        "pre-check",
        "error",
        "",
    )
    return found.fillna("").astype(str)
