"""stead: a production machine-learning system for tabular models.

The public API starts at :class:`Workspace`::

    from stead import Workspace

    ws = Workspace.open(".")
    outcome = ws.datasets.snapshot_file("applications.csv", name="credit")
"""

from __future__ import annotations

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
from stead.data.contract import Contract, ValidationReport
from stead.data.snapshot import DatasetSnapshot
from stead.workspace import Workspace

__version__ = "0.1.0"

__all__ = [
    "Conflict",
    "Contract",
    "ContractViolation",
    "DataError",
    "DatasetSnapshot",
    "GateFailed",
    "IntegrityError",
    "NotFound",
    "PermissionDenied",
    "ReproductionFailed",
    "SettingsError",
    "SpecError",
    "SteadError",
    "Unauthenticated",
    "UsageError",
    "ValidationReport",
    "Workspace",
    "__version__",
]
