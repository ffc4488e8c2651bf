"""Statutory returns (SSDA903, CIN census, Ofsted Annex A), built on the identifiable side from the vault's
SSD tables, validated by the DfE's own validators, and published per return and year."""
