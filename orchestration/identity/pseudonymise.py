"""Copy each raw table from the vault to the analytics file with nothing that identifies a child.

Driven by each contract column's privacy class: direct identifiers are dropped, LA person ids are
replaced by the person_key the vault issued, dates of birth become their month, postcodes their sector.
"""

from __future__ import annotations

import duckdb

from orchestration.ingest.contracts import Contract
from orchestration.ingest.load import raw_table

ANALYTICS_SCHEMA = "pseudonymised"


def postcode_sector_sql(expr: str) -> str:
    """'DY1 4QT' -> 'DY1 4'; anything that is not a well-formed postcode -> null."""
    compact = f"regexp_replace(upper(coalesce({expr}, '')), '[^A-Z0-9]', '', 'g')"
    pattern = "'^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9])[A-Z]{2}$'"
    return (
        f"case when regexp_full_match({compact}, {pattern}) "
        f"then regexp_replace({compact}, {pattern}, '\\1 \\2') end"
    )


def pseudonymised_select(contract: Contract, vault_alias: str = "vault") -> str:
    columns = ["k.person_key"] if contract.person else []
    for col in contract.columns:
        quoted = f'r."{col.name}"'
        if col.privacy in ("direct", "person_id"):
            continue
        if col.privacy == "birth_date":
            columns.append(f"cast(date_trunc('month', {quoted}) as date) as \"{col.name}\"")
        elif col.privacy == "postcode":
            columns.append(f'{postcode_sector_sql(quoted)} as "{col.name}"')
        else:
            columns.append(quoted)
    columns += ["r._delivery_id", "r._period"]
    source = f"{vault_alias}.{raw_table(contract)} r"
    if contract.person:
        source += (
            f" left join {vault_alias}.identity.record_keys k on k.namespace = "
            f"'{contract.person.namespace}' and k.record_id = {contract.person.id_sql('r')}"
        )
    return f"select {', '.join(columns)} from {source}"


def publish_to_analytics(
    con: duckdb.DuckDBPyConnection, contract: Contract, vault_alias: str = "vault"
) -> int:
    """Replace the dataset's analytics table in one statement; returns its row count."""
    con.execute(f"create schema if not exists {ANALYTICS_SCHEMA}")
    con.execute(
        f"create or replace table {ANALYTICS_SCHEMA}.{contract.dataset} as "
        + pseudonymised_select(contract, vault_alias)
    )
    return con.execute(f"select count(*) from {ANALYTICS_SCHEMA}.{contract.dataset}").fetchall()[0][0]
