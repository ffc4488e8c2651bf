"""Shared fixtures. Every test works in a temporary WHOLECHILD_HOME; nothing touches ./data."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
# the tests run on synthetic authorities: throwaway keys unless a test sets its own (or unsets this)
os.environ.setdefault("WHOLECHILD_DEMO", "1")


def _ensure_dbt_manifest() -> None:
    """dagster-dbt reads the manifest when orchestration.definitions is imported."""
    if (REPO / "dbt_project" / "target" / "manifest.json").exists():
        return
    dbt = Path(sys.executable).with_name("dbt")
    subprocess.run([str(dbt), "parse", "--quiet"], cwd=REPO / "dbt_project", check=True)


_ensure_dbt_manifest()


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh WHOLECHILD_HOME for one test."""
    from orchestration.settings import Paths

    monkeypatch.setenv("WHOLECHILD_HOME", str(tmp_path / "home"))
    paths = Paths.from_env().ensure()
    paths.export_env()
    return paths


@pytest.fixture(scope="session")
def shared_reference() -> Path:
    path = SHARED / "reference"
    if not path.exists():
        pytest.skip("../shared/reference is not available")
    return path
