"""The playbook: from a window's signals (and the few windows before it) to decisions.

Pure: :func:`decide` takes the window's newest result per signal and a short history,
and returns what to do, each decision with the evidence behind it. The service stores
the decisions, raises their alerts and creates their triggers.

=====================================  ==========================  ==================
when                                   decision                    action
=====================================  ==========================  ==================
inputs or outputs drifted              ``investigate``             alert (warning)
drift and a performance drop           ``retrain``                 retrain trigger
(measured, or estimated confidently)
the same feature drifted in ≥ N of     ``revisit_features``        recommendation
the last M windows
the last k judged windows all below    ``retrain``                 retrain trigger
tolerance (sustained decay)
one window below tolerance             ``performance_below``       alert (warning)
schema changed                         ``schema_change``           alert (warning)
latency, errors, fallbacks, shadows    ``system``                  alert (critical)
a KPI outside its limits               ``kpi``                     alert (warning)
=====================================  ==========================  ==================

Why drift alone does not retrain: inputs move all the time (a campaign, a holiday, a new
channel) without the model getting worse, and retraining on a transient shift teaches
the model the transient. Drift asks a person to look; drift *with* a measured or
confidently estimated drop is evidence that the model no longer fits the world.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from stead.monitoring.settings import PolicySettings


class ResultLike(Protocol):
    """What the policy reads of a result (a stored one or a fresh one)."""

    @property
    def status(self) -> str: ...

    @property
    def summary(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class PastWindow:
    """What the policy remembers of an earlier window: its drifted features and whether
    its measured performance was judged and below tolerance."""

    key: str
    drifted: tuple[str, ...] = ()
    performance_judged: bool = False
    performance_below: bool = False


@dataclass(frozen=True)
class PlannedDecision:
    """A decision before it is stored.

    Attributes:
        kind: ``investigate``, ``retrain``, ``revisit_features``, ``performance_below``,
            ``schema_change``, ``system`` or ``kpi``.
        action: ``alert``, ``trigger`` or ``recommendation`` (each raises an alert too).
        severity: ``info``, ``warning`` or ``critical``.
        signal: the alert's signal (its dedupe key with endpoint and window).
        title: one line.
        message: what happened and what to do.
        evidence: the numbers and the results that caused it.
        trigger_kind: for a trigger, ``drift_and_drop`` or ``sustained_decay``.
    """

    kind: str
    action: str
    severity: str
    signal: str
    title: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    trigger_kind: str | None = None


def decide(
    endpoint: str,
    window_label: str,
    results: Mapping[str, ResultLike],
    history: Sequence[PastWindow],
    policy: PolicySettings,
) -> list[PlannedDecision]:
    """The decisions one window calls for.

    Args:
        endpoint: the endpoint (for messages).
        window_label: the window, as people read it.
        results: the window's newest result per signal.
        history: earlier windows, newest first (at most ``max(revisit_within,
            decay_windows) - 1`` are used).
        policy: ``[policy]``.
    """
    decisions: list[PlannedDecision] = []
    where = f"{endpoint}, window {window_label}"
    drift = _drift(results)
    drop = _drop(results, policy)
    if drift and policy.investigate_on_drift:
        decisions.append(
            PlannedDecision(
                kind="investigate",
                action="alert",
                severity="warning",
                signal="investigate",
                title=f"Drift on {where}: investigate",
                message=f"{_describe_drift(drift)}. Check the data sources and recent changes; "
                "drift alone does not retrain.",
                evidence={"drift": drift},
            )
        )
    if drift and drop and policy.retrain_on_drift_and_drop:
        decisions.append(
            PlannedDecision(
                kind="retrain",
                action="trigger",
                severity="critical",
                signal="retrain",
                title=f"Drift and a performance drop on {where}: retrain",
                message=f"{_describe_drift(drift)}, and {drop['message']}.",
                evidence={"drift": drift, "performance": drop},
                trigger_kind="drift_and_drop",
            )
        )
    revisit = _revisit(drift, history, policy)
    if revisit:
        listed = ", ".join(f"{f} ({n} of {policy.revisit_within})" for f, n in revisit.items())
        decisions.append(
            PlannedDecision(
                kind="revisit_features",
                action="recommendation",
                severity="warning",
                signal="revisit_features",
                title=f"Recurring drift on {where}: revisit features",
                message=f"the same features keep drifting: {listed} windows. Their relation "
                "to the outcome may have changed for good: review how they are built, or "
                "whether the model should use them, before retraining on them again.",
                evidence={"features": revisit, "within": policy.revisit_within},
            )
        )
    performance = results.get("performance")
    if performance is not None and performance.summary.get("below"):
        decay = _decay(history, policy)
        if decay is not None:
            decisions.append(
                PlannedDecision(
                    kind="retrain",
                    action="trigger",
                    severity="critical",
                    signal="retrain",
                    title=f"Sustained performance decay on {where}: retrain",
                    message=f"{_performance_text(performance.summary)}; the last "
                    f"{policy.decay_windows} judged windows were all below tolerance.",
                    evidence={"performance": dict(performance.summary), "windows": decay},
                    trigger_kind="sustained_decay",
                )
            )
        decisions.append(
            PlannedDecision(
                kind="performance_below",
                action="alert",
                severity="warning",
                signal="performance",
                title=f"Performance below training on {where}",
                message=_performance_text(performance.summary),
                evidence={"performance": dict(performance.summary)},
            )
        )
    for signal, kind, severity, title in (
        ("schema", "schema_change", "warning", "Schema change"),
        ("system", "system", "critical", "System limits crossed"),
        ("kpi", "kpi", "warning", "KPI outside its limits"),
    ):
        result = results.get(signal)
        if result is not None and result.status == "alert":
            decisions.append(
                PlannedDecision(
                    kind=kind,
                    action="alert",
                    severity=severity,
                    signal=signal,
                    title=f"{title} on {where}",
                    message=getattr(result, "message", "") or kind,
                    evidence={signal: dict(result.summary)},
                )
            )
    return decisions


def _drift(results: Mapping[str, ResultLike]) -> dict[str, Any]:
    """The drifted features (with the statistics that flagged them) and outputs."""
    found: dict[str, Any] = {}
    data = results.get("data_drift")
    if data is not None and data.status == "alert":
        scores = data.summary.get("scores", {})
        found["features"] = {
            name: {
                k: v
                for k, v in scores.get(name, {}).items()
                if k not in ("status", "kind", "headline") and v is not None
            }
            for name in data.summary.get("drifted", [])
        }
    prediction = results.get("prediction_drift")
    if prediction is not None and prediction.status == "alert":
        found["outputs"] = {
            k: v for k, v in prediction.summary.items() if k not in ("status", "kind", "headline")
        }
    return found


def _drop(results: Mapping[str, ResultLike], policy: PolicySettings) -> dict[str, Any] | None:
    """A performance drop: measured below tolerance, else estimated confidently below."""
    measured = results.get("performance")
    if measured is not None and measured.summary.get("below"):
        return {
            "source": "measured",
            **dict(measured.summary),
            "message": _performance_text(measured.summary),
        }
    if measured is not None and measured.status == "ok":
        return None  # labels say it is fine: an estimate does not overrule them
    estimated = results.get("estimated_performance")
    if estimated is not None:
        s = estimated.summary
        if (s.get("drop_probability") or 0.0) >= policy.estimate_confidence:
            return {
                "source": "estimated",
                **dict(s),
                "message": (
                    f"estimated {s['metric']} {s['estimate']:.4f} is below training "
                    f"{s['training']:.4f} minus {s['tolerance']:g} with probability "
                    f"{s['drop_probability']:.2f} (no labels yet)"
                ),
            }
    return None


def _revisit(
    drift: dict[str, Any], history: Sequence[PastWindow], policy: PolicySettings
) -> dict[str, int]:
    current = list(drift.get("features", {}))
    earlier = list(history)[: policy.revisit_within - 1]
    found: dict[str, int] = {}
    for feature in current:
        count = 1 + sum(1 for w in earlier if feature in w.drifted)
        if count >= policy.revisit_after:
            found[feature] = count
    return found


def _decay(history: Sequence[PastWindow], policy: PolicySettings) -> list[str] | None:
    judged = [w for w in history if w.performance_judged][: policy.decay_windows - 1]
    if len(judged) < policy.decay_windows - 1 or not all(w.performance_below for w in judged):
        return None
    return [w.key for w in judged]


def _describe_drift(drift: dict[str, Any]) -> str:
    parts = []
    features = drift.get("features") or {}
    if features:
        shown = []
        for name, stats in features.items():
            numbers = ", ".join(f"{k} {v:.3g}" for k, v in stats.items() if isinstance(v, float))
            shown.append(f"{name} ({numbers})" if numbers else name)
        parts.append(f"{len(features)} feature(s) drifted: {'; '.join(shown)}")
    outputs = drift.get("outputs")
    if outputs:
        parts.append(f"the model's outputs ({outputs.get('column')}) drifted")
    return " and ".join(parts)


def _performance_text(summary: dict[str, Any]) -> str:
    return (
        f"measured {summary['metric']} {summary['value']:.4f} on {summary['labelled']} labels "
        f"vs {summary['training']:.4f} at training (tolerance {summary['tolerance']:g})"
    )
