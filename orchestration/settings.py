"""The one place that decides where Whole Child reads and writes.

Everything is under ``WHOLECHILD_HOME`` (default ``./data``), resolved to an absolute path so that dbt,
which runs with its own working directory, and Dagster's subprocesses all see the same files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"
REPORT_TEMPLATES_DIR = REPO_ROOT / "reports"
CONTRACTS_DIR = Path(__file__).resolve().parent / "ingest" / "contracts"
# Great Britain's local authorities, lower and upper tier (ONS lookup; orchestration/data/README.md)
LOCAL_AUTHORITIES = Path(__file__).resolve().parent / "data" / "local_authorities.csv"

DEFAULT_HOME = "data"

# Least privilege on disk. Everything Whole Child creates under the home is private to the account that
# runs it (files 0600, folders 0700): the vault, the analytics file, the archive, feedback, quality output,
# clerical review, the audit log, returns. What is meant to be shared is opened up on purpose, no more:
# the home itself can be passed through (0711) to reach published/, whose releases are world-readable
# (folders 0755, files 0644) except their restricted/ parts; and the analytics file is readable by the
# account's group only when the deployment says so (WHOLECHILD_SHARE_ANALYTICS=group: the analysts' copy,
# analysts/analytics.duckdb, 0640 in a folder 0750; the warehouse stays 0700). See
# docs/adr/0007-privacy-and-security.md.
PRIVATE_UMASK = 0o077
SHARE_ANALYTICS_ENV = "WHOLECHILD_SHARE_ANALYTICS"


def restrict_new_files() -> None:
    """Every file and folder this process (and dbt, Dagster's steps, its children) creates is private."""
    os.umask(PRIVATE_UMASK)


def share_analytics() -> bool:
    value = os.environ.get(SHARE_ANALYTICS_ENV, "").strip().lower()
    if value in ("", "no", "none", "0", "false"):
        return False
    if value == "group":
        return True
    raise ValueError(f"{SHARE_ANALYTICS_ENV} must be 'group' or 'no', not {value!r}")


THREADS_ENV = "WHOLECHILD_THREADS"
DEFAULT_THREADS = 2  # the 2-core machine the figures in docs/scale.md were measured on


def work_threads() -> int:
    """How many datasets are loaded, and published to analytics, side by side (``WHOLECHILD_THREADS``,
    default 2). Each thread's work is DuckDB's, outside Python's lock, so one a core is the most that
    helps; 1 does them one after another."""
    value = os.environ.get(THREADS_ENV, "").strip()
    if not value:
        return DEFAULT_THREADS
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{THREADS_ENV} must be a whole number of threads, 1 or more, not {value!r}")
    return int(value)


MEMORY_ENV = "WHOLECHILD_DUCKDB_MEMORY"
DEFAULT_MEMORY = "1GB"


def duckdb_memory_limit() -> str:
    """How much memory DuckDB may hold for each warehouse file a process opens (the vault, the analytics
    file), ``WHOLECHILD_DUCKDB_MEMORY``, default 1GB: past it DuckDB spills to a folder beside the file (in
    the private warehouse folder), rather than take 80% of the machine as it would by default. At scale 2
    the load held 2.72 GiB without a limit and 1.24 GiB with 1GB, in the same time (docs/scale.md)."""
    import re

    value = os.environ.get(MEMORY_ENV, "").strip() or DEFAULT_MEMORY
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?\s*(MB|GB|TB|MiB|GiB|TiB)", value, flags=re.IGNORECASE):
        raise ValueError(f"{MEMORY_ENV} must be an amount of memory such as 1GB or 1500MB, not {value!r}")
    return value


def share_tree(folder: Path) -> None:
    """Open a published release to readers: folders 0755, files 0644, except anything under a folder
    named ``restricted`` (0700/0600)."""
    for root, dirs, files in os.walk(folder):
        base = Path(root)
        restricted = "restricted" in base.relative_to(folder.parent).parts
        base.chmod(0o700 if restricted else 0o755)
        for name in files:
            (base / name).chmod(0o600 if restricted else 0o644)
        for name in dirs:
            if name == "restricted":
                (base / name).chmod(0o700)


@dataclass(frozen=True)
class Paths:
    """Default locations (docs/design.md §9), all under one home folder."""

    home: Path

    @classmethod
    def from_env(cls) -> Paths:
        return cls(Path(os.environ.get("WHOLECHILD_HOME", DEFAULT_HOME)).expanduser().resolve())

    @property
    def landing(self) -> Path:
        return self.home / "landing"

    @property
    def archive(self) -> Path:
        return self.home / "archive"

    @property
    def ground_truth(self) -> Path:
        return self.home / "ground_truth"

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse"

    @property
    def vault_db(self) -> Path:
        return self.warehouse / "vault.duckdb"

    @property
    def analytics_db(self) -> Path:
        return self.warehouse / "analytics.duckdb"

    @property
    def analysts(self) -> Path:
        """Where analysts read: a copy of the analytics file made after each published build."""
        return self.home / "analysts"

    @property
    def analyst_copy(self) -> Path:
        return self.analysts / "analytics.duckdb"

    @property
    def published(self) -> Path:
        return self.home / "published"

    @property
    def current_release(self) -> Path:
        return self.published / "current"

    @property
    def feedback(self) -> Path:
        """Error reports for partners' data officers, by partner and period."""
        return self.home / "feedback"

    @property
    def quality(self) -> Path:
        """Validation output of the latest run of each gate, whether it passed or not."""
        return self.home / "quality"

    @property
    def dbt_docs(self) -> Path:
        """The dbt documentation site of the latest build (no data in it: models, columns, tests, lineage)."""
        return self.home / "dbt_docs"

    @property
    def identity(self) -> Path:
        """Clerical review of uncertain links (identifiable: as restricted as the vault)."""
        return self.home / "identity"

    @property
    def audit_log(self) -> Path:
        """The append-only, hash-chained log of subject access searches."""
        return self.home / "audit" / "subject_access.log"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    def ensure(self) -> Paths:
        restrict_new_files()
        if not self.home.exists():
            self.home.mkdir(parents=True)
            self.home.chmod(0o711)  # passable, not listable: published/ is reached through it
        for folder in (self.landing, self.archive, self.warehouse, self.published, self.quality):
            folder.mkdir(parents=True, exist_ok=True)
        self.published.chmod(0o755)
        self.protect_warehouse()
        return self

    def protect_warehouse(self) -> None:
        """The DuckDB files' modes, whoever created them (a home made by an older version had 0644): the
        vault and the analytics file the pipeline builds always private (a reader of the file being built
        would hold up the build); the analysts' copy private unless the deployment shares it with its group."""
        group = share_analytics()
        self.warehouse.chmod(0o700)
        for db in (self.vault_db, self.analytics_db):
            for path in (db, db.with_name(db.name + ".wal")):
                if path.exists():
                    path.chmod(0o600)
        if self.analysts.exists():
            self.analysts.chmod(0o750 if group else 0o700)
            if self.analyst_copy.exists():
                self.analyst_copy.chmod(0o640 if group else 0o600)

    @property
    def dbt_target(self) -> Path:
        """dbt's working files for this home (what it parsed last, so that it need not parse again)."""
        return self.home / "dbt_target"

    def export_env(self) -> None:
        """Make child processes (dbt, Dagster steps) agree with this process on every location."""
        os.environ["WHOLECHILD_HOME"] = str(self.home)
        os.environ["WHOLECHILD_ANALYTICS_DB"] = str(self.analytics_db)
        self.dbt_target.mkdir(parents=True, exist_ok=True)
        os.environ["DBT_TARGET_PATH"] = str(self.dbt_target)
        os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

    def ensure_dagster_home(self) -> Path:
        """DAGSTER_HOME under the home folder, with the project's instance settings (telemetry off, a
        concurrency pool of one for the warehouse)."""
        folder = self.dagster_home
        folder.mkdir(parents=True, exist_ok=True)
        template = (Path(__file__).resolve().parent / "dagster.yaml").read_text(encoding="utf-8")
        target = folder / "dagster.yaml"
        if not target.exists() or target.read_text(encoding="utf-8") != template:
            target.write_text(template, encoding="utf-8")
        os.environ["DAGSTER_HOME"] = str(folder)
        return folder


def paths() -> Paths:
    return Paths.from_env()
