"""``wholechild returns-audit``: how the DfE's validators judge clean synthetic authorities, year by year.

A clean authority (no injected faults) must give returns the validators pass: for each seed, one authority
is made as of the last year's 31 March (so every year asked for is complete), its extracts loaded into a
vault of its own, and the SSDA903 and CIN census of each year built, pre-checked and validated as the
returns team would (``service.ssda903``, ``service.cin``). Printed per seed and year: rules run, skipped
and crashed, pre-check errors, validator errors, those the validator's own defects explain (by what cleared
them: a corrected copy, or the rule run alone on an untouched copy) and what is left blocking. Figures are
measured, never asserted; the exit status says whether anything blocks.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import date
from pathlib import Path


def _authority(home: Path, seed: int, scale: float, as_of: date) -> None:
    import duckdb

    from orchestration.ingest.service import ingest
    from orchestration.settings import Paths
    from orchestration.synthetic import generate

    os.environ["WHOLECHILD_HOME"] = str(home)
    os.environ.setdefault("WHOLECHILD_DEMO", "1")  # a synthetic home: the demo's throwaway keys
    paths = Paths.from_env().ensure()
    generate(paths.landing, scale=scale, seed=seed, faults=0, as_of=as_of, truth_out=paths.ground_truth)
    with duckdb.connect(str(paths.vault_db)) as con:
        ingest(con, paths)


def audit(seeds: list[int], scale: float, years: list[int], keep: Path | None = None) -> list[dict]:
    """One row per seed, year and return (ssda903, cin)."""
    from orchestration.returns import service
    from orchestration.settings import Paths

    rows = []
    as_of = date(max(years), 3, 31)
    for seed in seeds:
        home = (keep / f"seed{seed}") if keep else Path(tempfile.mkdtemp(prefix=f"wholechild-audit-{seed}-"))
        try:
            _authority(home, seed, scale, as_of)
            paths = Paths.from_env()
            for year in years:
                for name in ("ssda903", "cin"):
                    outcome = getattr(service, name)(paths, year, again=True)
                    s = outcome.summary
                    found = service.findings(outcome)
                    blocking = found[found.severity.eq("error") & found.explained_by.eq("")].drop_duplicates(
                        ["stage", "rule", "table", "child", "row"]
                    )
                    rows.append(
                        {
                            "seed": seed,
                            "year": year,
                            "return": name,
                            "rules_run": s["validator_rules_run"],
                            "skipped": s["validator_rules_skipped"],
                            "crashed": s["validator_rules_crashed"],
                            "xsd_valid": s.get("xsd_valid"),
                            "pre_check_errors": s["pre_check_errors"],
                            "validator_errors": s["validator_errors"],
                            "cleared_by": s.get("validator_errors_cleared_by", {}),
                            "blocking": s["blocking_errors"],
                            "blocking_rules": blocking.groupby(["stage", "rule"]).size().to_dict(),
                            "ready": outcome.passed,
                        }
                    )
        finally:
            if keep is None:
                shutil.rmtree(home, ignore_errors=True)
    return rows


def print_rows(rows: list[dict]) -> None:
    head = (
        f"{'seed':>4} {'year':>4} {'return':<8} {'run':>4} {'skip':>4} {'crash':>5} {'pre':>4} {'errors':>6}"
        f" {'cleared':>7} {'block':>5} {'XSD':>5}  verdict"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['seed']:>4} {r['year']:>4} {r['return']:<8} {r['rules_run']:>4} {len(r['skipped']):>4}"
            f" {len(r['crashed']):>5} {r['pre_check_errors']:>4} {r['validator_errors']:>6}"
            f" {sum(r['cleared_by'].values()):>7} {r['blocking']:>5}"
            f" { ({True: 'valid', False: 'NOT'}.get(r['xsd_valid'], '-')):>5}  {'ready' if r['ready'] else 'NOT ready'}"
        )
    print("\nWhat cleared each validator error counted as the validator's (per seed and year):")
    for r in rows:
        if r["cleared_by"]:
            cleared = ", ".join(f"{k} {v}" for k, v in r["cleared_by"].items())
            print(f"  seed {r['seed']} {r['year']} {r['return']}: {cleared}")
    for r in rows:
        if r["blocking_rules"]:
            what = ", ".join(
                f"{stage} {rule}: {n}" for (stage, rule), n in sorted(r["blocking_rules"].items())
            )
            print(f"  BLOCKING seed {r['seed']} {r['year']} {r['return']}: {what}")
    print("\nRules skipped, and crashed (each crashed rule has a pre-check standing in):")
    seen: set[tuple] = set()
    for r in rows:
        for kind in ("skipped", "crashed"):
            key = (r["year"], r["return"], kind, tuple(sorted(r[kind])))
            if r[kind] and key not in seen:
                seen.add(key)
                print(f"  {r['year']} {r['return']} {kind}: {', '.join(sorted(r[kind]))}")
