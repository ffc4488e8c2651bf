"""Run the DfE's CIN census validator (csc-validator-be-cin) on a return's XML.

Runs inside the validators' own virtual environment (.venv-dfe), importing nothing from Whole Child:

    python run_cin.py --year 2026 --xml return.xml --out issues.json

Writes JSON: {"issues": [{child, table, columns, row, rule, message, type}], "la_level": [{rule, message}],
"rules_run", "rules_passed"}. QUERY rules (codes ending Q) are reported with type "QUERY".

The validator's own reader (``XMLtoCSV``) is run as shipped, on the children a few hundred at a time: it
appends each child to every table with ``pd.concat``, which grows as the square of the children (35 s of a
Dudley-sized census, most of the validator's time). Its tables are the same whichever way the children are
grouped (each child's ids count from one within the child); ``tests/unit/test_return_checks.py`` holds the
grouped tables equal to the whole file's, column for column and type for type.
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
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)

    from cin_validator import cin_validator
    from cin_validator.rules.ruleset_utils import get_year_ruleset

    with contextlib.redirect_stdout(io.StringIO()):
        root = ET.parse(args.xml).getroot()  # noqa: S314 (our own generated return, not untrusted input)
        tables = cin_validator.process_data(convert_in_groups(root))
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


def convert_in_groups(root: ET.Element, size: int = CHILDREN_AT_A_TIME) -> dict:
    """The validator's ``convert_data`` on the census's children ``size`` at a time, each group under the
    census's own header, the groups' tables then put end to end: the tables ``convert_data`` gives the whole
    file, in a time that grows with the children rather than their square."""
    import pandas as pd
    from cin_validator import cin_validator

    children = root.find("Children")
    if children is None:
        return cin_validator.convert_data(root)
    every = children.findall("Child")
    groups = []
    for start in range(0, max(len(every), 1), size):
        part = ET.Element(root.tag, root.attrib)
        for element in root:
            if element is not children:
                part.append(element)
        held = ET.SubElement(part, children.tag, children.attrib)
        held.extend(every[start : start + size])
        groups.append(cin_validator.convert_data(part))
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
