"""Clerical review: the pairs linkage is unsure of, and the decisions people make about them.

Each run writes ``clerical_review.csv`` (in the identity folder beside the vault: it shows names and dates
of birth, so it is as restricted as the vault). Every row is a pair of records from two groups the model
scored at or above the review threshold that did not become one person (below the link threshold; dates of
birth that differ, which never link without a person; or held apart by two census rows, two NHS numbers or
two UPNs), or a pair someone has already decided. A reviewer fills in
``decision`` with ``must-link`` or ``cannot-link``; the next run reads the file, records each decision in
the vault (``identity.clerical_decisions``) and honours it from then on, even if the file is lost.
"""

from __future__ import annotations

import csv
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orchestration.cells import safe_row

DECISIONS = ("must-link", "cannot-link")
REVIEW_FILE = "clerical_review.csv"

DECISIONS_DDL = """
create table if not exists identity.clerical_decisions (
    a_namespace varchar not null, a_record_id varchar not null,
    b_namespace varchar not null, b_record_id varchar not null,
    decision varchar not null,
    decided_at timestamp not null,
    primary key (a_namespace, a_record_id, b_namespace, b_record_id)
);
"""

_SIDE = ("namespace", "record_id", "dataset", "forename", "surname", "dob", "sex", "postcode")
COLUMNS = ["decision", "probability", *(f"a_{c}" for c in _SIDE), *(f"b_{c}" for c in _SIDE), "status"]


class ReviewFileError(ValueError):
    """The review file has a decision that cannot be read."""


def read_decisions(con: duckdb.DuckDBPyConnection, folder: Path) -> int:
    """Record the decisions in the review file (if any) in the vault; returns how many were new or changed."""
    con.execute(DECISIONS_DDL)
    path = folder / REVIEW_FILE
    if not path.exists():
        return 0
    rows = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            decision = (row.get("decision") or "").strip().lower()
            if not decision:
                continue
            if decision not in DECISIONS:
                raise ReviewFileError(
                    f"{path}, line {line}, column decision: {decision!r} is not one of {', '.join(DECISIONS)}"
                )
            a = (row["a_namespace"], row["a_record_id"])
            b = (row["b_namespace"], row["b_record_id"])
            rows.append((*min(a, b), *max(a, b), decision))
    before = con.execute("select count(*) from identity.clerical_decisions").fetchall()[0][0]
    changed = 0
    now = datetime.now(UTC).replace(tzinfo=None)
    for a_ns, a_id, b_ns, b_id, decision in rows:
        existing = con.execute(
            """select decision from identity.clerical_decisions
               where a_namespace = ? and a_record_id = ? and b_namespace = ? and b_record_id = ?""",
            [a_ns, a_id, b_ns, b_id],
        ).fetchall()
        if existing and existing[0][0] == decision:
            continue
        changed += 1
        con.execute(
            "insert or replace into identity.clerical_decisions values (?, ?, ?, ?, ?, ?)",
            [a_ns, a_id, b_ns, b_id, decision, now],
        )
    del before
    return changed


def write_review_file(con: duckdb.DuckDBPyConnection, folder: Path, candidates: str) -> int:
    """Rewrite the review file: decided pairs first, then the pending pairs of ``candidates`` (a query with
    the columns of COLUMNS less decision and status). Written aside, then renamed into place."""
    folder.mkdir(parents=True, exist_ok=True)
    side = lambda p: ", ".join(f"{p}.{c} as {p[0]}_{c}" for c in _SIDE)  # noqa: E731
    # one description of each record a decision names: only those records are sorted (sorting every person
    # record to pick one row each took 6.9 GiB at scale 1, for a file of a few hundred rows)
    decided = con.execute(
        f"""with named as (
                select a_namespace as namespace, a_record_id as record_id from identity.clerical_decisions
                union select b_namespace, b_record_id from identity.clerical_decisions
            ),
            records as (
                select distinct on (r.namespace, r.record_id) r.*
                from identity.person_records r
                where exists (select 1 from named n where n.namespace = r.namespace and n.record_id = r.record_id)
                order by all
            )
            select d.decision, null as probability, {side("ra")}, {side("rb")}, 'decided ' || d.decided_at::varchar
            from identity.clerical_decisions d
            join records ra on ra.namespace = d.a_namespace and ra.record_id = d.a_record_id
            join records rb on rb.namespace = d.b_namespace and rb.record_id = d.b_record_id
            order by all"""
    ).fetchall()
    pending = con.execute(
        f"""select '' as decision, round(c.probability, 4), c.* exclude (probability), 'to review'
            from ({candidates}) c
            where not exists (
                select 1 from identity.clerical_decisions d
                where least(c.a_namespace || chr(31) || c.a_record_id, c.b_namespace || chr(31) || c.b_record_id)
                      = d.a_namespace || chr(31) || d.a_record_id
                  and greatest(c.a_namespace || chr(31) || c.a_record_id, c.b_namespace || chr(31) || c.b_record_id)
                      = d.b_namespace || chr(31) || d.b_record_id)
            order by c.probability desc, c.a_namespace, c.a_record_id, c.b_namespace, c.b_record_id"""
    ).fetchall()
    handle, temp = tempfile.mkstemp(dir=folder, suffix=".partial")
    with os.fdopen(handle, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        writer.writerows(safe_row(r) for r in decided)  # names as partners spelt them: never a formula
        writer.writerows(safe_row(r) for r in pending)
    Path(temp).chmod(0o600)
    Path(temp).replace(folder / REVIEW_FILE)
    return len(pending)
