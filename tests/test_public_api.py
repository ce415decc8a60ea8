"""The public API: what ``stead`` exports, and that it is everything a user handles."""

from __future__ import annotations

import importlib
import pkgutil

import stead
from stead.core.errors import SteadError

RESULTS = {
    "InitOutcome",
    "SnapshotOutcome",
    "ErasureOutcome",
    "TrainOutcome",
    "RegisterOutcome",
    "Checklist",
    "ModelCard",
    "DeployOutcome",
    "ScoreOutcome",
    "FeedbackOutcome",
    "RetentionOutcome",
    "MonitorRun",
    "RetrainTrigger",
    "DriftReport",
}
ENTITIES = {
    "Workspace",
    "Contract",
    "ValidationReport",
    "DatasetSnapshot",
    "FeatureSet",
    "TrainingRun",
    "ModelVersion",
    "Deployment",
    "Endpoint",
    "TrafficPolicy",
    "PredictionRecord",
}


def test_public_surface_is_the_intended_one() -> None:
    errors = {n for n in stead.__all__ if n != "__version__" and n not in RESULTS | ENTITIES}
    assert set(stead.__all__) == RESULTS | ENTITIES | errors | {"__version__"}
    for name in stead.__all__:
        assert hasattr(stead, name), name
    for name in errors:
        assert issubclass(getattr(stead, name), SteadError), name


def test_every_error_stead_can_raise_is_importable_from_stead() -> None:
    for module in pkgutil.walk_packages(stead.__path__, "stead."):
        if ".migrations" not in module.name and not module.name.startswith("stead.__main__"):
            importlib.import_module(module.name)
    found: set[type[SteadError]] = set()
    todo = [SteadError]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo.extend(cls.__subclasses__())
    public = {
        c for c in found if not c.__name__.startswith("_") and c.__module__.startswith("stead.")
    }
    missing = sorted(c.__name__ for c in public if getattr(stead, c.__name__, None) is not c)
    assert missing == []
