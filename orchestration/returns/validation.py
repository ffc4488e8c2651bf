"""Validate a return: the project's own pre-checks first, then the DfE's validator, into one report.

The DfE validators (csc-validator-be-903, csc-validator-be-cin) pin pandas below 2, so they run in a
virtual environment of their own (``make dfe-validators`` builds ``.venv-dfe`` from
orchestration/returns/validators/requirements.lock) through the small scripts beside this module.

A finding has: return, stage (pre-check | validator), rule, severity (error | query), message, child,
table, field, value, and ``explained_by`` (a validator defect: the corrected copy of the rule, validators/
corrected_903.py, run on the same return, clears the record). Nothing the validator says is dropped:
crashed and skipped rules are listed separately, queries are listed, and findings explained by a known
defect stay in the report, marked.
"""

from __future__ import annotations

import html
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from orchestration.cells import safe_frame
from orchestration.returns.ssda903.providers import ProviderLists

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = Path(__file__).resolve().parent / "validators"
COLUMNS = [
    "return",
    "stage",
    "rule",
    "severity",
    "message",
    "child",
    "table",
    "field",
    "row",
    "value",
    "explained_by",
]

# the 903 validator's table names -> the return's file names
TABLES_903 = {
    "Header": "header",
    "Episodes": "episodes",
    "Reviews": "reviews",
    "UASC": "uasc",
    "OC2": "oc2",
    "OC3": "oc3",
    "AD1": "ad1",
    "PlacedAdoption": "placed_for_adoption",
    "PrevPerm": "previous_permanence",
    "Missing": "missing",
    "SWEpisodes": "sw_episodes",
    "DoLo": "dolo",
    "DoLo_last": "dolo",
}


# the validator's 903 rules that fail inside it (csc-validator-be-903 0.1.17), each with the pre-check that
# checks what it means to (orchestration/returns/ssda903/prechecks.py)
STANDS_IN = {"231": "WC903-231", "233": "WC903-233", "709": "WC903-709", "710": "WC903-710"}


class ValidatorUnavailable(RuntimeError):
    pass


def dfe_python() -> Path:
    """The interpreter of the validators' environment: $WHOLECHILD_DFE_PYTHON, else .venv-dfe."""
    configured = os.environ.get("WHOLECHILD_DFE_PYTHON")
    path = Path(configured) if configured else ROOT / ".venv-dfe" / "bin" / "python"
    if not path.exists():
        raise ValidatorUnavailable(
            f"the DfE validators' environment is missing ({path}): run `make dfe-validators` "
            "(or set WHOLECHILD_DFE_PYTHON to a Python with csc-validator-be-903/-cin installed)"
        )
    return path


@dataclass
class Validation:
    """Everything one validation found, and what it ran."""

    return_name: str
    year: int
    findings: pd.DataFrame
    crashed_rules: dict[str, str] = field(default_factory=dict)  # rule -> its message (raised inside)
    skipped_rules: dict[str, str] = field(default_factory=dict)  # rule -> what it needed and was not given
    rules_run: int = 0
    xsd_valid: bool | None = None
    provider_lists: str = ""  # the Ofsted lists the URN rules were given, or why none (SSDA903)

    def count(self, stage: str, severity: str = "error", explained: bool | None = None) -> int:
        f = self.findings
        mask = f["stage"].eq(stage) & f["severity"].eq(severity)
        if explained is not None:
            mask &= f["explained_by"].ne("") if explained else f["explained_by"].eq("")
        # one finding per rule and record, however many fields the validator names
        return int(f.loc[mask, ["rule", "table", "child", "row"]].drop_duplicates().shape[0])

    @property
    def blocking_errors(self) -> int:
        """Errors that stop publication: every pre-check error and every validator error not explained
        by a known validator defect."""
        return self.count("pre-check") + self.count("validator", explained=False)

    def cleared(self) -> dict[str, int]:
        """Validator errors that are the validator's, by what cleared them: the corrected copy of a rule,
        or the rule itself run alone (the shared data store), counted once per record."""
        f = self.findings
        f = f[f["stage"].eq("validator") & f["severity"].eq("error") & f["explained_by"].ne("")]
        f = f.drop_duplicates(["rule", "table", "child", "row"])
        how = f["explained_by"].map(lambda e: "corrected copy" if "corrected copy" in e else "run alone")
        counts = (f["rule"] + " (" + how + ")").value_counts()
        return {k: int(counts[k]) for k in sorted(counts.index)}

    def summary(self) -> dict:
        return {
            "return": self.return_name,
            "collection_year": self.year,
            "xsd_valid": self.xsd_valid,
            "pre_check_errors": self.count("pre-check"),
            "validator_errors": self.count("validator"),
            "validator_errors_explained_by_known_defects": self.count("validator", explained=True),
            "validator_errors_cleared_by": self.cleared(),
            "validator_queries": self.count("validator", "query"),
            "validator_rules_run": self.rules_run,
            "validator_rules_skipped": self.skipped_rules,
            "validator_rules_crashed": self.crashed_rules,
            **({"ofsted_provider_lists": self.provider_lists} if self.provider_lists else {}),
            "blocking_errors": self.blocking_errors,
        }


def _frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.fillna("").astype(str)


def _run(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"validator failed ({' '.join(args[:2])}): {done.stderr.strip()[-2000:]}")


# --- SSDA903 -------------------------------------------------------------------------------------


def validate_903(
    this_year: dict[str, pd.DataFrame],
    last_year: dict[str, pd.DataFrame] | None,
    year: int,
    ons_code: str,
    workdir: Path,
    providers: ProviderLists | None = None,
    no_providers_why: str = "",
) -> Validation:
    """Pre-checks, then csc-validator-be-903 on the return's CSVs (last year's supplied for the rules
    that compare years, and Ofsted's provider lists for the URN rules when they were received)."""
    from orchestration.returns.ssda903.build import to_csv, to_xml
    from orchestration.returns.ssda903.prechecks import precheck

    pre = precheck(this_year, year)
    for name, tables in (("this", this_year), ("last", last_year or {})):
        folder = workdir / name
        folder.mkdir(parents=True, exist_ok=True)
        for table, frame in tables.items():
            (folder / f"{table}.csv").write_bytes(to_csv(frame))
    out = workdir / "validator.json"
    args = [str(dfe_python()), str(SCRIPTS / "run_903.py"), "--year", str(year), "--la", ons_code]
    args += ["--this", str(workdir / "this"), "--out", str(out)]
    if last_year:
        args += ["--last", str(workdir / "last")]
    xml = workdir / "ssda903.xml"
    xml.write_bytes(to_xml(this_year))
    args += ["--xml", str(xml)]
    if providers is not None:
        homes, others = providers.write(workdir / "ofsted")
        args += ["--ch", str(homes), "--scp", str(others)]
    else:
        args += ["--not-supplied", no_providers_why or "not received"]
    _run(args)
    result = json.loads(out.read_text(encoding="utf-8"))
    rows = []
    for issue in result["issues"]:
        table = TABLES_903.get(issue["table"], issue["table"])
        rows.append(
            {
                "return": "ssda903",
                "stage": "validator",
                "rule": issue["rule"],
                "severity": "error",
                "message": issue["message"],
                "child": issue["child"] or "",
                "table": table,
                "field": issue["columns"],
                "row": "" if issue["row"] is None else str(issue["row"]),
            }
        )
    found = _frame(rows)
    found["value"] = _values(found, this_year)
    found["explained_by"] = _by_isolated_runs(found, result.get("isolated", {}))
    found["explained_by"] = _by_corrected_rules(found, result.get("corrected", {}))
    both = pd.concat([pre, found], ignore_index=True).fillna("").astype(str)
    # both count rows from 0 in the table as built: the row in the file as submitted is the line of the CSV
    # (its header is line 1), the number a person finds when they open it
    line = pd.to_numeric(both["row"], errors="coerce") + 2
    both["row"] = line.map(lambda n: "" if pd.isna(n) else str(int(n)))
    return Validation(
        "ssda903",
        year,
        both,
        crashed_rules=result["rules_failed"],
        skipped_rules=result.get("rules_skipped", {}),
        rules_run=result["rules_run"],
        provider_lists=providers.describe()
        if providers is not None
        else (no_providers_why or "not received"),
    )


def _still_flagged(found: pd.DataFrame, flagged: dict[str, list[int]]) -> pd.Series:
    """Whether each finding's record (table and row) is among ``flagged``, a rule's result on the return."""
    still = {(TABLES_903.get(table, table), str(row)) for table, rows in flagged.items() for row in rows}
    return pd.Series(
        [(t, r) in still for t, r in zip(found["table"], found["row"], strict=True)], index=found.index
    )


def _by_isolated_runs(found: pd.DataFrame, isolated: dict[str, dict[str, list[int]]]) -> pd.Series:
    """A finding the rule no longer makes when run again alone, unchanged, on an untouched copy of the same
    return is the validator's: the rules share one data store, and an earlier rule's writes into it (rule
    365 closes every open episode on 31 March) made it (docs/validator-defects.md, "the shared data
    store"). A rule with a corrected copy is judged by the copy instead (``_by_corrected_rules``)."""
    explained = pd.Series("", index=found.index, dtype="object")
    for rule, flagged in isolated.items():
        explained[found["rule"].eq(rule) & ~_still_flagged(found, flagged)] = (
            f"validator defect (shared data store): rule {rule}, run alone and unchanged on this return,"
            " does not report it; an earlier rule's writes into the data the rules share did"
        )
    return explained


def _by_corrected_rules(found: pd.DataFrame, corrected: dict[str, dict[str, list[int]]]) -> pd.Series:
    """For a rule with a corrected copy (validators/corrected_903.py), a finding is a validator defect only
    when the corrected copy, run on the same return, does not flag the same record; otherwise it is an
    error like any other."""
    explained = found["explained_by"].copy()
    for rule, flagged in corrected.items():
        mine = found["rule"].eq(rule)
        kept = _still_flagged(found, flagged)
        explained[mine & kept] = ""
        explained[mine & ~kept] = (
            f"validator defect (rule {rule}): the corrected copy of the rule, run on this return, clears it"
            " (orchestration/returns/validators/corrected_903.py)"
        )
    return explained


def _values(found: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> pd.Series:
    """The value the validator objected to, looked up by table, row and field (set-wise per table)."""
    out = pd.Series("", index=found.index, dtype="object")
    rows = pd.to_numeric(found["row"], errors="coerce")
    for (table, column), group in found.groupby(["table", "field"]):
        frame = tables.get(table)
        if frame is None or column not in frame:
            continue
        picked = rows[group.index]
        ok = picked.notna() & (picked < len(frame))
        out[group.index[ok]] = frame[column].to_numpy()[picked[ok].astype(int).to_numpy()]
    return out.fillna("").astype(str)


# --- CIN census ----------------------------------------------------------------------------------


# the CIN validator's tables, and the elements whose rows they are, in document order (its ingress reads
# the XML child by child, block by block: each table's row n is the n-th such element of the file). A
# child's identifiers and characteristics are the child's rows, so they carry the line of its <Child>.
CIN_TABLE_ELEMENTS = {
    "ChildIdentifiers": ".//Children/Child",
    "ChildCharacteristics": ".//Children/Child",
    "Disabilities": ".//Children/Child/ChildCharacteristics/Disabilities/*",
    "CINdetails": ".//Children/Child/CINdetails",
    "Assessments": ".//Children/Child/CINdetails/Assessments",
    "CINplanDates": ".//Children/Child/CINdetails/CINPlanDates",
    "Section47": ".//Children/Child/CINdetails/Section47",
    "ChildProtectionPlans": ".//Children/Child/CINdetails/ChildProtectionPlans",
    "Reviews": ".//Children/Child/CINdetails/ChildProtectionPlans/Reviews[CPPreviewDate]",
}


def _cin_lines(xml: bytes, found: pd.DataFrame) -> pd.Series:
    """The validator's row numbers (its tables' row indexes) as lines of the XML file as submitted, the
    numbering the pre-checks use; a row that cannot be placed keeps no number rather than a wrong one."""
    from lxml import etree

    if found.empty:
        return found["row"]
    root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True))
    lines = {table: [e.sourceline for e in root.findall(path)] for table, path in CIN_TABLE_ELEMENTS.items()}

    def line(table: str, row: str) -> str:
        at = lines.get(table)
        if at is None or not row.isdigit() or int(row) >= len(at):
            return ""
        return str(at[int(row)])

    return pd.Series(
        [line(t, r) for t, r in zip(found["table"], found["row"], strict=True)], index=found.index
    )


def validate_cin(xml: bytes, year: int, workdir: Path) -> Validation:
    """XSD and pre-checks, then csc-validator-be-cin on the XML."""
    from orchestration.returns.cin.prechecks import precheck

    pre, xsd_valid = precheck(xml, year)
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "cin.xml"
    path.write_bytes(xml)
    out = workdir / "validator.json"
    _run(
        [
            str(dfe_python()),
            str(SCRIPTS / "run_cin.py"),
            "--year",
            str(year),
            "--xml",
            str(path),
            "--out",
            str(out),
        ]
    )
    result = json.loads(out.read_text(encoding="utf-8"))
    rows = [
        {
            "return": "cin",
            "stage": "validator",
            "rule": issue["rule"],
            "severity": "query" if issue["type"] == "QUERY" else "error",
            "message": issue["message"],
            "child": issue["child"] or "",
            "table": issue["table"],
            "field": issue["columns"],
            "row": issue["row"] or "",
        }
        for issue in result["issues"]
    ]
    rows += [
        {
            "return": "cin",
            "stage": "validator",
            "rule": issue["rule"],
            "severity": "query" if issue["rule"].endswith("Q") else "error",
            "message": issue["message"],
            "table": "(whole return)",
        }
        for issue in result["la_level"]
    ]
    found = _frame(rows)
    found["row"] = _cin_lines(xml, found)
    return Validation(
        "cin",
        year,
        pd.concat([pre, found], ignore_index=True).fillna("").astype(str),
        rules_run=result["rules_run"],
        xsd_valid=xsd_valid,
    )


# --- the report ----------------------------------------------------------------------------------


RETURN_NAMES = {"cin": "CIN census", "ssda903": "SSDA903", "annex_a": "Annex A"}
CHILDREN_SHOWN = 12
STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:75em;color:#0b0c0c}"
    "table{border-collapse:collapse;font-size:90%;margin:.5em 0 1.5em}"
    "td,th{border:1px solid #b1b4b6;padding:4px 8px;text-align:left;vertical-align:top}"
    "th{background:#f3f2f1}.verdict{padding:.8em 1em;font-size:115%;border-left:8px solid}"
    ".ready{background:#e7f4ea;border-color:#00703c}.notready{background:#fde8e8;border-color:#d4351c}"
    ".error{background:#fde8e8}.query{background:#fff7e0}.explained{background:#eef}"
    "td.n{text-align:right}details{margin-top:1em}"
)


def _esc(value: object) -> str:
    return html.escape(str(value))


def _verdict(validation: Validation) -> tuple[bool, str]:
    pre, val = validation.count("pre-check"), validation.count("validator", explained=False)
    explained = validation.count("validator", explained=True)
    if validation.xsd_valid is False:
        return False, "Not ready to submit: the file does not match the DfE's schema (see the findings)."
    if pre + val == 0:
        why = "no blocking errors"
        if explained:
            why += f"; {explained} validator finding(s) are known defects of the validator, listed below"
        return True, f"Ready to submit: {why}."
    parts = [f"{pre} from Whole Child's pre-checks"] if pre else []
    parts += [f"{val} from the DfE validator"] if val else []
    return False, (
        f"Not ready to submit: {pre + val} blocking error(s), {' and '.join(parts)}. Correct them at source "
        "(the case management system, so the SSD extract carries the fix); the next run builds the return again."
    )


def _by_rule(findings: pd.DataFrame) -> pd.DataFrame:
    """One line per rule: its findings counted once per record, and the children it names."""
    if findings.empty:
        return pd.DataFrame(
            columns=["stage", "rule", "severity", "message", "explained_by", "findings", "children"]
        )
    one = findings.drop_duplicates(["stage", "rule", "table", "child", "row"])
    grouped = (
        one.groupby(["stage", "rule", "severity", "explained_by"], sort=False)
        .agg(
            message=("message", "first"),
            findings=("rule", "size"),
            children=("child", lambda c: sorted(set(c) - {""})),
        )
        .reset_index()
    )
    order = {"error": 0, "query": 1}
    grouped["_order"] = [
        (1 if e else 0, order.get(sev, 2), st != "pre-check", r)
        for e, sev, st, r in zip(
            grouped.explained_by, grouped.severity, grouped.stage, grouped.rule, strict=True
        )
    ]
    return grouped.sort_values("_order", kind="stable").drop(columns="_order")


def report_files(validation: Validation) -> dict[str, bytes]:
    """validation.csv (every finding), validation.html (for the returns team: the verdict first, then the
    findings rule by rule, then every one) and validation.json (the summary the blocking check reads)."""
    findings = validation.findings.sort_values(
        ["stage", "severity", "explained_by", "rule", "child"], key=lambda s: s.str.lower(), kind="stable"
    )
    csv = safe_frame(findings[COLUMNS]).to_csv(index=False, lineterminator="\n").encode("utf-8")
    summary = validation.summary()
    ready, verdict = _verdict(validation)
    name = RETURN_NAMES.get(validation.return_name, validation.return_name)
    year = f"{validation.year - 1}/{str(validation.year)[2:]}"
    schema = {True: "valid", False: "NOT valid", None: "not applicable (a CSV return)"}[validation.xsd_valid]
    crashed = validation.crashed_rules
    facts = [
        ("Blocking errors", validation.blocking_errors),
        ("Whole Child's pre-check errors", validation.count("pre-check")),
        ("DfE validator errors", validation.count("validator")),
        ("of which known validator defects (not blocking)", validation.count("validator", explained=True)),
        *(
            [("Validator defects, by what cleared them", "; ".join(f"{k}: {v}" for k, v in cleared.items()))]
            if (cleared := validation.cleared())
            else []
        ),
        ("Queries (to check; not blocking)", validation.count("validator", "query")),
        ("Schema (XSD)", schema),
        ("Validator rules run", validation.rules_run),
        *([("Ofsted's provider lists", validation.provider_lists)] if validation.provider_lists else []),
        (
            "Validator rules skipped",
            "none"
            if not validation.skipped_rules
            else "; ".join(f"{rule}: {why}" for rule, why in sorted(validation.skipped_rules.items())),
        ),
        (
            "Validator rules that crashed",
            "none"
            if not crashed
            else "; ".join(
                f"{rule}: {message}"
                + (
                    f" (checked instead by Whole Child's pre-check {STANDS_IN[rule]})"
                    if rule in STANDS_IN
                    else ""
                )
                for rule, message in sorted(crashed.items())
            ),
        ),
    ]
    lines = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_esc(name)} {year}: validation</title><style>{STYLE}</style></head><body>",
        f"<h1>{_esc(name)} {year}: validation</h1>",
        f"<p class='verdict {'ready' if ready else 'notready'}'><strong>{_esc(verdict)}</strong></p>",
        "<table>",
        *(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in facts),
        "</table>",
        "<h2>Findings by rule</h2>",
    ]
    rules = _by_rule(findings)
    if rules.empty:
        lines.append("<p>None: neither the pre-checks nor the validator found anything.</p>")
    else:
        lines.append(
            "<table><tr><th>Stage</th><th>Rule</th><th>Severity</th><th>What it means</th><th>Findings</th>"
            "<th>Children (LA child id)</th></tr>"
        )
        for r in rules.itertuples(index=False):
            css = "explained" if r.explained_by else r.severity
            shown = ", ".join(r.children[:CHILDREN_SHOWN])
            if len(r.children) > CHILDREN_SHOWN:
                shown += f" and {len(r.children) - CHILDREN_SHOWN} more (see validation.csv)"
            severity = f"{r.severity}: a validator defect, not blocking" if r.explained_by else r.severity
            why = (
                f"<br><small>Why it does not block: {_esc(r.explained_by)}</small>" if r.explained_by else ""
            )
            lines.append(
                f"<tr class='{css}'><td>{_esc(r.stage)}</td><td>{_esc(r.rule)}</td><td>{_esc(severity)}</td>"
                f"<td>{_esc(r.message)}{why}</td><td class='n'>{r.findings}</td><td>{_esc(shown)}</td></tr>"
            )
        lines.append("</table>")
    lines += [
        "<p>Pre-checks are Whole Child's own, in the returns team's terms; validator findings are the DfE "
        "validator's, unaltered. A finding marked as a known validator defect is listed and counted but does "
        "not block (docs/adr/0005-statutory-returns.md). Every finding, one per line, is in validation.csv.</p>",
        f"<details><summary>Every finding ({len(findings)})</summary><table><tr>"
        + "".join(f"<th>{_esc(c.replace('_', ' '))}</th>" for c in COLUMNS)
        + "</tr>",
    ]
    for row in findings[COLUMNS].itertuples(index=False):
        css = "explained" if row.explained_by else row.severity
        lines.append(f"<tr class='{css}'>" + "".join(f"<td>{_esc(v)}</td>" for v in row) + "</tr>")
    lines.append("</table></details></body></html>")
    return {
        "validation.csv": csv,
        "validation.html": "\n".join(lines).encode("utf-8"),
        "validation.json": (json.dumps(summary, indent=2) + "\n").encode("utf-8"),
    }
