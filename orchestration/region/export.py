"""What a member sends its region: its pseudonymised marts under the regional key, never its vault.

Each child's regional key is ``HMAC-SHA256(regional key, "nhs:<NHS number>")`` where the member holds a
valid NHS number for the child, else ``HMAC-SHA256(regional key, "person:<forename>|<surname>|<date of
birth>|<sex>")`` of the description its records give most often. Beside the marts goes
``child_descriptions``: the same HMAC of every description the member's records give the child (a surname
before and after a change, a forename spelt two ways), so that the region can join a child one member
knows only by description (a school census record) to the same child another knows by NHS number. The
regional key is held by the region and shared with its members (``WHOLECHILD_REGIONAL_KEY``); a member's
own pseudonym key and person_key never leave it. Everything is written as parquet, partitioned by
authority (and year), so that DuckDB or Spark reads it alike.
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from orchestration.duckdb_files import connect
from orchestration.identifiers import install_sql_macros
from orchestration.identity.pseudonyms import MIN_KEY_LENGTH, PseudonymKey, hmac_sql, install_hmac
from orchestration.identity.records import _source_selects, raw_tables_present
from orchestration.ingest.contracts import load_contracts
from orchestration.settings import Paths

REGIONAL_KEY_ENV = "WHOLECHILD_REGIONAL_KEY"
# the marts a member sends, each with the columns that partition it beside the authority
SENT = {"dim_children": (), "fct_child_outcomes_by_year": ("collection_year",)}


class RegionalKeyError(RuntimeError):
    """The regional key is unusable."""


def regional_key(region_root: Path, demo: bool) -> PseudonymKey:
    """The region's key, from the environment; for the synthetic regional demo only, a throwaway one kept
    in the region's folder (0600) so that every member uses the same."""
    value = os.environ.get(REGIONAL_KEY_ENV, "")
    if value:
        if len(value) < MIN_KEY_LENGTH:
            raise RegionalKeyError(f"{REGIONAL_KEY_ENV} must be at least {MIN_KEY_LENGTH} characters long")
        return PseudonymKey(value.encode(), throwaway=False)
    if not demo:
        raise RegionalKeyError(
            f"{REGIONAL_KEY_ENV} is not set: the region holds it and gives it to each member (at least "
            f"{MIN_KEY_LENGTH} characters; for the synthetic regional demo only, use --demo)"
        )
    path = region_root / ".demo-regional-key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return PseudonymKey(bytes.fromhex(path.read_text().strip()), throwaway=True)


@dataclass(frozen=True)
class Export:
    authority: str
    children: int
    by_nhs_number: int  # children whose regional key is their NHS number's
    rows: dict[str, int]
    # children of the member's marts not sent: their records give neither a valid NHS number nor a whole
    # description (names, date of birth, sex), so no member could key them alike
    not_keyed: int = 0
    # of the children sent, those that share their key with another of the member's persons (described
    # alike, no NHS number): one child to the region
    sharing_a_key: int = 0


def export_member(paths: Paths, authority: str, out: Path, key: PseudonymKey) -> Export:
    """Write the member's marts under ``out/<mart>/authority=<LA number>/...`` with the regional key in
    place of the person_key. Replaces what the member sent before."""
    if not paths.analyst_copy.exists():
        raise FileNotFoundError(
            f"authority {authority} has no marts that passed its gates ({paths.analyst_copy} does not exist):"
            " run its pipeline first (`wholechild run` in its home)"
        )
    keys, descriptions = member_keys(paths, key)
    children, by_nhs = len(keys), int(keys.keyed_by_nhs_number.sum())
    sharing = int(keys.regional_key.duplicated(keep=False).sum())
    rows = {}
    with connect(paths.analyst_copy, read_only=True) as con:
        con.register("_keys", keys)
        con.register("_descriptions", descriptions)
        for mart, partitions in SENT.items():
            rows[mart] = _write_parquet(
                con,
                f"select _keys.regional_key, _keys.keyed_by_nhs_number, mart.* exclude (person_key)"
                f" from marts.{mart} as mart inner join _keys using (person_key)",
                out / mart / f"authority={authority}",
                partitions,
            )
        not_keyed = (
            con.execute("select count(*) from marts.dim_children").fetchone()[0] - rows["dim_children"]
        )
        rows["child_descriptions"] = _write_parquet(
            con,
            "select distinct _keys.regional_key, _descriptions.description_key from _descriptions"
            " inner join _keys using (person_key) inner join marts.dim_children using (person_key)",
            out / "child_descriptions" / f"authority={authority}",
        )
    return Export(authority, int(children), int(by_nhs), rows, int(not_keyed), sharing)


def _write_parquet(con, select: str, target: Path, partitions: tuple[str, ...] = ()) -> int:
    """``select`` written as parquet under ``target`` (in a folder per value of ``partitions``, or as one
    part), in place of what was there; returns its rows (COPY's own count)."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    if partitions:
        done = con.execute(
            f"copy ({select}) to '{target}' (format parquet, partition_by ({', '.join(partitions)}),"
            " overwrite_or_ignore true)"
        )
    else:
        done = con.execute(f"copy ({select}) to '{target / 'part-0.parquet'}' (format parquet)")
    return int(done.fetchone()[0])


def member_keys(paths: Paths, key: PseudonymKey) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each of the member's children (person_key) with its regional key and whether that is its NHS
    number's; and every description of each (person_key, description_key). Read from the vault's raw
    records (the NHS number and the description most often given), inside the member."""
    contracts = load_contracts()
    with connect(paths.vault_db, read_only=True) as con:
        install_sql_macros(con)
        install_hmac(con, key)
        selects = _source_selects(contracts, raw_tables_present(con))
        description = (
            "case when forename is not null and surname is not null and dob is not null and sex is not null"
            " then forename || '|' || surname || '|' || strftime(dob, '%Y-%m-%d') || '|' || sex end"
        )
        con.execute(
            f"""create temp table _described as
                select keys.person_key,
                       case when wc_is_valid_nhs_number(nhs_text) then nhs_text end as nhs_number,
                       {description} as description
                from ({" union all ".join(selects)}) as records
                inner join identity.record_keys as keys using (namespace, record_id)"""
        )
        keys = con.execute(
            f"""with people as (
                    select person_key,
                           mode(nhs_number) as nhs_number,
                           mode(description) as description
                    from _described group by person_key
                )
                select person_key,
                       coalesce({hmac_sql("nhs_number", "nhs")}, {hmac_sql("description", "person")})
                           as regional_key,
                       nhs_number is not null as keyed_by_nhs_number
                from people
                where nhs_number is not null or description is not null"""
        ).df()
        descriptions = con.execute(
            f"""select distinct person_key, {hmac_sql("description", "person")} as description_key
                from _described where description is not null"""
        ).df()
    return keys, descriptions
