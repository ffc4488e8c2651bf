"""The command line as a new user meets it: impossible arguments are one-line errors that say what is
possible, never a traceback."""

import pytest

from orchestration import cli


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["generate", "--scale", "-1"], "argument --scale: -1 is out of range: a scale from 0.001 to 20.0"),
        (["generate", "--scale", "big"], "argument --scale: 'big' is not a scale"),
        (["generate", "--faults", "2"], "argument --faults: 2 is out of range: a fault rate from 0.0 to 1.0"),
        (["returns", "annex-a", "--months", "0"], "argument --months: 0 is out of range"),
        (["returns", "tax"], "argument which: invalid choice: 'tax'"),
        (["region", "--scales", "0.1,0.2"], "argument --scales: '0.1,0.2': give 5 scales from 0.005 to 2.0"),
        (["region", "--scales", "big"], "argument --scales: 'big' is not a list of scales"),
        (["region", "--engine", "oracle"], "argument --engine: invalid choice: 'oracle'"),
        (["region", "--jobs", "0"], "argument --jobs: '0': give a whole number of runs side by side"),
    ],
)
def test_impossible_arguments_are_one_line_errors(argv, said, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err


def test_a_return_before_any_run_says_what_to_do(home, capsys):
    assert cli.main(["returns", "cin", "--year", "1999"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "run `wholechild run` first" in err


def test_a_run_in_a_new_home_with_nothing_in_landing_says_what_to_do(home, capsys):
    """A new home with an empty landing folder: one line saying where the files go and how to make the demo
    authority, where the run would otherwise fail every gate on empty marts."""
    assert cli.main(["run", "--demo"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("wholechild run: nothing to run on:") and "wholechild generate" in err[-1]
    assert not (home.published / "current").exists()


def test_a_region_without_the_demo_flag_says_how_a_real_region_runs(home, capsys):
    assert cli.main(["region"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--demo" in err and "docs/region.md" in err


def test_the_regional_demo_never_clears_a_folder_it_did_not_make(home, tmp_path, capsys):
    (tmp_path / "mine.txt").write_text("keep me")
    assert cli.main(["region", "--demo", "--root", str(tmp_path)]) == 2
    assert "is not a regional demo's folder" in capsys.readouterr().err
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_the_regional_key_is_the_regions_own_and_the_demo_keeps_one_throwaway_key(tmp_path, monkeypatch):
    import stat

    from orchestration.region.export import RegionalKeyError, regional_key

    monkeypatch.delenv("WHOLECHILD_REGIONAL_KEY", raising=False)
    with pytest.raises(RegionalKeyError, match="WHOLECHILD_REGIONAL_KEY is not set"):
        regional_key(tmp_path, demo=False)
    first = regional_key(tmp_path, demo=True)
    assert first.throwaway and first.secret == regional_key(tmp_path, demo=True).secret  # every member alike
    assert stat.S_IMODE((tmp_path / ".demo-regional-key").stat().st_mode) == 0o600
    monkeypatch.setenv("WHOLECHILD_REGIONAL_KEY", "short")
    with pytest.raises(RegionalKeyError, match="at least 32 characters"):
        regional_key(tmp_path, demo=True)
    monkeypatch.setenv("WHOLECHILD_REGIONAL_KEY", "r" * 40)
    key = regional_key(tmp_path, demo=False)
    assert not key.throwaway and key.secret != first.secret


def test_every_option_says_what_it_is_and_its_default(capsys):
    """--help of every command describes each option; a default the description does not give is added."""
    from orchestration.bench import STAGES

    parser = cli.build_parser()
    commands = parser._subparsers._group_actions[0].choices  # argparse keeps no public list of commands
    for name, command in commands.items():
        for action in command._actions:
            assert action.help, f"wholechild {name} {action.option_strings or action.dest}: no description"
    bench = commands["bench"]
    assert next(a for a in bench._actions if a.dest == "stage").choices == list(STAGES)
    with pytest.raises(SystemExit):
        cli.main(["bench", "--help"])
    assert "(default: 1.0)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("command", "variable", "value", "says"),
    [
        ("ingest", "WHOLECHILD_MAX_ROWS", "ten", "WHOLECHILD_MAX_ROWS must be a number, not 'ten'"),
        ("deliveries", "WHOLECHILD_RUN_WAIT_SECONDS", "soon", "WHOLECHILD_RUN_WAIT_SECONDS must be a number"),
        ("deliveries", "WHOLECHILD_SHARE_ANALYTICS", "world", "must be 'group' or 'no'"),
        (
            "ingest",
            "WHOLECHILD_THREADS",
            "0",
            "WHOLECHILD_THREADS must be a whole number of threads, 1 or more",
        ),
        (
            "deliveries",
            "WHOLECHILD_DUCKDB_MEMORY",
            "lots",
            "WHOLECHILD_DUCKDB_MEMORY must be an amount of memory",
        ),
        ("ingest", "WHOLECHILD_THREADS", "two", "WHOLECHILD_THREADS must be a whole number of threads"),
        ("deliveries", "WHOLECHILD_STATISTICAL_NEIGHBOURS", "332,Dudley", "Dudley is not an LA code"),
        ("deliveries", "WHOLECHILD_REGION_CODE", "West Midlands", "is not a region's ONS code"),
    ],
)
def test_a_setting_that_cannot_work_is_a_one_line_error_before_anything_starts(
    home, monkeypatch, capsys, command, variable, value, says
):
    from orchestration.cli import main

    monkeypatch.setenv(variable, value)
    assert main([command]) == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
