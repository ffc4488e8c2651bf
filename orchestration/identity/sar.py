"""Subject access: every row held about one child, in every tier and table.

A child is found by a UPN, an NHS number, an LA person id, or a name with a date of birth, matched as
linkage normalises them (so ``943 476 5919`` finds ``9434765919``, and ``o'neil`` finds ``O'Neil``). Every
record linked to the same person_key is then followed into:

- the vault: each raw table holding a record of the child (a description of them, or an event such as a
  care episode keyed by their LA person id), and the identity index;
- the analytics file: every table with a ``person_key`` column.

Published outputs hold only counts after disclosure control, never a row about a child. Rows quarantined
at ingest were never linked; their files are in the archive. Every search is written to the audit log
before anything is shown, with the search term as a pseudonym, never in clear.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from orchestration import audit
from orchestration.cells import safe_frame
from orchestration.duckdb_files import connect
from orchestration.identity.pseudonyms import pseudonym_key
from orchestration.identity.records import _source_selects, normalised_name_sql, raw_tables_present
from orchestration.ingest.contracts import Contract

KINDS = ("upn", "nhs_number", "la_person_id", "name_dob")


class SearchError(ValueError):
    """The search is not one the command can run."""


@dataclass
class Found:
    person_keys: list[str]
    rows: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict)  # (tier, table) -> rows

    @property
    def total_rows(self) -> int:
        return sum(len(f) for f in self.rows.values())


def _matching_records(
    con: duckdb.DuckDBPyConnection, contracts: dict[str, Contract], kind: str, term: str
) -> str:
    """SQL for the (namespace, record_id) of records matching the search."""
    described = " union all ".join(_source_selects(contracts, raw_tables_present(con)))
    if kind == "upn":
        where = "upn_text = $term or former_upn_text = $term"
    elif kind == "nhs_number":
        where = "nhs_text = $term"
    elif kind == "la_person_id":
        return "select 'la_person' as namespace, $term as record_id"
    else:
        where = (
            f"forename = {normalised_name_sql('$forename')} and surname = {normalised_name_sql('$surname')}"
            " and dob = try_cast($dob as date)"
        )
    return f"select distinct namespace, record_id from ({described}) where {where}"


def _normalise(kind: str, term: str) -> dict[str, str]:
    if kind == "upn":
        return {"term": term.strip().upper()}
    if kind == "nhs_number":
        return {"term": "".join(ch for ch in term if ch.isdigit())}
    if kind == "la_person_id":
        return {"term": term.strip()}
    name, _, dob = term.rpartition(" ")
    forename, _, surname = name.strip().rpartition(" ")
    if not (forename and surname and dob):
        raise SearchError("a name search is 'forename surname yyyy-mm-dd'")
    return {"forename": forename, "surname": surname, "dob": dob}


def search(
    vault_db: Path,
    analytics_db: Path,
    audit_log: Path,
    contracts: dict[str, Contract],
    kind: str,
    term: str,
    reason: str,
) -> Found:
    """Find every row about the child; the search is logged first (and refused if the log is altered)."""
    if kind not in KINDS:
        raise SearchError(f"search by one of {', '.join(KINDS)}")
    if not reason.strip():
        raise SearchError("say why the search is made (--reason): it is written to the audit log")
    params = _normalise(kind, term)
    with connect(vault_db) as con:  # waits while a run holds the vault
        audit.append(
            audit_log,
            con,
            "subject_access_search",
            {
                "kind": kind,
                "term_pseudonym": pseudonym_key().pseudonym(f"sar-{kind}", "|".join(params.values())),
                "reason": reason,
            },
        )
        con.execute(f"create temp table _found as {_matching_records(con, contracts, kind, '')}", params)
        keys = [
            k
            for (k,) in con.execute(
                """select distinct k.person_key from _found f
                   join identity.record_keys k using (namespace, record_id) order by 1"""
            ).fetchall()
        ]
        found = Found(keys)
        if not keys:
            return found
        con.execute(
            "create temp table _records as select namespace, record_id from identity.record_keys"
            " where person_key in (select unnest($keys))",
            {"keys": keys},
        )
        present = raw_tables_present(con)
        for contract in contracts.values():
            for table in contract.tables:
                name = contract.raw_table(table)
                if table.person is None or name not in present:
                    continue
                frame = con.execute(
                    f"""select * from {name} r where {table.person.id_sql("r")} in (
                            select record_id from _records where namespace = '{table.person.namespace}')"""
                ).df()
                if len(frame):
                    found.rows[("vault", name)] = frame
        mine = "where (namespace, record_id) in (select * from _records)"
        for name, sql in (
            ("identity.person_records", f"select * from identity.person_records {mine}"),
            ("identity.record_keys", f"select * from identity.record_keys {mine}"),
            (
                "identity.key_events",
                "select * from identity.key_events"
                " where person_key in (select unnest($keys)) or other_key in (select unnest($keys))",
            ),
        ):
            frame = con.execute(sql, {"keys": keys} if "$keys" in sql else {}).df()
            if len(frame):
                found.rows[("vault", name)] = frame
    if analytics_db.exists():
        with connect(analytics_db, read_only=True) as con:
            tables = con.execute(
                """select table_schema, table_name from information_schema.columns
                   where column_name = 'person_key' order by 1, 2"""
            ).fetchall()
            for schema, table in tables:
                frame = con.execute(
                    f'select * from "{schema}"."{table}" where person_key in (select unnest($keys))',
                    {"keys": keys},
                ).df()
                if len(frame):
                    found.rows[("analytics", f"{schema}.{table}")] = frame
    return found


def export(found: Found, folder: Path, vault_db: Path, audit_log: Path, reason: str) -> list[Path]:
    """Write every row found, one CSV per table, and log the export."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for (tier, table), frame in sorted(found.rows.items()):
        path = folder / f"{tier}__{table}.csv"
        safe_frame(frame).to_csv(path, index=False)
        path.chmod(0o600)
        written.append(path)
    with connect(vault_db) as con:  # waits while a run holds the vault
        audit.append(
            audit_log,
            con,
            "subject_access_export",
            {
                "persons": len(found.person_keys),
                "rows": found.total_rows,
                "files": len(written),
                "folder": str(folder),
                "reason": reason,
            },
        )
    return written
