"""dbt-duckdb models (dbt_project/) as Dagster assets."""
