"""Versioned data: snapshots, schema inference, profiles, contracts and validation."""
