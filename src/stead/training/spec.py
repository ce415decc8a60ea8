"""The run spec: every setting that determines a run's result, resolved and recorded.

A run records its spec, and ``stead reproduce`` replays exactly it (not today's
``stead.toml``). The *run key* (see :func:`run_key`) hashes the inputs that decide the
result (snapshot, feature-set version, spec, seed and the project sources) so that
training the same inputs again returns the existing run.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from stead.core.settings import build_dataclass
from stead.features.definition import FeatureSettings, canonical_json
from stead.features.settings import LeakageSettings
from stead.training.project import Project, Task
from stead.training.settings import SplitSettings, TrainingSettings

SPEC_FORMAT = 1


@dataclass(frozen=True, kw_only=True)
class RunSpec:
    """What a run trains, on which columns, and how it evaluates."""

    task: Task
    target: str
    id_column: str | None
    time_column: str | None
    feature_name: str
    feature_definition: str
    feature_params: dict[str, Any]
    estimator: str
    params: dict[str, Any]
    baseline_estimator: str
    baseline_params: dict[str, Any]
    split: SplitSettings
    metrics: list[str]
    seed: int
    trusted_types: list[str] = field(default_factory=list)
    positive_class: str | int | bool | None = None
    # Checks only: they decide whether a run may train, not what it produces.
    leakage: LeakageSettings = field(default_factory=LeakageSettings)
    pii: list[str] = field(default_factory=list)
    post_prediction: list[str] = field(default_factory=list)

    @classmethod
    def resolve(
        cls,
        *,
        project: Project,
        features: FeatureSettings,
        feature_name: str,
        training: TrainingSettings,
    ) -> RunSpec:
        assert features.definition is not None and training.estimator is not None
        baseline, baseline_params = training.baseline_for(project.task)
        return cls(
            task=project.task,
            target=project.target,
            id_column=project.id,
            time_column=project.time,
            feature_name=feature_name,
            feature_definition=features.definition,
            feature_params=dict(features.params),
            estimator=training.estimator,
            params=dict(training.params),
            baseline_estimator=baseline,
            baseline_params=baseline_params,
            split=_resolved_split(training.split, project.time),
            metrics=training.metrics_for(project.task),
            seed=training.seed,
            trusted_types=list(training.trusted_types),
            positive_class=training.positive_class,
            leakage=training.leakage,
            pii=list(project.pii),
            post_prediction=list(project.post_prediction),
        )

    def with_seed(self, seed: int) -> RunSpec:
        return replace(self, seed=seed)

    def to_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["format"] = SPEC_FORMAT
        return body

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> RunSpec:
        values = {k: v for k, v in body.items() if k != "format"}
        values["split"] = build_dataclass(SplitSettings, values["split"], where="recorded split")
        values["leakage"] = build_dataclass(
            LeakageSettings, values.get("leakage", {}), where="recorded leakage settings"
        )
        return cls(**values)

    def result_inputs(self) -> dict[str, Any]:
        """The part of the spec that decides the result (the checks do not)."""
        body = self.to_dict()
        for key in ("leakage", "pii", "post_prediction"):
            body.pop(key)
        # Unset settings leave the body as it was before they existed, so the keys of runs
        # recorded earlier stay the same (the same inputs still give the same run).
        if body.get("positive_class") is None:
            body.pop("positive_class")
        if not body["split"].get("refit"):
            body["split"].pop("refit", None)
        return body


def _resolved_split(split: SplitSettings, time_column: str | None) -> SplitSettings:
    """An unset split method: by time when the project has a time column, else random."""
    if split.method is not None:
        return split
    return replace(split, method="time" if time_column else "random")


def run_key(*, snapshot_id: str, feature_set_version: str, spec: RunSpec, sources_hash: str) -> str:
    """Same snapshot, feature-set version, spec, seed and code → same key.

    The code enters as the hash of the project sources the run uses, not the git commit:
    an unrelated commit (a README edit) must not retrain, while any edit to the code that
    runs must.
    """
    body = {
        "snapshot": snapshot_id,
        "feature_set": feature_set_version,
        "spec": spec.result_inputs(),
        "sources": sources_hash,
    }
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()
