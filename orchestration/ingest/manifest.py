"""The delivery manifest in the vault: what arrived, where it is archived, and what became of every row."""

from __future__ import annotations

import duckdb

from orchestration.duckdb_files import first_time

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

-- one row per distinct file (by content): the delivery
create table if not exists ingest.deliveries (
    delivery_id varchar primary key,
    sha256 varchar not null unique,
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
    superseded_by varchar
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
"""

STATUS_RECEIVED = "received"
STATUS_LOADED = "loaded"
STATUS_SUPERSEDED = "superseded"
STATUS_UNRECOGNISED = "unrecognised"
STATUS_FAILED = "failed"


def ensure_manifest(con: duckdb.DuckDBPyConnection) -> None:
    if first_time(con, "ingest_manifest"):
        con.execute(MANIFEST_DDL)


def deliveries_frame(con: duckdb.DuckDBPyConnection):
    return con.execute(
        """
        select delivery_id, partner, dataset, period, file_name, status, rows_in_file, rows_loaded,
               rows_quarantined, rows_duplicate, received_at, loaded_at, superseded_by, status_detail
        from ingest.deliveries
        order by received_at, landing_path
        """
    ).df()
