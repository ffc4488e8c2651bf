"""The regional demo end to end: each member authority runs its own pipeline in its own home, sends its
marts under the regional key, and the region builds and publishes its cross-authority tables."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from orchestration.region import build as region_build
from orchestration.region.evaluate import cross_linkage, member_truth, scan_inbox
from orchestration.region.export import export_member, regional_key
from orchestration.region.synthetic import MEMBERS, Member, generate_members, member_home
from orchestration.settings import Paths

MARKER = ".wholechild-region"


@dataclass
class MemberRun:
    member: Member
    seconds: float
    returncode: int
    log: Path


def run_member(root: Path, member: Member, *, demo: bool = True) -> MemberRun:
    """`wholechild run` in the member's own home, with its own codes, as its data team would run it. Its
    output goes to a log beside the home; a failed run is said by the return code."""
    home = member_home(root, member)
    log = home / "run.log"
    env = {**os.environ, "WHOLECHILD_HOME": str(home), **member.env()}
    env.pop("WHOLECHILD_STATISTICAL_NEIGHBOURS", None)  # a member's neighbours are its own, not the caller's
    started = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.run(
            [sys.executable, "-m", "orchestration.cli", "run", *(["--demo"] if demo else [])],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    return MemberRun(member, time.perf_counter() - started, proc.returncode, log)


def demo(
    root: Path,
    *,
    scales: tuple[float, ...],
    seed: int,
    engines: tuple[str, ...] = ("duckdb",),
    jobs: int = 2,
) -> int:
    """The regional demo end to end, said step by step; 0 when the region's tables are published, its
    linkage across members is measured and the scan finds nothing. The members' own runs go ``jobs`` at a
    time, each starting as soon as its member is generated: they are separate authorities' pipelines, each
    a process of its own, and much of a small member's run is one core's work (dbt, the returns)."""
    started = time.perf_counter()
    if root.exists() and any(root.iterdir()):
        if not (root / MARKER).exists():  # never remove a folder the demo did not make
            print(
                f"wholechild region: {root} is not empty and is not a regional demo's folder: give --root a"
                " new or empty folder",
                file=sys.stderr,
            )
            return 2
        shutil.rmtree(root)  # the demo's own folder, made again whole
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text("A regional demo's folder: `wholechild region --demo` makes it again whole.\n")
    print(f"A synthetic region of {len(MEMBERS)} authorities under {root}", flush=True)
    key = regional_key(root, demo=True)
    held, runs, failed = {}, [], []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for member, children in generate_members(root, scales=scales, seed=seed):
            held[member.la_number] = children
            runs.append(pool.submit(run_member, root, member))
        print(
            f"  generated      {sum(held.values()):,} children (scales {', '.join(map(str, scales))};"
            f" members share some) in {time.perf_counter() - started:.0f} s; their own runs go {jobs} at"
            " a time",
            flush=True,
        )
        for member, run in zip(MEMBERS, runs, strict=True):
            ran = run.result()
            said = "published" if ran.returncode == 0 else f"FAILED (see {ran.log})"
            print(
                f"  {member.name:<24} {member.la_number}  its own run {ran.seconds:5.1f} s, {said}",
                flush=True,
            )
            if ran.returncode != 0:
                failed.append(member)
                continue
            sent = export_member(Paths(member_home(root, member)), member.la_number, root / "inbox", key)
            print(
                f"  {'':<24}      sent {sent.children:,} children ({sent.by_nhs_number:,} keyed by NHS"
                f" number, {sent.sharing_a_key:,} described alike under one key, {sent.not_keyed:,} not"
                f" keyable), {sent.rows['fct_child_outcomes_by_year']:,} child-years",
                flush=True,
            )
    if failed:
        print(f"Not built: {', '.join(m.name for m in failed)} did not publish.", file=sys.stderr)
        return 1
    for engine in engines:
        t = time.perf_counter()
        why_not = region_build.spark_available() if engine == "spark" else None
        if why_not:
            print(f"Not built on Spark: {why_not}.", file=sys.stderr)
            return 2
        built = region_build.build(root, engine)
        said = "built, every test passed" if built.returncode == 0 else f"FAILED (see {root / 'logs'})"
        print(f"  region marts on {engine:<7} {time.perf_counter() - t:5.1f} s, {said}", flush=True)
        if built.returncode != 0:
            return 1
    if len(engines) > 1:
        compared = region_build.compare_engines(root)
        differ = sum(d for _, d in compared.values())
        print(
            f"  DuckDB and Spark: {len(compared)} tables, {sum(r for r, _ in compared.values()):,} rows,"
            f" {differ} rows differ",
            flush=True,
        )
        if differ:
            return 1
    suppressed = region_build.publish(root, engines[-1])
    print(
        f"  published      {len(suppressed)} tables under {root / 'published'}"
        f" ({sum(suppressed.values())} cells suppressed)",
        flush=True,
    )
    import pandas as pd

    linkage = cross_linkage(
        pd.concat([member_truth(root, m, key) for m in MEMBERS], ignore_index=True), root, engines[-1]
    )
    print(
        f"  linkage across members: precision {linkage.precision:.4f}, recall {linkage.recall:.4f},"
        f" F1 {linkage.f1:.4f} ({linkage.true_pairs:,} true pairs of children of two members)",
        flush=True,
    )
    scan = scan_inbox(root, MEMBERS, root / "inbox")
    print(
        f"  scan           {scan.values_held:,} private values of the members looked for in"
        f" {scan.columns_scanned} columns sent: {len(scan.found)} found"
        + "".join(f"\n    LEAK {where}: {n}" for where, n in scan.found),
        flush=True,
    )
    print(f"Region done in {time.perf_counter() - started:.0f} s.")
    return 0 if not scan.found else 1
