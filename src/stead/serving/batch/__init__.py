"""Batch scoring: a file scored with a version or an endpoint, validated, chunked,
logged once and idempotent, locally or on a Dask cluster."""
