"""One person per real child, issued as a random person_key and kept in the vault.

1. ``records.py`` gathers every record that describes a child, normalised; strong identifiers validated
   and pseudonymised.
2. Deterministic groups: records sharing an LA person id, a valid NHS number, a valid UPN (or a former
   UPN equal to another record's UPN), or joined by a reviewer's must-link, are one group.
3. Splink (``model.py``) scores pairs of descriptions from different groups; the best score between two
   groups is their edge.
4. ``cluster.py`` joins groups whose edge reaches the link threshold with the same date of birth, never
   putting two records of one census (or other one-row-per-child delivery) in one person, nor two groups
   with different NHS numbers or UPNs, nor a pair a reviewer said differ.
5. Keys: each person keeps the key most of its records already had, so new deliveries, added records
   and full rebuilds do not re-key a child; merges and splits are written to ``identity.key_events``.
   Uncertain pairs go to the clerical review file (``review.py``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.identity import model as linkage_model
from orchestration.identity.cluster import connected_components, constrained_clusters
from orchestration.identity.integrity import contested_identifiers_sql
from orchestration.identity.records import build_person_records
from orchestration.identity.review import read_decisions, write_review_file
from orchestration.ingest.contracts import Contract
from orchestration.pause_points import pause_point

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LinkageSummary:
    records: int
    persons: int
    new_keys: int
    merges: int
    splits: int
    deterministic_groups: int
    contested_identifiers: int
    profiles: int
    scored_pairs: int
    linked_pairs: int
    held_apart: int
    to_review: int
    new_decisions: int


def _contested_identifiers(con: duckdb.DuckDBPyConnection) -> int:
    """_contested (kind, token): identifiers that name two children (``contested_identifiers_sql``)."""
    con.execute(
        f"create or replace temp table _contested as {contested_identifiers_sql('identity.person_records')}"
    )
    return con.execute("select count(*) from _contested").fetchall()[0][0]


def _deterministic_groups(con: duckdb.DuckDBPyConnection) -> int:
    """_dc (rid, dc): records joined by a strong identifier or a must-link decision. A contested identifier
    (``_contested`` from ``_contested_identifiers``) joins only records that also agree on date of birth and
    sex."""
    con.execute(
        """create or replace temp table _strong as
           select r.rid, r.namespace || chr(31) || r.record_id as la_id, r.dob, r.sex,
                  r.nhs_token, n.token is not null as nhs_contested,
                  r.upn_token, u.token is not null as upn_contested,
                  r.former_upn_token, f.token is not null as former_contested
           from identity.person_records r
           left join _contested n on n.kind = 'nhs' and n.token = r.nhs_token
           left join _contested u on u.kind = 'upn' and u.token = r.upn_token
           left join _contested f on f.kind = 'upn' and f.token = r.former_upn_token"""
    )
    # a contested value is qualified by date of birth and sex; a record missing either is not joined by it
    agreeing = "case when {c} then dob::varchar || sex end"
    keys = [
        ("la_id", "false"),
        ("nhs_token", "nhs_contested"),
        ("upn_token", "upn_contested"),
    ]
    # a star per key (each record to the smallest record sharing it), not every pair
    edges = " union all ".join(
        f"""select rid as a, min(rid) over (partition by {k}, {agreeing.format(c=c)}) as b from _strong
            where {k} is not null and not ({c} and (dob is null or sex is null))"""
        for k, c in keys
    )
    edges += f""" union all
        select f.rid, u.rid from _strong f
        join (select upn_token, {agreeing.format(c="upn_contested")} as agreeing, min(rid) as rid from _strong
              where upn_token is not null group by all) u
          on u.upn_token = f.former_upn_token
         and (not f.former_contested or u.agreeing = f.dob::varchar || f.sex)
        where f.former_upn_token is not null
        union all
        select ra.rid, rb.rid from identity.clerical_decisions d
        join identity.person_records ra on ra.namespace = d.a_namespace and ra.record_id = d.a_record_id
        join identity.person_records rb on rb.namespace = d.b_namespace and rb.record_id = d.b_record_id
        where d.decision = 'must-link'"""
    connected_components(con, "select rid as node from identity.person_records", edges, "_dc_raw")
    con.execute("create or replace temp table _dc as select node as rid, component as dc from _dc_raw")
    con.execute("drop table _dc_raw")
    con.execute("drop table _strong")
    return con.execute("select count(distinct dc) from _dc").fetchall()[0][0]


# (node, grp) over the groups in _dc: a person holds at most one row of a delivery that lists each child
# once, one NHS number and one UPN (with the UPNs it replaced, which the former-UPN link puts in its group).
# Groups holding an uncontested NHS number each hold a different one (sharing one made them one group), so
# two of them are two children however alike they look, and a record naming neither cannot bridge them;
# the same for UPNs, a pupil's for life.
EXCLUSIVE_SQL = """
    select d.dc as node, r.exclusive_group as grp from identity.person_records r join _dc d using (rid)
    where r.exclusive_group is not null
    union all
    select d.dc, 'one NHS number' from identity.person_records r join _dc d using (rid)
    where r.nhs_token is not null and r.nhs_token not in (select token from _contested where kind = 'nhs')
    union all
    select d.dc, 'one UPN' from identity.person_records r join _dc d using (rid)
    where (r.upn_token is not null and r.upn_token not in (select token from _contested where kind = 'upn'))
       or (r.former_upn_token is not null
           and r.former_upn_token not in (select token from _contested where kind = 'upn'))"""


def _profiles(con: duckdb.DuckDBPyConnection):
    """Distinct descriptions within each group, as a frame for Splink. A contested identifier is no evidence
    either way, so Splink sees it as missing."""
    con.execute(
        """create or replace temp table _described as
           select r.rid, d.dc, r.forename, r.surname, r.dob, r.sex, r.postcode,
                  case when n.token is null then r.nhs_token end as nhs_token,
                  case when u.token is null then r.upn_token end as upn_token
           from identity.person_records r join _dc d using (rid)
           left join _contested n on n.kind = 'nhs' and n.token = r.nhs_token
           left join _contested u on u.kind = 'upn' and u.token = r.upn_token"""
    )
    con.execute(
        """create or replace temp table _profile_of as
           select rid, dc, dense_rank() over (
                      order by dc, forename, surname, dob, sex, postcode, nhs_token, upn_token) as profile_id
           from _described"""
    )
    profiles = con.execute(
        """select distinct p.profile_id, p.dc, r.forename, r.surname,
                  nullif(concat_ws(' ', r.forename, r.surname), '') as full_name,
                  r.dob, r.sex, r.postcode, r.nhs_token, r.upn_token
           from _profile_of p join _described r using (rid)
           order by p.profile_id"""
    ).df()
    con.execute("drop table _described")
    return profiles


def link(
    con: duckdb.DuckDBPyConnection, contracts: dict[str, Contract], review_folder: Path | None = None
) -> LinkageSummary:
    records = build_person_records(con, contracts)
    new_decisions = read_decisions(con, review_folder) if review_folder else 0
    contested = _contested_identifiers(con)
    groups = _deterministic_groups(con)

    profiles = _profiles(con)
    try:
        model = linkage_model.load_model()
    except FileNotFoundError as exc:  # a fresh checkout before training: strong identifiers only
        log.warning("%s: linking on strong identifiers only", exc)
        model = None
    link_threshold = model["wholechild"]["link_threshold"] if model else 1.0
    review_threshold = model["wholechild"]["review_threshold"] if model else 1.0
    if model is not None and len(profiles) > 1:
        pairs = linkage_model.predict(profiles, model, threshold=review_threshold)
    else:
        pairs = profiles.iloc[0:0][["profile_id"]].rename(columns={"profile_id": "profile_id_l"})
        pairs = pairs.assign(profile_id_r=0, dc_l=0, dc_r=0, match_probability=0.0, dob_agrees=False)
    con.register("_pairs_in", pairs)
    con.execute("create or replace temp table _pairs as select * from _pairs_in")
    con.unregister("_pairs_in")

    # between two groups, their best pair; a reviewer's cannot-link holds two groups apart. Two groups share
    # no identifier (else they would be one), so the likeness is all there is: it links only where the dates
    # of birth agree exactly. A near miss (a day and month swapped, a digit out) is as likely a look-alike
    # as a keying slip, and goes to a person instead (the clerical review file).
    con.execute(
        f"""create or replace temp table _group_edges as
            select least(dc_l, dc_r) as a, greatest(dc_l, dc_r) as b,
                   max(case when dob_agrees then match_probability
                            else least(match_probability, {link_threshold} / 2 + {review_threshold} / 2) end) as p
            from _pairs group by all"""
    )
    con.execute(
        """create or replace temp table _cannot as
           select distinct least(da.dc, db.dc) as a, greatest(da.dc, db.dc) as b
           from identity.clerical_decisions d
           join identity.person_records ra on ra.namespace = d.a_namespace and ra.record_id = d.a_record_id
           join identity.person_records rb on rb.namespace = d.b_namespace and rb.record_id = d.b_record_id
           join _dc da on da.rid = ra.rid join _dc db on db.rid = rb.rid
           where d.decision = 'cannot-link' and da.dc <> db.dc"""
    )
    stats = constrained_clusters(
        con,
        nodes="select distinct dc as node from _dc",
        edges="select a, b, p from _group_edges where (a, b) not in (select a, b from _cannot)",
        exclusive=EXCLUSIVE_SQL,
        cannot_link="select a, b from _cannot",
        link_threshold=link_threshold,
        out="_person_of_group",
    )
    linked = con.execute(f"select count(*) from _group_edges where p >= {link_threshold}").fetchall()[0][0]
    to_review = 0
    if review_folder is not None:
        to_review = write_review_file(con, review_folder, _review_candidates())
    con.execute(
        """create or replace temp table _members as
           select distinct r.namespace, r.record_id, c.component
           from identity.person_records r join _dc d using (rid) join _person_of_group c on c.node = d.dc"""
    )
    pause_point("link:scored")
    keys = _assign_keys(con)
    return LinkageSummary(
        records=records,
        persons=keys["persons"],
        new_keys=keys["new_keys"],
        merges=keys["merges"],
        splits=keys["splits"],
        deterministic_groups=groups,
        contested_identifiers=contested,
        profiles=len(profiles),
        scored_pairs=len(pairs),
        linked_pairs=linked,
        held_apart=stats["held_apart"],
        to_review=to_review,
        new_decisions=new_decisions,
    )


def _review_candidates() -> str:
    """For each pair of groups scored at least the review threshold that did not become one person (below
    the link threshold, or above it and held apart: two rows of one census, two NHS numbers), the best pair
    of records behind it, with what a reviewer needs to decide."""
    side = ", ".join(
        f"{p}.{c} as {p[-1]}_{c}"
        for p in ("ra", "rb")
        for c in ("namespace", "record_id", "dataset", "forename", "surname", "dob", "sex", "postcode")
    )
    return f"""
        select p.match_probability as probability, {side}
        from (select *, row_number() over (partition by least(dc_l, dc_r), greatest(dc_l, dc_r)
                                            order by match_probability desc, profile_id_l, profile_id_r) as n
              from _pairs) p
        join (select profile_id, min(rid) as rid from _profile_of group by profile_id) pa
          on pa.profile_id = p.profile_id_l
        join (select profile_id, min(rid) as rid from _profile_of group by profile_id) pb
          on pb.profile_id = p.profile_id_r
        join identity.person_records ra on ra.rid = pa.rid
        join identity.person_records rb on rb.rid = pb.rid
        join _person_of_group ga on ga.node = p.dc_l
        join _person_of_group gb on gb.node = p.dc_r
        where p.n = 1 and ga.component <> gb.component"""


def _assign_keys(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Give each person (component of _members) a key, keeping the keys records already carry."""
    con.execute(
        """create or replace temp table _keyed as
           select m.namespace, m.record_id, m.component, k.person_key as old_key
           from _members m left join identity.record_keys k using (namespace, record_id)"""
    )
    # the key most of a component's records already carry (ties: the smaller key); a key claimed by
    # several components stays with the one holding most of its records
    con.execute(
        """create or replace temp table _claims as
           select component, old_key, count(*) as holders from _keyed where old_key is not null
           group by component, old_key"""
    )
    # a tie for a key goes to the component for which it is the first choice, so a key is not won by a
    # component that then keeps another one (which would leave the key unused and its records re-keyed)
    con.execute(
        """create or replace temp table _winner as
           select component, old_key as person_key from (
               select *, row_number() over (partition by old_key order by holders desc, choice, component) as by_key
               from (select *, row_number() over (partition by component order by holders desc, old_key) as choice
                     from _claims)) where by_key = 1
           qualify row_number() over (partition by component order by holders desc, old_key) = 1"""
    )
    # a component with no current key of its own (split off from a merge) takes back the key its records
    # carried before, if no other component holds it now
    con.execute(
        """create or replace temp table _reclaimed as
           select component, person_key from (
               select k.component, h.person_key, count(*) as holders
               from _keyed k join identity.record_key_history h using (namespace, record_id)
               where k.component not in (select component from _winner)
                 and h.person_key not in (select person_key from _winner)
               group by all)
           qualify row_number() over (partition by person_key order by holders desc, component) = 1
               and row_number() over (partition by component order by holders desc, person_key) = 1"""
    )
    con.execute(
        """create or replace temp table _component_key as
           select c.component, coalesce(w.person_key, r.person_key,
                  'pk_' || substr(replace(gen_random_uuid()::varchar, '-', ''), 1, 16)) as person_key,
                  w.person_key is null and r.person_key is null as is_new
           from (select distinct component from _keyed) c left join _winner w using (component)
           left join _reclaimed r using (component)"""
    )
    moved = """from _claims c join _component_key k using (component) where c.old_key <> k.person_key"""
    carried_on = "exists (select 1 from _component_key k2 where k2.person_key = c.old_key)"
    merges, splits = con.execute(
        f"select count(*) filter (where not {carried_on}), count(*) filter (where {carried_on}) {moved}"
    ).fetchall()[0]
    con.execute("begin transaction")
    con.execute(
        f"""insert into identity.key_events
            select now(), case when {carried_on} then 'split' else 'merge' end, k.person_key, c.old_key,
                   c.holders
            {moved}"""
    )
    con.execute(
        """insert into identity.record_key_history
           select m.namespace, m.record_id, k.person_key, now()
           from _keyed m join _component_key k using (component)
           where m.old_key is distinct from k.person_key"""
    )
    con.execute(
        """insert or replace into identity.record_keys
           select m.namespace, m.record_id, k.person_key, coalesce(old.first_linked_at, now())
           from _keyed m join _component_key k using (component)
           left join identity.record_keys old using (namespace, record_id)"""
    )
    con.execute("commit")
    persons, new_keys = con.execute(
        "select count(*), count(*) filter (where is_new) from _component_key"
    ).fetchall()[0]
    return {"persons": persons, "new_keys": new_keys, "merges": merges, "splits": splits}
