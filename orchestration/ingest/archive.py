"""Receive files from the landing folder: fingerprint, archive under their sha256, recognise, record.

The landing folder belongs to the partners; nothing here moves or deletes their files. A file is
identified by its content: the same bytes seen again (under any name) are recorded as a sighting of an
existing delivery and load nothing.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orchestration.ingest.contracts import Contract
from orchestration.ingest.limits import Limits
from orchestration.ingest.manifest import (
    STATUS_FAILED,
    STATUS_LOADED,
    STATUS_RECEIVED,
    STATUS_SUPERSEDED,
    STATUS_UNRECOGNISED,
    ensure_manifest,
)
from orchestration.ingest.recognise import Match, period_from_dates, recognise
from orchestration.pause_points import pause_point

IGNORED_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}
COPY_BLOCK = 1 << 20
BLOCKS_IN_FLIGHT = 8  # blocks read but not yet hashed, at most


@dataclass(frozen=True)
class Sighting:
    path: Path
    relative: str
    size: int
    modified_ns: int
    refused: str | None = None  # why the file is not taken: it is a link or not a regular file


STATUS_REFUSED = "refused"


def _refusal(path: Path, st: os.stat_result) -> str | None:
    """Why a path in landing is not read (None: it is a plain file). A symbolic link could point at the
    vault or at a system file, so it is never followed; nor is a pipe, socket or device read."""
    if stat.S_ISLNK(st.st_mode):
        return f"a symbolic link (to {path.readlink()}), not a file: links in landing are never followed"
    if stat.S_ISREG(st.st_mode):
        return None
    kind = (
        "a named pipe"
        if stat.S_ISFIFO(st.st_mode)
        else "a socket"
        if stat.S_ISSOCK(st.st_mode)
        else "a device"
        if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
        else "not a regular file"
    )
    return f"{kind}, not a file: only regular files are read from landing"


def _sighting(path: Path, relative: str) -> Sighting:
    st = path.lstat()  # the entry itself: a link is not followed
    return Sighting(path, relative, st.st_size, st.st_mtime_ns, _refusal(path, st))


def _walk(folder: Path) -> list[Path]:
    """Every entry under a folder that is not a folder, links to folders included (never descended)."""
    found = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        base = Path(root)
        found += [base / d for d in dirs if (base / d).is_symlink()]
        found += [base / f for f in files]
    return sorted(found)


@dataclass(frozen=True)
class Receipt:
    relative: str
    delivery_id: str
    outcome: str  # "new delivery" or "same content as delivery <id>"
    dataset: str | None
    status: str
    detail: str | None


def scan_landing(landing: Path) -> list[Sighting]:
    """Every file under the landing folder, in a stable order."""
    if not landing.exists():
        return []
    return [
        _sighting(path, path.relative_to(landing).as_posix())
        for path in _walk(landing)
        if not (path.name in IGNORED_NAMES or path.name.startswith((".", "~$")))
    ]


def sightings_of(paths: list[Path], landing: Path) -> list[Sighting]:
    """Files named by a user (a folder means every file in it), as sightings. A file inside the landing
    folder is named as the sensor would name it; one elsewhere by its full path, whose folders still hint
    at its dataset."""
    found = []
    landing = landing.resolve()
    for given in paths:
        given = Path.cwd() / given.expanduser()
        given = given.parent.resolve() / given.name  # the last part not resolved: a link named is refused
        if not given.exists() and not given.is_symlink():
            raise FileNotFoundError(f"{given}: no such file or folder")
        files = _walk(given) if given.is_dir() and not given.is_symlink() else [given]
        for path in files:
            if path.name in IGNORED_NAMES or path.name.startswith((".", "~$")):
                continue
            relative = (
                path.relative_to(landing).as_posix() if path.is_relative_to(landing) else path.as_posix()
            )
            found.append(_sighting(path, relative))
    return found


def _clear_incoming(archive: Path) -> None:
    """Remove copies left half-made by a run that was killed. Safe: the caller holds the vault's write
    lock, so no other ingestion is copying now."""
    staging = archive / ".incoming"
    if staging.exists():
        for leftover in staging.glob("*.partial"):
            leftover.unlink(missing_ok=True)


def unseen(con: duckdb.DuckDBPyConnection, sightings: list[Sighting]) -> list[Sighting]:
    ensure_manifest(con)
    seen = set(con.execute("select landing_path, size_bytes, modified_ns from ingest.receipts").fetchall())
    return [s for s in sightings if (s.relative, s.size, s.modified_ns) not in seen]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _copy_and_hash(source: Path, archive: Path) -> tuple[str, Path]:
    """Copy a delivered file into the archive's staging area, hashing each block as it is written: the
    bytes hashed are the bytes kept, read once. A thread hashes while the blocks are written (both let go
    of the interpreter's lock), blocks in order. A file that changes meanwhile is not taken."""
    staging = archive / ".incoming"
    staging.mkdir(parents=True, exist_ok=True)
    # opened without following a link, and checked to be a plain file, on the handle itself: a link put
    # in place after the scan is refused too
    try:
        source_fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        if source.is_symlink():
            raise RefusedFileError(_refusal(source, source.lstat()) or str(exc)) from exc
        raise
    before = os.fstat(source_fd)
    if not stat.S_ISREG(before.st_mode):
        os.close(source_fd)
        raise RefusedFileError(_refusal(source, before) or "not a regular file")
    handle, name = tempfile.mkstemp(dir=staging, suffix=".partial")
    partial = Path(name)
    digest = hashlib.sha256()
    in_flight: deque[Future] = deque()
    with (
        os.fdopen(source_fd, "rb") as fh,
        os.fdopen(handle, "wb") as out,
        ThreadPoolExecutor(1, thread_name_prefix="sha256") as hasher,
    ):
        while block := fh.read(COPY_BLOCK):
            in_flight.append(hasher.submit(digest.update, block))  # one worker: blocks hashed in order
            out.write(block)
            if len(in_flight) > BLOCKS_IN_FLIGHT:
                in_flight.popleft().result()
        for pending in in_flight:
            pending.result()
    after = source.lstat()
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
        partial.unlink()
        raise FileChangedError(
            f"{source} changed while it was being archived; it will be read on the next run"
        )
    return digest.hexdigest(), partial


class FileChangedError(OSError):
    """The partner was still writing the file."""


class RefusedFileError(OSError):
    """The entry in landing is a link or not a regular file, found on opening it."""


def _archive_place(partial: Path, archive: Path, sha: str, file_name: str) -> Path:
    """Move the staged copy to its permanent, read-only place under its sha256."""
    target = archive / sha[:2] / sha / file_name
    if target.exists():
        partial.unlink()
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial.chmod(stat.S_IRUSR)  # read-only, and the owner's alone, like the vault
    partial.replace(target)
    return target


def _sent_for_another_period(
    same_bytes: list[tuple], relative: str, contracts: dict[str, Contract], given: str | None
) -> tuple[tuple, str] | None:
    """(the first delivery of these bytes, the period they are now sent for) when a file already delivered
    arrives again under a folder or name that states another period, as every table of a monthly SSD
    extract does: a table unchanged since last month is this month's snapshot as much as the changed ones,
    and a month whose extract lacked it would leave that table a month behind the others. None when the
    period is the same, or is read from the content (the same content, the same period), or when nothing
    but the day it arrived would say which period."""
    usable = [
        d
        for d in same_bytes
        if d[1] in contracts and d[2] in (STATUS_RECEIVED, STATUS_LOADED, STATUS_SUPERSEDED)
    ]
    if not usable:
        return None
    contract = contracts[usable[0][1]]
    if given is None and (contract.period_element or contract.period_from_dates):
        return None
    period = given or contract.period_of(relative) or contract.period_named_by_month(relative)
    if period is None or any(d[4] == period for d in same_bytes):
        return None
    return usable[0], period


def receive(
    con: duckdb.DuckDBPyConnection,
    landing: Path,
    archive: Path,
    contracts: dict[str, Contract],
    sightings: list[Sighting] | None = None,
    feedback: Path | None = None,
    period: str | None = None,
) -> list[Receipt]:
    """Archive and record every file in the landing folder not seen before, or (``sightings``) the files a
    user named, seen before or not. Idempotent: the same bytes are one delivery however often they come.
    A file that fails or matches nothing gets an error report under ``feedback`` (by partner, or by the
    landing folder it arrived in), like a file that fails when loaded. ``period`` is the reporting period
    a user gave for the named files (``wholechild ingest --period``); otherwise each file's comes from its
    content or its name."""
    ensure_manifest(con)
    _clear_incoming(archive)
    receipts = []
    limits = Limits.from_env()
    period_given = period
    for sighting in unseen(con, scan_landing(landing)) if sightings is None else sightings:
        refused = sighting.refused
        if refused is None and (too_big := limits.file_size_problem(sighting.size)):
            refused = too_big  # not even copied: the archive is not filled with a file nothing will read
        if refused is None:
            try:
                sha, partial = _copy_and_hash(sighting.path, archive)
            except FileChangedError:
                continue  # still being written: its next sighting will be taken
            except RefusedFileError as exc:
                refused = str(exc)
        if refused is not None:  # recorded once, with its reason; nothing of it is read or kept
            outcome = f"refused: {refused}"
            con.execute(
                "insert or ignore into ingest.receipts values (?, ?, ?, '', ?, ?)",
                [
                    sighting.relative,
                    sighting.size,
                    sighting.modified_ns,
                    datetime.now(UTC).replace(tzinfo=None),
                    outcome,
                ],
            )
            receipts.append(Receipt(sighting.relative, "", outcome, None, STATUS_REFUSED, refused))
            continue
        pause_point("receive:copied")
        now = datetime.now(UTC).replace(tzinfo=None)
        same_bytes = con.execute(
            """select delivery_id, dataset, status, status_detail, period, partner, archive_path
               from ingest.deliveries
               where sha256 = ? order by received_at""",
            [sha],
        ).fetchall()
        existing = same_bytes[0] if same_bytes else None
        resent_for = _sent_for_another_period(same_bytes, sighting.relative, contracts, period_given)
        if resent_for is not None:  # a snapshot unchanged since an earlier period's: this period's too
            first, later = resent_for
            delivery_id = hashlib.sha256(f"{sha}:{later}".encode()).hexdigest()[:16]
            partial.unlink()  # the bytes are archived already, under the first delivery
            archived = first[6]
            note = (
                f"the same bytes as delivery {first[0]} (period {first[4]}), sent again for period {later}: "
                "loaded as that period's"
            )
            con.execute("begin transaction")
            con.execute(
                """insert into ingest.deliveries (delivery_id, sha256, partner, dataset, period, file_name,
                       landing_path, archive_path, size_bytes, received_at, status, recognition_notes)
                   values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [
                    delivery_id,
                    sha,
                    first[5],
                    first[1],
                    later,
                    sighting.path.name,
                    sighting.relative,
                    str(archived),
                    sighting.size,
                    now,
                    STATUS_RECEIVED,
                    note,
                ],
            )
            con.execute(
                "insert or ignore into ingest.receipts values (?, ?, ?, ?, ?, ?)",
                [sighting.relative, sighting.size, sighting.modified_ns, sha, now, "new delivery"],
            )
            con.execute("commit")
            receipts.append(
                Receipt(sighting.relative, delivery_id, "new delivery", first[1], STATUS_RECEIVED, note)
            )
            continue
        if existing and period_given and existing[2] == STATUS_FAILED and existing[1]:
            # a file that failed only for want of a period, named again with one: now it can be loaded
            unknown = con.execute(
                "select period is null from ingest.deliveries where delivery_id = ?", [existing[0]]
            ).fetchall()[0][0]
            if unknown:
                con.execute(
                    """update ingest.deliveries set period = ?, status = ?, status_detail = null,
                           recognition_notes = concat_ws('; ', recognition_notes, ?) where delivery_id = ?""",
                    [
                        period_given,
                        STATUS_RECEIVED,
                        f"its period, {period_given}, as given with --period",
                        existing[0],
                    ],
                )
                existing = (existing[0], existing[1], STATUS_RECEIVED, None)
        if existing:
            partial.unlink()
            outcome = f"same content as delivery {existing[0]}"
            con.execute(
                "insert or ignore into ingest.receipts values (?, ?, ?, ?, ?, ?)",
                [sighting.relative, sighting.size, sighting.modified_ns, sha, now, outcome],
            )
            receipts.append(
                Receipt(sighting.relative, existing[0], outcome, existing[1], existing[2], existing[3])
            )
            continue

        archived = _archive_place(partial, archive, sha, sighting.path.name)
        match = recognise(archived, sighting.relative, contracts)
        delivery_id = sha[:16]
        contract = match.contract
        period = None
        given = period_given
        if match.failed:
            status, detail = STATUS_FAILED, match.reason
        elif contract is None:
            status, detail = STATUS_UNRECOGNISED, match.reason
        else:
            own = match.period or contract.period_of(sighting.relative)
            period = given or own
            if given:
                said = (
                    f" (its {'content' if match.period else 'name'} says {own})"
                    if own and own != given
                    else ""
                )
                match = Match(
                    contract, notes=(*match.notes, f"its period, {given}, as given with --period{said}")
                )
            if period is None and (by_month := contract.period_named_by_month(sighting.relative)):
                period = by_month
                match = Match(
                    contract, notes=(*match.notes, f"its period, {period}, read from the month in its name")
                )
            if period is None and (from_content := period_from_dates(archived, contract)):
                period = from_content[0]
                match = Match(contract, notes=(*match.notes, from_content[1]))
            if period is None and contract.period_default == "received":
                period = now.date().isoformat()
                match = Match(
                    contract, notes=(*match.notes, "no date in its name: its period is the day it arrived")
                )
            if period is None:
                status = STATUS_FAILED
                where = "its content or its name" if contract.period_element else "its name"
                expected = (
                    f" (expected to match {contract.period_pattern})" if contract.period_pattern else ""
                )
                detail = (
                    f"{sighting.relative}: looks like {contract.dataset} but {where} carries no reporting "
                    f"period{expected}: name the file with its period, or ingest it with "
                    f"`wholechild ingest --period PERIOD {sighting.path.name}`"
                )
            else:
                status, detail = STATUS_RECEIVED, None
        notes = "; ".join(match.notes) or None
        con.execute("begin transaction")
        con.execute(
            """
            insert into ingest.deliveries (delivery_id, sha256, partner, dataset, period, file_name, landing_path,
                archive_path, size_bytes, received_at, status, status_detail, recognition_notes)
            values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                delivery_id,
                sha,
                contract.partner if contract else None,
                contract.dataset if contract else None,
                period,
                sighting.path.name,
                sighting.relative,
                str(archived),
                sighting.size,
                now,
                status,
                detail,
                notes,
            ],
        )
        con.execute(
            "insert or ignore into ingest.receipts values (?, ?, ?, ?, ?, ?)",
            [sighting.relative, sighting.size, sighting.modified_ns, sha, now, "new delivery"],
        )
        con.execute("commit")
        if feedback is not None and status in (STATUS_FAILED, STATUS_UNRECOGNISED):
            from orchestration.ingest.report import write_error_report

            sender = (
                contract.partner if contract else Path(sighting.relative).parts[0].lstrip("/") or "unknown"
            )
            write_error_report(con, delivery_id, feedback / sender / str(period or now.date().isoformat()))
        receipts.append(
            Receipt(
                sighting.relative,
                delivery_id,
                "new delivery",
                contract.dataset if contract else None,
                status,
                detail or notes,
            )
        )
    return receipts
