from __future__ import annotations

from stead.workspace import Workspace
from tests.migrations import schema_differences, table_names

MONITORING_TABLES = {
    "monitor_results",
    "monitor_decisions",
    "alerts",
    "alert_deliveries",
    "retrain_triggers",
    "monitor_references",
}


def test_the_0008_migration_creates_exactly_the_monitoring_tables(ws: Workspace) -> None:
    assert schema_differences(ws, MONITORING_TABLES) == []
    names = table_names(ws)
    assert names >= MONITORING_TABLES
