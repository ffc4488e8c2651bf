"""Run the DfE's CIN census validator (csc-validator-be-cin) on a return's XML.

Runs inside the validators' own virtual environment (.venv-dfe), importing nothing from Whole Child:

    python run_cin.py --year 2026 --xml return.xml --out issues.json

Writes JSON: {"issues": [{child, table, columns, row, rule, message, type}], "la_level": [{rule, message}],
"rules_run", "rules_passed"}. QUERY rules (codes ending Q) are reported with type "QUERY".
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
        tables = cin_validator.process_data(cin_validator.convert_data(root))
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


def _rule_type(ruleset, code: str) -> str:
    """ERROR or QUERY, as the rule set declares it (a query's code also ends in Q)."""
    rule = ruleset.get(code)
    kind = getattr(getattr(rule, "rule_type", None), "value", None)
    if kind:
        return str(kind).upper()
    return "QUERY" if code.endswith("Q") else "ERROR"


if __name__ == "__main__":
    sys.exit(main())
