"""Receiving partner files: contracts, archive, recognition, loading, the delivery manifest."""
