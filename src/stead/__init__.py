"""stead: a production machine-learning system for tabular models.

The public API starts at :class:`Workspace`::

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
    from stead.data.snapshot import DatasetSnapshot
    from stead.features.definition import FeatureSet
    from stead.predictions.record import PredictionRecord
    from stead.registry.version import ModelVersion
    from stead.serving.deploy.deployment import Deployment, Endpoint
    from stead.serving.deploy.router import TrafficPolicy
    from stead.training.run import TrainingRun
    from stead.workspace import Workspace

__version__ = "0.1.0"

# The entities live in their stages, which import pandas, scikit-learn and the rest; they
# are imported on first use, so `import stead` (and so every `stead` command) stays cheap.
_LAZY = {
    "Contract": "stead.data.contract",
    "ValidationReport": "stead.data.contract",
    "DatasetSnapshot": "stead.data.snapshot",
    "FeatureSet": "stead.features.definition",
    "ModelVersion": "stead.registry.version",
    "Deployment": "stead.serving.deploy.deployment",
    "Endpoint": "stead.serving.deploy.deployment",
    "PredictionRecord": "stead.predictions.record",
    "TrafficPolicy": "stead.serving.deploy.router",
    "TrainingRun": "stead.training.run",
    "Workspace": "stead.workspace",
}


__getattr__, __dir__ = lazy_exports(globals(), _LAZY)


__all__ = [
    "Conflict",
    "Contract",
    "ContractViolation",
    "DataError",
    "DatasetSnapshot",
    "Deployment",
    "Endpoint",
    "FeatureSet",
    "GateFailed",
    "IntegrityError",
    "ModelVersion",
    "NotFound",
    "PermissionDenied",
    "PredictionRecord",
    "ReproductionFailed",
    "SettingsError",
    "SpecError",
    "SteadError",
    "TrafficPolicy",
    "TrainingRun",
    "Unauthenticated",
    "UsageError",
    "ValidationReport",
    "Workspace",
    "__version__",
]
