"""Lineage: the tree of records that produced a model version, or a prediction.

A :class:`LineageNode` is one record (a model version, a run, a snapshot, a feature-set
version, a code version, an environment) with its key facts and the records it came
from as children. :func:`model_lineage` builds the tree below a model version::

    model version credit@3 (owner risk-team, production)
    └── run run0190… (seed 7, succeeded)
        ├── snapshot apps@2 (source apps.csv sha256 …)
        │   └── parent snapshot apps@1
        ├── feature set credit@4e1f…
        ├── code version 1a2b3c4d5e6f (dirty), sources 9f8e…
        └── environment Python 3.11.9, Linux x86_64, scikit-learn 1.5.2

A lineage query starts from whatever the user names. :class:`LineageQuery` tries its
*starts* in order; the registry provides the start for ``NAME@N``. Serving adds the start
for a request id by returning a ``prediction`` node whose child is this same tree::

    LineageNode("prediction", request_id, f"prediction {request_id}", facts,
                (ws.models.lineage(record.model_version),))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stead.core.errors import NotFound
from stead.registry.version import ModelVersion

if TYPE_CHECKING:
    from stead.data.service import DatasetService
    from stead.data.snapshot import DatasetSnapshot
    from stead.features.service import FeatureService
    from stead.training.run import TrainingRun

# How far up a snapshot's parents the tree goes (each is one more row to read).
MAX_PARENTS = 20
KEY_PACKAGES = ("scikit-learn", "numpy", "pandas", "scipy", "skops")


@dataclass(frozen=True)
class LineageNode:
    """One record in a lineage tree; ``children`` are the records it came from."""

    kind: str
    id: str
    label: str
    facts: dict[str, Any] = field(default_factory=dict)
    children: tuple[LineageNode, ...] = ()

    def find(self, kind: str) -> list[LineageNode]:
        """Every node of ``kind`` in this tree, depth first."""
        found = [self] if self.kind == kind else []
        for child in self.children:
            found.extend(child.find(kind))
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "label": self.label,
            "facts": self.facts,
            "children": [c.to_dict() for c in self.children],
        }

    def render(self, *, facts: bool = True) -> str:
        """The tree as indented text, one node per line (and its facts below it)."""
        lines: list[str] = []
        self._render(lines, prefix="", last=True, root=True, facts=facts)
        return "\n".join(lines)

    def _render(
        self, lines: list[str], *, prefix: str, last: bool, root: bool, facts: bool
    ) -> None:
        branch = "" if root else ("└── " if last else "├── ")
        lines.append(f"{prefix}{branch}{self.label}")
        inner = prefix if root else prefix + ("    " if last else "│   ")
        if facts:
            bar = "│   " if self.children else "    "
            for key, value in self.facts.items():
                if value is None or value == [] or value == {}:
                    continue
                lines.append(f"{inner}{bar}{key}: {_show(value)}")
        for index, child in enumerate(self.children):
            child._render(
                lines,
                prefix=inner,
                last=index == len(self.children) - 1,
                root=False,
                facts=facts,
            )


def _show(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


# A start turns what the user typed into a tree, or returns None when it is not its kind.
LineageStart = Callable[[str], "LineageNode | None"]


class LineageQuery:
    """Answers ``stead lineage TARGET`` by trying each start in order.

    Args:
        starts: ``(description, start)`` pairs, e.g. ``("NAME@N (a model version)",
            ws.models.lineage_start)``; the descriptions name the accepted forms in the
            error when nothing matches.
    """

    def __init__(self, starts: Sequence[tuple[str, LineageStart]]) -> None:
        self._starts = list(starts)

    def __call__(self, target: str) -> LineageNode:
        for _, start in self._starts:
            node = start(target)
            if node is not None:
                return node
        forms = "; ".join(description for description, _ in self._starts)
        raise NotFound(f"nothing named {target!r} to trace; lineage starts from: {forms}")


def model_lineage(
    version: ModelVersion,
    run: TrainingRun,
    *,
    datasets: DatasetService,
    features: FeatureService,
) -> LineageNode:
    """The tree below ``version``: run → snapshot (and parents), feature set, code, env."""
    snapshot = datasets.get_by_id(run.snapshot_id)
    return LineageNode(
        "model_version",
        version.id,
        f"model version {version.ref} ({version.stage}, owner {version.owner})",
        {
            "owner": version.owner,
            "stage": version.stage,
            "registered": f"{version.registered_at:%Y-%m-%d %H:%M} UTC by {version.registered_by}",
            "artifacts": {k: v[:12] for k, v in version.artifacts.items() if v},
            "contract_hash": version.contract_hash[:12],
            "signed_by": version.key_fingerprint[:23],
        },
        (
            LineageNode(
                "run",
                run.id,
                f"run {run.id} ({run.status}, seed {run.seed})",
                {
                    "project": run.project,
                    "estimator": run.spec.estimator,
                    "metrics": _rounded(run.metrics),
                    "baseline_metrics": _rounded(run.baseline_metrics),
                    "started": f"{run.started_at:%Y-%m-%d %H:%M} UTC by {run.created_by}",
                },
                (
                    _snapshot_node(snapshot, datasets),
                    _feature_set_node(run, features),
                    _code_node(run),
                    _environment_node(run),
                ),
            ),
        ),
    )


def _rounded(metrics: dict[str, float | None]) -> dict[str, float | None]:
    return {k: None if v is None else round(v, 4) for k, v in metrics.items()}


def _snapshot_node(
    snapshot: DatasetSnapshot, datasets: DatasetService, *, depth: int = 0
) -> LineageNode:
    parents: tuple[LineageNode, ...] = ()
    if snapshot.parent_id and depth < MAX_PARENTS:
        try:
            parent = datasets.get_by_id(snapshot.parent_id)
        except NotFound:
            parents = ()
        else:
            parents = (_snapshot_node(parent, datasets, depth=depth + 1),)
    kind = "snapshot" if depth == 0 else "parent_snapshot"
    return LineageNode(
        kind,
        snapshot.id,
        f"{'snapshot' if depth == 0 else 'parent snapshot'} {snapshot.ref} "
        f"({snapshot.rows} rows, content {snapshot.content_hash[:12]})",
        {
            "content_hash": snapshot.content_hash,
            "source": snapshot.source_path or "(a DataFrame)",
            "source_hash": snapshot.source_hash,
            "code": snapshot.code_version.describe(),
            "created": f"{snapshot.created_at:%Y-%m-%d %H:%M} UTC by {snapshot.created_by}",
        },
        parents,
    )


def _feature_set_node(run: TrainingRun, features: FeatureService) -> LineageNode:
    try:
        feature_set = features.get(run.feature_set_id)
    except NotFound:
        return LineageNode("feature_set", run.feature_set_id, f"feature set {run.feature_set_ref}")
    return LineageNode(
        "feature_set",
        feature_set.id,
        f"feature set {feature_set.ref}",
        {
            "definition": feature_set.definition,
            "params": feature_set.params,
            "input_columns": run.input_columns,
            "source_hash": feature_set.source_hash,
            "sources": sorted(feature_set.sources),
        },
    )


def _code_node(run: TrainingRun) -> LineageNode:
    code = run.code_version
    commit = code.commit[:12] if code.commit else "no git commit"
    dirty = " (dirty)" if code.dirty else ""
    return LineageNode(
        "code_version",
        code.sources_hash,
        f"code version {commit}{dirty}, sources {code.sources_hash[:12]}",
        {
            "commit": code.commit,
            "dirty": code.dirty,
            "repo": code.repo,
            "sources_hash": code.sources_hash,
            "files": sorted(code.files),
        },
    )


def _environment_node(run: TrainingRun) -> LineageNode:
    summary = environment_summary(run.environment)
    return LineageNode(
        "environment",
        f"env:{run.id}",
        f"environment {summary['python']}, {summary['platform']}",
        summary,
    )


def environment_summary(environment: dict[str, Any]) -> dict[str, Any]:
    """The few environment facts a reader wants first (the run keeps all of them)."""
    python = environment.get("python", {})
    platform = environment.get("platform", {})
    packages = environment.get("packages", {})
    pools = environment.get("threadpools", [])
    cpu = environment.get("cpu", {})
    return {
        "python": f"Python {python.get('version', '?')} ({python.get('implementation', '?')})",
        "platform": f"{platform.get('system', '?')} {platform.get('machine', '?')}",
        "cpu": f"{cpu.get('model') or '?'} ({cpu.get('usable') or cpu.get('count') or '?'} usable)",
        "packages": {name: packages[name] for name in KEY_PACKAGES if name in packages},
        "threads": {
            f"{p.get('internal_api')}": p.get("num_threads") for p in pools if p.get("internal_api")
        },
        "installed_packages": len(packages),
    }
