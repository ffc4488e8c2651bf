"""The delivery manifest in the vault: what arrived, where it is archived, and what became of every row."""

from __future__ import annotations

import duckdb

from orchestration.duckdb_files import first_time

DELIVERY_COLUMNS = """\
    delivery_id varchar primary key,
    sha256 varchar not null,
    partner varchar,
    dataset varchar,
    period varchar,
    file_name varchar not null,
    landing_path varchar not null,
    archive_path varchar not null,
    size_bytes bigint not null,
    received_at timestamp not null,
    status varchar not null,
    status_detail varchar,
    recognition_notes varchar,     -- where the file's name or folder disagrees with its content
    rows_in_file bigint,
    rows_loaded bigint,
    rows_quarantined bigint,
    rows_duplicate bigint,
    loaded_at timestamp,
    superseded_by varchar,
    unique (sha256, period)"""

MANIFEST_DDL = """
create schema if not exists ingest;
create schema if not exists raw;

-- every time a file is seen in the landing folder (path, size and modification time identify a sighting)
create table if not exists ingest.receipts (
    landing_path varchar not null,
    size_bytes bigint not null,
    modified_ns bigint not null,
    sha256 varchar not null,
    received_at timestamp not null,
    outcome varchar not null,
    primary key (landing_path, size_bytes, modified_ns)
);

-- one row per distinct file (by content) and reporting period: the delivery. The same bytes sent again for
-- another period (a snapshot table unchanged since last month's extract) are that period's delivery too
create table if not exists ingest.deliveries (
{DELIVERY_COLUMNS}
);

-- every rejected row or cell, with the row as a person finds it in the file
create table if not exists ingest.quarantine (
    delivery_id varchar not null,
    dataset varchar not null,
    file_name varchar not null,
    sheet varchar,             -- worksheet or XML table; null for a CSV
    line_number bigint,        -- the line in a text file, the row in a worksheet
    column_name varchar,
    rule varchar not null,
    severity varchar not null,
    value varchar,
    message varchar not null
);
""".replace("{DELIVERY_COLUMNS}", DELIVERY_COLUMNS)

STATUS_RECEIVED = "received"
STATUS_LOADED = "loaded"
STATUS_SUPERSEDED = "superseded"
STATUS_UNRECOGNISED = "unrecognised"
STATUS_FAILED = "failed"


def ensure_manifest(con: duckdb.DuckDBPyConnection) -> None:
    if first_time(con, "ingest_manifest"):
        con.execute(MANIFEST_DDL)
        _one_delivery_per_content_and_period(con)


def _one_delivery_per_content_and_period(con: duckdb.DuckDBPyConnection) -> None:
    """A vault made before a delivery was one per content and period held one per content: its table is
    rebuilt with the new constraint, every row kept (DuckDB cannot drop a constraint in place)."""
    old = con.execute(
        """select count(*) from duckdb_constraints() where schema_name = 'ingest' and table_name = 'deliveries'
           and constraint_type = 'UNIQUE' and constraint_column_names = ['sha256']"""
    ).fetchall()[0][0]
    if not old:
        return
    con.execute("begin transaction")
    con.execute(f"create table ingest.deliveries_by_period ({DELIVERY_COLUMNS})")
    con.execute("insert into ingest.deliveries_by_period by name select * from ingest.deliveries")
    con.execute("drop table ingest.deliveries")
    con.execute("alter table ingest.deliveries_by_period rename to deliveries")
    con.execute("commit")


def deliveries_frame(con: duckdb.DuckDBPyConnection):
    return con.execute(
        """
        select delivery_id, partner, dataset, period, file_name, status, rows_in_file, rows_loaded,
               rows_quarantined, rows_duplicate, received_at, loaded_at, superseded_by, status_detail
        from ingest.deliveries
        order by received_at, landing_path
        """
    ).df()
