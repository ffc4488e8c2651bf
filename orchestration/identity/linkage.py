"""One person per real child, issued as a random person_key and kept in the vault.

Records come from every dataset whose contract describes a person. Identifiers are normalised and
validated first (a UPN or NHS number failing its check takes no part in linking; the record still links on
its other fields). Records are then joined into persons by deterministic rules and the connected
components are taken as persons.

This first version links on exact keys only (valid NHS number, valid UPN, or the same normalised name and
date of birth). It is replaced by probabilistic linkage with Splink (see docs/adr).

Keys are stable: a component keeps the key most of its records already had, so new deliveries, added
records and full rebuilds do not re-key a child. Merges and splits are written to identity.key_events.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from orchestration.identifiers import install_sql_macros
from orchestration.ingest.contracts import Contract

IDENTITY_DDL = """
create schema if not exists identity;
create table if not exists identity.record_keys (
    namespace varchar not null,
    record_id varchar not null,
    person_key varchar not null,
    first_linked_at timestamp not null,
    primary key (namespace, record_id)
);
create table if not exists identity.key_events (
    happened_at timestamp not null,
    event varchar not null,          -- merge or split
    person_key varchar not null,     -- the key that carries on
    other_key varchar not null,      -- merged into person_key, or split off from it
    records bigint not null
);
"""

MAX_PROPAGATION_ROUNDS = 50


@dataclass(frozen=True)
class LinkageSummary:
    records: int
    persons: int
    new_keys: int
    merges: int
    splits: int
    rounds: int


def _normalised_name(expr: str) -> str:
    return f"nullif(regexp_replace(upper(strip_accents(coalesce({expr}, ''))), '[^A-Z]', '', 'g'), '')"


def build_person_records(con: duckdb.DuckDBPyConnection, contracts: dict[str, Contract]) -> int:
    """identity.person_records: one row per person-describing source record, identifiers validated."""
    install_sql_macros(con)
    selects = []
    for contract in contracts.values():
        for table in contract.tables:
            person = table.person
            if person is None or not person.describes_person:
                continue
            f = person.fields

            def col(field: str, f: dict[str, str] = f) -> str:
                return f'"{f[field]}"' if field in f else "null"

            nhs = f"regexp_replace(coalesce({col('nhs_number')}::varchar, ''), '[^0-9]', '', 'g')"
            upn = f"upper(trim(coalesce({col('upn')}::varchar, '')))"
            selects.append(
                f"""select '{person.namespace}' as namespace, {person.id_sql()} as record_id,
                           '{contract.dataset}' as dataset,
                           case when wc_is_valid_nhs_number({nhs}) then {nhs} end as nhs_number,
                           case when wc_is_valid_upn({upn}) then {upn} end as upn,
                           {_normalised_name(col("forename"))} as forename,
                           {_normalised_name(col("surname"))} as surname,
                           {col("dob")}::date as dob,
                           upper({col("sex")}::varchar) as sex
                    from {contract.raw_table(table)}"""
            )
    con.execute(IDENTITY_DDL)
    con.execute(
        "create or replace table identity.person_records as select distinct on (namespace, record_id) * from ("
        + " union all ".join(selects)
        + ") order by namespace, record_id"
    )
    return con.execute("select count(*) from identity.person_records").fetchall()[0][0]


def link(con: duckdb.DuckDBPyConnection, contracts: dict[str, Contract]) -> LinkageSummary:
    records = build_person_records(con, contracts)
    con.execute(
        """create or replace temp table _nodes as
           select row_number() over (order by namespace, record_id) as node, * from identity.person_records"""
    )
    # each record points at the smallest record sharing any exact key with it; a star per key, not all pairs
    con.execute(
        """create or replace temp table _edges as
           select node, min(node) over (partition by nhs_number) as other from _nodes where nhs_number is not null
           union all
           select node, min(node) over (partition by upn) from _nodes where upn is not null
           union all
           select node, min(node) over (partition by surname, forename, dob) from _nodes
           where surname is not null and forename is not null and dob is not null"""
    )
    con.execute("""create or replace temp table _undirected as
                   select node as a, other as b from _edges where node <> other
                   union select other, node from _edges where node <> other""")
    con.execute("create or replace temp table _label as select node, node as label from _nodes")
    rounds = 0
    while rounds < MAX_PROPAGATION_ROUNDS:
        rounds += 1
        con.execute(
            """create or replace temp table _next as
               select l.node, least(l.label, coalesce(min(n.label), l.label)) as label
               from _label l left join _undirected u on u.a = l.node left join _label n on n.node = u.b
               group by l.node, l.label"""
        )
        changed = con.execute(
            "select count(*) from _next join _label using (node) where _next.label <> _label.label"
        ).fetchall()[0][0]
        con.execute("create or replace temp table _label as select * from _next")
        if changed == 0:
            break
    return _assign_keys(con, records, rounds)


def _assign_keys(con: duckdb.DuckDBPyConnection, records: int, rounds: int) -> LinkageSummary:
    con.execute(
        """create or replace temp table _members as
           select n.namespace, n.record_id, l.label as component, k.person_key as old_key
           from _nodes n join _label l using (node)
           left join identity.record_keys k using (namespace, record_id)"""
    )
    # the key most of a component's records already carry (ties: the smaller key); a key claimed by
    # several components stays with the one holding most of its records
    con.execute(
        """create or replace temp table _claims as
           select component, old_key, count(*) as holders from _members where old_key is not null
           group by component, old_key"""
    )
    con.execute(
        """create or replace temp table _winner as
           select component, old_key as person_key from (
               select *, row_number() over (partition by old_key order by holders desc, component) as by_key
               from _claims) where by_key = 1
           qualify row_number() over (partition by component order by holders desc, old_key) = 1"""
    )
    con.execute(
        """create or replace temp table _component_key as
           select c.component, coalesce(w.person_key,
                  'pk_' || substr(replace(gen_random_uuid()::varchar, '-', ''), 1, 16)) as person_key,
                  w.person_key is null as is_new
           from (select distinct component from _members) c left join _winner w using (component)"""
    )
    merges = con.execute(
        """select count(*) from _claims c join _component_key k using (component)
           where c.old_key <> k.person_key and not exists (
               select 1 from _component_key k2 where k2.person_key = c.old_key)"""
    ).fetchall()[0][0]
    splits = con.execute(
        """select count(*) from _claims c join _component_key k using (component)
           where c.old_key <> k.person_key and exists (
               select 1 from _component_key k2 where k2.person_key = c.old_key)"""
    ).fetchall()[0][0]
    con.execute("begin transaction")
    con.execute(
        """insert into identity.key_events
           select now(), case when exists (select 1 from _component_key k2 where k2.person_key = c.old_key)
                              then 'split' else 'merge' end,
                  k.person_key, c.old_key, c.holders
           from _claims c join _component_key k using (component) where c.old_key <> k.person_key"""
    )
    con.execute(
        """insert or replace into identity.record_keys
           select m.namespace, m.record_id, k.person_key,
                  coalesce(old.first_linked_at, now()) as first_linked_at
           from _members m join _component_key k using (component)
           left join identity.record_keys old using (namespace, record_id)"""
    )
    con.execute("commit")
    persons, new_keys = con.execute(
        "select count(*), count(*) filter (where is_new) from _component_key"
    ).fetchall()[0]
    return LinkageSummary(records, persons, new_keys, merges, splits, rounds)
