"""The benchmark's whole-authority ingest against DuckDB's own read of the same files, and its whole run
beside each stage's floor (small scale: the figures themselves come from `wholechild bench`)."""

import os
import re

import pytest


def test_the_authority_stage_sets_ingest_beside_its_floor_for_the_same_files(tmp_path, monkeypatch):
    from orchestration.bench import stage_authority
    from orchestration.identity.pseudonyms import DEMO_ENV

    monkeypatch.setenv(DEMO_ENV, "1")
    out = stage_authority(0.01, tmp_path)
    figures = dict(out.figures)
    files = int(figures["CSV files"].split()[0])
    assert files > 200  # every table of every partner, at any scale
    assert figures["deliveries"].startswith(f"{files + 2} ")  # and the CIN XML and Annex A workbook
    floor = float(figures["DuckDB read_csv floor"].split()[0])
    assert floor > 0 and f"{out.value:.2f}x the floor" in figures["wholechild ingest, CSVs"]
    assert abs(out.value - out.seconds / floor) < 0.05 * out.value + 0.1  # the floor as printed, rounded
    assert out.target[1] == 2.0 and out.unit == "x"


def test_the_run_stage_sets_each_stage_of_a_whole_run_beside_its_floor(tmp_path, monkeypatch):
    """A whole run of a small authority, as a person starts it: every stage's time from the run's own
    record, the floors measured on the same data after it, the returns beside the DfE validators alone."""
    import json

    from orchestration.bench import stage_run
    from orchestration.cli import STAGES, TIMINGS_FILE
    from orchestration.identity.pseudonyms import DEMO_ENV

    monkeypatch.setenv(DEMO_ENV, "1")
    out = stage_run(0.02, tmp_path)
    figures = dict(out.figures)
    timings = json.loads((tmp_path / "home" / "logs" / TIMINGS_FILE).read_text())
    assert timings["succeeded"] and set(timings["stages"]) <= {name for name, _ in STAGES} | {"other"}
    for name, _ in STAGES:  # every stage ran, and is shown with the time the run recorded
        assert figures[name].startswith(f"{timings['stages'][name]:.1f} s"), name
    for name in ("load raw tables (rows accounted for)", "link persons", "dbt build (models and tests)"):
        took, floor = figures[name].split("x the floor: ")
        ratio, floor_seconds = float(took.split(", ")[-1]), float(floor.split()[0])
        # the floor is printed to 0.1 s and the ratio to 0.1: the ratio must lie within what those allow
        seconds = timings["stages"][name]
        low, high = seconds / (floor_seconds + 0.05), seconds / max(floor_seconds - 0.05, 1e-9)
        assert floor_seconds > 0 and low - 0.05 <= ratio <= high + 0.05, (name, ratio, low, high)
    assert re.search(r"\(\d{2,} models, \d{3,} tests", figures["dbt build (models and tests)"])
    assert {r["return"] for r in timings["returns"]} == {"ssda903", "cin", "annex_a"}
    cin = next(r for r in timings["returns"] if r["return"] == "cin")
    assert "the DfE validator as it ships, alone" in figures[f"return cin {cin['year']}"]
    assert out.seconds >= timings["run_seconds"] > sum(timings["stages"].values())
    assert 0 < out.peak_memory < 8 * 2**30
    # the CPU time: more than the dbt build's time (a process the command waited for, itself about one
    # core's work), within what the cores could give over the wall time, and the share printed its ratio
    cpu, busy = re.match(r"([\d.]+) s .* on average ([\d.]+) of", figures["CPU time"]).groups()
    assert timings["stages"]["dbt build (models and tests)"] < float(cpu) <= out.seconds * os.cpu_count()
    assert float(busy) == pytest.approx(float(cpu) / out.seconds, abs=0.01)
    # the least CPU a run needs: each part measured (a tool that did nothing would show 0.0), the total their
    # sum and its share of what the target's 60 s holds on this machine's cores
    total, share, budget = re.match(
        r"([\d.]+) s, (\d+)% of the (\d+) CPU s", figures["least CPU a run needs"]
    ).groups()
    parts = {what.strip(): float(v.split()[0]) for what, v in out.figures if what.startswith("  ")}
    assert {"DuckDB's read of the landing CSVs", "dbt building every model and data test"} <= set(parts)
    assert len(parts) == 8 and min(parts.values()) > 0
    assert float(total) == pytest.approx(sum(parts.values()), abs=0.05 * len(parts))
    assert int(budget) == 60 * os.cpu_count() and abs(int(share) - 100 * float(total) / int(budget)) <= 0.55
    # dbt building the project again costs about what the run's own build did: more than the SQL run straight
    dbt_floor = float(figures["dbt build (models and tests)"].split("x the floor: ")[1].split()[0])
    assert parts["dbt building every model and data test"] > dbt_floor
