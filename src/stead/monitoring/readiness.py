"""Is monitoring configured? The monitoring stage's answer for the readiness checklist.

The registry's production gate has an item "monitoring hooks". The registry sits below
monitoring, so the composition root hands it this function: the gate then judges the
settings exactly as the monitors will parse them, environment overrides included.
"""

from __future__ import annotations

import os

from stead.core.settings import Settings, stage_values
from stead.monitoring.settings import MonitoringSettings, monitor_config
from stead.monitoring.sinks import alert_settings


def monitoring_readiness(settings: Settings) -> tuple[list[str], list[str]]:
    """What is configured, and what is missing, for monitoring a model in production.

    Returns:
        ``(found, problems)``: human-readable facts; any problem fails the item.

    Raises:
        SettingsError: a monitoring or alert setting (or its override) is invalid.
    """
    found: list[str] = []
    problems: list[str] = []
    # Present: stead.toml has the table, or a STEAD_MONITORING_* variable sets it.
    if stage_values(settings, "monitoring", MonitoringSettings, optional=True) is None:
        problems.append("stead.toml has no [monitoring] table")
    elif not monitor_config(settings).monitoring.enabled:
        problems.append("[monitoring] enabled = false" + _set_by("STEAD_MONITORING_ENABLED"))
    else:
        found.append("[monitoring] configured")
    sinks = alert_settings(settings).sinks
    if not sinks:
        problems.append(
            'no alert sink: set [alerts] sinks = ["..."] (at least one)'
            + _set_by("STEAD_ALERTS_SINKS")
        )
    else:
        found.append(f"{len(sinks)} alert sink(s) configured" + _set_by("STEAD_ALERTS_SINKS"))
    return found, problems


def _set_by(variable: str) -> str:
    """Say so when a reason comes from the environment, not from stead.toml."""
    return f" (set by {variable})" if variable in os.environ else ""
