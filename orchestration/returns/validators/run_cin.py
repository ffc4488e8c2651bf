"""Run the DfE's CIN census validator (csc-validator-be-cin) on a return's XML.

Runs inside the validators' own virtual environment (.venv-dfe), importing nothing from Whole Child:

    python run_cin.py --year 2026 --xml return.xml --out issues.json

Writes JSON: {"issues": [{child, table, columns, row, rule, message, type}], "la_level": [{rule, message}],
"rules_run", "rules_passed"}. QUERY rules (codes ending Q) are reported with type "QUERY".

The validator's own reader (``XMLtoCSV``) is run as shipped, on the children a hundred at a time: it
appends each child to every table with ``pd.concat``, which grows as the square of the children (35 s of a
Dudley-sized census, most of the validator's time). Its tables are the same whichever way the children are
grouped (each child's ids count from one within the child); ``tests/unit/test_return_checks.py`` holds the
grouped tables equal to the whole file's, column for column and type for type. Even grouped, the reader
costs about 3.5 ms a child, whatever the group's size (20 s of 22 s at scale 1): the groups are read by
``--workers`` processes at once (default 2), each forked with the parsed census in hand.
"""

import argparse
import contextlib
import io
import json
import logging
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--year", required=True)
    parser.add_argument("--xml", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--workers", type=int, default=2, help="processes reading the children's groups")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)

    from cin_validator import cin_validator
    from cin_validator.rules.ruleset_utils import get_year_ruleset

    with contextlib.redirect_stdout(io.StringIO()):
        root = ET.parse(args.xml).getroot()  # noqa: S314 (our own generated return, not untrusted input)
        tables = cin_validator.process_data(convert_in_groups(root, workers=args.workers))
        ruleset = get_year_ruleset(str(args.year))
        validator = cin_validator.CinValidator(tables, ruleset, selected_rules=None)
    issues = validator.full_issue_df
    la_level = validator.multichild_issues
    out = {
        "issues": [
            {
                "child": None if r.child_id != r.child_id else str(r.child_id),
                "table": str(r.tables_affected),
                "columns": str(r.columns_affected),
                "row": None if r.row_id != r.row_id else str(r.row_id),
                "rule": str(r.rule_code),
                "message": str(r.rule_description),
                "type": _rule_type(ruleset, str(r.rule_code)),
            }
            for r in issues.itertuples()
        ],
        "la_level": [
            {"rule": str(r.rule_code), "message": str(r.rule_description)} for r in la_level.itertuples()
        ]
        if la_level is not None and len(la_level)
        else [],
        "rules_run": len(ruleset),
        "rules_passed": [str(c) for c in validator.rules_passed],
    }
    with Path(args.out).open("w", encoding="utf-8") as fh:
        json.dump(out, fh)
    return 0


CHILDREN_AT_A_TIME = 100

_GROUPS: list = []  # the groups' censuses, set before the workers fork: each reads its own by number


def _convert(index: int) -> dict:
    import contextlib
    import io

    from cin_validator import cin_validator

    with contextlib.redirect_stdout(io.StringIO()):
        return cin_validator.convert_data(_GROUPS[index])


def convert_in_groups(root: ET.Element, size: int = CHILDREN_AT_A_TIME, workers: int = 1) -> dict:
    """The validator's ``convert_data`` on the census's children ``size`` at a time, each group under the
    census's own header, read by ``workers`` processes, the groups' tables then put end to end in order:
    the tables ``convert_data`` gives the whole file, in a time that grows with the children rather than
    their square."""
    import multiprocessing

    import pandas as pd
    from cin_validator import cin_validator

    children = root.find("Children")
    if children is None:
        return cin_validator.convert_data(root)
    every = children.findall("Child")
    _GROUPS.clear()
    for start in range(0, max(len(every), 1), size):
        part = ET.Element(root.tag, root.attrib)
        for element in root:
            if element is not children:
                part.append(element)
        held = ET.SubElement(part, children.tag, children.attrib)
        held.extend(every[start : start + size])
        _GROUPS.append(part)
    try:
        if workers <= 1 or len(_GROUPS) == 1:
            groups = [_convert(i) for i in range(len(_GROUPS))]
        else:
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                groups = pool.map(_convert, range(len(_GROUPS)), chunksize=4)
    finally:
        _GROUPS.clear()
    first = groups[0]
    return {
        name: table if name == "Header" else pd.concat([g[name] for g in groups], ignore_index=True)
        for name, table in first.items()
    }


def _rule_type(ruleset, code: str) -> str:
    """ERROR or QUERY, as the rule set declares it (a query's code also ends in Q)."""
    rule = ruleset.get(code)
    kind = getattr(getattr(rule, "rule_type", None), "value", None)
    if kind:
        return str(kind).upper()
    return "QUERY" if code.endswith("Q") else "ERROR"


if __name__ == "__main__":
    sys.exit(main())
