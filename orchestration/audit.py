"""The subject access log: append-only, each entry chained to the one before it by a keyed MAC.

Each line is a JSON object with its sequence number, time, operator, action, details, the previous entry's
MAC and its own: ``HMAC-SHA256(audit key, previous MAC + the entry without its MAC, as canonical JSON)``.
The key comes from ``WHOLECHILD_AUDIT_KEY`` (at least 32 characters, not the pseudonym key), so someone who
can write the log and the vault but does not hold the key cannot rewrite an entry, or the log, and make it
verify: a plain hash chain (the earlier design) anyone can recompute.

The first entry names the log with a random ``log_id``. The head (the last sequence number and MAC) is
kept in two places, both keyed by that id, not by the log's path: the vault (``audit.log_head``) and an
anchor file outside it (``subject_access.head`` beside the log by default, or ``WHOLECHILD_AUDIT_ANCHOR``:
put it where the people who can write the vault cannot, for example a write-once share). The anchor
carries its own MAC. So cutting entries off the end is caught by either head, also in a copy of the home
moved to another path.

An entry is written in three steps: the log (flushed to disk), then the anchor, then the vault. A crash
between them leaves a log one entry ahead of a head; that entry verifies under the key, so it was written
by Whole Child, and the next append records the head it missed and says so in its own entry. Nothing else
is forgiven: a head ahead of the log, or two or more entries behind it, is reported as an alteration. A
last line cut short by a crash is moved aside (to ``<log>.torn-<time>``), and the next entry records it.

``verify`` reports the first entry or head that fails.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import json
import os
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

GENESIS = "0" * 64
KEY_ENV = "WHOLECHILD_AUDIT_KEY"
ANCHOR_ENV = "WHOLECHILD_AUDIT_ANCHOR"
MIN_KEY_LENGTH = 32
HEAD_DDL = """
create schema if not exists audit;
create table if not exists audit.log_head (log varchar primary key, seq bigint not null, hash varchar not null);
"""


class AuditLogError(RuntimeError):
    """The log has been altered: the message says where."""


class AuditKeyError(RuntimeError):
    """No usable audit key."""


@dataclass(frozen=True)
class Verified:
    entries: int
    head: str
    log_id: str | None = None
    # heads one entry behind the log after a crash between the writes (what append will record)
    behind: tuple[str, ...] = ()
    torn_tail: bytes = b""  # a last line cut short by a crash, not yet moved aside


def audit_key(log: Path) -> bytes:
    """The audit key from the environment. In the synthetic demo (WHOLECHILD_DEMO) without one, a random
    key kept beside the log (0600), so that later commands can still verify it: never for real data."""
    from orchestration.identity.pseudonyms import KEY_ENV as PSEUDONYM_KEY_ENV
    from orchestration.identity.pseudonyms import demo_mode

    value = os.environ.get(KEY_ENV, "")
    if value:
        if len(value) < MIN_KEY_LENGTH:
            raise AuditKeyError(f"{KEY_ENV} must be at least {MIN_KEY_LENGTH} characters long")
        if value == os.environ.get(PSEUDONYM_KEY_ENV):
            raise AuditKeyError(f"{KEY_ENV} must differ from {PSEUDONYM_KEY_ENV}")
        return value.encode()
    if not demo_mode():
        raise AuditKeyError(
            f"{KEY_ENV} is not set: set a random key of at least {MIN_KEY_LENGTH} characters from your secrets"
            " store (for the synthetic demo only, use --demo)"
        )
    demo = log.parent / ".demo-audit-key"
    if not demo.exists():
        demo.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(demo, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return demo.read_text().strip().encode()


def anchor_path(log: Path) -> Path:
    configured = os.environ.get(ANCHOR_ENV, "")
    return Path(configured).expanduser() if configured else log.with_suffix(".head")


def _mac(key: bytes, previous: str, entry: dict[str, Any]) -> str:
    body = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, (previous + body).encode("utf-8"), hashlib.sha256).hexdigest()


def _anchor_mac(key: bytes, log_id: str, seq: int, head: str) -> str:
    return hmac.new(key, f"head|{log_id}|{seq}|{head}".encode(), hashlib.sha256).hexdigest()


def _read(path: Path) -> tuple[list[dict[str, Any]], bytes]:
    """The entries, and a last line cut short (no newline, not JSON) by a crash while it was written."""
    if not path.exists():
        return [], b""
    data = path.read_bytes()
    torn = b""
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        try:
            json.loads(data[cut:])
        except ValueError:
            data, torn = data[:cut], data[cut:]
    entries = []
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise AuditLogError(f"{path}, line {number}: not a log entry ({exc.msg})") from exc
    return entries, torn


def _heads(path: Path, con: duckdb.DuckDBPyConnection | None, log_id: str | None, key: bytes) -> dict:
    """Each head that exists: name -> (seq, mac)."""
    heads = {}
    anchor = anchor_path(path)
    if anchor.exists():
        try:
            saved = json.loads(anchor.read_text(encoding="utf-8"))
            fields = (saved["log_id"], int(saved["seq"]), saved["hash"], saved["mac"])
        except (ValueError, KeyError, TypeError) as exc:
            raise AuditLogError(f"{anchor}: not an audit anchor") from exc
        if not hmac.compare_digest(_anchor_mac(key, *fields[:3]), fields[3]):
            raise AuditLogError(f"{anchor}: the anchor has been altered")
        if fields[0] != log_id:
            raise AuditLogError(f"{anchor}: the anchor is for another log ({fields[0]}), not {log_id}")
        heads["anchor"] = fields[1:3]
    has_table = (
        con is not None
        and con.execute(
            "select count(*) from duckdb_tables() where schema_name = 'audit' and table_name = 'log_head'"
        ).fetchall()[0][0]
    )
    if has_table and log_id is not None:
        row = con.execute("select seq, hash from audit.log_head where log = ?", [log_id]).fetchall()
        if row:
            heads["vault"] = (int(row[0][0]), row[0][1])
    return heads


def verify(path: Path, con: duckdb.DuckDBPyConnection | None = None, key: bytes | None = None) -> Verified:
    """Check every entry's MAC and link, and the heads in the anchor and (given the vault) the vault."""
    key = key if key is not None else audit_key(path)
    entries, torn = _read(path)
    previous, seq, log_id, macs = GENESIS, 0, None, []
    for entry in entries:
        seq += 1
        claimed = entry.pop("hash", None)
        if seq == 1:
            log_id = entry.get("log_id")
            if not log_id:
                raise AuditLogError(
                    f"{path}: written without a keyed chain (an earlier version): move it aside to start a new log"
                )
        if entry.get("seq") != seq:
            raise AuditLogError(
                f"{path}: entry {seq} is missing or out of order (found seq {entry.get('seq')})"
            )
        if entry.get("prev") != previous:
            raise AuditLogError(f"{path}: entry {seq} does not follow the entry before it")
        if not isinstance(claimed, str) or not hmac.compare_digest(_mac(key, previous, entry), claimed):
            raise AuditLogError(f"{path}: entry {seq} has been altered (or the audit key is not this log's)")
        previous = claimed
        macs.append(claimed)
    behind = []
    heads = _heads(path, con, log_id, key)
    if seq == 0 and heads:
        raise AuditLogError(f"{path}: the log is missing or empty but its head says entries were written")
    for name, (head_seq, head_mac) in heads.items():
        where = "the vault" if name == "vault" else anchor_path(path).name
        if head_seq > seq:
            raise AuditLogError(
                f"{path}: the log ends at entry {seq} but {where} records entry {head_seq}: entries were removed"
            )
        if head_seq == 0 or macs[head_seq - 1] != head_mac:
            raise AuditLogError(
                f"{path}: entry {head_seq} is not the one {where} records: the log was rewritten"
            )
        if head_seq == seq - 1:
            behind.append(name)  # the last write was cut short between the log and this head
        elif head_seq < seq:
            raise AuditLogError(
                f"{path}: {seq - head_seq} entries after entry {head_seq} are not recorded in {where}"
            )
    if torn and behind:
        raise AuditLogError(f"{path}: a cut-short last line after an entry whose head was not recorded")
    return Verified(seq, previous, log_id, tuple(behind), torn)


def _write_anchor(path: Path, key: bytes, log_id: str, seq: int, head: str) -> None:
    anchor = anchor_path(path)
    anchor.parent.mkdir(parents=True, exist_ok=True)
    body = {"log_id": log_id, "seq": seq, "hash": head, "mac": _anchor_mac(key, log_id, seq, head)}
    partial = anchor.with_name(anchor.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(body, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    partial.replace(anchor)


def _write_vault_head(con: duckdb.DuckDBPyConnection, log_id: str, seq: int, head: str) -> None:
    con.execute("insert or replace into audit.log_head values (?, ?, ?)", [log_id, seq, head])


def append(
    path: Path, con: duckdb.DuckDBPyConnection, action: str, details: dict[str, Any]
) -> dict[str, Any]:
    """Verify the log, then add one entry and move both heads (recording, first, a head a crash missed)."""
    key = audit_key(path)
    con.execute(HEAD_DDL)
    state = verify(path, con, key)
    recovered: dict[str, Any] = {}
    if state.torn_tail:  # a line cut short by a crash: kept aside, named in this entry
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        aside = path.with_name(f"{path.name}.torn-{stamp}")
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(state.torn_tail)
        with path.open("r+b") as fh:
            fh.truncate(path.stat().st_size - len(state.torn_tail))
        recovered["recovered_torn_line"] = {"bytes": len(state.torn_tail), "kept_in": aside.name}
    if state.behind:
        recovered["recovered_head_of_entry"] = {"seq": state.entries, "missed_by": list(state.behind)}
    log_id = state.log_id or uuid.uuid4().hex
    entry = {
        "seq": state.entries + 1,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "by": os.environ.get("WHOLECHILD_OPERATOR") or getpass.getuser(),
        "action": action,
        **details,
        **recovered,
        "prev": state.head,
    }
    if entry["seq"] == 1:
        entry["log_id"] = log_id
    entry["hash"] = _mac(key, state.head, entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    _write_anchor(path, key, log_id, entry["seq"], entry["hash"])
    _write_vault_head(con, log_id, entry["seq"], entry["hash"])
    return entry
