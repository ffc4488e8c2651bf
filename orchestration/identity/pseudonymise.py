"""Copy each raw table from the vault to the analytics file with nothing that identifies a child.

Driven by each contract column's privacy class, which every column must have: direct identifiers and free
text are dropped, LA person ids are replaced by the person_key the vault issued, source record ids by their
keyed HMAC (a domain per kind of id, so a referral id still joins its referral and nothing joins back to
the source system), dates about a person (birth, death, a mother's child's birth) become their month (as
text), postcodes their sector. Only attributes pass as they are.
"""

from __future__ import annotations

import hashlib

import duckdb

from orchestration.duckdb_files import on_cursors
from orchestration.identity.pseudonyms import hmac_sql, install_hmac
from orchestration.ingest.contracts import Contract, ContractVersions, Table
from orchestration.settings import work_threads

ANALYTICS_SCHEMA = "pseudonymised"
RECORD_ID_HEX = 32  # 128 bits of the HMAC: no two ids of one kind meet by chance


def postcode_sector_sql(expr: str) -> str:
    """'DY1 4QT' -> 'DY1 4'; anything that is not a well-formed postcode -> null."""
    compact = f"regexp_replace(upper(coalesce({expr}, '')), '[^A-Z0-9]', '', 'g')"
    pattern = "'^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9])[A-Z]{2}$'"
    return (
        f"case when regexp_full_match({compact}, {pattern}) "
        f"then regexp_replace({compact}, {pattern}, '\\1 \\2') end"
    )


def analytics_table(contract: Contract, table: Table) -> str:
    suffix = "" if len(contract.tables) == 1 else f"__{table.name}"
    return f"{ANALYTICS_SCHEMA}.{contract.dataset}{suffix}"


def pseudonymised_select(contract: Contract, table: Table, vault_alias: str = "vault") -> str:
    columns = ["k.person_key"] if table.person else []
    for col in table.columns:
        quoted = f'r."{col.name}"'
        if col.privacy in ("direct", "person_id", "free_text"):
            continue
        if col.privacy == "record_id":
            pseudonym = hmac_sql(f"trim({quoted}::varchar)", f"record:{col.id_domain}")
            columns.append(f'left({pseudonym}, {RECORD_ID_HEX}) as "{col.name}"')
            continue
        if col.privacy in ("birth_date", "month"):
            # the month as text ('2015-03'), never a date: a date would be a full date of birth for every
            # child born on the day it was set to
            columns.append(f"strftime({quoted}, '%Y-%m') as \"{col.name}\"")
        elif col.privacy == "postcode":
            columns.append(f'{postcode_sector_sql(quoted)} as "{col.name}"')
        elif col.privacy == "attribute":
            columns.append(quoted)
        else:  # a class this code does not know reaches nothing
            raise ValueError(f"{contract.dataset}.{col.name}: no rule for privacy class {col.privacy!r}")
    if contract.extra_privacy == "attribute":  # an open layout's own filters and indicators, as published
        columns.append("r._extra")
    columns += ["r._delivery_id", "r._period"]
    source = f"{vault_alias}.{contract.raw_table(table)} r"
    if table.person:
        source += (
            f" left join {vault_alias}.identity.record_keys k on k.namespace = "
            f"'{table.person.namespace}' and k.record_id = {table.person.id_sql('r')}"
        )
    return f"select {', '.join(columns)} from {source}"


def publish_to_analytics(
    con: duckdb.DuckDBPyConnection,
    versions: ContractVersions,
    vault_alias: str = "vault",
    inputs: str | None = None,
) -> int:
    """Replace the dataset's analytics tables, each in one statement; returns the rows written. ``inputs``
    (see ``inputs_by_dataset``) is recorded with the tables, in the same transaction."""
    con.execute(f"create schema if not exists {ANALYTICS_SCHEMA}")
    install_hmac(con)  # record ids: the key lives in this connection's memory only
    _ensure_state(con)
    rows = 0
    con.execute("begin transaction")
    try:
        con.execute(f"delete from {STATE_TABLE} where dataset = ?", [versions.dataset])
        for table in versions.latest.tables:
            union = versions.union_table(table.name)
            name = analytics_table(versions.latest, table)
            con.execute(
                f"create or replace table {name} as "
                + pseudonymised_select(versions.latest, union, vault_alias)
            )
            rows += con.execute(f"select count(*) from {name}").fetchall()[0][0]
        if inputs is not None:
            con.execute(f"insert into {STATE_TABLE} values (?, ?, ?)", [versions.dataset, inputs, rows])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return rows


def publish_datasets(
    con: duckdb.DuckDBPyConnection,
    todo: list[tuple[ContractVersions, str | None]],
    vault_alias: str = "vault",
) -> list[int]:
    """``publish_to_analytics`` of each (versions, inputs), ``WHOLECHILD_THREADS`` datasets at a time
    (``on_cursors``: the vault attached to the analytics file is attached for every cursor): each dataset
    writes its own tables and its own row of the state table, in its own transaction. Returns the rows
    written, in ``todo``'s order; the first error is raised once every dataset has been tried."""
    con.execute(f"create schema if not exists {ANALYTICS_SCHEMA}")  # once, before the threads
    _ensure_state(con)
    written = on_cursors(
        con,
        todo,
        lambda cur, item: publish_to_analytics(cur, item[0], vault_alias, inputs=item[1]),
        work_threads(),
        "pseudonymise",
    )
    for result in written:
        if isinstance(result, Exception):
            raise result
    return written


# what each dataset's analytics tables were last written from, kept in the analytics file beside them (a
# file made again from nothing has none, and every table is written)
STATE_TABLE = "pipeline_state.pseudonymised_from"


def _ensure_state(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists pipeline_state")
    con.execute(
        f"create table if not exists {STATE_TABLE} (dataset varchar primary key, inputs varchar, rows bigint)"
    )


def inputs_by_dataset(
    con: duckdb.DuckDBPyConnection,
    all_versions: list[ContractVersions],
    code: str,
    vault_alias: str = "vault",
) -> dict[str, str]:
    """For each dataset, what its analytics tables are made from: the code and settings (``code``), its
    deliveries and their statuses (so the raw rows), and the person key of every record in the namespaces
    its tables link by. The same inputs make the same tables."""
    deliveries = dict(
        con.execute(
            f"""select dataset, string_agg(delivery_id || ':' || status, ',' order by delivery_id)
                from {vault_alias}.ingest.deliveries where dataset is not null group by dataset"""
        ).fetchall()
    )
    keys = dict(
        con.execute(
            f"""select namespace, count(*) || ':' || sum(hash(record_id, person_key))
                from {vault_alias}.identity.record_keys group by namespace"""
        ).fetchall()
    )
    out = {}
    for versions in all_versions:
        namespaces = sorted(
            {t.person.namespace for v in versions.versions for t in v.tables if t.person is not None}
        )
        parts = [code, deliveries.get(versions.dataset, ""), *(f"{n}={keys.get(n, '')}" for n in namespaces)]
        out[versions.dataset] = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    return out


def written_from(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, int]]:
    """Each dataset's recorded inputs and rows, for the tables that are still there."""
    _ensure_state(con)
    present = {
        name
        for (name,) in con.execute(
            "select table_name from duckdb_tables() where database_name = current_database()"
            f" and schema_name = '{ANALYTICS_SCHEMA}'"
        ).fetchall()
    }
    return {
        dataset: (inputs, rows)
        for dataset, inputs, rows in con.execute(f"select * from {STATE_TABLE}").fetchall()
        if any(name == dataset or name.startswith(f"{dataset}__") for name in present)
    }
