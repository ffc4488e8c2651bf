"""Is every person one child? Two checks on the person index, run after every linkage.

- No person holds two records of one delivery that lists each child once (two rows of one school census,
  two results of one key stage file): those are two children by the delivery's own word.
- No person holds two records that disagree on both sex and date of birth (a day/month swap is the same
  date) unless both records carry the same NHS number, UPN or LA person id, and that identifier is not
  contested (carried by two records of one such delivery: ``contested_identifiers_sql``).

Either one is a merge of two children: their figures would add up in the marts, and a subject access
search for one would return the other's records. The asset check built on this blocks everything
downstream of the person index.
"""

from __future__ import annotations

import duckdb
import pandas as pd


def contested_identifiers_sql(records: str) -> str:
    """(kind, token): NHS numbers and UPNs that two records of ``records`` from one duplicate-free delivery
    carry (two rows of one census, say). A delivery lists each child once, so such a value names two
    children (a reissued temporary UPN, a keying error) and proves nothing about who a record is. A UPN
    counts whether carried as a current or a former UPN."""
    carried = " union all ".join(
        f"select '{kind}' as kind, {column} as token, exclusive_group, rid from {records}"
        f" where {column} is not null and exclusive_group is not null"
        for kind, column in (("nhs", "nhs_token"), ("upn", "upn_token"), ("upn", "former_upn_token"))
    )
    return f"""select distinct kind, token from ({carried})
               group by kind, token, exclusive_group having count(distinct rid) > 1"""


# a pair of records sharing a person, with what a person looking into it needs (vault side only)
_COLUMNS = "person_key, problem, a_namespace, a_record_id, a_dataset, b_namespace, b_record_id, b_dataset"


def persons_holding_two_children(con: duckdb.DuckDBPyConnection, limit: int = 1000) -> pd.DataFrame:
    """Pairs of records that put two children in one person (at most ``limit``), from
    identity.person_records and identity.record_keys."""
    con.execute(
        """create or replace temp table _held as
           select k.person_key, r.*
           from identity.person_records r join identity.record_keys k using (namespace, record_id)"""
    )
    con.execute(f"create or replace temp table _contested_now as {contested_identifiers_sql('_held')}")
    # only persons whose records name two sexes can hold a pair differing in both sex and date of birth
    con.execute(
        """create or replace temp table _mixed as
           select * from _held where person_key in (
               select person_key from _held where sex is not null group by person_key
               having count(distinct sex) > 1)"""
    )
    shared = """a.namespace = b.namespace and a.record_id = b.record_id
                or (a.nhs_token = b.nhs_token
                    and a.nhs_token not in (select token from _contested_now where kind = 'nhs'))
                or (coalesce(a.upn_token, '') in (b.upn_token, b.former_upn_token)
                    and a.upn_token not in (select token from _contested_now where kind = 'upn'))
                or (coalesce(b.upn_token, '') in (a.upn_token, a.former_upn_token)
                    and b.upn_token not in (select token from _contested_now where kind = 'upn'))"""
    pairs = con.execute(
        f"""select {_COLUMNS} from (
                select a.person_key, 'two records of one delivery that lists each child once' as problem,
                       a.namespace as a_namespace, a.record_id as a_record_id, a.dataset as a_dataset,
                       b.namespace as b_namespace, b.record_id as b_record_id, b.dataset as b_dataset
                from _held a join _held b
                  on a.person_key = b.person_key and a.exclusive_group = b.exclusive_group
                 and a.record_id < b.record_id
                union all
                select a.person_key, 'different sex and date of birth, no identifier in common',
                       a.namespace, a.record_id, a.dataset, b.namespace, b.record_id, b.dataset
                from _mixed a join _mixed b
                  on a.person_key = b.person_key and a.rid < b.rid
                 and a.sex <> b.sex and a.dob <> b.dob
                 and not (year(a.dob) = year(b.dob) and month(a.dob) = day(b.dob) and day(a.dob) = month(b.dob))
                 and not coalesce({shared}, false)
            )
            order by person_key, problem, a_record_id, b_record_id
            limit {int(limit)}"""
    ).df()
    for name in ("_held", "_contested_now", "_mixed"):
        con.execute(f"drop table if exists {name}")
    return pairs
