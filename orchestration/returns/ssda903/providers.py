"""Ofsted's provider lists for the SSDA903 validator's URN rules, from the vault.

The validator (csc-validator-be-903) checks a placement's URN against Ofsted's children's homes list ("CH
lookup") and social care providers list ("SCP lookup"): that the URN exists (1008), fits the placement type
(219), provider (224) and postcode (221), was open on the episode's dates (227, 228), lies in the authority
for the authority's own provision (229), and, in 241's corrected copy, that a supported accommodation
placement is in an authority where the provider has premises. It takes them as workbooks in Ofsted's
layout, and needs both or neither. An authority drops the lists it downloads into landing (contracts
ofsted_childrens_homes, ofsted_social_care_providers); the latest delivery of each is given to the
validator, written back in the layout it reads.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

# vault column -> the heading the validator reads, per sheet (validator's ingress.py)
HOMES = {
    "urn": "URN", "local_authority": "Local Authority", "provider_code": "Provider Code",
    "provider_placement_code": "Provider Placement Code", "closed_date": "Closed Date",
    "setting_postcode": "Setting Postcode",
}  # fmt: skip
PROVIDERS = {
    "urn": "URN", "local_authority": "Local authority", "placement_code": "Placement code",
    "placement_provider_code": "Placement provider code", "deregistration_date": "Deregistration date",
    "setting_postcode": "Setting postcode",
}  # fmt: skip
RAW = {
    "homes": "raw.ofsted_childrens_homes",
    "current": "raw.ofsted_social_care_providers__current",
    "closed": "raw.ofsted_social_care_providers__closed",
}


@dataclass(frozen=True)
class ProviderLists:
    homes: pd.DataFrame  # in the validator's headings
    current: pd.DataFrame
    closed: pd.DataFrame
    received: dict[str, str]  # list -> the date its delivery's period says (or it was received)

    def describe(self) -> str:
        return (
            f"Ofsted's children's homes list of {self.received['homes']} ({len(self.homes)} homes) and social"
            f" care providers list of {self.received['providers']}"
            f" ({len(self.current)} current, {len(self.closed)} closed)"
        )

    def fingerprint(self) -> bytes:
        """The lists' content, for the return's content key (a new list validates the return again)."""
        return b"".join(
            frame.to_csv(index=False).encode() for frame in (self.homes, self.current, self.closed)
        )

    def write(self, folder: Path) -> tuple[Path, Path]:
        """The two workbooks as the validator reads them: (children's homes, social care providers)."""
        folder.mkdir(parents=True, exist_ok=True)
        homes, providers = folder / "childrens_homes.xlsx", folder / "social_care_providers.xlsx"
        _workbook(homes, {"Provider information": self.homes})
        _workbook(
            providers,
            {
                "Current providers": self.current.drop(columns="Deregistration date"),
                "Providers closed": self.closed,
            },
        )
        return homes, providers


def _workbook(path: Path, sheets: dict[str, pd.DataFrame]) -> None:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for title, frame in sheets.items():
            frame.to_excel(writer, sheet_name=title, index=False)
    path.write_bytes(buffer.getvalue())


def latest_lists(con: duckdb.DuckDBPyConnection) -> tuple[ProviderLists | None, str]:
    """The latest delivery of each list (``con`` has the vault attached as ``vault``), or None with why."""
    from orchestration.identity.records import raw_tables_present

    present = raw_tables_present(con, "vault")
    missing = [
        name
        for name, tables in (
            ("the children's homes list", [RAW["homes"]]),
            ("the social care providers list", [RAW["current"], RAW["closed"]]),
        )
        if not set(tables) <= present
    ]
    if missing:
        return None, f"Ofsted's provider lists not received ({' and '.join(missing)} missing from landing)"

    def delivery(dataset: str) -> tuple[str, str]:
        """The dataset's latest loaded delivery, and the date of the list it holds."""
        return con.execute(
            """select delivery_id, coalesce(period, strftime(received_at, '%Y-%m-%d'))
               from vault.ingest.deliveries where dataset = ? and status = 'loaded'
               order by received_at desc, delivery_id desc limit 1""",
            [dataset],
        ).fetchone()

    def rows(table: str, delivery_id: str, columns: dict[str, str]) -> pd.DataFrame:
        picked = ", ".join(f'r.{c} as "{h}"' for c, h in columns.items())
        frame = con.execute(
            f"select {picked} from vault.{table} r where r._delivery_id = ? order by r._record", [delivery_id]
        ).df()
        for column in frame.columns:  # the validator compares dates as datetimes
            if column.lower().endswith("date"):
                frame[column] = pd.to_datetime(frame[column])
        return frame

    homes, providers = delivery("ofsted_childrens_homes"), delivery("ofsted_social_care_providers")
    if homes is None or providers is None:
        return None, "Ofsted's provider lists not received (none of their deliveries loaded)"
    (homes_id, homes_on), (providers_id, providers_on) = homes, providers
    return (
        ProviderLists(
            rows(RAW["homes"], homes_id, HOMES),
            rows(RAW["current"], providers_id, PROVIDERS),
            rows(RAW["closed"], providers_id, PROVIDERS),
            {"homes": homes_on, "providers": providers_on},
        ),
        "",
    )
