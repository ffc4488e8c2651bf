"""The whole asset graph on the demo authority, in a temporary home.

The tests share one home and run in order: a first run, a rerun, a re-delivery, then a bad delivery that
must be stopped at the gate.
"""

import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import duckdb
import pandas as pd
import pytest

from orchestration.identifiers import is_valid_nhs_number, is_valid_upn
from orchestration.identity.pseudonyms import KEY_ENV, pseudonym_key
from orchestration.reports.publish import current_release
from orchestration.settings import REPO_ROOT, Paths
from orchestration.synthetic import generate

pytestmark = pytest.mark.integration

MART = "marts.fct_child_outcomes_by_year"


def refresh():
    from orchestration.definitions import defs

    return defs.resolve_job_def("refresh_all").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )


def mart(paths: Paths) -> pd.DataFrame:
    with duckdb.connect(str(paths.analytics_db), read_only=True) as con:
        return con.execute(f"select * from {MART} order by person_key, collection_year").df()


def vault_scalar(paths: Paths, sql: str):
    with duckdb.connect(str(paths.vault_db), read_only=True) as con:
        return con.execute(sql).fetchall()[0][0]


PSEUDONYM_KEY = "whole-child-test-key-" + secrets.token_hex(16)
NEIGHBOURS = ("E08000025", "E08000026", "E08000028", "E08000029", "E08000030", "E08000031", "E06000020",
              "E06000021", "E10000028", "E10000031")  # fmt: skip
# every run of this module, in process or as a user starts it: the authority's statistical neighbours (the
# DfE figures dropped in below are compared with them), and a limit of 20 MiB on what a workbook may unpack
# to (the default is 1 GiB: a stray file below unpacks to 30 MiB)
SETTINGS = {
    "WHOLECHILD_STATISTICAL_NEIGHBOURS": ",".join(NEIGHBOURS),
    "WHOLECHILD_MAX_UNPACKED_BYTES": "20971520",
}
FIRST_RUN: dict = {}


def wholechild_run(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """`wholechild run` as a user runs it, in a process of its own, with the tests' pseudonym key."""
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "run", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=os.environ | {"WHOLECHILD_HOME": str(home), KEY_ENV: PSEUDONYM_KEY, **env},
        timeout=900,
    )


def every_mart(analytics_db: Path) -> dict[str, pd.DataFrame]:
    """Every table of the marts schema, rows sorted, without person_key (and event_id, a hash of it): a
    person's key is drawn at random when the person is first seen, so two homes give the same child
    different keys (and nothing else)."""
    out = {}
    with duckdb.connect(str(analytics_db), read_only=True) as con:
        for (table,) in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'marts' order by 1"
        ).fetchall():
            columns = [d[0] for d in con.execute(f"select * from marts.{table} limit 0").description]
            keyed = ", ".join(c for c in ("person_key", "event_id") if c in columns)
            frame = con.execute(f"select * exclude ({keyed}) from marts.{table}").df()
            out[table] = frame.sort_values(list(frame.columns), ignore_index=True)
    return out


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    patch = pytest.MonkeyPatch()
    patch.setenv("WHOLECHILD_HOME", str(tmp_path_factory.mktemp("home")))
    patch.setenv(KEY_ENV, PSEUDONYM_KEY)
    for name, value in SETTINGS.items():
        patch.setenv(name, value)
    pseudonym_key.cache_clear()
    paths = Paths.from_env().ensure()
    paths.export_env()
    # the demo authority (make demo: DEMO_SCALE 0.05, DEMO_SEED 42), as of the extract date the demo has now
    generate(paths.landing, scale=0.05, seed=42, as_of=date(2026, 3, 31))
    FIRST_RUN["landing"] = tmp_path_factory.mktemp("pristine") / "landing"
    shutil.copytree(paths.landing, FIRST_RUN["landing"])
    result = refresh()
    FIRST_RUN["marts"] = every_mart(paths.analytics_db)  # an uninterrupted run's marts, for the drills
    yield paths, result
    patch.undo()
    pseudonym_key.cache_clear()


def test_definitions_load_and_validate(home):
    from orchestration.definitions import defs

    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {
        "ingest/deliveries",
        "raw/social_care/ssd_person",
        "identity/person_index",
        "pseudonymised/health_assessments",
        "staging/stg_ssd__cla_episodes",
        "marts/fct_child_outcomes_by_year",
        "reports/outcomes_summary",
        "returns/ssda903",
        "returns/cin",
        "returns/annex_a",
        "returns/in_year_worklist",
    } <= keys
    assert defs.resolve_job_def("refresh_all")
    assert sorted(s.name for s in defs.schedules) == [
        "annex_a_weekly",
        "annual_outcomes",
        "cin_census_after_31_march",
        "in_year_worklist_monthly",
        "monthly_performance_pack",
        "ssda903_after_31_march",
        "termly_virtual_school",
    ]
    assert sorted(s.name for s in defs.sensors) == ["alert_on_run_failure", "landing_sensor"]
    env = os.environ | {"DAGSTER_HOME": str(home.ensure_dagster_home())}
    done = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "orchestration.definitions"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_whole_graph_materialises_and_publishes(pipeline):
    paths, result = pipeline
    assert result.success
    frame = mart(paths)
    assert len(frame) > 500
    assert frame.person_key.str.match(r"^pk_[0-9a-f]{16}$").all()
    assert frame.is_looked_after_during_year.any()
    release = current_release(paths.published)
    assert release is not None
    report = (paths.published / "current" / "outcomes_summary.html").read_text(encoding="utf-8")
    assert "outcomes summary" in report.lower()
    assert (paths.quality / "fct_child_outcomes_by_year.json").exists()
    loaded = vault_scalar(paths, "select count(*) from ingest.deliveries where status = 'loaded'")
    # every file landed: the extracts (CSV) and Ofsted's provider lists (xlsx)
    assert loaded == sum(1 for p in paths.landing.rglob("*") if p.suffix in (".csv", ".xlsx"))


def test_the_marts_reconcile_with_the_returns_and_each_person_is_one_child(pipeline):
    """Both blocking checks ran and passed: the DfE's figures worked out from the returns of every year the
    extract holds agree with the marts, and no person holds two children."""
    paths, result = pipeline
    checks = {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    assert checks["reconciles_with_returns"] and checks["one_child_per_person"]
    summary = json.loads((paths.quality / "reconciliation_with_returns.json").read_text())
    assert summary["years"] == [2021, 2022, 2023, 2024, 2025, 2026]
    assert summary["measures"] == 30 and summary["unexplained"] == 0
    figures = pd.read_csv(paths.quality / "reconciliation_with_returns_figures.csv")
    looked_after = figures[figures.measure.eq("looked_after_at_31_march")]
    assert (looked_after["return"] > 0).all() and (looked_after["return"] == looked_after["marts"]).all()


def test_the_reconcile_command_says_the_same(pipeline, capsys):
    from orchestration.cli import main

    assert main(["reconcile", "--year", "2025"]) == 0
    out = capsys.readouterr().out
    assert "0 unexplained" in out and "looked_after_at_31_march" in out
    assert main(["reconcile", "--year", "1999"]) == 2
    assert "not a year the extract holds whole" in capsys.readouterr().err


def test_returns_built_ahead_reconcile_exactly_as_built_on_demand(pipeline, monkeypatch):
    """The returns the returns' process builds ahead for the reconciliation are used only for the vault
    they were built from, once, and the reconciliation is the same with them as without."""
    import pickle

    from orchestration.returns import reconcile as module

    paths, _ = pipeline
    plain = module.reconcile_with_returns(paths.vault_db, paths.analytics_db)
    kept = module.build_ahead(paths.vault_db, paths.quality)
    assert kept is not None and kept.exists() and kept.parent == paths.vault_db.parent
    built: list[int] = []
    real = module.build_returns

    def counted(con, years, authority, ready=None):
        built.extend(y for y in years if not ready or y not in ready.ssda903)
        return real(con, years, authority, ready)

    worked_out: list[int] = []
    real_figures = module.figures

    def counted_figures(returns):
        worked_out.append(1)
        return real_figures(returns)

    monkeypatch.setattr(module, "build_returns", counted)
    monkeypatch.setattr(module, "figures", counted_figures)
    ahead = module.reconcile_with_returns(paths.vault_db, paths.analytics_db)
    pd.testing.assert_frame_equal(ahead.summary, plain.summary)
    pd.testing.assert_frame_equal(ahead.differences, plain.differences)
    # every year was built ahead, and the figures worked out with them; taken once
    assert built == [] and worked_out == [] and not kept.exists()
    # built from a vault in another state: not used, every year is built again
    years = json.loads((paths.quality / "reconciliation_with_returns.json").read_text())["years"]
    module.build_ahead(paths.vault_db, paths.quality)
    built.clear()  # what build_ahead built: only the reconciliation's own builds count below
    worked_out.clear()
    stale = pickle.loads(kept.read_bytes())
    stale["vault"][1] -= 1  # the vault file's modification time
    kept.write_bytes(pickle.dumps(stale))
    module.reconcile_with_returns(paths.vault_db, paths.analytics_db)
    assert sorted(built) == [min(years) - 1, *years] and worked_out == [1] and not kept.exists()


def test_the_dbt_unit_tests_pass_here_as_the_runs_leave_them_out(pipeline, tmp_path):
    """The pipeline's builds leave dbt's unit tests out (they read fixtures: they judge the code, not the
    data), so the suite runs every one of them, on a copy of the demo's analytics file (they read its
    models' columns)."""

    from orchestration.returns.common import Authority
    from orchestration.settings import DBT_PROJECT_DIR
    from orchestration.transform.assets import dbt_executable

    paths, _ = pipeline
    copy = tmp_path / paths.analytics_db.name
    shutil.copyfile(paths.analytics_db, copy)
    target = tmp_path / "target"
    dbt_vars = json.dumps(Authority.from_env().dbt_vars())
    done = subprocess.run(
        [
            dbt_executable(),
            "test",
            "--select",
            "test_type:unit",
            "--target-path",
            str(target),
            "--vars",
            dbt_vars,
        ],
        cwd=DBT_PROJECT_DIR,
        env=os.environ | {"WHOLECHILD_ANALYTICS_DB": str(copy), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    results = json.loads((target / "run_results.json").read_text())["results"]
    unit = [r for r in results if r["unique_id"].startswith("unit_test.")]
    manifest = json.loads((target / "manifest.json").read_text())
    assert len(unit) == len(manifest["unit_tests"]) >= 30 and all(r["status"] == "pass" for r in unit)


def test_the_dbt_docs_describe_the_models_built_and_are_not_written_again_for_the_same_code(pipeline):
    """A run started from Dagster (untagged) writes the documentation site in its dbt step; its stamp says
    which code it describes, so a later run with the same code leaves it as it is."""
    from orchestration.transform.assets import DOCS_STAMP, _docs_key, docs_stale

    paths, _ = pipeline
    catalog = json.loads((paths.dbt_docs / "catalog.json").read_text())
    assert "model.whole_child.fct_child_outcomes_by_year" in catalog["nodes"] and not catalog["errors"]
    assert (paths.dbt_docs / "index.html").exists()
    assert (paths.dbt_docs / DOCS_STAMP).read_text() == _docs_key() and not docs_stale(paths)


def test_the_docs_written_after_a_run_from_its_builds_parse_are_a_full_parses(pipeline, tmp_path):
    """The docs `wholechild run` writes after the run start from the parse its dbt build kept (stamped with
    the code and vars it was made for): the catalogue and every node's compiled SQL are what `dbt docs
    generate` parsing the whole project writes. A stamp for other code is not trusted: dbt parses."""
    from orchestration.transform import docs
    from orchestration.transform.assets import _authority_vars, _docs_key, dbt_executable

    paths, _ = pipeline
    dbt_vars = _authority_vars()[1]

    def written(folder: Path, *command: str) -> tuple[str, dict, dict]:
        done = subprocess.run(
            command, cwd=REPO_ROOT / "dbt_project", capture_output=True, text=True, env=os.environ.copy()
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        catalog = json.loads((folder / "catalog.json").read_text())
        nodes = json.loads((folder / "manifest.json").read_text())["nodes"]
        return done.stdout, catalog["nodes"], {k: n.get("compiled_code") for k, n in nodes.items()}

    module = [sys.executable, "-m", "orchestration.transform.docs", "--vars", dbt_vars, "--parse"]
    said, kept_catalog, kept_sql = written(
        tmp_path / "kept",
        *module, str(paths.dbt_target), "--code-key", _docs_key(), "--target-path", str(tmp_path / "kept"),
    )  # fmt: skip
    assert "dbt docs from the build's parse" in said
    full = [dbt_executable(), "docs", "generate", "--target", "docs", "--vars", dbt_vars]
    _, full_catalog, full_sql = written(tmp_path / "full", *full, "--target-path", str(tmp_path / "full"))
    assert kept_catalog == full_catalog and len(full_catalog) > 70
    assert kept_sql == full_sql and sum(sql is not None for sql in full_sql.values()) > 300
    # the parse kept for other code (or other vars) is not used
    assert docs.kept_parse(paths.dbt_target, "other code", dbt_vars) is None
    assert docs.kept_parse(paths.dbt_target, _docs_key(), json.dumps({"other": 1})) is None
    assert docs.kept_parse(paths.dbt_target, _docs_key(), dbt_vars) is not None


def test_a_first_runs_guess_at_the_years_reconciled_is_what_the_marts_call_complete(pipeline):
    """With no reconciliation before it, the returns' process builds ahead the years the marts will call
    complete (their rule, read in Python from the vault before the marts exist): the very years reconciled."""
    from orchestration.returns.common import latest_ended_collection_year
    from orchestration.returns.reconcile import years_the_marts_complete

    paths, _ = pipeline
    years = json.loads((paths.quality / "reconciliation_with_returns.json").read_text())["years"]
    assert years_the_marts_complete(paths.vault_db, latest_ended_collection_year(paths.vault_db)) == years


def test_every_delivery_adds_up(pipeline):
    paths, _ = pipeline
    broken = vault_scalar(
        paths,
        """select count(*) from ingest.deliveries
        where rows_in_file <> rows_loaded + rows_quarantined + rows_duplicate""",
    )
    assert broken == 0
    assert vault_scalar(paths, "select sum(rows_duplicate) from ingest.deliveries") > 0  # injected duplicates


FULL_POSTCODE = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}", re.IGNORECASE)


def test_no_identifier_reaches_the_analytics_file(pipeline):
    """Every value of every column of every table in the analytics file: no valid UPN or NHS number, no
    full postcode anywhere, and beside a child's person_key neither their own name nor their full date of birth."""
    paths, _ = pipeline
    with duckdb.connect(str(paths.vault_db), read_only=True) as con:
        # each child's own names. A column that carries them (more than 1% of its values) identifies
        # children; a coincidence does not (a child called White in the White ethnic group)
        names = con.execute(
            """select distinct k.person_key, n.name from identity.person_records r
               join identity.record_keys k using (namespace, record_id),
               lateral (select unnest([r.forename, r.surname]) as name) n where n.name is not null"""
        ).df()

        con.execute(
            "create temp table dob as select distinct k.person_key, r.dob from identity.person_records r"
            " join identity.record_keys k using (namespace, record_id) where r.dob is not null"
        )
        dobs = con.execute("select * from dob").df()
    problems = []
    with duckdb.connect(str(paths.analytics_db), read_only=True) as con:
        columns = con.execute(
            """select table_schema, table_name, column_name, data_type from information_schema.columns
               where table_catalog = current_database()
                 and table_schema not in ('information_schema', 'pg_catalog')"""
        ).fetchall()
        con.register("dob", dobs)
        con.register("own_names", names)
        assert len({(s, t) for s, t, _, _ in columns}) > 20
        keyed = {(s, t) for s, t, c, _ in columns if c == "person_key"}
        for schema, table, column, data_type in columns:
            name = f'"{schema}"."{table}"'
            if data_type in ("DATE", "TIMESTAMP") and (schema, table) in keyed:
                same, rows = con.execute(
                    f'select count(d.dob), count(t."{column}") from {name} t left join dob d'
                    f' on d.person_key = t.person_key and d.dob = t."{column}"::date'
                ).fetchall()[0]
                if same > 0.01 * rows:
                    problems.append(
                        f"{schema}.{table}.{column}: {same} of {rows} values are full dates of birth"
                    )
                continue
            if data_type == "VARCHAR" and (schema, table) in keyed and column != "person_key":
                named, rows = con.execute(
                    f"""select count(o.name), count(t."{column}") from {name} t left join own_names o
                        on o.person_key = t.person_key
                        and o.name = regexp_replace(upper(t."{column}"), '[^A-Z]', '', 'g')"""
                ).fetchall()[0]
                if named > 0.01 * rows:
                    problems.append(
                        f"{schema}.{table}.{column}: {named} of {rows} values are the child's name"
                    )
            values = [
                v for (v,) in con.execute(f'select distinct "{column}"::varchar from {name}').fetchall() if v
            ]
            for v in values:
                text = v.strip()
                why = (
                    "valid UPN"
                    if is_valid_upn(text.upper())
                    else "valid NHS number"
                    if is_valid_nhs_number(text)
                    else "full postcode"
                    if FULL_POSTCODE.fullmatch(text)
                    else None
                )
                if why:
                    problems.append(f"{schema}.{table}.{column}: {why}")
                    break
    assert not problems, "\n".join(problems)


def test_the_pseudonym_key_is_nowhere_it_could_leak(pipeline):
    """Not in the repository, either database, dbt's target/, the run's logs or any file under the home."""
    paths, result = pipeline
    key = PSEUDONYM_KEY.encode()
    needles = [key, key.hex().encode()]
    searched = 0
    for root in (paths.home, REPO_ROOT / "dbt_project" / "target"):
        for path in root.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                searched += 1
                assert not any(n in data for n in needles), f"the pseudonym key is in {path}"
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True
    ).stdout.split()
    for name in tracked:
        path = REPO_ROOT / name
        if path.is_file():
            assert key not in path.read_bytes(), f"the pseudonym key is in the repository: {name}"
    messages = " ".join(str(e.message) for e in result.all_events)
    assert PSEUDONYM_KEY not in messages
    assert searched > 100  # the databases, the archive, the reports, dbt's artefacts


def test_running_again_gives_the_same_mart(pipeline):
    paths, _ = pipeline
    before = mart(paths)
    deliveries = vault_scalar(paths, "select count(*) from ingest.deliveries")
    assert refresh().success
    pd.testing.assert_frame_equal(before, mart(paths))
    assert vault_scalar(paths, "select count(*) from ingest.deliveries") == deliveries


def test_redelivering_the_same_file_is_recorded_once_and_loads_nothing(pipeline):
    paths, _ = pipeline
    original = next(paths.landing.rglob("health_assessments_*.csv"))
    shutil.copyfile(original, original.with_name("resent_" + original.name))
    rows = vault_scalar(paths, "select count(*) from raw.health_assessments")
    deliveries = vault_scalar(paths, "select count(*) from ingest.deliveries")
    assert refresh().success
    assert vault_scalar(paths, "select count(*) from ingest.deliveries") == deliveries
    assert vault_scalar(paths, "select count(*) from raw.health_assessments") == rows
    outcome = vault_scalar(paths, "select outcome from ingest.receipts where landing_path like '%resent_%'")
    assert outcome.startswith("same content as delivery")


def _digest(folder) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }


def test_the_reports_are_published_as_html_pdf_and_open_data_agreeing_with_the_marts(pipeline):
    from orchestration.reports import packs
    from orchestration.reports.disclosure import SYMBOLS
    from orchestration.reports.outcomes import audit_release

    paths, _ = pipeline
    current = paths.published / "current"
    for report in packs.REPORTS:
        base = current / ("restricted" if report.name == "partner_data_quality" else "") / report.name
        assert (base / f"{report.name}.pdf").read_bytes().startswith(b"%PDF")
        page = (base / f"{report.name}.html").read_text(encoding="utf-8")
        assert "<svg" in page or not any(t.charts for t in report.tables)
        assert "Data freshness" in page and "Checks passed before publication" in page
        # the figures first; what they passed and where they come from after them, times to the minute
        first_table = page.index("<h2>", page.index("</h1>"))
        assert page.index("Checks passed before publication") > first_table
        assert page.index("Data freshness") > page.index("Checks passed before publication")
        assert not re.search(r"\d{2}:\d{2}:\d{2}\.\d", page)
        # built from the synthetic authority: said before anything else, and who and when it is about
        assert page.index(packs.SYNTHETIC) < page.index("<h1>")
        assert "Synthetic Metropolitan Borough (E08000027)" in page
        # wide tables in slices that fit a screen: no header row wider than the keys and HTML_COLUMNS figures
        headers = re.findall(r"<table><tr>((?:<th>[^<]*</th>)+)", page)
        assert headers and max(h.count("<th>") for h in headers) <= packs.HTML_COLUMNS + 3
        for table in report.tables:
            frame = pd.read_csv(base / f"{table.name}.csv", dtype=str, keep_default_na=False)
            meta = pd.read_csv(base / f"{table.name}.meta.csv", dtype=str, keep_default_na=False)
            assert list(frame.columns[:10]) == [
                "time_period", "time_identifier", "geographic_level", "country_code", "country_name",
                "region_code", "region_name", "new_la_code", "old_la_code", "la_name",
            ]  # fmt: skip
            assert set(meta.col_name) == set(frame.columns[10:])
            assert set(meta.col_type) <= {"Filter", "Indicator"}
    assert audit_release(current) == []

    # a sample of published figures, recomputed straight from the mart
    latest = int(mart(paths).collection_year.max())
    headline = pd.read_csv(current / "csc_performance_pack" / "csc_headline.csv", dtype=str)
    row = headline[headline.time_period.eq(f"{latest - 1}{latest % 100:02d}")].iloc[0]
    frame = mart(paths)
    year = frame[frame.collection_year.eq(latest)]
    expected = {
        "looked_after_at_31_march": int(year.is_looked_after_at_31_march.sum()),
        "referrals": int(year.referrals_in_year.sum()),
        "assessments": int(year.assessments_completed_in_year.sum()),
    }
    for column, value in expected.items():
        shown = row[column]
        assert shown == ("c" if 1 <= value <= 5 else str(value)), (column, shown, value)
    assert (
        row.re_referral_rate in SYMBOLS
        or abs(
            float(row.re_referral_rate)
            - 100 * year.re_referrals_within_12_months.sum() / year.referrals_in_year.sum()
        )
        < 0.051
    )
    cells = sum(
        int((pd.read_csv(p, dtype=str, keep_default_na=False) == "c").to_numpy().sum())
        for p in current.rglob("*.csv")
        if not p.name.endswith(".meta.csv")
    )
    print(f"cells suppressed in the published release: {cells}")
    assert cells > 0


def _dfe_health_outcomes_file() -> str:
    """A DfE open data file in the layout of "CLA on 31 March for 12 months - conviction and health outcomes
    - by local authority" (Children looked after in England including adoptions, 2025 on): England, the
    West Midlands, the ten neighbours (two with figures suppressed) and another authority; made-up figures."""
    head = (
        "time_period,time_identifier,geographic_level,country_code,country_name,region_code,region_name,"
        "old_la_code,la_name,new_la_code,characteristic,breakdown,children_count,children_percent"
    )
    development = "Development assessments: Children looked after ages 0 to 4 years"
    rows = []

    def area(year, level, region, la, up_to_date, total, percent):
        for breakdown, count, share in (
            ("Development assessments up to date", up_to_date, percent),
            ("Total ages 0 to 4 years", total, "100"),
        ):
            rows.append(f"{year},Reporting year,{level},E92000001,England,{region},{la},{development},"
                        f"{breakdown},{count},{share}")  # fmt: skip

    area(2025, "National", ",", ",,", 5590, 6360, 89)  # a revised 2025 figure: supersedes the shipped 88
    area(2026, "National", ",", ",,", 5500, 6300, 87)
    area(2026, "Regional", "E12000005,West Midlands", ",,", 700, 800, 88)
    for n, code in enumerate(NEIGHBOURS):
        suppressed = n < 2
        area(2026, "Local authority", "E12000005,West Midlands", f"{300 + n},Neighbour {n},{code}",
             "c" if suppressed else 20 + n, 25 + n, "c" if suppressed else 70 + 2 * n)  # fmt: skip
    area(2026, "Local authority", "E12000007,London", "202,Camden,E09000007", 30, 31, 97)
    return head + "\n" + "\n".join(rows) + "\n"


def test_the_dfe_figures_an_authority_drops_in_sit_beside_its_own(dropped_in):
    """A DfE statistics file dropped into landing: its England figures supersede the shipped ones, its
    region's stand beside the authority's, and its neighbours' percentages are averaged (the two suppressed
    left out, said in the label); the first page's key messages put England beside the authority."""
    from orchestration.reports import packs

    paths, done = dropped_in.paths, dropped_in.done
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        vault_scalar(paths, "select status from ingest.deliveries where dataset = 'dfe_statistics'")
        == "loaded"
    )
    base = paths.published / "current" / "annual_outcomes"
    comparators = pd.read_csv(base / packs.COMPARATORS_FILE, dtype=str, keep_default_na=False)
    rate = comparators[comparators.indicator.eq("development_check_rate")].set_index(
        ["time_period", "comparator"]
    )
    assert rate.loc[("202425", "England"), "published_value"] == "89"  # the file's, not the shipped 88
    assert rate.loc[("202425", "England"), "source"].startswith("DfE statistics file received")
    assert rate.loc[("202526", "England"), "published_value"] == "87"
    assert rate.loc[("202526", "Region"), "area_name"] == "West Midlands"
    neighbours = rate.loc[("202526", "Statistical neighbours")]
    assert neighbours.area_name == "Statistical neighbours (mean of 8 of 10)"
    assert float(neighbours.published_value) == round(sum(70 + 2 * n for n in range(2, 10)) / 8, 1)
    assert not (comparators.area_name == "Camden").any()  # not a neighbour, not the region
    # where the DfE publishes nothing to compare, nothing is shown: the shipped England figures elsewhere
    shipped = comparators[comparators.indicator.eq("looked_after_at_31_march")]
    assert shipped.empty  # a table of the performance pack, not this report
    page = (base / "annual_outcomes.html").read_text(encoding="utf-8")
    key = page.index("<h2>Key messages</h2>")
    assert key < page.index("<h2>", key + 1)  # before the first table
    messages = page[key : page.index("</table>", key)]
    assert "Development assessments, under 5s (%)" in messages and "87%" in messages
    assert "Statistical neighbours (mean of 8 of 10)" in page and "West Midlands" in page


def _stray_files() -> dict[str, bytes]:
    """Files that are no delivery at all, as operators and partners drop them."""
    import io

    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "Budget 2026"
    book.active.append(["Cost centre", "Amount"])
    unrelated = io.BytesIO()
    book.save(unrelated)
    annex = REPO_ROOT.parent / "shared" / "reference" / "samples" / "annex_a" / "Annex_A.xlsx"
    workbook = annex.read_bytes() if annex.exists() else unrelated.getvalue()
    cin = (
        b'<?xml version="1.0"?>\n<!DOCTYPE Message [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        b"<Message><Header><CollectionDetails><Collection>CIN</Collection><Year>2026</Year>"
        b"<ReferenceDate>2026-03-31</ReferenceDate></CollectionDetails><Source><SoftwareCode>&xxe;"
        b"</SoftwareCode></Source></Header></Message>"
    )
    from tests.unit.test_limits import bomb_workbook

    return {
        "misc/empty.csv": b"",
        "misc/garbage.csv": bytes(range(256)) * 20,
        "misc/budget.xlsx": unrelated.getvalue(),
        "social_care/annex_a/annex_a_2026-03-31_truncated.xlsx": workbook[: len(workbook) // 2],
        "social_care/cin_census/cin_census_2026_entities.xml": cin,
        # 30 MiB of sheet XML in a small workbook, against a limit of 20 MiB set for this test (the default,
        # 1 GiB, turns away the 1.7 GiB workbook of the same make in under a second)
        "social_care/annex_a/annex_a_2026-02-28.xlsx": bomb_workbook(30),
    }


MIXED = "health/dental_checks/dental_checks_2026-02.csv"  # a CSV whose header ends CRLF above LF lines


@pytest.fixture(scope="module")
def dropped_in(pipeline):
    """One `wholechild run` after files are dropped into landing beside the deliveries: a DfE statistics
    file (the module's settings name the authority's statistical neighbours), files that are no delivery at
    all (one unpacks past the module's limit), a link to /etc/passwd, and a health CSV whose header line
    ends CRLF above LF lines. Taken out of landing again after the run, as the later tests expect it."""
    paths, _ = pipeline
    before = current_release(paths.published)
    dfe = paths.landing / "dfe" / "cla_health_outcomes_la_2026.csv"
    dfe.parent.mkdir(parents=True, exist_ok=True)
    dfe.write_text(_dfe_health_outcomes_file(), encoding="utf-8")
    strays = _stray_files()
    for relative, data in strays.items():
        (paths.landing / relative).parent.mkdir(parents=True, exist_ok=True)
        (paths.landing / relative).write_bytes(data)
    link = paths.landing / "misc" / "passwords.csv"
    link.symlink_to("/etc/passwd")  # refused unread: a link in landing is never followed
    (paths.landing / MIXED).write_bytes(
        b"check_id,nhs_number,forename,surname,date_of_birth,sex,postcode,check_date,practice_code\r\n"
        b"D1,9990000018,Amy,Khan,01/02/2015,F,DY1 4QT,04/02/2026,V12345\n"
        b"D2,9990000026,Ben,Ali,11/12/2014,M,DY2 7DL,05/02/2026,V12345\n"
    )
    done = wholechild_run(paths.home)
    for relative in [*strays, MIXED]:
        (paths.landing / relative).unlink()
    link.unlink()
    dfe.unlink()
    return SimpleNamespace(paths=paths, done=done, strays=strays, release_before=before)


def test_stray_files_in_landing_are_findings_not_blockers(dropped_in):
    """An empty file, garbage, an unrelated workbook, a truncated workbook, an XML document with an
    external entity and a workbook that unpacks past the limit: each is a delivery with its reason, a
    CSV whose header ends CRLF above LF lines loads, and the next `wholechild run` still publishes and
    builds the returns."""
    paths, done, strays, mixed = dropped_in.paths, dropped_in.done, dropped_in.strays, MIXED
    shown = done.stdout + done.stderr
    assert done.returncode == 0, shown
    assert current_release(paths.published) != dropped_in.release_before
    for name in ("ssda903", "cin", "annex_a"):
        assert re.search(rf"return {name} .*(ready to submit|NOT ready \(see validation)", shown), shown
    with duckdb.connect(str(paths.vault_db), read_only=True) as con:
        found = {
            path: (status, detail)
            for path, status, detail in con.execute(
                "select landing_path, status, status_detail from ingest.deliveries"
            ).fetchall()
            if path in strays
        }
    assert set(found) == set(strays)
    for path, (status, detail) in found.items():
        assert status in ("unrecognised", "failed") and detail, (path, status, detail)
    assert "DOCTYPE" in found["social_care/cin_census/cin_census_2026_entities.xml"][1]
    assert "WHOLECHILD_MAX_UNPACKED_BYTES" in found["social_care/annex_a/annex_a_2026-02-28.xlsx"][1]
    assert "cut short" in found["social_care/annex_a/annex_a_2026-03-31_truncated.xlsx"][1]
    assert "root:x" not in str(found)
    assert (
        vault_scalar(paths, f"select status from ingest.deliveries where landing_path = '{mixed}'")
        == "loaded"
    )
    reports = {p.name.split("-")[0] for p in paths.feedback.rglob("*-errors.xlsx")}
    assert {"empty", "garbage", "budget", "cin_census_2026_entities", "annex_a_2026"} <= reports, reports
    quality = pd.read_csv(
        paths.published / "current" / "restricted" / "partner_data_quality" / "partner_data_quality.csv",
        dtype=str,
    )
    assert (quality.dataset == "not recognised").any()
    assert (quality.dataset == "refused (not read)").any()


def test_a_run_with_nothing_new_says_so_and_publishes_nothing(pipeline):
    """Straight after the successful `wholechild run` above: nothing has arrived or changed, so the run
    says so, builds nothing, and leaves the releases and return attempts as they were."""
    paths, _ = pipeline
    release = current_release(paths.published)
    releases = sorted(p.name for p in paths.published.iterdir())
    attempts = sorted(paths.published.glob("returns/*/*/2*"))
    done = wholechild_run(paths.home)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Nothing new since release {release}" in done.stdout, done.stdout
    assert sorted(p.name for p in paths.published.iterdir()) == releases
    assert sorted(paths.published.glob("returns/*/*/2*")) == attempts


def test_a_failing_expectation_blocks_the_report_and_keeps_the_last_release(pipeline):
    paths, _ = pipeline
    release = current_release(paths.published)
    report = paths.published / release / "outcomes_summary.html"
    digest = hashlib.sha256(report.read_bytes()).hexdigest()
    everything = _digest(paths.published / release)
    releases = sorted(p.name for p in paths.published.iterdir())

    # a school sends a census in which one pupil had more sessions possible than a school year holds:
    # every dbt test passes (nothing is negative, no rate is above 1), but the release gate does not
    source = sorted((paths.landing / "schools" / "school_census").glob("*_pupilonroll.csv"))[-1]
    census = pd.read_csv(source, dtype=str, keep_default_na=False)
    possible = next(
        c for c in census.columns if c.lower() == "termlysessionspossible"
    )  # as the file spells it
    census = census[census[possible] != ""].head(50).copy()
    census.loc[census.index[0], possible] = "999"
    census.to_csv(source.with_name("2026_summer_pupilonroll.csv"), index=False)

    result = refresh()
    assert not result.success
    evaluations = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    gate = next(e for e in evaluations if e.check_name == "gx_fct_child_outcomes_by_year")
    assert not gate.passed
    assert "sessions_possible" in gate.description
    assert "reports__outcomes_summary" not in {
        e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"
    }
    assert current_release(paths.published) == release
    assert hashlib.sha256(report.read_bytes()).hexdigest() == digest
    assert _digest(paths.published / release) == everything  # every report, PDF and CSV byte-identical
    assert sorted(p.name for p in paths.published.iterdir()) == releases


def test_no_identifier_or_source_record_id_is_anywhere_in_the_analytics_file(pipeline, capsys):
    """The scan (``wholechild privacy-scan``): every distinct value of every column of every table in the
    analytics file, against every identifier and source record id in the vault and the landing files."""
    from orchestration.cli import main
    from orchestration.identity.privacy_scan import scan

    paths, _ = pipeline
    result = scan(paths.analytics_db, paths.vault_db, paths.landing)
    assert result.identifier_values > 10_000  # NHS numbers, UPNs, LA ids, referral, census and health ids
    assert result.columns_scanned > 500
    assert result.found == []
    assert main(["privacy-scan"]) == 0
    assert "None found." in capsys.readouterr().out


def test_a_schools_own_extract_joins_nothing_in_the_analytics_file(pipeline):
    """The attack: a school (or anyone with a partner's file) joins its extract to the analytics file on
    its own row ids. The same join against the vault shows what it would have given."""
    paths, _ = pipeline
    attacks = [
        ("schools/school_census/*_pupilonroll.csv", "school_census_pupil_on_roll", "pupilonrolltableid"),
        ("health/camhs_referrals/*.csv", "camhs_referrals", "referral_id"),
        ("social_care/ssd/*/ssd_cin_episodes.csv", "ssd_cin_episodes", "cine_referral_id"),
    ]
    with duckdb.connect(str(paths.analytics_db), read_only=True) as con:
        con.execute(f"attach '{paths.vault_db}' as vault (read_only)")
        for pattern, dataset, column in attacks:
            files = [str(p) for p in paths.landing.glob(pattern)]
            assert files, pattern
            extract = f"read_csv({files}, all_varchar = true, header = true, union_by_name = true)"
            total, in_vault = con.execute(
                f'select count(*), count(v."{column}") from {extract} e'
                f' left join (select distinct "{column}"::varchar as "{column}" from vault.raw.{dataset}) v'
                f' on v."{column}" = e."{column}"'
            ).fetchall()[0]
            assert in_vault > 0.9 * total  # the attack is real: the ids are the partner's own
            joined = con.execute(
                f'select count(*) from {extract} e join pseudonymised.{dataset} a on a."{column}" = e."{column}"'
            ).fetchall()[0][0]
            assert joined == 0, f"{dataset}.{column}: {joined} of {total} rows join back to the extract"
        events = con.execute(
            "select count(*) from marts.fct_child_events e join ("
            "  select distinct cine_referral_id::varchar as id from vault.raw.ssd_cin_episodes"
            "  union select distinct referral_id from vault.raw.camhs_referrals) v on v.id = e.source_id"
        ).fetchall()[0][0]
        assert events == 0


def test_the_outcomes_summary_is_marked_synthetic_and_shows_a_symbol_once(pipeline):
    from orchestration.reports import packs

    paths, _ = pipeline
    summary = (paths.published / "current" / "outcomes_summary.html").read_text(encoding="utf-8")
    assert summary.index(packs.SYNTHETIC) < summary.index("<h1>")
    assert not re.search(r">([czx]) <span class=\"pct\">\(\1", summary)  # a symbol once, never "c (c)"
    assert not re.search(r"\d{2}:\d{2}:\d{2}\.\d", summary)  # times to the minute


def test_categories_are_published_in_their_natural_order(pipeline):
    paths, _ = pipeline
    ages = pd.read_csv(
        paths.published / "current" / "csc_performance_pack" / "looked_after_by_age.csv",
        dtype=str,
        keep_default_na=False,
    )
    natural = ["Under 1", "1 to 4", "5 to 9", "10 to 15", "16 and over", "Total"]
    for _, year in ages.groupby("time_period"):
        shown = year.age_group.tolist()
        assert shown == [band for band in natural if band in shown], shown


def test_a_run_on_a_terminal_says_little_and_a_failure_in_a_short_block(pipeline):
    """`wholechild run` as a user runs it, after the failing census above: at most 40 lines, no stack
    trace, dbt's node lines in the log file it names; the returns are still built (they read the vault)."""
    paths, _ = pipeline
    done = wholechild_run(paths.home)
    shown = done.stdout + done.stderr
    assert done.returncode == 1, shown
    assert len(shown.splitlines()) <= 40, shown
    assert "Traceback" not in shown and "\x1b[" not in shown
    assert "Gate failed: marts/fct_child_outcomes_by_year / gx_fct_child_outcomes_by_year" in shown
    log = next(line.split(": ", 1)[1] for line in shown.splitlines() if line.startswith("The whole story"))
    told = Path(log).read_text(encoding="utf-8")
    # what dbt builds and why, then its own lines for each node it builds (here: the census's new rows)
    assert "dbt builds" in told
    assert "START sql table model" in told or "dbt builds nothing" in told
    assert "return ssda903" in shown and "return annex_a" in shown
    # only a school census arrived since the last `wholechild run`: the returns read nothing new
    assert re.search(r"return ssda903 .* unchanged since its last attempt", shown), shown


# --- drills: kill -9 part-way, and commands that overlap --------------------------------------------------


def _run_env(home: Path, **extra: str) -> dict:
    return os.environ | {"WHOLECHILD_HOME": str(home), KEY_ENV: PSEUDONYM_KEY, **extra}


def _start(home: Path, *args: str, **extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", *args],
        cwd=REPO_ROOT,
        env=_run_env(home, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: kill -9 reaches dbt too
    )


def _wait_for(marker: Path, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 600
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before {what}: {proc.stdout.read()}")
        assert time.monotonic() < deadline, f"the run never reached {what}"
        time.sleep(0.2)


def _finish(proc: subprocess.Popen) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=1200)
    return proc.returncode, out


def _same_marts(theirs: dict[str, pd.DataFrame]) -> None:
    assert sorted(theirs) == sorted(FIRST_RUN["marts"])
    for table, frame in FIRST_RUN["marts"].items():
        pd.testing.assert_frame_equal(theirs[table], frame, check_dtype=False, obj=table)


@pytest.fixture(scope="module")
def drilled(pipeline, tmp_path_factory):
    """A home of the demo authority that lived through kill -9 (the whole process group) during the raw
    load, during linkage and during the dbt build, each followed by a plain `wholechild run`: what each of
    those runs said, and the marts it left. The drill of overlapping commands goes on in the same home."""
    home = tmp_path_factory.mktemp("drill") / "home"
    shutil.copytree(FIRST_RUN["landing"], home / "landing")
    after = {}
    for point, args in (
        ("load:inserted", ["run"]),
        ("link:scored", ["run", "--force"]),
        ("dbt:building", ["run", "--force"]),
    ):
        marker = home.parent / f"paused-{point.replace(':', '-')}"
        proc = _start(home, *args, WHOLECHILD_PAUSE_AT=point, WHOLECHILD_PAUSE_MARKER=str(marker))
        _wait_for(marker, proc, point)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        code, out = _finish(_start(home, "run"))
        building = list((home / "published").glob(".building-*"))
        marts = every_mart(home / "warehouse" / "analytics.duckdb") if code == 0 else {}
        after[point] = SimpleNamespace(code=code, out=out, building=building, marts=marts)
    return home, after


def test_a_run_killed_during_load_linkage_or_dbt_converges_on_a_plain_rerun(drilled):
    """After each kill, a plain `wholechild run` finishes, publishes, and its marts equal an uninterrupted
    run's."""
    home, after = drilled
    for point, rerun in after.items():
        assert rerun.code == 0, f"after a kill at {point}: {rerun.out}"
        assert "Nothing new" not in rerun.out, (
            "a killed run must not leave the next believing nothing changed"
        )
        assert rerun.building == [], point
        _same_marts(rerun.marts)
    # the first run to finish in this home wrote the documentation site, after the run beside the returns
    # (reading the analytics file with them)
    assert "dbt docs written:" in after["load:inserted"].out, after["load:inserted"].out
    catalog = json.loads((home / "dbt_docs" / "catalog.json").read_text())
    assert any(k.startswith("model.whole_child.fct_") for k in catalog["nodes"]) and not catalog["errors"]


def test_commands_started_during_a_run_wait_for_it_and_all_finish(drilled, tmp_path):
    """While a run is held inside linkage: a second run, an ingest of next month's SSD extract and a
    subject access search are started, and an analyst has the marts open. Every one finishes, none fails;
    the analyst's connection still reads what it opened."""
    home, after = drilled
    assert all(r.code == 0 for r in after.values()), "the drilled home never converged: see the kill drill"
    analyst = duckdb.connect(str(home / "analysts" / "analytics.duckdb"), read_only=True)
    rows = analyst.execute(f"select count(*) from {MART}").fetchall()[0][0]
    with duckdb.connect(str(home / "warehouse" / "vault.duckdb"), read_only=True) as con:
        (child,) = con.execute(
            "select record_id from identity.person_records where namespace = 'la_person' order by 1 limit 1"
        ).fetchall()[0]
    # next month's extract: every SSD table again under its new date (rows in another order)
    april = tmp_path / "april" / "social_care" / "ssd" / "2026-04-30"
    april.mkdir(parents=True)
    for table in sorted((home / "landing" / "social_care" / "ssd" / "2026-03-31").glob("*.csv")):
        frame = pd.read_csv(table, dtype=str, keep_default_na=False)
        frame.sample(frac=1.0, random_state=7).to_csv(april / table.name, index=False)

    marker = tmp_path / "held"
    first = _start(
        home,
        "run",
        "--force",
        WHOLECHILD_PAUSE_AT="link:scored",
        WHOLECHILD_PAUSE_MARKER=str(marker),
        WHOLECHILD_PAUSE_SECONDS="15",
    )
    _wait_for(marker, first, "linkage")
    second = _start(home, "run")
    ingest = _start(home, "ingest", str(tmp_path / "april"))
    sar = _start(home, "sar", "--la-person-id", child, "--reason", "drill: a search during a run")
    results = {
        name: _finish(p)
        for name, p in (("first", first), ("second", second), ("ingest", ingest), ("sar", sar))
    }
    for name, (code, out) in results.items():
        assert code == 0, f"{name}: {out}"
    assert "Waiting for wholechild run" in results["ingest"][1] + results["second"][1]
    assert "1 person found" in results["sar"][1], results["sar"][1]
    # the analyst's open connection held up nothing, and still reads the copy it opened
    assert analyst.execute(f"select count(*) from {MART}").fetchall()[0][0] == rows
    analyst.close()
    # whichever of the second run and the ingest went first, a plain run now builds April's extract
    code, out = _finish(_start(home, "run"))
    assert code == 0, out
    with duckdb.connect(str(home / "warehouse" / "vault.duckdb"), read_only=True) as con:
        loaded = con.execute(
            "select count(*) from ingest.deliveries where period = '2026-04-30' and status = 'loaded'"
        ).fetchall()[0][0]
    # every table is April's, including those of one row (or none), the same bytes as March's in any order
    assert loaded == len(list(april.iterdir())), loaded
