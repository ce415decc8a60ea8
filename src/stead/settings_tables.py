"""Every table of ``stead.toml`` in one registry: its settings class and its check.

``core`` parses the tables it owns (``[store]``, ``[artifacts]``, ...) when the settings
load; every other table belongs to a stage and is kept raw until that stage reads it.
A wrong value in a stage's table must still fail when the workspace opens, not half-way
through the first command that happens to read it, so :func:`check_tables` runs every
stage's check once, from this one list. The same list names the classes whose fields
the ``STEAD_<TABLE>_<KEY>`` variables may target (a variable that targets nothing is a
notice). A test keeps the list and core's table names in step: a table added to one and
not the other fails the suite.

It sits at the root, beside the workspace, because it imports every stage's settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stead.core.audit_settings import AuditSettings, audit_log
from stead.core.settings import Settings, core_tables
from stead.features.settings import FeatureSettings, feature_settings
from stead.monitoring.settings import (
    MonitoringSettings,
    PolicySettings,
    RetrainingSettings,
    monitor_config,
)
from stead.monitoring.sinks import AlertSettings, alert_settings
from stead.predictions.retention import RetentionSettings, retention_settings
from stead.registry.settings import (
    ChecklistSettings,
    RegistrySettings,
    checklist_settings,
    registry_settings,
)
from stead.security.settings import AuthSettings, auth_settings, teams
from stead.serving.settings import ServingSettings, serving_settings
from stead.training.project import ProjectSettings, resolve_project
from stead.training.settings import TrainingSettings, stage_settings


@dataclass(frozen=True)
class StageTable:
    """A stage-owned table: the class its keys become (``None``: read from the file
    only, with names the user chooses) and the function that parses and checks it."""

    name: str
    cls: type | None
    check: Callable[[Settings], Any]


STAGE_TABLES: tuple[StageTable, ...] = (
    StageTable("audit", AuditSettings, audit_log),
    StageTable("project", ProjectSettings, resolve_project),
    StageTable("features", FeatureSettings, feature_settings),
    # [training] is checked with [project] and [features]: it needs both.
    StageTable("training", TrainingSettings, stage_settings),
    StageTable("registry", RegistrySettings, registry_settings),
    StageTable("checklist", ChecklistSettings, checklist_settings),
    StageTable("serving", ServingSettings, serving_settings),
    # [policy], [kpis] and [retraining] are parsed with [monitoring], into one config.
    StageTable("monitoring", MonitoringSettings, monitor_config),
    StageTable("policy", PolicySettings, monitor_config),
    StageTable("kpis", None, monitor_config),
    StageTable("retraining", RetrainingSettings, monitor_config),
    StageTable("alerts", AlertSettings, alert_settings),
    StageTable("auth", AuthSettings, auth_settings),
    StageTable("teams", None, teams),
    StageTable("retention", RetentionSettings, retention_settings),
)


def check_tables(settings: Settings) -> None:
    """Parse and check every stage's table (each check once).

    Raises:
        SettingsError: the first wrong table, naming the key, the value and what is
            allowed.
    """
    done: set[Callable[[Settings], Any]] = set()
    for table in STAGE_TABLES:
        if table.check not in done:
            done.add(table.check)
            table.check(settings)


def variable_tables() -> dict[str, type | None]:
    """Every table by name with its settings class, for the ``STEAD_*`` variables."""
    return {**core_tables(), **{table.name: table.cls for table in STAGE_TABLES}}
