from __future__ import annotations

from stead.workspace import Workspace
from tests.migrations import schema_differences

REGISTRY_TABLES = {"model_versions", "model_stage_changes", "model_evidence"}


def test_the_0005_migration_creates_exactly_the_registry_tables(ws: Workspace) -> None:
    ours = schema_differences(ws, REGISTRY_TABLES)
    assert ours == []
