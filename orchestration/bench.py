"""``wholechild bench``: speed and memory of each stage, printed beside its target.

Each stage runs in a fresh process, so its peak memory is its own. Figures are measured, never asserted:
machines here are shared and noisy, so targets are read by people, not by tests.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

BENCH_AS_OF = date(2026, 3, 31)


def _peak_memory_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def stage_generate(scale: float, workdir: Path) -> dict[str, Any]:
    from orchestration.synthetic import generate

    started = time.perf_counter()
    result = generate(workdir / "landing", scale=scale, seed=42, as_of=BENCH_AS_OF)
    seconds = time.perf_counter() - started
    return {
        "figures": [
            ("children simulated", f"{result.children:,}"),
            ("files written", f"{len(result.files):,}"),
            ("rows written", f"{result.rows:,}"),
            ("faults injected", f"{result.faults:,}"),
            ("rows per second", f"{result.rows / seconds:,.0f}"),
            ("by step", ", ".join(f"{k} {v:.1f} s" for k, v in result.stage_seconds.items())),
        ],
        "seconds": seconds,
        "target": (
            "wall time",
            120.0 if scale >= 1.0 else None,
            "a whole authority (scale 1.0) in under two minutes",
        ),
    }


STAGES: dict[str, Callable[[float, Path], dict[str, Any]]] = {"generate": stage_generate}


def _run_in_child(name: str, scale: float, workdir: str, queue: mp.Queue) -> None:
    try:
        out = STAGES[name](scale, Path(workdir))
        out["peak_memory"] = _peak_memory_bytes()
        queue.put(out)
    except BaseException as exc:  # reported by the parent
        queue.put({"error": f"{type(exc).__name__}: {exc}"})


def run(stages: list[str], scale: float, keep: Path | None = None) -> int:
    print(
        f"Whole Child benchmark: scale {scale} on {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.machine()}"
    )
    failures = 0
    ctx = mp.get_context("spawn")
    for name in stages:
        workdir = Path(tempfile.mkdtemp(prefix=f"wholechild-bench-{name}-")) if keep is None else keep
        queue: mp.Queue = ctx.Queue()
        proc = ctx.Process(target=_run_in_child, args=(name, scale, str(workdir), queue))
        started = time.perf_counter()
        proc.start()
        out = queue.get()
        proc.join()
        wall = time.perf_counter() - started
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
        print(f"\n{name}")
        if "error" in out:
            print(f"  FAILED: {out['error']}")
            failures += 1
            continue
        label, limit, meaning = out["target"]
        verdict = (
            "" if limit is None else (" (within target)" if out["seconds"] <= limit else " (OVER target)")
        )
        print(f"  {label:<24} {out['seconds']:.1f} s{verdict}   target: {meaning}")
        print(f"  {'process wall time':<24} {wall:.1f} s (including start-up)")
        print(f"  {'peak memory':<24} {out['peak_memory'] / 2**30:.2f} GiB")
        for key, value in out["figures"]:
            print(f"  {key:<24} {value}")
    return 1 if failures else 0
