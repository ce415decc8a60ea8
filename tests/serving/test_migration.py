from __future__ import annotations

from stead.workspace import Workspace
from tests.migrations import schema_differences, table_names

SERVING_TABLES = {"endpoints", "endpoint_deployments", "stored_responses"}


def test_the_0006_migration_creates_exactly_the_serving_tables(ws: Workspace) -> None:
    assert schema_differences(ws, SERVING_TABLES) == []
    names = table_names(ws)
    assert names >= SERVING_TABLES
