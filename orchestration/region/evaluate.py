"""How well the region joins the same child across its members, against the synthetic region's ground
truth, and whether anything a member holds privately reached the region.

Linkage: each member's child (its person, as its own linkage made it) is given the true regional child
most of its rows belong to (the member's ground truth), and the regional child the region's models gave
it (``int_region_children``). Over every pair of children of two different members: precision is the
share of the pairs the region joined that are one true child, recall the share of true pairs it joined.
Pairs inside one member are its own linkage's business (``wholechild linkage-report``).

Scan: every value of every column of every file the members sent is looked up among each member's
identifiers and source record ids (its vault and landing, as the analytics privacy scan gathers them),
its local person_keys and its local pseudonyms of NHS numbers and UPNs. One found is a leak.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.duckdb_files import connect
from orchestration.identity.evaluate import _rows_sql
from orchestration.identity.privacy_scan import hits_by_column, hold, identifier_values
from orchestration.identity.pseudonyms import PseudonymKey
from orchestration.identity.records import raw_tables_present
from orchestration.ingest.contracts import load_contracts
from orchestration.region.export import member_keys
from orchestration.region.synthetic import Member, member_home
from orchestration.settings import Paths


@dataclass(frozen=True)
class CrossLinkage:
    children: int  # members' children evaluated
    true_pairs: int  # pairs of children of two members that are one true child
    joined_pairs: int  # pairs the region joined
    correct_pairs: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.joined_pairs if self.joined_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def member_truth(root: Path, member: Member, key: PseudonymKey) -> pd.DataFrame:
    """authority, regional_key, true_child: each of the member's children with its true regional child."""
    home = member_home(root, member)
    paths = Paths(home)
    truth = home / "ground_truth"
    contracts = load_contracts()
    con = duckdb.connect()
    try:
        con.execute(f"attach '{paths.vault_db}' as vault (read_only)")
        rows = _rows_sql(contracts, raw_tables_present(con, "vault"))
        persons = con.execute(
            f"""with truth as (
                    select t.dataset, t.file, t.line::bigint as line, c.region_child
                    from read_csv('{truth / "records.csv"}', all_varchar = true) as t
                    inner join read_csv('{truth / "children.csv"}', all_varchar = true) as c using (child_id)
                ),
                ours as ({rows})
                select ours.person_key, mode(truth.region_child) as true_child
                from truth inner join ours using (dataset, file, line)
                where ours.person_key is not null
                group by ours.person_key"""
        ).df()
    finally:
        con.close()
    keys = member_keys(paths, key)[0][["person_key", "regional_key"]]
    out = persons.merge(keys, on="person_key")[["regional_key", "true_child"]]
    out.insert(0, "authority", member.la_number)
    return out


def cross_linkage(truths: pd.DataFrame, root: Path, engine: str = "duckdb") -> CrossLinkage:
    """``truths``: member_truth of every member; the region's answer is read from what its models built
    on ``engine``."""
    from orchestration.region.build import open_region

    with open_region(root, engine) as con:
        con.register("truths", truths)
        children, true_pairs, joined, correct = con.execute(
            """with units as (
                   select t.authority, t.true_child, r.region_child_key
                   from truths as t
                   inner join int_region_children as r using (authority, regional_key)
               ),
               -- pairs of units of two different members in one group: (n^2 - sum over members of n_m^2) / 2
               by_member as (
                   select true_child, region_child_key, authority, count(*) as n from units group by all
               )
               select
                   (select count(*) from units),
                   (select sum(pairs) from (
                       select (sum(n) * sum(n) - sum(n * n)) / 2 as pairs from (
                           select true_child, authority, sum(n) as n from by_member group by all
                       ) group by true_child)),
                   (select sum(pairs) from (
                       select (sum(n) * sum(n) - sum(n * n)) / 2 as pairs from (
                           select region_child_key, authority, sum(n) as n from by_member group by all
                       ) group by region_child_key)),
                   (select sum(pairs) from (
                       select (sum(n) * sum(n) - sum(n * n)) / 2 as pairs from by_member
                       group by true_child, region_child_key))"""
        ).fetchone()
    return CrossLinkage(int(children), int(true_pairs or 0), int(joined or 0), int(correct or 0))


@dataclass(frozen=True)
class RegionScan:
    values_held: int  # the members' private values looked for
    columns_scanned: int
    found: list[tuple[str, int]]  # "<mart>.<column>", distinct private values in it


def held_values(root: Path, members: tuple[Member, ...]) -> pd.DataFrame:
    """Every private value the members hold (column ``v``): each one's identifiers and source record ids
    (as the privacy scan gathers them), its local person keys, and its NHS number and UPN tokens."""
    held = []
    for member in members:
        paths = Paths(member_home(root, member))
        held.append(identifier_values(paths.vault_db, paths.landing).v)
        with connect(paths.vault_db, read_only=True) as con:
            held.append(
                con.execute(
                    """select distinct person_key as v from identity.record_keys
                       union select nhs_token from identity.person_records where nhs_token is not null
                       union select upn_token from identity.person_records where upn_token is not null"""
                )
                .df()
                .v
            )
    return pd.DataFrame({"v": pd.concat(held, ignore_index=True).astype(str).drop_duplicates()})


def scan_inbox(
    root: Path, members: tuple[Member, ...], inbox: Path, values: pd.DataFrame | None = None
) -> RegionScan:
    """Every column of every mart in ``inbox`` looked up among the members' private values (``values``, or
    else gathered here by held_values)."""
    if values is None:
        values = held_values(root, members)
    found, scanned = [], 0
    with duckdb.connect() as con:
        hold(con, values, "held")
        for mart in sorted(p.name for p in inbox.iterdir() if p.is_dir()):
            relation = (
                f"read_parquet('{inbox / mart}/**/*.parquet', hive_partitioning = true,"
                " hive_types_autocast = false, union_by_name = true)"
            )
            columns = [
                c
                for (c,) in con.execute(
                    f"select column_name from (describe select * from {relation})"
                ).fetchall()
            ]
            scanned += len(columns)
            hits = hits_by_column(con, relation, "held")
            found += [(f"{mart}.{c}", int(hits[c])) for c in columns if hits.get(c)]
    return RegionScan(len(values), scanned, found)
