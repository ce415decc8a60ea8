"""stead: a production machine-learning system for tabular models.

The public API is what this module exports: :class:`Workspace` (every service hangs off
it), the entities and results its services return, and every error they raise. Modules
beneath ``stead`` are internal: they may move between releases (they did, when the
prediction log became a stage of its own); import from ``stead`` instead. It starts at
:class:`Workspace`::

    from stead import Workspace

    ws = Workspace.open(".")
    outcome = ws.datasets.snapshot_file("applications.csv", name="credit")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stead.core.errors import (
    Conflict,
    ContractViolation,
    DataError,
    GateFailed,
    IntegrityError,
    NotFound,
    PermissionDenied,
    ReproductionFailed,
    SettingsError,
    SpecError,
    SteadError,
    Unauthenticated,
    UsageError,
)
from stead.core.lazy import lazy_exports

if TYPE_CHECKING:
    from stead.data.contract import Contract, ValidationReport
    from stead.data.erasure import ErasureOutcome
    from stead.data.service import SnapshotOutcome
    from stead.data.snapshot import DatasetSnapshot
    from stead.features.definition import FeatureSet
    from stead.features.leakage import LeakageDetected
    from stead.monitoring.drift.errors import DriftInputError
    from stead.monitoring.drift.report import DriftReport
    from stead.monitoring.monitor_run import MonitorRun
    from stead.monitoring.records import RetrainTrigger
    from stead.monitoring.retraining.leases import LeaseLost
    from stead.predictions.feedback import FeedbackOutcome
    from stead.predictions.record import PredictionRecord
    from stead.predictions.retention import RetentionOutcome
    from stead.predictions.writer import PredictionLogError
    from stead.registry.card import ModelCard
    from stead.registry.checklist import Checklist
    from stead.registry.version import ModelVersion, RegisterOutcome
    from stead.serving.batch.scoring import ScoreOutcome
    from stead.serving.deploy.deployment import Deployment, DeployOutcome, Endpoint
    from stead.serving.deploy.router import TrafficPolicy
    from stead.serving.errors import (
        InternalError,
        MethodNotAllowed,
        NotReady,
        PayloadTooLarge,
        PredictionFailed,
        Unprocessable,
        UnstorableText,
    )
    from stead.training.run import TrainingFailed, TrainingRun, TrainOutcome
    from stead.workspace import InitOutcome, Workspace

__version__ = "0.1.0"

# The entities live in their stages, which import pandas, scikit-learn and the rest; they
# are imported on first use, so `import stead` (and so every `stead` command) stays cheap.
_LAZY = {
    "Checklist": "stead.registry.checklist",
    "Contract": "stead.data.contract",
    "DatasetSnapshot": "stead.data.snapshot",
    "DeployOutcome": "stead.serving.deploy.deployment",
    "Deployment": "stead.serving.deploy.deployment",
    "DriftInputError": "stead.monitoring.drift.errors",
    "DriftReport": "stead.monitoring.drift.report",
    "Endpoint": "stead.serving.deploy.deployment",
    "ErasureOutcome": "stead.data.erasure",
    "FeatureSet": "stead.features.definition",
    "FeedbackOutcome": "stead.predictions.feedback",
    "InitOutcome": "stead.workspace",
    "InternalError": "stead.serving.errors",
    "LeakageDetected": "stead.features.leakage",
    "LeaseLost": "stead.monitoring.retraining.leases",
    "MethodNotAllowed": "stead.serving.errors",
    "ModelCard": "stead.registry.card",
    "ModelVersion": "stead.registry.version",
    "MonitorRun": "stead.monitoring.monitor_run",
    "NotReady": "stead.serving.errors",
    "PayloadTooLarge": "stead.serving.errors",
    "PredictionFailed": "stead.serving.errors",
    "PredictionLogError": "stead.predictions.writer",
    "PredictionRecord": "stead.predictions.record",
    "RegisterOutcome": "stead.registry.version",
    "RetentionOutcome": "stead.predictions.retention",
    "RetrainTrigger": "stead.monitoring.records",
    "ScoreOutcome": "stead.serving.batch.scoring",
    "SnapshotOutcome": "stead.data.service",
    "TrafficPolicy": "stead.serving.deploy.router",
    "TrainOutcome": "stead.training.run",
    "TrainingFailed": "stead.training.run",
    "TrainingRun": "stead.training.run",
    "Unprocessable": "stead.serving.errors",
    "UnstorableText": "stead.serving.errors",
    "ValidationReport": "stead.data.contract",
    "Workspace": "stead.workspace",
}


__getattr__, __dir__ = lazy_exports(globals(), _LAZY)


__all__ = [
    "Checklist",
    "Conflict",
    "Contract",
    "ContractViolation",
    "DataError",
    "DatasetSnapshot",
    "DeployOutcome",
    "Deployment",
    "DriftInputError",
    "DriftReport",
    "Endpoint",
    "ErasureOutcome",
    "FeatureSet",
    "FeedbackOutcome",
    "GateFailed",
    "InitOutcome",
    "IntegrityError",
    "InternalError",
    "LeakageDetected",
    "LeaseLost",
    "MethodNotAllowed",
    "ModelCard",
    "ModelVersion",
    "MonitorRun",
    "NotFound",
    "NotReady",
    "PayloadTooLarge",
    "PermissionDenied",
    "PredictionFailed",
    "PredictionLogError",
    "PredictionRecord",
    "RegisterOutcome",
    "ReproductionFailed",
    "RetentionOutcome",
    "RetrainTrigger",
    "ScoreOutcome",
    "SettingsError",
    "SnapshotOutcome",
    "SpecError",
    "SteadError",
    "TrafficPolicy",
    "TrainOutcome",
    "TrainingFailed",
    "TrainingRun",
    "Unauthenticated",
    "Unprocessable",
    "UnstorableText",
    "UsageError",
    "ValidationReport",
    "Workspace",
    "__version__",
]
