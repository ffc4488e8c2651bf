"""Jobs are selections over the asset graph."""

import dagster as dg

from orchestration.ingest.assets import DELIVERIES

refresh_all = dg.define_asset_job(
    name="refresh_all",
    # statutory returns are partitioned by collection year and run on their own calendar (returns/assets.py)
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups("returns"),
    description="Receive new deliveries, load, link, pseudonymise, build the marts, gate them, publish.",
)

ingest_deliveries = dg.define_asset_job(
    name="ingest_deliveries",
    selection=dg.AssetSelection.assets(DELIVERIES) | dg.AssetSelection.key_prefixes(["raw"]),
    description="Receive files from the landing folder and load them into the raw tables, with row accounting "
    "checks; nothing downstream. The landing sensor starts one run per new file.",
)
