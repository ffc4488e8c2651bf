"""An append-only audit log whose entries are chained by hash.

Each line is a JSON object with its sequence number, time, the previous entry's hash and its own hash:
``sha256(previous hash + the entry without its hash, as canonical JSON)``. Editing an entry breaks its
hash; deleting or reordering entries breaks the chain; cutting entries off the end is caught by the head
(the last sequence number and hash) kept in the vault. ``verify`` reports the first entry that fails.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

GENESIS = "0" * 64
HEAD_DDL = """
create schema if not exists audit;
create table if not exists audit.log_head (log varchar primary key, seq bigint not null, hash varchar not null);
"""


class AuditLogError(RuntimeError):
    """The log has been altered: the message says where."""


@dataclass(frozen=True)
class Verified:
    entries: int
    head: str


def _digest(previous: str, entry: dict[str, Any]) -> str:
    body = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((previous + body).encode("utf-8")).hexdigest()


def _read(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    entries = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise AuditLogError(f"{path}, line {number}: not a log entry ({exc.msg})") from exc
    return entries


def verify(path: Path, con: duckdb.DuckDBPyConnection | None = None) -> Verified:
    """Check every entry's hash and link, and (given the vault) that nothing was cut off the end."""
    previous, seq = GENESIS, 0
    for entry in _read(path):
        seq += 1
        claimed = entry.pop("hash", None)
        if entry.get("seq") != seq:
            raise AuditLogError(
                f"{path}: entry {seq} is missing or out of order (found seq {entry.get('seq')})"
            )
        if entry.get("prev") != previous:
            raise AuditLogError(f"{path}: entry {seq} does not follow the entry before it")
        if _digest(previous, entry) != claimed:
            raise AuditLogError(f"{path}: entry {seq} has been altered")
        previous = claimed
    has_head = (
        con is not None
        and con.execute(
            "select count(*) from duckdb_tables() where schema_name = 'audit' and table_name = 'log_head'"
        ).fetchall()[0][0]
    )
    if has_head:
        head = con.execute("select seq, hash from audit.log_head where log = ?", [str(path)]).fetchall()
        if head and (head[0][0], head[0][1]) != (seq, previous):
            raise AuditLogError(
                f"{path}: the log ends at entry {seq} but entry {head[0][0]} was written: entries were removed"
            )
    return Verified(seq, previous)


def append(
    path: Path, con: duckdb.DuckDBPyConnection, action: str, details: dict[str, Any]
) -> dict[str, Any]:
    """Verify the log, then add one entry and move the head in the vault."""
    con.execute(HEAD_DDL)
    state = verify(path, con)
    entry = {
        "seq": state.entries + 1,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "by": os.environ.get("WHOLECHILD_OPERATOR") or getpass.getuser(),
        "action": action,
        **details,
        "prev": state.head,
    }
    entry["hash"] = _digest(state.head, entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    con.execute(
        "insert or replace into audit.log_head values (?, ?, ?)", [str(path), entry["seq"], entry["hash"]]
    )
    return entry
