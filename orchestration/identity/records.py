"""The records that describe a child, normalised for linkage (vault: ``identity.person_records``).

One row per distinct description of a person in a source table: its namespace and record id (the LA's
person id, a census row id, or the delivery and row), the dataset and delivery it came in, and its
identifying fields normalised. Strong identifiers are validated first: an NHS number failing its modulus
11 check or a UPN failing its check letter takes no part in linking, is recorded in
``identity.quarantined_identifiers``, and the record still links on its other fields. Valid ones are kept
only as pseudonyms (HMAC, ``pseudonyms.py``): the identity index never holds an NHS number or UPN.
"""

from __future__ import annotations

import duckdb

from orchestration.identifiers import install_sql_macros
from orchestration.identity.pseudonyms import hmac_sql, install_hmac
from orchestration.ingest.contracts import Contract

IDENTITY_SCHEMA_DDL = """
create schema if not exists identity;
create table if not exists identity.record_keys (
    namespace varchar not null,
    record_id varchar not null,
    person_key varchar not null,
    first_linked_at timestamp not null,
    primary key (namespace, record_id)
);
create table if not exists identity.record_key_history (
    namespace varchar not null,
    record_id varchar not null,
    person_key varchar not null,     -- a key the record has carried, now or before
    since timestamp not null
);
create table if not exists identity.key_events (
    happened_at timestamp not null,
    event varchar not null,          -- merge or split
    person_key varchar not null,     -- the key that carries on
    other_key varchar not null,      -- merged into person_key, or split off from it
    records bigint not null
);
"""

# how each source spells sex: the census and health files M/F, SSDA903 and the CIN census 1/2
_SEX = "case when {v} in ('M', 'MALE', '1') then 'M' when {v} in ('F', 'FEMALE', '2') then 'F' end"


def normalised_name_sql(expr: str) -> str:
    """Capitals, accents and anything but letters removed: O'Neil-Smith -> ONEILSMITH."""
    return f"nullif(regexp_replace(upper(strip_accents(coalesce({expr}, ''))), '[^A-Z]', '', 'g'), '')"


def normalised_postcode_sql(expr: str) -> str:
    """A well-formed postcode as 'DY1 4QT'; anything else null."""
    compact = f"regexp_replace(upper(coalesce({expr}, '')), '[^A-Z0-9]', '', 'g')"
    pattern = "'^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$'"
    return f"case when regexp_full_match({compact}, {pattern}) then regexp_replace({compact}, {pattern}, '\\1 \\2') end"


def raw_tables_present(con: duckdb.DuckDBPyConnection, schema_prefix: str = "") -> set[str]:
    """The raw tables that exist (a dataset never delivered has none), as 'raw.<table>'."""
    catalog = f"{schema_prefix.rstrip('.')}" if schema_prefix else None
    where = f"database_name = '{catalog}' and " if catalog else ""
    return {
        f"raw.{t}"
        for (t,) in con.execute(
            f"select table_name from duckdb_tables() where {where}schema_name = 'raw'"
        ).fetchall()
    }


def _source_selects(contracts: dict[str, Contract], present: set[str] | None = None) -> list[str]:
    selects = []
    for contract in contracts.values():
        for table in contract.tables:
            person = table.person
            if person is None or not person.describes_person:
                continue
            if present is not None and contract.raw_table(table) not in present:
                continue
            f = person.fields

            def col(field: str, f: dict[str, str] = f) -> str:
                return f'"{f[field]}"::varchar' if field in f else "null::varchar"

            nhs = f"regexp_replace(coalesce({col('nhs_number')}, ''), '[^0-9]', '', 'g')"
            upn = f"upper(trim(coalesce({col('upn')}, '')))"
            former = f"upper(trim(coalesce({col('former_upn')}, '')))"
            exclusive = person.exclusive_group_sql()
            dob = f'"{f["dob"]}"' if "dob" in f else "null::date"
            selects.append(
                f"""select '{person.namespace}' as namespace, {person.id_sql()} as record_id,
                        '{contract.dataset}' as dataset, _delivery_id as delivery_id,
                        {exclusive}::varchar as exclusive_group,
                        nullif({nhs}, '') as nhs_text, nullif({upn}, '') as upn_text,
                        nullif({former}, '') as former_upn_text,
                        {normalised_name_sql(col("forename"))} as forename,
                        {normalised_name_sql(col("surname"))} as surname,
                        try_cast({dob} as date) as dob,
                        {_SEX.format(v=f"upper(trim({col('sex')}))")} as sex,
                        {normalised_postcode_sql(col("postcode"))} as postcode
                    from {contract.raw_table(table)}"""
            )
    return selects


def build_person_records(con: duckdb.DuckDBPyConnection, contracts: dict[str, Contract]) -> int:
    """Rebuild identity.person_records and identity.quarantined_identifiers; returns the record count."""
    install_sql_macros(con)
    install_hmac(con)
    con.execute(IDENTITY_SCHEMA_DDL)
    selects = _source_selects(contracts, raw_tables_present(con))
    if not selects:
        raise ValueError("no raw table describes a person yet: ingest some files first")
    # one row per distinct description (an SSD extract lists every child in every delivery)
    con.execute(
        "create or replace temp table _described as select distinct on (namespace, record_id, dataset,"
        " exclusive_group, nhs_text, upn_text, former_upn_text, forename, surname, dob, sex, postcode) *"
        " from (" + " union all ".join(selects) + ") order by all"
    )
    con.execute(
        """create or replace table identity.quarantined_identifiers as
            select namespace, record_id, dataset, delivery_id, 'nhs_number' as identifier,
                   'NHS number fails its modulus 11 check' as rule
            from _described where nhs_text is not null and not wc_is_valid_nhs_number(nhs_text)
            union all
            select namespace, record_id, dataset, delivery_id, 'upn', 'UPN fails its check letter'
            from _described where upn_text is not null and not wc_is_valid_upn(upn_text)
                and not regexp_full_match(upn_text, 'UN[1-7]')  -- the DfE's codes for a UPN not known
            union all
            select namespace, record_id, dataset, delivery_id, 'former_upn', 'former UPN fails its check letter'
            from _described where former_upn_text is not null and not wc_is_valid_upn(former_upn_text)"""
    )
    valid_nhs = "case when wc_is_valid_nhs_number(nhs_text) then nhs_text end"
    valid_upn = "case when wc_is_valid_upn(upn_text) then upn_text end"
    valid_former = "case when wc_is_valid_upn(former_upn_text) then former_upn_text end"
    con.execute(
        f"""create or replace table identity.person_records as
            select row_number() over (order by namespace, record_id, dataset, delivery_id) as rid,
                   namespace, record_id, dataset, delivery_id, exclusive_group,
                   {hmac_sql(valid_nhs, "nhs")} as nhs_token,
                   {hmac_sql(valid_upn, "upn")} as upn_token,
                   {hmac_sql(valid_former, "upn")} as former_upn_token,
                   forename, surname, dob, sex, postcode
            from _described"""
    )
    con.execute("drop table _described")
    return con.execute("select count(*) from identity.person_records").fetchall()[0][0]
