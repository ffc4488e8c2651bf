"""Grouping linked records into persons, set-based in DuckDB.

``connected_components`` labels each node with the smallest node it is connected to (minimum-label
propagation with pointer jumping: a handful of rounds, each a join over the edges).

``constrained_clusters`` groups nodes joined by scored edges, under two constraints: no person holds two
records of one delivery that never lists a child twice (a census, a results file), and no person holds a
pair of records a reviewer said are different children. Groups are first formed at the link threshold;
any group breaking a constraint is formed again from its stronger edges only, and so on up a ladder of
thresholds, so a weak chain never merges two children but strong evidence still does.
"""

from __future__ import annotations

import duckdb

MAX_ROUNDS = 64
THRESHOLD_LADDER = (0.99, 0.999, 0.9999, 0.99999, 0.999999)


def connected_components(con: duckdb.DuckDBPyConnection, nodes: str, edges: str, out: str) -> int:
    """``out`` (node, component) for every node of ``nodes`` (a query with column ``node``), joined by the
    undirected ``edges`` (a query with columns a, b). Returns the rounds taken."""
    con.execute(
        f"""create or replace temp table _cc_edges as
            select a, b from ({edges}) where a <> b union select b, a from ({edges}) where a <> b"""
    )
    con.execute(f"create or replace temp table _cc as select distinct node, node as label from ({nodes})")
    rounds = 0
    while rounds < MAX_ROUNDS:
        rounds += 1
        con.execute(
            """create or replace temp table _cc_step as
               select c.node, least(c.label, coalesce(min(n.label), c.label)) as label
               from _cc c left join _cc_edges e on e.a = c.node left join _cc n on n.node = e.b
               group by c.node, c.label"""
        )
        # pointer jumping: take the label of one's label, halving the distance to the smallest node
        con.execute(
            """create or replace temp table _cc_step as
               select s.node, least(s.label, t.label) as label
               from _cc_step s join _cc_step t on t.node = s.label"""
        )
        changed = con.execute(
            "select count(*) from _cc_step s join _cc c using (node) where s.label <> c.label"
        ).fetchall()[0][0]
        con.execute("create or replace temp table _cc as select * from _cc_step")
        if not changed:
            break
    con.execute(f"create or replace temp table {out} as select node, label as component from _cc")
    for name in ("_cc", "_cc_step", "_cc_edges"):
        con.execute(f"drop table if exists {name}")
    return rounds


def constrained_clusters(
    con: duckdb.DuckDBPyConnection,
    nodes: str,
    edges: str,
    exclusive: str,
    cannot_link: str,
    link_threshold: float,
    out: str,
) -> dict[str, int]:
    """``out`` (node, component) for every node.

    ``nodes``: a query with column node; ``edges``: (a, b, p), a scored edge between two nodes;
    ``exclusive``: (node, grp), the groups (deliveries) a node holds records of, of which a person may
    hold each at most once; ``cannot_link``: (a, b), pairs of nodes never to be one person.
    """
    con.execute(f"create or replace temp table _cl_nodes as select distinct node from ({nodes})")
    con.execute(
        f"create or replace temp table _cl_edges as select a, b, max(p) as p from ({edges}) group by a, b"
    )
    con.execute(f"create or replace temp table _cl_excl as select distinct node, grp from ({exclusive})")
    con.execute(
        f"""create or replace temp table _cl_cannot as
            select a, b from ({cannot_link}) union select b, a from ({cannot_link})"""
    )
    con.execute(f"create or replace temp table {out} (node bigint, component bigint)")
    con.execute("create or replace temp table _cl_pending as select node from _cl_nodes")
    stats = {"levels": 0, "held_apart": 0}
    for threshold in (link_threshold, *(t for t in THRESHOLD_LADDER if t > link_threshold)):
        stats["levels"] += 1
        connected_components(
            con,
            "select node from _cl_pending",
            f"""select a, b from _cl_edges where p >= {threshold}
                and a in (select node from _cl_pending) and b in (select node from _cl_pending)""",
            "_cl_comp",
        )
        con.execute(
            """create or replace temp table _cl_bad as
               select distinct c.component from _cl_comp c join _cl_excl x using (node)
               group by c.component, x.grp having count(distinct c.node) > 1
               union
               select c1.component from _cl_cannot k
               join _cl_comp c1 on c1.node = k.a join _cl_comp c2 on c2.node = k.b
               where c1.component = c2.component"""
        )
        con.execute(
            f"""insert into {out} select node, component from _cl_comp
                where component not in (select component from _cl_bad)"""
        )
        con.execute(
            """create or replace temp table _cl_pending as
               select node from _cl_comp where component in (select component from _cl_bad)"""
        )
        if not con.execute("select count(*) from _cl_pending").fetchall()[0][0]:
            break
    # still breaking a constraint on the strongest evidence: every node stands alone
    stats["held_apart"] = con.execute("select count(*) from _cl_pending").fetchall()[0][0]
    con.execute(f"insert into {out} select node, node from _cl_pending")
    for name in ("_cl_nodes", "_cl_edges", "_cl_excl", "_cl_cannot", "_cl_pending", "_cl_comp", "_cl_bad"):
        con.execute(f"drop table if exists {name}")
    return stats
