"""Jobs are selections over the asset graph."""

import dagster as dg

refresh_all = dg.define_asset_job(
    name="refresh_all",
    selection=dg.AssetSelection.all(),
    description="Receive new deliveries, load, link, pseudonymise, build the marts, gate them, publish.",
)
