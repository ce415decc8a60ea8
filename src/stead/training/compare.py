"""Comparing two runs: what changed in metrics, params, data, features, code, environment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stead.training.environment import EnvironmentDifference, diff_environments

if TYPE_CHECKING:
    from stead.training.run import TrainingRun


@dataclass(frozen=True)
class MetricChange:
    name: str
    a: float | None
    b: float | None
    baseline_a: float | None
    baseline_b: float | None

    @property
    def delta(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "a": self.a,
            "b": self.b,
            "delta": self.delta,
            "baseline_a": self.baseline_a,
            "baseline_b": self.baseline_b,
        }


@dataclass(frozen=True)
class Difference:
    """One setting or input that differs: ``section`` is params, data, features or code."""

    section: str
    name: str
    a: Any
    b: Any

    def to_dict(self) -> dict[str, Any]:
        return {"section": self.section, "name": self.name, "a": self.a, "b": self.b}


@dataclass(frozen=True)
class RunComparison:
    a: str
    b: str
    metrics: list[MetricChange]
    differences: list[Difference]
    environment: list[EnvironmentDifference]

    def section(self, name: str) -> list[Difference]:
        return [d for d in self.differences if d.section == name]

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "metrics": [m.to_dict() for m in self.metrics],
            "differences": [d.to_dict() for d in self.differences],
            "environment": [e.to_dict() for e in self.environment],
        }


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as ``{"a.b.c": leaf}`` (lists are leaves)."""
    if not isinstance(value, dict):
        return {prefix: value}
    flat: dict[str, Any] = {}
    for key, item in value.items():
        flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def compare_runs(a: TrainingRun, b: TrainingRun) -> RunComparison:
    names = list(dict.fromkeys([*a.spec.metrics, *b.spec.metrics, *a.metrics, *b.metrics]))
    metrics = [
        MetricChange(
            name,
            a.metrics.get(name),
            b.metrics.get(name),
            a.baseline_metrics.get(name),
            b.baseline_metrics.get(name),
        )
        for name in names
    ]
    differences: list[Difference] = []
    spec_a, spec_b = flatten(a.spec.to_dict()), flatten(b.spec.to_dict())
    for key in sorted(set(spec_a) | set(spec_b)):
        if spec_a.get(key) != spec_b.get(key):
            differences.append(Difference("params", key, spec_a.get(key), spec_b.get(key)))
    ca, cb = a.code_version, b.code_version
    pairs: list[tuple[str, str, Any, Any]] = [
        ("data", "snapshot", a.snapshot_ref, b.snapshot_ref),
        ("data", "snapshot_id", a.snapshot_id, b.snapshot_id),
        ("data", "split", a.split, b.split),
        ("features", "feature_set", a.feature_set_ref, b.feature_set_ref),
        ("features", "input_columns", a.input_columns, b.input_columns),
        ("features", "output_columns", a.output_columns, b.output_columns),
        ("code", "commit", ca.commit, cb.commit),
        ("code", "dirty", ca.dirty, cb.dirty),
        ("code", "sources_hash", ca.sources_hash, cb.sources_hash),
    ]
    differences += [Difference(s, n, va, vb) for s, n, va, vb in pairs if va != vb]
    for path in sorted(set(ca.files) | set(cb.files)):
        if ca.files.get(path) != cb.files.get(path):
            differences.append(
                Difference(
                    "code", f"file {path}", _short(ca.files.get(path)), _short(cb.files.get(path))
                )
            )
    return RunComparison(
        a=a.id,
        b=b.id,
        metrics=metrics,
        differences=differences,
        environment=diff_environments(a.environment, b.environment),
    )


def _short(digest: str | None) -> str | None:
    return None if digest is None else digest[:12]
