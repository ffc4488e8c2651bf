"""The privacy scan: is any identifier or source record id anywhere in the analytics file?

Every value of every column the contracts class as ``direct``, ``person_id`` or ``record_id`` is gathered
from the vault's raw tables and from the landing files as delivered (every CSV column whose heading is
such a column of some contract). Then every distinct value of every column of every table and view in the
analytics file is looked up among them. One found means an analyst holding a partner's own extract could
join back to names, UPNs and dates of birth.

Values shorter than six characters are left out: they are counts and codes as often as ids (a CIN
census's CINdetailsID 1, 2, ...), and the scan would find every small number. So are the names of local
authorities (orchestration/data/local_authorities.csv): public names, found in any list of providers or
placements by authority, that are sometimes also a surname (Dudley). Run by
``wholechild privacy-scan`` and by the tests; it reads both files, so it is not one of a run's gates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.duckdb_files import connect
from orchestration.ingest.contracts import load_contract_versions, normalise_header
from orchestration.ingest.sources import HEAD_BYTES
from orchestration.ingest.textfile import header_fields
from orchestration.settings import LOCAL_AUTHORITIES

SECRET = ("direct", "person_id", "record_id")
MIN_LENGTH = 6
WHITESPACE = "' \t\n\r\x0b\x0c'"  # what str.strip() takes off an ASCII value


def public_names() -> set[str]:
    """The names of Great Britain's local authorities, upper and lower tier, in lower case."""
    frame = pd.read_csv(LOCAL_AUTHORITIES, dtype=str)
    return {n.strip().lower() for n in pd.concat([frame.ltla_name, frame.utla_name]).dropna()}


@dataclass(frozen=True)
class ScanResult:
    identifier_values: int
    columns_scanned: int
    found: list[tuple[str, int]]  # "schema.table.column", distinct identifier values in it


def identifier_values(vault_db: Path, landing: Path) -> pd.DataFrame:
    """Every identifier and source record id the authority holds, as text (column ``v``)."""
    selects, spellings = [], set()
    with connect(vault_db, read_only=True) as con:
        present = {
            f"{s}.{t}"
            for s, t in con.execute("select schema_name, table_name from duckdb_tables()").fetchall()
        }
        for versions in load_contract_versions().values():
            contract = versions.latest
            for table in contract.tables:
                for column in table.columns:
                    if column.privacy not in SECRET:
                        continue
                    spellings |= column.spellings
                    name = contract.raw_table(table)
                    if name in present:
                        selects.append(f'select trim("{column.name}"::varchar) as v from {name}')
        held = (
            con.execute(
                f"select distinct v from ({' union all '.join(selects)}) where length(v) >= {MIN_LENGTH}"
            ).df()
            if selects
            else pd.DataFrame({"v": []})
        )
    delivered = _delivered(landing, spellings)
    values = pd.concat([held.v.astype(str), *delivered], ignore_index=True).drop_duplicates()
    kept = (values.str.len() >= MIN_LENGTH) & ~values.str.lower().isin(public_names())
    return pd.DataFrame({"v": values[kept].reset_index(drop=True)})


def _delivered(landing: Path, spellings: set[str]) -> list[pd.Series]:
    """The values of every identifier column of the landing CSVs, each once per file. The header is split
    as the ingest splits it, and DuckDB reads the file as the ingest reads it (commas, no sniffing: about
    15 ms a file less), only the identifier columns taken out of it."""
    found = []
    with duckdb.connect() as con:
        for path in sorted(landing.rglob("*.csv")) if landing.exists() else []:
            if path.is_symlink() or not path.is_file():
                continue
            with path.open("rb") as fh:
                headers = header_fields(fh.read(HEAD_BYTES))
            wanted = [f"c{i}" for i, h in enumerate(headers) if normalise_header(h) in spellings]
            if not wanted:
                continue
            columns = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(headers)))
            try:
                found.append(
                    con.execute(
                        f"""select distinct trim(v, {WHITESPACE}) as v from (
                                select unnest([{", ".join(wanted)}]) as v from read_csv(?, header = true,
                                    delim = ',', quote = '"', escape = '"', auto_detect = false,
                                    ignore_errors = true, columns = {{{columns}}}))
                            where v is not null""",
                        [str(path)],
                    )
                    .df()
                    .v
                )
            except duckdb.Error:
                continue  # a file no contract could read reached no table either
    return found


def hits_by_column(con: duckdb.DuckDBPyConnection, relation: str, held: str) -> dict[str, int]:
    """For each column of ``relation`` with any: how many of its distinct values (as text, trimmed) are
    among the values of table ``held`` (column ``v``). One read of the relation for all its columns."""
    return dict(
        con.execute(
            f"""select c, count(distinct v) from (
                    select c, trim(v) as v
                    from (unpivot (select columns(*)::varchar from {relation}) on columns(*) into name c value v))
                where v in (select v from {held})
                group by c"""
        ).fetchall()
    )


def hold(con: duckdb.DuckDBPyConnection, values: pd.DataFrame, name: str) -> None:
    """``values`` (column ``v``) as a temporary table ``name``, read once instead of at every lookup."""
    con.register(f"{name}_frame", values)
    con.execute(f"create or replace temp table {name} as select distinct v from {name}_frame")
    con.unregister(f"{name}_frame")


def scan(analytics_db: Path, vault_db: Path, landing: Path) -> ScanResult:
    ids = identifier_values(vault_db, landing)
    found = []
    with connect(analytics_db, read_only=True) as con:
        hold(con, ids, "wc_identifier_values")
        columns = con.execute(
            """select table_schema, table_name, column_name from information_schema.columns
               where table_catalog = current_database()
                 and table_schema not in ('information_schema', 'pg_catalog')
               order by table_schema, table_name, ordinal_position"""
        ).fetchall()
        tables: dict[tuple[str, str], list[str]] = {}
        for schema, table, column in columns:
            tables.setdefault((schema, table), []).append(column)
        for (schema, table), names in tables.items():
            hits = hits_by_column(con, f'"{schema}"."{table}"', "wc_identifier_values")
            found += [(f"{schema}.{table}.{c}", hits[c]) for c in names if hits.get(c)]
    return ScanResult(len(ids), len(columns), found)


__all__ = ["ScanResult", "hits_by_column", "hold", "identifier_values", "scan"]
