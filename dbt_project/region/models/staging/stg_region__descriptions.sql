-- Every description (names, date of birth, sex) each member's records give each child, as the HMAC under
-- the regional key: one row per member, child and description.
select
    cast(authority as string) as authority,
    regional_key,
    description_key
from {{ member_parquet('child_descriptions') }}
