-- The DfE's published statistics files as loaded: one row per period, area and combination of a
-- publication's filters. The filters and indicators stay as published in `figures` (a JSON object of text:
-- the symbols c, x, z, u and low are kept, never read as numbers here).
with source as (
    select * from {{ source('dfe', 'dfe_statistics') }}
)

select
    _delivery_id as delivery_id,
    _period as received_period,
    time_period,
    time_identifier,
    geographic_level,
    country_code,
    country_name,
    region_code,
    region_name,
    new_la_code,
    old_la_code,
    la_name,
    _extra as figures
from source
