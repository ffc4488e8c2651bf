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
from orchestration.settings import LOCAL_AUTHORITIES

SECRET = ("direct", "person_id", "record_id")
MIN_LENGTH = 6


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
    delivered = []
    with duckdb.connect() as con:
        for path in sorted(landing.rglob("*.csv")) if landing.exists() else []:
            if path.is_symlink() or not path.is_file():
                continue
            try:
                frame = con.execute(
                    "select * from read_csv(?, all_varchar = true, header = true, ignore_errors = true)",
                    [str(path)],
                ).df()
            except duckdb.Error:
                continue  # a file no contract could read reached no table either
            for column in frame.columns:
                if normalise_header(column) in spellings:
                    delivered.append(frame[column].dropna().astype(str).str.strip())
    values = pd.concat([held.v.astype(str), *delivered], ignore_index=True).drop_duplicates()
    kept = (values.str.len() >= MIN_LENGTH) & ~values.str.lower().isin(public_names())
    return pd.DataFrame({"v": values[kept].reset_index(drop=True)})


def scan(analytics_db: Path, vault_db: Path, landing: Path) -> ScanResult:
    ids = identifier_values(vault_db, landing)
    found = []
    with connect(analytics_db, read_only=True) as con:
        con.register("wc_identifier_values", ids)
        columns = con.execute(
            """select table_schema, table_name, column_name from information_schema.columns
               where table_catalog = current_database()
                 and table_schema not in ('information_schema', 'pg_catalog')"""
        ).fetchall()
        for schema, table, column in columns:
            hits = con.execute(
                f'select count(*) from (select distinct trim("{column}"::varchar) as v from "{schema}"."{table}")'
                " join wc_identifier_values using (v)"
            ).fetchall()[0][0]
            if hits:
                found.append((f"{schema}.{table}.{column}", hits))
    return ScanResult(len(ids), len(columns), found)


__all__ = ["ScanResult", "identifier_values", "scan"]
