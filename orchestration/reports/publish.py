"""Write, audit, publish: a release is built in a hidden folder, renamed into place, and only then does
``published/current`` (a symlink) switch to it, in one atomic rename. Earlier releases are kept. A run
that fails or dies part-way leaves ``current`` pointing at the last good release."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from orchestration.settings import share_tree


def new_release_id(run_id: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{re.sub(r'[^0-9a-z]', '', run_id.lower())[:8]}"


@contextmanager
def building_release(published: Path, release_id: str) -> Iterator[Path]:
    """Yield a scratch folder to write the release into; on success it becomes ``published/<release_id>``."""
    published.mkdir(parents=True, exist_ok=True)
    scratch = published / f".building-{release_id}"
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir()
    try:
        yield scratch
        share_tree(scratch)  # a release is for readers; its restricted/ part stays the owner's
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    scratch.replace(published / release_id)


def point_current_at(published: Path, release_id: str) -> Path:
    """Atomically make ``published/current`` point at the release."""
    target = published / release_id
    if not target.is_dir():
        raise FileNotFoundError(f"no release {release_id} in {published}")
    link = published / f".current-{release_id}"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(release_id, target_is_directory=True)
    link.replace(published / "current")
    return published / "current"


def current_release(published: Path) -> str | None:
    current = published / "current"
    return str(current.readlink()) if current.is_symlink() else None
