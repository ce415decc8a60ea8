"""Evidence for the after-deployment checklist items, fed by serving and monitoring.

The before-deployment items are computed from records (runs, verifications, signatures,
settings). The after-deployment ones can only be shown by what happens once a version
serves traffic, so later stages record it::

    ws.models.record_evidence(
        "credit@3", "drift_detection", passed=True,
        evidence="monitor credit-drift checked window 2026-01-05 (12 columns)",
        details={"monitor": "credit-drift"},
    )

The newest record per item decides its status; with none the item is ``pending``.

One before-deployment item takes evidence too: a retrain records its **backtest** (the
candidate's procedure fitted without the newest labelled production rows, then it and
production scored on those rows) as item ``backtest``, through
``ModelRegistry.record_backtest``, never ``record_evidence``: it carries the measured
values, and the ``champion_challenger`` item judges on them, re-applying
``[checklist] champion_tolerance``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from stead.core.errors import UsageError

# item → what passing it means (shown on the checklist and the card).
AFTER_DEPLOYMENT: dict[str, str] = {
    "drift_detection": "drift detection is active on the deployed version",
    "performance_logged": "performance metrics are logged from live feedback",
    "alerts_tested": "the configured alert sinks were tested end to end",
    "rollback_verified": "rolling back from this version was exercised and worked",
}


BACKTEST = "backtest"


def check_item(item: str) -> str:
    if item not in AFTER_DEPLOYMENT:
        raise UsageError(
            f"{item!r} is not an after-deployment checklist item; evidence can be recorded "
            f"for: {', '.join(AFTER_DEPLOYMENT)}"
        )
    return item


@dataclass(frozen=True)
class Evidence:
    """One recorded piece of evidence for a checklist item of one version."""

    id: str
    model: str
    item: str
    passed: bool
    evidence: str
    recorded_at: datetime
    recorded_by: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "model": self.model,
            "item": self.item,
            "passed": self.passed,
            "evidence": self.evidence,
            "details": self.details,
            "recorded_at": self.recorded_at.isoformat(),
            "recorded_by": self.recorded_by,
        }
