{#- What the members sent of one mart, every authority's partition, as a relation: the partition folders
    (authority=332, collection_year=2026) become columns, read as text (the models cast them). -#}
{% macro member_parquet(mart) %}
    {{ return(adapter.dispatch('member_parquet')(mart)) }}
{% endmacro %}

{% macro default__member_parquet(mart) %}
    read_parquet(
        '{{ var("inbox") }}/{{ mart }}/**/*.parquet',
        hive_partitioning = true,
        hive_types_autocast = false,
        union_by_name = true
    )
{% endmacro %}

{% macro spark__member_parquet(mart) %}
    parquet.`{{ var("inbox") }}/{{ mart }}`
{% endmacro %}
