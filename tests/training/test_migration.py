from __future__ import annotations

from stead.workspace import Workspace
from tests.migrations import schema_differences

TRAINING_TABLES = {"feature_sets", "training_runs", "run_verifications"}


def test_the_0003_migration_creates_exactly_the_training_tables(ws: Workspace) -> None:
    ours = schema_differences(ws, TRAINING_TABLES)
    assert ours == []
