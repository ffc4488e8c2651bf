"""How good the linkage is, measured against a synthetic authority's ground truth.

The pipeline never reads the ground truth; this does, for ``wholechild linkage-report`` and the tests.
Every person-describing row of every file is matched to its true child by file and line, and to the
person_key linkage gave it. Then, over every pair of rows:

- pairwise precision: of the pairs linkage put in one person, the share that are one child;
- pairwise recall: of the pairs that are one child, the share linkage put in one person;
- cluster precision and recall: the share of persons (of children) whose rows are exactly one child's
  (one person's) rows, nothing missing and nothing extra;
- persons joining children: persons holding rows of two or more children (should be none: such a merge
  adds two children's figures together and shows one child's records to the other's subject access).

Overall, for each pair of source datasets, and for each ethnic group of the children.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.identity.records import raw_tables_present
from orchestration.ingest.contracts import Contract


@dataclass(frozen=True)
class LinkageReport:
    overall: pd.DataFrame  # one row: pairwise and cluster precision, recall, F1, and counts
    by_source_pair: pd.DataFrame
    by_ethnicity: pd.DataFrame
    rows_evaluated: int
    rows_without_truth: int


def _f1(p: pd.Series, r: pd.Series) -> pd.Series:
    return (2 * p * r / (p + r)).where((p + r) > 0)


def _rows_sql(contracts: dict[str, Contract], present: set[str]) -> str:
    selects = []
    for contract in contracts.values():
        for table in contract.tables:
            person = table.person
            if person is None or not person.describes_person or contract.raw_table(table) not in present:
                continue
            selects.append(
                f"""select '{contract.dataset}' as dataset, d.landing_path as file, r._source_line as line,
                           k.person_key
                    from vault.{contract.raw_table(table)} r
                    join vault.ingest.deliveries d on d.delivery_id = r._delivery_id
                    left join vault.identity.record_keys k
                      on k.namespace = '{person.namespace}' and k.record_id = {person.id_sql("r")}"""
            )
    return " union all ".join(selects)


def evaluate(vault_db: Path, ground_truth: Path, contracts: dict[str, Contract]) -> LinkageReport:
    con = duckdb.connect()
    try:
        con.execute(f"attach '{vault_db}' as vault (read_only)")
        con.execute(
            f"""create temp table truth as
                select t.dataset, t.file, t.line::bigint as line, t.child_id, c.ethnicity
                from read_csv('{ground_truth / "records.csv"}', all_varchar = true) t
                join read_csv('{ground_truth / "children.csv"}', all_varchar = true) c using (child_id)"""
        )
        con.execute(f"create temp table ours as {_rows_sql(contracts, raw_tables_present(con, 'vault'))}")
        # a row the pipeline did not load (quarantined: it has a reason in ingest.quarantine) has no
        # person to judge; it is counted apart
        con.execute(
            """create temp table rows as
               select t.dataset, t.child_id, t.ethnicity, o.person_key
               from truth t join ours o using (dataset, file, line) where o.person_key is not null"""
        )
        evaluated = con.execute("select count(*) from rows").fetchall()[0][0]
        without = con.execute("select count(*) from truth").fetchall()[0][0] - evaluated
        overall = _pairwise(con, "true", None).join(_clusters(con, "true", None))
        by_pair = _by_source_pair(con)
        groups = [g for (g,) in con.execute("select distinct ethnicity from rows order by 1").fetchall()]
        by_ethnicity = pd.concat(
            [
                _pairwise(con, f"ethnicity = '{g}'", g).join(_clusters(con, f"ethnicity = '{g}'", g))
                for g in groups
            ]
        )
        by_ethnicity.index.name = "ethnicity"
        return LinkageReport(overall, by_pair, by_ethnicity, evaluated, without)
    finally:
        con.close()


def _pairwise(con: duckdb.DuckDBPyConnection, where: str, label: str | None) -> pd.DataFrame:
    tp, predicted, true, children = con.execute(
        f"""with r as (select * from rows where {where})
            select (select sum(n * (n - 1) / 2) from (select count(*) n from r group by person_key, child_id)),
                   (select sum(n * (n - 1) / 2) from (select count(*) n from r group by person_key)),
                   (select sum(n * (n - 1) / 2) from (select count(*) n from r group by child_id)),
                   (select count(distinct child_id) from r)"""
    ).fetchall()[0]
    frame = pd.DataFrame(
        {
            "children": [children],
            "true_pairs": [int(true or 0)],
            "linked_pairs": [int(predicted or 0)],
            "correct_pairs": [int(tp or 0)],
        },
        index=[label or "overall"],
    )
    frame["pair_precision"] = frame.correct_pairs / frame.linked_pairs.where(frame.linked_pairs > 0)
    frame["pair_recall"] = frame.correct_pairs / frame.true_pairs.where(frame.true_pairs > 0)
    frame["pair_f1"] = _f1(frame.pair_precision, frame.pair_recall)
    return frame


def _clusters(con: duckdb.DuckDBPyConnection, where: str, label: str | None) -> pd.DataFrame:
    # temporary tables, not CTEs: as CTEs DuckDB plans the join on the counts first, and takes minutes
    con.execute(f"create or replace temp table _r as select person_key, child_id from rows where {where}")
    con.execute(
        "create or replace temp table _cell as select person_key, child_id, count(*) as n from _r group by all"
    )
    con.execute("create or replace temp table _p as select person_key, count(*) as pn from _r group by all")
    con.execute("create or replace temp table _c as select child_id, count(*) as cn from _r group by all")
    exact, persons, children, joining = con.execute(
        """select (select count(*) from _cell join _p on _p.person_key = _cell.person_key
                   join _c on _c.child_id = _cell.child_id where _cell.n = _p.pn and _cell.n = _c.cn),
                  (select count(*) from _p), (select count(*) from _c),
                  (select count(*) from (select person_key from _cell group by all having count(*) > 1))"""
    ).fetchall()[0]
    precision = exact / persons if persons else None
    recall = exact / children if children else None
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else None
    return pd.DataFrame(
        {
            "cluster_precision": [precision],
            "cluster_recall": [recall],
            "cluster_f1": [f1],
            "persons_joining_children": [joining],
        },
        index=[label or "overall"],
    )


def _by_source_pair(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Pairs of rows from datasets a and b (a <= b): within one dataset, and across two. Each count is an
    equi-join of per-group row counts, never a join of rows."""

    def pairs(group: str, name: str) -> str:
        return f"""(select x.dataset as a, y.dataset as b,
                           sum(case when x.dataset = y.dataset then x.n * (x.n - 1) / 2 else x.n * y.n end)::bigint
                           as {name}
                    from (select {group}, dataset, count(*) n from rows group by all) x
                    join (select {group}, dataset, count(*) n from rows group by all) y
                      using ({group})
                    where x.dataset <= y.dataset group by all)"""

    frame = con.execute(
        f"""select a, b, coalesce(t.true_pairs, 0) as true_pairs, coalesce(l.linked_pairs, 0) as linked_pairs,
                   coalesce(c.correct_pairs, 0) as correct_pairs
            from {pairs("child_id", "true_pairs")} t
            full join {pairs("person_key", "linked_pairs")} l using (a, b)
            left join {pairs("person_key, child_id", "correct_pairs")} c using (a, b)
            order by a, b"""
    ).df()
    frame = frame.set_index(["a", "b"])
    frame["pair_precision"] = frame.correct_pairs / frame.linked_pairs.where(frame.linked_pairs > 0)
    frame["pair_recall"] = frame.correct_pairs / frame.true_pairs.where(frame.true_pairs > 0)
    frame["pair_f1"] = _f1(frame.pair_precision, frame.pair_recall)
    return frame


def format_report(report: LinkageReport) -> str:
    pd.set_option("display.width", 160)
    fmt = {
        c: "{:.4f}".format for c in report.overall.columns if "precision" in c or "recall" in c or "f1" in c
    }
    show = lambda f: f.to_string(formatters={k: v for k, v in fmt.items() if k in f.columns})  # noqa: E731
    return "\n\n".join(
        [
            f"Rows evaluated: {report.rows_evaluated:,} (another {report.rows_without_truth:,} rows of the ground "
            "truth were quarantined at ingest or are not matched to a loaded row, and are not judged)",
            "Overall\n" + show(report.overall),
            "By pair of source datasets (within one dataset, and across two)\n" + show(report.by_source_pair),
            "By ethnic group of the child\n" + show(report.by_ethnicity),
        ]
    )
