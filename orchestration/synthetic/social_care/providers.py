"""Ofsted's lists of registered providers, as an authority downloads them for the SSDA903 validator's URN
rules (1008, 219, 221, 224, 227, 228, 229, and 241's corrected copy): the children's homes list and the
social care providers list, in the layout csc-validator-be-903 reads (its ``ingress.py``: the children's
homes workbook's "Provider information" sheet; the social care providers workbook's current providers on its
first sheet and closed ones on its second).

Every URN the authority's placements use is listed, with the placement types and provider codes its
placements are recorded with, and its premises' postcode: for a children's home or supported accommodation
the placements' own (they all share it, care.py), for an agency its office, in the authority when the
authority's own service (PR1) uses it. Some providers no placement uses are listed too, as in the national
lists, and some that closed before the window.
"""

from __future__ import annotations

import io
import zipfile
from datetime import date

import numpy as np
import pandas as pd

CHILDRENS_HOMES_SHEET = "Provider information"
CHILDRENS_HOMES_COLUMNS = [
    "URN", "Provider Type", "Provider Status", "Registration Date", "Closed Date", "Local Authority",
    "Setting Postcode", "Provider Code", "Provider Placement Code",
]  # fmt: skip
PROVIDERS_SHEETS = ("Current providers", "Providers closed")
PROVIDERS_COLUMNS = [
    "URN", "Provider type", "Registration date", "Local authority", "Setting postcode", "Placement code",
    "Placement provider code",
]  # fmt: skip
CLOSED_COLUMN = "Deregistration date"

HOMES = ("K1", "K2")  # a children's home or secure children's home: the children's homes list
KIND = {
    "K1": "Secure children's home", "K2": "Children's home", "K3": "Supported accommodation",
    "U1": "Local authority fostering agency", "U2": "Local authority fostering agency",
    "U3": "Local authority fostering agency", "U4": "Independent fostering agency",
    "U5": "Independent fostering agency", "U6": "Independent fostering agency",
    "A5": "Adoption support agency", "A6": "Adoption support agency",
}  # fmt: skip


def _upper_tier_names() -> pd.Series:
    """Each lower-tier authority's upper-tier authority, by name (the ONS lookup, orchestration/data), as
    Ofsted's lists name the authority a provider is in."""
    from orchestration.settings import LOCAL_AUTHORITIES

    lookup = pd.read_csv(LOCAL_AUTHORITIES, dtype=str)
    return lookup.set_index("ltla_code").utla_name


def _joined(values: pd.Series, sep: str) -> str:
    return sep.join(sorted(set(values)))


def provider_lists(
    placements: pd.DataFrame, postcodes: pd.DataFrame, home_la: str, rng: np.random.Generator, as_of: date
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(children's homes, current social care providers, closed social care providers), in Ofsted's
    headings. ``placements`` as care.py makes them; ``rng`` a stream of its own."""
    used = placements[placements.urn.ne("")]
    at_premises = used.placement_type.isin(("K1", "K2", "K3", "R3", "S1"))
    per_urn = used.groupby("urn").agg(
        place=("placement_type", lambda v: _joined(v, ",")),
        providers=("placement_provider", lambda v: tuple(sorted(set(v)))),
        first=("placement_start", "min"),
    )
    premises = used[at_premises].drop_duplicates("urn").set_index("urn").placement_postcode
    in_area = postcodes[postcodes.ltla_code.eq(home_la)].postcode.to_numpy()
    anywhere = postcodes.postcode.to_numpy()
    office = np.where(
        per_urn.providers.map(lambda p: "PR1" in p).to_numpy(),
        rng.choice(in_area, len(per_urn)),
        rng.choice(anywhere, len(per_urn)),
    )
    per_urn["postcode"] = premises.reindex(per_urn.index).fillna(pd.Series(office, index=per_urn.index))
    per_urn["registered"] = (
        per_urn["first"] - pd.to_timedelta(rng.integers(400, 4000, len(per_urn)), "D")
    ).dt.date
    per_urn["kind"] = per_urn.place.str.split(",").str[0].map(KIND).fillna("Other registered provider")

    # providers no placement of this authority uses, and some closed before the window
    taken = set(per_urn.index)
    spare = [
        u
        for u in (f"SC{n}" for n in rng.choice(np.arange(100000, 999999), 60, replace=False))
        if u not in taken
    ]
    others = pd.DataFrame(
        {
            "place": rng.choice(["K2", "K2", "K2", "K3", "U4,U5,U6", "A5,A6"], len(spare)),
            "providers": [(p,) for p in rng.choice(["PR4", "PR5"], len(spare))],
            "postcode": rng.choice(anywhere, len(spare)),
            "registered": [as_of - pd.Timedelta(days=int(d)) for d in rng.integers(800, 6000, len(spare))],
        },
        index=pd.Index(spare, name="urn"),
    )
    others["kind"] = others.place.str.split(",").str[0].map(KIND)
    # one in six closed, seven or eight years before the extract (before any placement here), after a few years
    closes = np.arange(len(spare)) % 6 == 0
    closed_on = np.array([as_of - pd.Timedelta(days=int(d)) for d in rng.integers(2600, 3000, len(spare))])
    opened_on = np.array(
        [
            c - pd.Timedelta(days=int(d))
            for c, d in zip(closed_on, rng.integers(400, 3000, len(spare)), strict=True)
        ]
    )
    others["closed"] = np.where(closes, closed_on, None)
    others["registered"] = np.where(closes, opened_on, others.registered.to_numpy())
    everyone = pd.concat([per_urn.assign(closed=None), others])
    everyone["la"] = everyone.postcode.map(postcodes.set_index("postcode").ltla_code).map(_upper_tier_names())

    homes = everyone[everyone.place.str.split(",").map(lambda p: set(p) <= set(HOMES))]
    childrens_homes = pd.DataFrame(
        {
            "URN": homes.index,
            "Provider Type": homes.kind.to_numpy(),
            "Provider Status": np.where(homes.closed.isna(), "Active", "Closed"),
            "Registration Date": homes.registered.to_numpy(),
            "Closed Date": homes.closed.to_numpy(),
            "Local Authority": homes.la.to_numpy(),
            "Setting Postcode": homes.postcode.to_numpy(),
            "Provider Code": homes.place.to_numpy(),
            "Provider Placement Code": homes.providers.map("/".join).to_numpy(),
        }
    )
    rest = everyone.drop(homes.index)
    providers = pd.DataFrame(
        {
            "URN": rest.index,
            "Provider type": rest.kind.to_numpy(),
            "Registration date": rest.registered.to_numpy(),
            "Local authority": rest.la.to_numpy(),
            "Setting postcode": rest.postcode.to_numpy(),
            "Placement code": rest.place.to_numpy(),
            "Placement provider code": rest.providers.map(",".join).to_numpy(),
            CLOSED_COLUMN: rest.closed.to_numpy(),
        }
    )
    current = providers[providers[CLOSED_COLUMN].isna()].drop(columns=CLOSED_COLUMN)
    closed = providers[providers[CLOSED_COLUMN].notna()]
    return (
        childrens_homes.sort_values("URN", ignore_index=True),
        current.sort_values("URN", ignore_index=True),
        closed.sort_values("URN", ignore_index=True),
    )


def workbook(sheets: dict[str, pd.DataFrame], as_of: date) -> bytes:
    """An .xlsx with one sheet per frame (headings on row 1, dates as Excel dates), the same bytes for the
    same frames: the document's times are ``as_of``, not the moment it was written."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    for title, frame in sheets.items():
        sheet = book.create_sheet(title)
        sheet.append(list(frame.columns))
        for row in frame.astype(object).where(frame.notna(), None).itertuples(index=False):
            cells = []
            for value in row:
                if isinstance(value, date):
                    cell = WriteOnlyCell(sheet, value=pd.Timestamp(value).to_pydatetime())
                    cell.number_format = "dd/mm/yyyy"
                    cells.append(cell)
                else:
                    cells.append(value)
            sheet.append(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    return _fixed_times(buffer.getvalue(), as_of)


def _fixed_times(data: bytes, as_of: date) -> bytes:
    """The workbook with its zip entries and document properties dated ``as_of``."""
    import re

    stamp = f"{as_of.isoformat()}T00:00:00Z".encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp, body)
            entry = zipfile.ZipInfo(info.filename, date_time=(as_of.year, as_of.month, as_of.day, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(entry, body)
    return out.getvalue()
