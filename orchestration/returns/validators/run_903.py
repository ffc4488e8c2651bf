"""Run the DfE's SSDA903 validator (csc-validator-be-903) on a folder of return CSVs.

Runs inside the validators' own virtual environment (.venv-dfe: they pin pandas below 2), so it imports
nothing from Whole Child. Usage:

    python run_903.py --year 2026 --la E08000027 --this DIR [--last DIR] --out issues.json

Writes JSON: {"issues": [{child, table, columns, row, rule, message}], "rules_run", "rules_failed": {code:
error}, "rules_skipped": {code: why}}. A rule that raises inside the validator is listed in rules_failed,
and one the validator skips (it returns nothing when a table or list it needs is absent) in rules_skipped,
with what it needed, read from the rule's own code; neither is counted as run.
"""

import argparse
import contextlib
import inspect
import io
import json
import logging
import re
import sys
from pathlib import Path


def run_corrected(validator, year: str) -> dict:
    """The corrected copies of this year's defective rules (corrected_903.py, beside this script), run on
    the same data store as the originals: {code: {table: [row, ...]}}."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import corrected_903
    from lac_validator.datastore import copy_datastore, create_datastore

    store = create_datastore(validator.dfs, validator.metadata)
    out = {}
    for code, rule in corrected_903.for_year(year).items():
        result = rule(copy_datastore(store))
        out[code] = {table: [int(i) for i in rows] for table, rows in result.items()}
    return out


def why_skipped(rule, tables: set[str], metadata: set[str]) -> str:
    """What a skipped rule needed that this return did not supply, from the checks at the top of its code."""
    try:
        source = inspect.getsource(rule.func)
    except (OSError, TypeError):
        return "the validator skipped it (needs something not supplied)"
    wanted_meta = set(re.findall(r"""["'](\w+)["']\s+not\s+in\s+dfs\[["']metadata["']\]""", source))
    wanted = set(re.findall(r"""["'](\w+)["']\s+not\s+in\s+dfs\b(?!\[)""", source)) - {"metadata"}
    missing_meta = sorted(wanted_meta - metadata)
    missing = sorted(wanted - tables)
    if "provider_info" in missing_meta:
        return "needs Ofsted's lists of children's homes and supported accommodation (not supplied)"
    if missing_meta:
        return f"needs {', '.join(missing_meta)} (not supplied)"
    if missing:
        return f"needs the {', '.join(missing)} table(s), not in this return"
    if re.search(r"""file_format\s*==\s*["']csv["']""", source):
        return "applies to a return sent as XML; this one is CSV"
    return "the validator skipped it: what it checks is not in this return"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--year", required=True)
    parser.add_argument("--la", required=True)
    parser.add_argument("--this", required=True)
    parser.add_argument("--last")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)

    from lac_validator.lac_validator import LacValidator, create_issue_df
    from lac_validator.report import Report
    from lac_validator.rules.ruleset_utils import get_year_ruleset
    from lac_validator.utils import process_uploaded_files

    uploads = {"This year": sorted(str(p) for p in Path(args.this).glob("*.csv"))}
    if args.last:
        uploads["Prev year"] = sorted(str(p) for p in Path(args.last).glob("*.csv"))
    with contextlib.redirect_stdout(io.StringIO()):  # some rules print debug output
        files = process_uploaded_files(uploads)
        registry = get_year_ruleset(str(args.year))
        validator = LacValidator(
            metadata={"collectionYear": str(args.year), "localAuthority": args.la},
            files=files,
            registry=registry,
        )
        report = Report(validator.ds_results, registry)
        issues = create_issue_df(report.report, report.error_report)
    messages = {str(code): rule.message for code, rule in registry.items()}
    corrected = run_corrected(validator, str(args.year))
    out = {
        "issues": [
            {
                "child": None if r.child_id != r.child_id else str(r.child_id),
                "table": str(r.tables_affected),
                "columns": str(r.columns_affected),
                "row": None if r.row_id != r.row_id else int(r.row_id),
                "rule": str(r.rule_code),
                "message": str(r.rule_description or messages.get(str(r.rule_code), "")),
            }
            for r in issues.itertuples()
        ],
        "rules_run": len(validator.dones),
        "rules_failed": {str(code): messages.get(str(code), "") for code in validator.fails},
        "rules_skipped": {
            str(code): why_skipped(
                registry[code], set(validator.dfs), set(getattr(validator, "metadata", None) or {})
            )
            for code in validator.skips
        },
        "corrected": corrected,
    }
    with Path(args.out).open("w", encoding="utf-8") as fh:
        json.dump(out, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
