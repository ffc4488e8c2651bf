"""Run the DfE's SSDA903 validator (csc-validator-be-903) on a folder of return CSVs.

Runs inside the validators' own virtual environment (.venv-dfe: they pin pandas below 2), so it imports
nothing from Whole Child. Usage:

    python run_903.py --year 2026 --la E08000027 --this DIR [--last DIR] [--ch XLSX --scp XLSX] [--xml FILE]
                      --out issues.json

--ch and --scp are Ofsted's children's homes and social care providers lists, which the URN rules need.

Writes JSON: {"issues": [{child, table, columns, row, rule, message}], "rules_run", "rules_failed": {code:
error}, "rules_skipped": {code: why}, "rules_run_on_xml", "corrected", "isolated"}. A rule that raises
inside the validator is listed in rules_failed, and one the validator skips (it returns nothing when a
table or list it needs is absent) in rules_skipped, with what it needed, read from the rule's own code;
neither is counted as run. A rule that applies only to a return sent as XML (105) is run on --xml, the
same return in the XML layout. "corrected" holds what the corrected copies of defective rules report, and
"isolated" what each rule that reported something reports when run again alone on an untouched copy of
the return (see Pristine).
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


def _fresh(value):
    """A deep copy of a table, of a dict of them (the store's metadata), or the value itself."""
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return value.copy(deep=True)
    if isinstance(value, dict):
        return {key: _fresh(v) for key, v in value.items()}
    return value


class Pristine:
    """The return as the validator reads it, read again and never handed to a rule: each store a rule gets
    is a deep copy of it. The validator passes each rule a shallow copy of one shared store, so a rule that
    writes into a table changes what every later rule reads (rule 365 writes 31 March into every open
    episode's DEC, in place): corrected copies and the isolated re-runs read a store no rule has touched.

    The validator's ``create_datastore`` is run once, on its own deep copy of what was read, and each store
    handed out is a deep copy of its result: the same tables as making the store again each time, without
    matching every episode's two postcodes against the national postcode list again for each rule (about 5 s
    a store for a Dudley-sized return)."""

    def __init__(self, files, metadata: dict) -> None:
        from lac_validator.ingress import read_from_text

        self.dfs, extras = read_from_text(raw_files=files)
        self.metadata = {**metadata, **extras}
        self._made: dict | None = None

    def store(self) -> dict:
        from lac_validator.datastore import create_datastore

        if self._made is None:
            self._made = create_datastore(_fresh(self.dfs), _fresh(self.metadata))
        return _fresh(self._made)


POSTCODE = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$")


def _strings(value) -> set[str]:
    """Every text in a table, a dict of them (the store's metadata) or a list, upper case without spaces:
    the form the validator matches a postcode in (``merge_postcodes``)."""
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        found: set[str] = set()
        for column in value.columns:
            texts = value[column][value[column].map(type).eq(str)].astype(object)
            if len(texts):
                found |= set(texts.str.upper().str.replace(" ", "", regex=False))
        return found
    if isinstance(value, dict):
        return set().union(*(_strings(v) for v in value.values()))
    if isinstance(value, (list, tuple)):
        return set().union(*(_strings(v) for v in value))
    return set()


def only_postcodes_read(*returns: "Pristine") -> None:
    """Cut the national postcode list the validator holds to the postcodes these returns mention.

    The validator matches each episode's home and placement postcodes (and each Ofsted provider's) against
    the national list by a left merge, once for every store it makes: with every letter the return's
    postcodes begin with, 2.7 million rows, about 2 s a merge and 6.7 s of a small return's 9.7 s. A left
    merge finds the same rows, in the same order, in the list cut to the keys it could match; the cut keeps
    every postcode among all the texts of every table read (a superset of those matched), after loading
    each letter they begin with, so no later merge loads a letter whole again. ``--all-postcodes`` runs
    the validator on the whole list, as shipped: a test compares the two."""
    from lac_validator.datastore import postcodes

    wanted = set().union(*(_strings(r.dfs) | _strings(r.metadata) for r in returns))
    # the letters of what looks like a postcode: one the validator meets that does not is loaded by it then
    postcodes.load_postcodes({text[0] for text in wanted if POSTCODE.match(text)})
    whole = postcodes.dataframe
    postcodes._df = whole[whole["pcd_abbr"].isin(wanted)].reset_index(drop=True)


def _rows(result: dict) -> dict:
    return {table: sorted(int(i) for i in rows) for table, rows in result.items()}


def run_corrected(pristine: Pristine, year: str) -> dict:
    """The corrected copies of this year's defective rules (corrected_903.py, beside this script), each
    on an untouched store of the same return: {code: {table: [row, ...]}}, leaving out a copy that cannot
    judge this return."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import corrected_903

    out = {}
    for code, rule in corrected_903.for_year(year).items():
        result = rule(pristine.store())
        if result is None:  # it cannot judge this return: the original's findings stand
            continue
        out[code] = _rows(result)
    return out


def run_isolated(pristine: Pristine, by_code: dict, codes: set[str]) -> dict:
    """Each published rule that reported something (``by_code``: the year's rules by code), run again
    alone, unchanged, on an untouched store of the same return: {code: {table: [row, ...]}}. What it no
    longer reports there came from an earlier rule's writes into the shared store, not from the return."""
    out = {}
    for code in sorted(codes):
        rule = by_code.get(code)
        if rule is None:
            continue
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                result = rule.func(pristine.store())
        except Exception as exc:  # nothing is cleared: its findings stand
            print(f"rule {code} raised when run alone: {exc!r}", file=sys.stderr)
            continue
        if result:  # a rule that finds its tables absent when alone judges nothing
            out[str(code)] = _rows(result)
    return out


def why_skipped(rule, tables: set[str], metadata: set[str], lists: str = "") -> str:
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
        return (
            f"needs Ofsted's lists of children's homes and social care providers: {lists or 'not supplied'}"
        )
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
    parser.add_argument("--ch", help="Ofsted's children's homes list (xlsx)")
    parser.add_argument("--scp", help="Ofsted's social care providers list (xlsx)")
    parser.add_argument("--not-supplied", default="", help="why the provider lists are not given")
    parser.add_argument("--xml", help="the same return as XML, for the rules that apply only to XML")
    parser.add_argument("--out", required=True)
    parser.add_argument(
        "--all-postcodes",
        action="store_true",
        help="match against the whole national postcode list, as the validator ships (see only_postcodes_read)",
    )
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)

    from lac_validator.lac_validator import LacValidator, create_issue_df
    from lac_validator.report import Report
    from lac_validator.rules.ruleset_utils import get_year_ruleset
    from lac_validator.utils import process_uploaded_files

    uploads = {"This year": sorted(str(p) for p in Path(args.this).glob("*.csv"))}
    if args.last:
        uploads["Prev year"] = sorted(str(p) for p in Path(args.last).glob("*.csv"))
    if args.ch and args.scp:
        uploads["CH lookup"], uploads["SCP lookup"] = [args.ch], [args.scp]
    metadata = {"collectionYear": str(args.year), "localAuthority": args.la}
    with contextlib.redirect_stdout(io.StringIO()):  # some rules print debug output
        files = process_uploaded_files(uploads)
        # the return as read (never handed to a rule), and the same return as XML, for the rules only XML has
        pristine = Pristine(files, metadata)
        as_xml = Pristine(process_uploaded_files({"This year": [args.xml]}), metadata) if args.xml else None
        if not args.all_postcodes:
            only_postcodes_read(pristine, *([as_xml] if as_xml else []))
        registry = get_year_ruleset(str(args.year))
        validator = LacValidator(metadata=dict(metadata), files=files, registry=registry)
        report = Report(validator.ds_results, registry)
        issues = create_issue_df(report.report, report.error_report)
    by_code = {str(code): rule for code, rule in registry.items()}
    messages = {code: rule.message for code, rule in by_code.items()}
    skipped = {
        str(code): why_skipped(
            registry[code],
            set(validator.dfs),
            set(getattr(validator, "metadata", None) or {}),
            args.not_supplied,
        )
        for code in validator.skips
    }
    found = [
        {
            "child": None if r.child_id != r.child_id else str(r.child_id),
            "table": str(r.tables_affected),
            "columns": str(r.columns_affected),
            "row": None if r.row_id != r.row_id else int(r.row_id),
            "rule": str(r.rule_code),
            "message": str(r.rule_description or messages.get(str(r.rule_code), "")),
        }
        for r in issues.itertuples()
    ]
    corrected = run_corrected(pristine, str(args.year))
    isolated = run_isolated(pristine, by_code, {f["rule"] for f in found})
    rules_run, failed = len(validator.dones), list(validator.fails)

    # rules that only apply to a return sent as XML run on the XML form of the same return
    on_xml = [code for code, why in skipped.items() if why.startswith("applies to a return sent as XML")]
    if as_xml and on_xml:
        store = as_xml.store()  # where a finding's child is read: no rule runs on it
        for code in on_xml:
            rule = by_code[code]
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    result = rule.func(as_xml.store())
            except Exception:
                failed.append(code)
                skipped.pop(code)
                continue
            if result == {}:
                continue  # skipped on the XML too: it stays listed, with why
            skipped.pop(code)
            rules_run += 1
            for table, rows in result.items():
                for row in rows:
                    found.append(
                        {
                            "child": str(store[table].loc[row, "CHILD"]) if "CHILD" in store[table] else None,
                            "table": table,
                            "columns": ", ".join(rule.affected_fields or []),
                            "row": int(row),
                            "rule": code,
                            "message": rule.message,
                        }
                    )
    out = {
        "issues": found,
        "rules_run": rules_run,
        "rules_failed": {str(code): messages.get(str(code), "") for code in failed},
        "rules_skipped": skipped,
        "rules_run_on_xml": [code for code in on_xml if code not in skipped and code not in failed],
        "corrected": corrected,
        "isolated": isolated,
    }
    with Path(args.out).open("w", encoding="utf-8") as fh:
        json.dump(out, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
