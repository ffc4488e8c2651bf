{#- Key stage 2 and 4 results, counted the same way wherever a report shows them: pupils with a result, and
    those reaching the expected standard (KS2 reading, writing and maths) or grade 4 in English and maths (KS4). -#}
{% macro key_stage_counts() -%}
    count(*) filter (where ks2_reading_writing_maths_expected is not null) as ks2_pupils,
    count(*) filter (where ks2_reading_writing_maths_expected) as ks2_expected,
    count(*) filter (where ks4_english_maths_grade_4_or_above is not null) as ks4_pupils,
    count(*) filter (where ks4_english_maths_grade_4_or_above) as ks4_grade_4
{%- endmacro %}
