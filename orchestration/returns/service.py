"""Build, check and publish a return: what the Dagster assets and ``wholechild returns`` both call.

Every attempt is written to published/returns/<return>/<year>/<timestamp>/ with the return's files, its
validation report (validation/validation.{csv,html,json}) and a manifest of checksums, so the returns
team can work from the report whatever it says. ``latest`` is moved to an attempt only when nothing
blocks it: no pre-check error, no validator error other than a proven validator defect, and for Annex A
every list agreeing with the marts.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.cells import safe_frame
from orchestration.returns.common import Authority, CollectionYear, publish, returns_connection, ssd_views
from orchestration.settings import Paths


@dataclass
class Outcome:
    return_name: str
    year: int
    folder: Path
    summary: dict
    blocking: int
    counts: dict[str, int]

    reused: bool = False  # the return's content was the last attempt's: that attempt stands

    @property
    def passed(self) -> bool:
        return self.blocking == 0


def content_key(files: dict[str, bytes]) -> str:
    """What a return's validation depends on: its files (the CIN header's time of building left out) and
    the code and settings that check them (pre-checks, defect rules, the validators' lock file)."""
    import hashlib
    import re

    from orchestration.run_state import code_fingerprint, settings_fingerprint

    digest = hashlib.sha256(f"{code_fingerprint()}|{settings_fingerprint()}".encode())
    for name, data in sorted(files.items()):
        if name.endswith(".xml"):
            data = re.sub(rb"<DateTime>[^<]*</DateTime>", b"<DateTime/>", data, count=1)
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()


def _reuse(paths: Paths, name: str, year: int, key: str) -> Outcome | None:
    """The last attempt at this return, if it was made from exactly this content: validating the same
    files again would say the same, and a new attempt would be a copy."""
    import json

    last = paths.published / "returns" / name / str(year) / "last_attempt"
    try:
        manifest = json.loads((last / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if manifest.get("content_key") != key:
        return None
    summary = manifest.get("summary", {})
    blocking = int(summary.get("blocking_errors", 0))
    return Outcome(name, year, last.resolve(), summary, blocking, manifest.get("rows", {}), reused=True)


def _connection(paths: Paths) -> tuple[duckdb.DuckDBPyConnection, str]:
    if not paths.vault_db.exists():
        raise FileNotFoundError(f"no warehouse at {paths.vault_db}: run `wholechild run` first")
    con = returns_connection(paths.vault_db)
    return con, ssd_views(con)


def ssda903(paths: Paths, year: int, again: bool = False) -> Outcome:
    """Build, validate and publish the year's SSDA903; unless ``again``, the last attempt stands when the
    return (and last year's, which the year-comparing rules read) is what it was then."""
    from orchestration.returns.ssda903.build import build, files
    from orchestration.returns.ssda903.providers import latest_lists
    from orchestration.returns.validation import report_files, validate_903

    authority = Authority.from_env()
    con, extract = _connection(paths)
    this_year = build(con, CollectionYear(year))
    # last year's episodes (all of them, to that year's end): what the year-comparing rules read
    last_year = build(con, CollectionYear(year - 1), history=True, codes_of=year)
    providers, no_providers_why = latest_lists(con)
    con.close()
    key = content_key(
        files(this_year)
        | {f"last_year/{k}": v for k, v in files(last_year).items()}
        | {"ofsted_provider_lists": providers.fingerprint() if providers else b""}
    )
    if not again and (same := _reuse(paths, "ssda903", year, key)):
        return same
    with tempfile.TemporaryDirectory(prefix="wc-903-") as work:
        validation = validate_903(
            this_year, last_year, year, authority.ons_code, Path(work), providers, no_providers_why
        )
    out = files(this_year) | {f"validation/{k}": v for k, v in report_files(validation).items()}
    return _publish(
        paths,
        "ssda903",
        year,
        out,
        validation.summary(),
        extract,
        {k: len(v) for k, v in this_year.items()},
        key,
    )


def cin(paths: Paths, year: int, again: bool = False) -> Outcome:
    """Build, validate and publish the year's CIN census; unless ``again``, the last attempt stands when
    the XML (its time of building aside) is what it was then."""
    from orchestration.returns.cin.build import build
    from orchestration.returns.validation import report_files, validate_cin

    authority = Authority.from_env()
    con, extract = _connection(paths)
    xml = build(con, CollectionYear(year), authority)
    con.close()
    key = content_key({f"cin_census_{year}.xml": xml})
    if not again and (same := _reuse(paths, "cin", year, key)):
        return same
    with tempfile.TemporaryDirectory(prefix="wc-cin-") as work:
        validation = validate_cin(xml, year, Path(work))
    out = {f"cin_census_{year}.xml": xml} | {
        f"validation/{k}": v for k, v in report_files(validation).items()
    }
    children = xml.count(b"<Child>")
    return _publish(paths, "cin", year, out, validation.summary(), extract, {"children": children}, key)


def annex_a(paths: Paths, inspection: date | None = None, months: int = 6) -> Outcome:
    """Annex A for an inspection date (default: the SSD extract's date), reconciled with the marts."""
    from orchestration.returns.annex_a.build import Window, build, to_workbook
    from orchestration.returns.annex_a.reconcile import mart_counts, reconcile, report_html

    con, extract = _connection(paths)
    window = Window(inspection or date.fromisoformat(str(extract)[:10]), months)
    lists = build(con, window)
    con.close()
    from orchestration.duckdb_files import connect

    with connect(paths.analytics_db, read_only=True) as analytics:
        agreement = reconcile(lists, mart_counts(analytics, window))
    disagreeing = int((~agreement.agrees).sum())
    summary = {
        "return": "annex_a",
        "inspection_date": str(window.inspection),
        "window": f"{window.start} to {window.end}",
        "lists_disagreeing_with_marts": disagreeing,
        "blocking_errors": disagreeing,
        "rows": {f"List {n}": len(frame) for n, frame in lists.items()},
    }
    stamp = window.inspection.strftime("%Y-%m-%d")
    out = {
        f"annex_a_{stamp}.xlsx": to_workbook(lists),
        "validation/reconciliation.csv": safe_frame(agreement)
        .to_csv(index=False, lineterminator="\n")
        .encode(),
        "validation/validation.html": report_html(agreement, summary["inspection_date"], summary["window"]),
    }
    year = CollectionYear(window.inspection.year + (window.inspection.month > 3)).year
    return _publish(
        paths, "annex_a", year, out, summary, extract, {f"list_{n}": len(f) for n, f in lists.items()}
    )


def _publish(
    paths: Paths,
    name: str,
    year: int,
    files: dict[str, bytes],
    summary: dict,
    extract,
    counts: dict,
    key: str | None = None,
) -> Outcome:
    blocking = int(summary.get("blocking_errors", 0))
    meta = {
        "ssd_extract": str(extract)[:10],
        "ready_to_submit": blocking == 0,
        "summary": summary,
        "rows": counts,
        "content_key": key,
    }
    folder = publish(files, paths.published, name, year, meta, promote=blocking == 0)
    return Outcome(name, year, folder, summary, blocking, counts)


def findings(outcome: Outcome) -> pd.DataFrame:
    path = outcome.folder / "validation" / "validation.csv"
    return pd.read_csv(path, dtype=str, keep_default_na=False) if path.exists() else pd.DataFrame()
