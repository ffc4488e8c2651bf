{#- For sqlfluff only (.sqlfluff): the real macro dispatches on the adapter, which a linter has not. -#}
{% macro member_parquet(mart) %}read_parquet('inbox/{{ mart }}/*.parquet'){% endmacro %}
