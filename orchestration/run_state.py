"""What a run read, so that the next one can tell whether anything has changed since.

A run's outputs (the marts, a release, the returns) are a function of three things: the files delivered
(the delivery manifest, and any file in landing not yet received), the code and configuration that turn
them into outputs (the Python, dbt models and seeds, expectations, report templates, contracts, and the
``WHOLECHILD_*`` settings), and the people's clerical review decisions. Each is fingerprinted here; a run
that succeeds records the fingerprint with the release it published. A later run with the same
fingerprint, whose release is still current, has nothing to do and says so in a second or two instead of
rebuilding byte-identical files (``wholechild run --force`` rebuilds anyway).

The returns read less than the reports: only what social care delivered. Each return records its own
fingerprint with its attempt, so that a new school census does not make a new return attempt.

Settings are fingerprinted as a keyed hash of their values, never stored: the pseudonym key is one of them.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from orchestration.settings import DBT_PROJECT_DIR, EXPECTATIONS_DIR, REPO_ROOT, REPORT_TEMPLATES_DIR, Paths

STATE_FILE = "last_run.json"
# settings that change how long a run waits, where it works, what it will take in from now on, or the
# subject access log; never what it builds from what it has already taken in
NOT_OUTPUT_SETTINGS = {
    "WHOLECHILD_LOCK_WAIT_SECONDS",
    "WHOLECHILD_RUN_WAIT_SECONDS",
    "WHOLECHILD_HOME",
    "WHOLECHILD_AUDIT_KEY",
    "WHOLECHILD_AUDIT_ANCHOR",
}
NOT_OUTPUT_PREFIXES = ("WHOLECHILD_MAX_", "WHOLECHILD_PAUSE_")  # limits per file (ingest/limits.py); drills
CODE_SUFFIXES = {
    ".py",
    ".sql",
    ".yml",
    ".yaml",
    ".json",
    ".csv",
    ".xsd",
    ".html",
    ".j2",
    ".css",
    ".md",
    ".lock",
    ".in",
}
SKIPPED_FOLDERS = {"target", "logs", "dbt_packages", "__pycache__", ".pytest_cache"}


def _files_under(folder: Path) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_FOLDERS and not d.startswith("."))
        found += [Path(root) / f for f in sorted(files) if Path(f).suffix in CODE_SUFFIXES]
    return found


def code_fingerprint() -> str:
    """Every file of code, model, seed, contract, expectation and template that shapes an output."""
    digest = hashlib.sha256()
    for folder in (REPO_ROOT / "orchestration", DBT_PROJECT_DIR, EXPECTATIONS_DIR, REPORT_TEMPLATES_DIR):
        for path in _files_under(folder):
            digest.update(path.relative_to(REPO_ROOT).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def settings_by_name() -> dict[str, str]:
    """Each setting that shapes the outputs, as a hash of its value (never the value: the pseudonym key is
    one of them), so that a run can say which setting changed."""
    return {
        name: hashlib.sha256(f"whole-child setting {name}={os.environ[name]}".encode()).hexdigest()[:16]
        for name in sorted(os.environ)
        if name.startswith("WHOLECHILD_")
        and name not in NOT_OUTPUT_SETTINGS
        and not name.startswith(NOT_OUTPUT_PREFIXES)
    }


def settings_fingerprint() -> str:
    return hashlib.sha256(json.dumps(settings_by_name(), sort_keys=True).encode()).hexdigest()


def _deliveries_fingerprint(con, partner: str | None = None) -> str:
    where, params = ("where partner = ?", [partner]) if partner else ("", [])
    rows = con.execute(
        f"""select coalesce(delivery_id, ''), coalesce(status, ''), coalesce(loaded_at::varchar, '')
            from ingest.deliveries {where} order by 1""",
        params,
    ).fetchall()
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


@dataclass(frozen=True)
class Fingerprint:
    code: str
    settings: str
    deliveries: str
    social_care: str
    decisions: str
    waiting: tuple[str, ...]  # files in landing not yet received (anything here means work to do)
    settings_names: tuple[tuple[str, str], ...] = ()  # (name, hash of value), for saying what changed

    def parts(self) -> dict:
        return {
            "code": self.code,
            "settings": dict(self.settings_names),
            "deliveries": self.deliveries,
            "decisions": self.decisions,
        }

    def whole(self) -> str:
        return hashlib.sha256(
            "|".join((self.code, self.settings, self.deliveries, self.decisions)).encode()
        ).hexdigest()

    def for_returns(self) -> str:
        return hashlib.sha256("|".join((self.code, self.settings, self.social_care)).encode()).hexdigest()


def fingerprint(paths: Paths) -> Fingerprint | None:
    """The fingerprint of what a run would read now; None when there is no warehouse yet."""
    from orchestration.duckdb_files import connect
    from orchestration.identity.review import REVIEW_FILE
    from orchestration.ingest.archive import scan_landing

    if not paths.vault_db.exists():
        return None
    with connect(paths.vault_db, read_only=True) as con:
        tables = {
            t
            for (t,) in con.execute("select schema_name || '.' || table_name from duckdb_tables()").fetchall()
        }
        if not {"ingest.deliveries", "ingest.receipts"} <= tables:
            return None
        waiting = tuple(s.relative for s in _unseen(con, scan_landing(paths.landing)))
        deliveries = _deliveries_fingerprint(con)
        social_care = _deliveries_fingerprint(con, "social_care")
    review = paths.identity / REVIEW_FILE
    decisions = hashlib.sha256(review.read_bytes()).hexdigest() if review.exists() else ""
    return Fingerprint(
        code_fingerprint(),
        settings_fingerprint(),
        deliveries,
        social_care,
        decisions,
        waiting,
        tuple(settings_by_name().items()),
    )


def _unseen(con, sightings):
    # ingest.receipts is read as it stands: archive.unseen would create the manifest's tables, and this
    # connection is read-only
    seen = set(con.execute("select landing_path, size_bytes, modified_ns from ingest.receipts").fetchall())
    return [s for s in sightings if (s.relative, s.size, s.modified_ns) not in seen]


def _state_path(paths: Paths) -> Path:
    return paths.home / "state" / STATE_FILE


def last_run(paths: Paths) -> dict:
    try:
        return json.loads(_state_path(paths).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def record_run(
    paths: Paths, print_: Fingerprint | None = None, release: str | None = None, returns: dict | None = None
) -> None:
    """What a run read and what it published (``print_`` and ``release``: only after a run that succeeded),
    and the returns it attempted. Written aside and renamed into place."""
    state = last_run(paths)
    if print_ is not None:
        state.update(
            {
                "fingerprint": print_.whole(),
                "parts": print_.parts(),
                "release": release,
                "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        )
    state.setdefault("returns", {}).update(returns or {})
    _write(paths, state)


def _write(paths: Paths, state: dict) -> None:
    target = _state_path(paths)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_text(json.dumps(state, indent=2), encoding="utf-8")
    partial.replace(target)


def forget_run(paths: Paths) -> None:
    """A run is starting: until it succeeds, no earlier run's fingerprint stands for what is built."""
    state = last_run(paths)
    if state.pop("fingerprint", None) is not None:
        _write(paths, state)


def nothing_new(paths: Paths, now: Fingerprint | None, current: str | None) -> str | None:
    """Why nothing needs doing (a sentence for the user), or None when a run has work to do."""
    state = last_run(paths)
    if now is None or not state or now.waiting or current is None:
        return None
    if state.get("fingerprint") != now.whole() or state.get("release") != current:
        return None
    return (
        f"Nothing new since release {current} (run finished {state.get('finished_at', '?')}): no new file in "
        "landing, no change to the code, configuration or clerical decisions. Nothing rebuilt, nothing "
        "republished; `wholechild run --force` rebuilds anyway."
    )


def what_changed(paths: Paths, now: Fingerprint | None, current: str | None) -> str | None:
    """Why a run has work to do, in words, since the last run that succeeded (None before the first)."""
    state = last_run(paths)
    parts = state.get("parts")
    if now is None or not parts:
        return None
    reasons = []
    if now.waiting:
        reasons.append(f"{len(now.waiting)} new file{'s' if len(now.waiting) > 1 else ''} in landing")
    if now.deliveries != parts.get("deliveries"):
        reasons.append("deliveries received or loaded since (wholechild ingest)")
    if now.code != parts.get("code"):
        reasons.append("the code, models, contracts or templates changed")
    before, after = parts.get("settings", {}), dict(now.settings_names)
    changed = sorted(n for n in set(before) | set(after) if before.get(n) != after.get(n))
    if changed:
        reasons.append(f"settings changed: {', '.join(changed)}")
    if now.decisions != parts.get("decisions"):
        reasons.append("the clerical review file changed")
    if state.get("release") != current:
        reasons.append(f"the current release is not the one that run published ({state.get('release')})")
    if not state.get("fingerprint"):
        reasons.append("the last run did not finish")
    return "; ".join(reasons) or None


def returns_unchanged(paths: Paths, name: str, year: str, now: Fingerprint | None) -> dict | None:
    """The last attempt at a return (its folder and status), when nothing it reads has changed since."""
    if now is None:
        return None
    done = last_run(paths).get("returns", {}).get(f"{name}/{year}")
    if not done or done.get("fingerprint") != now.for_returns():
        return None
    folder = Path(done.get("folder", ""))
    return done if folder.is_dir() else None


__all__ = [
    "Fingerprint",
    "fingerprint",
    "last_run",
    "nothing_new",
    "record_run",
    "returns_unchanged",
    "what_changed",
]
