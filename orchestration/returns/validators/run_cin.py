"""Run the DfE's CIN census validator (csc-validator-be-cin) on a return's XML.

Runs inside the validators' own virtual environment (.venv-dfe), importing nothing from Whole Child:

    python run_cin.py --year 2026 --xml return.xml --out issues.json

Writes JSON: {"issues": [{child, table, columns, row, rule, message, type}], "la_level": [{rule, message}],
"rules_run", "rules_passed"}. QUERY rules (codes ending Q) are reported with type "QUERY".

The validator's own reader (``XMLtoCSV``) reads the census, with one change of how, not what: it appends
each child's rows to every table with ``pd.concat``, which grows as the square of the children (51 s of a
Dudley-sized census, most of the validator's time); here each table's rows are put together once, when
the census is read (0.4 s), by ``read_census``. ``--reader shipped`` reads as the validator ships, and
``tests/unit/test_return_checks.py`` holds the tables of both equal, column for column and type for type.
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
    parser.add_argument(
        "--reader",
        choices=("whole-tables", "shipped"),
        default="whole-tables",
        help="make each table once (read_census), or append a child at a time, as the validator ships",
    )
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)

    from cin_validator import cin_validator
    from cin_validator.rules.ruleset_utils import get_year_ruleset

    with contextlib.redirect_stdout(io.StringIO()):
        root = ET.parse(args.xml).getroot()  # noqa: S314 (our own generated return, not untrusted input)
        read = cin_validator.convert_data(root) if args.reader == "shipped" else read_census(root)
        tables = cin_validator.process_data(read)
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


class _Rows(list):
    """What the reader makes of one child's block (``pd.DataFrame(records)``, ``pd.DataFrame.from_dict``):
    its records, as they are."""

    def __getitem__(self, key):
        if isinstance(key, str):  # a column, as the reader takes the assessment's factors
            return _Values(record.get(key) for record in self)
        return list.__getitem__(self, key)


class _Values(list):
    def tolist(self) -> list:
        return list(self)


class _Table:
    """A table the reader appends a child's rows to (``pd.concat([table, rows], ignore_index=True)``): the
    rows are kept in order, and made into the table once, when the census is read."""

    def __init__(self, empty) -> None:
        self.empty, self.columns, self.rows = empty, empty.columns, []

    def frame(self):
        import pandas as pd

        if not self.rows:
            return self.empty
        return pd.concat([self.empty, pd.DataFrame(self.rows)], ignore_index=True)


class _ReadersPandas:
    """The names of pandas the validator's reader (``cin_validator.ingress``) uses, its tables kept as rows
    until the census is read: its own code reads every element, numbers every block and fills every
    absent value; only the appending is done once a table rather than once a child."""

    def __init__(self, pd) -> None:
        self.NA = pd.NA
        self.DataFrame = _DataFrame

    @staticmethod
    def concat(frames, ignore_index=False):
        table, rows = frames
        if not isinstance(table, _Table):
            table = _Table(table)
        table.rows.extend(rows)
        return table


class _DataFrame:
    def __new__(cls, data=None, columns=None):
        return _Rows(data or [])

    @staticmethod
    def from_dict(data):
        return _Rows(data)


TABLES = (
    "Header", "ChildIdentifiers", "ChildCharacteristics", "ChildProtectionPlans", "CINdetails", "CINplanDates",
    "Reviews", "Section47", "Assessments", "AssessmentFactorsList", "Disabilities",
)  # fmt: skip


def read_census(root: ET.Element) -> dict:
    """The tables the validator's ``convert_data`` makes of the census, by its own reader (``XMLtoCSV``)
    with each table's rows put together once, at the end, rather than appended a child at a time with
    ``pd.concat`` (which grows as the square of the children: 51 s of a Dudley-sized census, 0.4 s read
    so, and 3.5 ms a child even a hundred at a time). ``--reader shipped`` reads as the validator ships;
    a test holds the two equal, table for table, column for column and type for type."""
    import pandas as pd
    from cin_validator import ingress

    shipped = ingress.pd
    ingress.pd = _ReadersPandas(pd)
    try:
        read = ingress.XMLtoCSV(root)
    finally:
        ingress.pd = shipped
    tables = {}
    for name in TABLES:
        value = getattr(read, name)
        if isinstance(value, _Table):
            tables[name] = value.frame()
        elif isinstance(value, _Rows):  # the header: made once, as from_dict makes it
            tables[name] = pd.DataFrame.from_dict(list(value))
        else:  # no child had one: the table as the class declares it
            tables[name] = value
    return tables


def _rule_type(ruleset, code: str) -> str:
    """ERROR or QUERY, as the rule set declares it (a query's code also ends in Q)."""
    rule = ruleset.get(code)
    kind = getattr(getattr(rule, "rule_type", None), "value", None)
    if kind:
        return str(kind).upper()
    return "QUERY" if code.endswith("Q") else "ERROR"


if __name__ == "__main__":
    sys.exit(main())
