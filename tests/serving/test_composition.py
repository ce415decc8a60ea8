"""One object graph: every service is built once, by the workspace, whichever entry point
reaches it (the Python API, ws.monitors' runs and retrains, the HTTP server)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from stead.data.service import DatasetService
from stead.features.service import FeatureService
from stead.monitoring.service import MonitorService
from stead.predictions.feedback import FeedbackService
from stead.predictions.lineage import RequestLineage
from stead.predictions.service import PredictionService
from stead.registry.service import ModelRegistry
from stead.security.access import AccessPolicy
from stead.security.tokens import TokenService
from stead.serving.batch.scoring import ScoringService
from stead.serving.deploy.endpoints import EndpointService
from stead.serving.explain import ExplanationService
from stead.training.service import RunService
from stead.workspace import Workspace
from tests.serving.deployed import RECORD, TREES, runtime_of, serving

SERVICES = (
    DatasetService,
    FeatureService,
    RunService,
    ModelRegistry,
    AccessPolicy,
    TokenService,
    EndpointService,
    PredictionService,
    FeedbackService,
    ScoringService,
    ExplanationService,
    RequestLineage,
    MonitorService,
)
PROPERTIES = {
    DatasetService: "datasets",
    FeatureService: "features",
    RunService: "runs",
    ModelRegistry: "models",
    AccessPolicy: "access",
    TokenService: "tokens",
    EndpointService: "endpoints",
    PredictionService: "predictions",
    FeedbackService: "feedback",
    ScoringService: "scoring",
    ExplanationService: "explanations",
    RequestLineage: "lineage",
    MonitorService: "monitors",
}


def reachable(start: object) -> dict[type, set[int]]:
    """Every service instance reachable from ``start`` through attributes, by type."""
    found: dict[type, set[int]] = defaultdict(set)
    seen: set[int] = set()
    todo: list[Any] = [start]
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, SERVICES):
            found[type(obj)].add(id(obj))
        if isinstance(obj, dict):
            todo.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            todo.extend(obj)
        elif type(obj).__module__.startswith("stead.") and hasattr(obj, "__dict__"):
            todo.extend(vars(obj).values())
    return found


def test_every_service_reachable_from_the_workspace_is_the_one_it_built(dws: Workspace) -> None:
    # Build every service and the parts they build when first used.
    for name in PROPERTIES.values():
        getattr(dws, name)
    dws.monitors.config  # noqa: B018
    found = reachable(dws)
    for service, name in PROPERTIES.items():
        assert found[service] == {id(getattr(dws, name))}, service.__name__


def test_the_server_runs_on_the_services_its_workspace_built(dep_dir: Path) -> None:
    with Workspace.open(dep_dir) as ws:
        ws.endpoints.deploy("credit", TREES, reason="first")
    with serving(dep_dir) as client:
        answer = client.post(
            "/v1/endpoints/credit/predict?explain=true", json={"records": [RECORD]}
        )
        assert answer.status_code == 200, answer.text
        runtime = runtime_of(client)
        ws = runtime.ws
        assert isinstance(ws, Workspace)
        found = reachable(runtime)
        for service, name in PROPERTIES.items():
            if found.get(service):
                assert found[service] == {id(getattr(ws, name))}, service.__name__
        assert found[ModelRegistry] and found[EndpointService] and found[PredictionService]
