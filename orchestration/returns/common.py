"""What every return shares: the authority's codes, the collection year, the SSD as at its latest
extract, and publishing a return's files with a manifest of checksums."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import weakref
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from orchestration.identity.records import raw_tables_present

# Dudley's ten statistical neighbours in the DfE's children's services statistical neighbour model, 2025
# (Wakefield, Telford and Wrekin, Stockton-on-Tees, Rotherham, Barnsley, Medway, Tameside, Lancashire,
# Darlington, Lincolnshire)
DEMO_NEIGHBOURS = ("384", "894", "808", "372", "370", "887", "357", "888", "841", "925")


@dataclass(frozen=True)
class Authority:
    """The authority's codes, from the environment; the defaults are the synthetic authority's."""

    la_number: str  # old-style 3-digit DfE LA number (CIN census LEA, UPN characters 2-4)
    ons_code: str  # ONS code of the upper-tier LA (the 903 validator's localAuthority)
    name: str
    region_code: str = "E12000005"  # the ONS code of its region (the reports' regional comparator)
    region_name: str = "West Midlands"
    # its statistical neighbours (the DfE's children's services statistical neighbour benchmarking tool
    # lists ten), as LA codes, old or new: the reports' third comparator
    statistical_neighbours: tuple[str, ...] = ()

    @classmethod
    def from_env(cls) -> Authority:
        # the synthetic authority borrows Dudley's codes, so its neighbours are Dudley's in the DfE's 2025
        # statistical neighbour model (docs/adr/0009-comparators.md); a real authority sets its own
        default = "" if "WHOLECHILD_LA_NUMBER" in os.environ else ",".join(DEMO_NEIGHBOURS)
        neighbours = tuple(
            code.strip()
            for code in os.environ.get("WHOLECHILD_STATISTICAL_NEIGHBOURS", default).split(",")
            if code.strip()
        )
        wrong = [c for c in neighbours if not re.fullmatch(r"\d{3}|E0[6-9]\d{6}|E10\d{6}", c)]
        if wrong:
            raise ValueError(
                f"WHOLECHILD_STATISTICAL_NEIGHBOURS: {', '.join(wrong)} is not an LA code (a 3-digit DfE number "
                "such as 332, or an ONS code such as E08000027); give the ten codes separated by commas"
            )
        region = os.environ.get("WHOLECHILD_REGION_CODE", "E12000005")
        if not re.fullmatch(r"E1200000\d", region):
            raise ValueError(
                f"WHOLECHILD_REGION_CODE: {region!r} is not a region's ONS code (E12000001 to E12000009)"
            )
        return cls(
            la_number=os.environ.get("WHOLECHILD_LA_NUMBER", "332"),
            ons_code=os.environ.get("WHOLECHILD_LA_ONS_CODE", "E08000027"),
            name=os.environ.get("WHOLECHILD_LA_NAME", "Synthetic Metropolitan Borough"),
            region_code=region,
            region_name=os.environ.get("WHOLECHILD_REGION_NAME", "West Midlands"),
            statistical_neighbours=neighbours,
        )

    def dbt_vars(self) -> dict:
        """What the dbt models need of the authority (dbt_project.yml's vars): its comparators."""
        return {"region_code": self.region_code, "statistical_neighbours": list(self.statistical_neighbours)}


@dataclass(frozen=True)
class CollectionYear:
    """A collection year, named by the 31 March it ends on (2026 = 1 April 2025 to 31 March 2026)."""

    year: int

    @property
    def start(self) -> date:
        return date(self.year - 1, 4, 1)

    @property
    def end(self) -> date:
        return date(self.year, 3, 31)

    @property
    def label(self) -> str:
        return f"{self.year - 1}/{str(self.year)[2:]}"


SSD_TABLES = (
    "ssd_person", "ssd_cla_episodes", "ssd_cla_placement", "ssd_legal_status", "ssd_cla_reviews",
    "ssd_immigration_status", "ssd_sdq_scores", "ssd_cla_convictions", "ssd_cla_health", "ssd_cla_immunisations",
    "ssd_cla_substance_misuse", "ssd_care_leavers", "ssd_permanence", "ssd_cla_previous_permanence",
    "ssd_missing", "ssd_involvements", "ssd_professionals", "ssd_address", "ssd_linked_identifiers",
    "ssd_disability", "ssd_cin_episodes", "ssd_cin_assessments", "ssd_assessment_factors", "ssd_cin_plans",
    "ssd_s47_enquiry", "ssd_initial_cp_conference", "ssd_cp_plans", "ssd_cp_reviews", "ssd_contacts",
    "ssd_early_help_episodes", "ssd_cin_visits", "ssd_cp_visits", "ssd_cla_visits", "ssd_cla_care_plan",
    "ssd_department",
)  # fmt: skip


def returns_connection(vault_db: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the vault attached read-only as ``vault``: returns are built in memory and
    never write to the warehouse."""
    from orchestration.duckdb_files import attach_read_only

    con = duckdb.connect()
    attach_read_only(con, vault_db, "vault")  # waits while another process writes it
    return con


_EXTRACT_OF: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, object] = weakref.WeakKeyDictionary()


def ssd_views(con: duckdb.DuckDBPyConnection) -> str:
    """Views ssd.<table> over each SSD table as at its latest extract (the SSD is a snapshot); a table
    never delivered is an empty view of its contract's columns. Returns the extract date. Made once per
    connection (the vault is attached read-only: what they show cannot change while it is open); each year's
    build asks again."""
    if con in _EXTRACT_OF:
        return _EXTRACT_OF[con]
    _EXTRACT_OF[con] = extract = _make_ssd_views(con)
    return extract


def _make_ssd_views(con: duckdb.DuckDBPyConnection) -> str:
    from orchestration.ingest.contracts import load_contracts

    present = raw_tables_present(con, "vault")
    contracts = load_contracts()
    con.execute("create schema if not exists ssd")
    extract = None
    for table in SSD_TABLES:
        raw = contracts[table].raw_table(contracts[table].table)
        if raw in present:
            con.execute(
                f"create or replace view ssd.{table} as select * from vault.{raw}"
                f" where _period = (select max(_period) from vault.{raw})"
            )
            latest = con.execute(f"select max(_period) from vault.{raw}").fetchall()[0][0]
            extract = max(filter(None, (extract, latest)), default=None)
        else:
            columns = ", ".join(f'null::varchar as "{c.name}"' for c in contracts[table].table.columns)
            con.execute(f"create or replace view ssd.{table} as select {columns} where false")
    if extract is None:
        raise ValueError("no SSD extract has been loaded: a return cannot be built")
    return extract


def dmy(expr: str) -> str:
    """SQL for a date as dd/mm/yyyy text, blank when null (the 903's and Annex A's format)."""
    return f"coalesce(strftime({expr}, '%d/%m/%Y'), '')"


def publish(
    files: dict[str, bytes], published: Path, return_name: str, year: int, meta: dict, promote: bool = True
) -> Path:
    """Write a return's files into published/returns/<return>/<year>/<timestamp>/ with manifest.json (size
    and sha256 of each file), built aside and renamed into place so no half-written return is ever seen.
    ``last_attempt`` always points at it; ``latest`` (the one to submit) only when ``promote``."""
    base = published / "returns" / return_name / str(year)
    base.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=base))
    manifest = {"return": return_name, "collection_year": year, "built_at": stamp, **meta, "files": {}}
    for name, data in sorted(files.items()):
        path = staging / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        manifest["files"][name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    target = base / stamp
    staging.rename(target)
    for link, wanted in (("last_attempt", True), ("latest", promote)):
        if wanted:
            temporary = base / f".{link}-{stamp}"
            temporary.symlink_to(target.name)
            temporary.replace(base / link)
    return target


def extract_date(vault_db: Path) -> date:
    """The date of the latest SSD extract in the vault."""
    con = returns_connection(vault_db)
    try:
        return date.fromisoformat(str(ssd_views(con))[:10])
    finally:
        con.close()


def latest_ended_collection_year(vault_db: Path) -> int:
    """The collection year that had ended by the latest SSD extract (extract of 31 March 2026: 2026)."""
    extract = extract_date(vault_db)
    return extract.year if (extract.month, extract.day) >= (3, 31) else extract.year - 1
