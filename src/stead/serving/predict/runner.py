"""Running one loaded version on checked request columns: fast, and the same bits for a
record whatever batch it is in.

At load, a :class:`ModelRunner`:

1. makes the pipeline's linear estimators batch-invariant
   (:func:`~stead.serving.predict.batch_invariance.make_batch_invariant`);
2. compiles the feature step into a NumPy plan when it can
   (:func:`~stead.serving.predict.feature_plan.compile_features`), and keeps the plan only
   if it gives the pipeline's own outputs, bit for bit, on probe rows made from the contract;
3. checks, on the same probe rows, that one batch gives each row's bits as predicting it
   alone does (:func:`~stead.serving.predict.batch_invariance.is_batch_invariant`). A version that
   fails is run one record at a time: slower, never different.

What was decided, and why, is in :attr:`ModelRunner.facts` (shown by the server).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from stead.core.errors import SteadError
from stead.data.contract import Contract
from stead.serving.predict.batch_invariance import (
    _same_bits,
    is_batch_invariant,
    make_batch_invariant,
)
from stead.serving.predict.contract import EdgeBatch, EdgeContract
from stead.serving.predict.feature_plan import FeaturePlan, NotCompilable, compile_features

log = logging.getLogger("stead.serving")
PROBE_ROWS = 24

Arrays = dict[str, np.ndarray]


class ModelRunner:
    """Predicts with one fitted pipeline (a version's model or its baseline).

    Args:
        pipeline: the fitted pipeline (features + estimator); changed in place to be
            batch-invariant, so pass one loaded for serving.
        edge: the version's compiled input contract (makes the probe rows).
        output: the version's output description (``task``, ``classes``, ``scores``).
        label: ``credit@3`` or ``credit@3:baseline``, for messages.
    """

    def __init__(
        self, pipeline: Any, *, edge: EdgeContract, output: dict[str, Any], label: str
    ) -> None:
        self.label = label
        self.pipeline = pipeline
        self.columns = list(edge.names)
        self.classes: list[Any] = list(output.get("classes") or [])
        self._keys = [str(c) for c in self.classes]
        if output.get("task") == "regression":
            self.scores = "values"
        elif callable(getattr(pipeline, "predict_proba", None)) and self.classes:
            self.scores = "probabilities"
        else:
            self.scores = "labels"
        self.facts: dict[str, Any] = {"invariant_estimators": make_batch_invariant(pipeline)}
        self._plan: FeaturePlan | None = None
        self._estimator: Any = None
        self.rowwise = False
        self._prepare(edge)

    # -- predicting -------------------------------------------------------------------

    def predict(self, arrays: Arrays, rows: int) -> np.ndarray:
        """One model call: probabilities (rows × classes), labels or values."""
        if self._plan is not None:
            X = self._plan.transform(arrays, rows)
            return self._call(self._estimator, X)
        frame = pd.DataFrame({name: arrays[name] for name in self.columns}, copy=False)
        return self._call(self.pipeline, frame)

    def _call(self, model: Any, X: Any) -> np.ndarray:
        if self.scores == "probabilities":
            return np.asarray(model.predict_proba(X), dtype=np.float64)
        if self.scores == "values":
            return np.asarray(model.predict(X), dtype=np.float64)
        return np.asarray(model.predict(X))

    def run(self, batches: Sequence[EdgeBatch]) -> list[list[dict[str, Any]]]:
        """What the micro-batcher calls: one model call for every batch, answers split
        back per batch, each answer a list of per-record output dicts."""
        sizes = [b.rows for b in batches]
        total = sum(sizes)
        if len(batches) == 1:
            arrays = batches[0].arrays
        else:
            arrays = {
                name: np.concatenate([b.arrays[name] for b in batches]) for name in self.columns
            }
        if self.rowwise and total > 1:
            scores = np.concatenate(
                [
                    self.predict({k: v[i : i + 1] for k, v in arrays.items()}, 1)
                    for i in range(total)
                ]
            )
        else:
            scores = self.predict(arrays, total)
        outputs = self.outputs(scores)
        split: list[list[dict[str, Any]]] = []
        start = 0
        for size in sizes:
            split.append(outputs[start : start + size])
            start += size
        return split

    def outputs(self, scores: np.ndarray) -> list[dict[str, Any]]:
        """Per record: ``prediction`` and ``probabilities`` (class → probability), or
        ``prediction`` alone, or ``value``."""
        if self.scores == "probabilities":
            keys, classes = self._keys, self.classes
            best = np.argmax(scores, axis=1).tolist()
            return [
                {"prediction": classes[b], "probabilities": dict(zip(keys, row, strict=True))}
                for b, row in zip(best, scores.tolist(), strict=True)
            ]
        if self.scores == "values":
            return [{"value": v} for v in scores.tolist()]
        return [{"prediction": v} for v in scores.tolist()]

    # -- deciding how to run, on probe rows --------------------------------------------

    def _prepare(self, edge: EdgeContract) -> None:
        probe = probe_batch(edge)
        generic = self._generic_scores(probe)
        if isinstance(self.pipeline, Pipeline) and len(self.pipeline.steps) > 1:
            kinds = {c.name: c.kind for c in edge.contract.columns}
            try:
                plan = compile_features(self.pipeline[:-1], kinds)
            except NotCompilable as refused:
                self.facts["path"] = f"pipeline on a DataFrame per batch ({refused})"
            else:
                self._plan, self._estimator = plan, self.pipeline[-1]
                self._check_plan(probe, generic)
        else:
            self.facts["path"] = "pipeline on a DataFrame per batch (not a Pipeline)"
        if probe is None or isinstance(generic, Exception):
            self.rowwise = True
            self.facts["batch_invariant"] = (
                f"not verified ({generic!r} on probe rows): predicting one record at a time"
            )
            return

        def subset(rows: list[int]) -> np.ndarray:
            assert probe is not None
            arrays = {k: v[rows] for k, v in probe.arrays.items()}
            return self.predict(arrays, len(rows))

        try:
            ok, why = is_batch_invariant(subset, probe.rows)
        except Exception as exc:  # a model that fails on part of the probe
            ok, why = False, repr(exc)
        self.rowwise = not ok
        self.facts["batch_invariant"] = (
            "verified on probe rows" if ok else f"no ({why}): predicting one record at a time"
        )
        if not ok:
            log.warning(
                "%s is not batch-invariant (%s); predicting one record at a time", self.label, why
            )

    def _generic_scores(self, probe: EdgeBatch | None) -> np.ndarray | Exception:
        if probe is None:
            return SteadError("no probe rows")
        try:
            frame = pd.DataFrame({n: probe.arrays[n] for n in self.columns}, copy=False)
            return self._call(self.pipeline, frame)
        except Exception as exc:
            return exc

    def _check_plan(self, probe: EdgeBatch | None, generic: np.ndarray | Exception) -> None:
        if probe is None or isinstance(generic, Exception):
            self._plan = None
            self.facts["path"] = "pipeline on a DataFrame per batch (plan not verifiable)"
            return
        compiled: np.ndarray | Exception
        try:
            compiled = self.predict(probe.arrays, probe.rows)
        except Exception as exc:
            compiled = exc
        if (
            isinstance(compiled, np.ndarray)
            and compiled.shape == generic.shape
            and compiled.dtype == generic.dtype
            and bool(_same_bits(compiled, generic).all())
        ):
            self.facts["path"] = "compiled NumPy feature plan (verified on probe rows)"
            return
        self._plan = None
        self.facts["path"] = (
            "pipeline on a DataFrame per batch (the compiled plan differed on probe rows)"
        )
        log.warning(
            "%s: the compiled feature plan differs from the pipeline; not using it", self.label
        )


def probe_batch(edge: EdgeContract, rows: int = PROBE_ROWS) -> EdgeBatch | None:
    """Seeded rows that satisfy ``edge``'s contract, checked by it (``None``: cannot)."""
    try:
        return edge.check_columns(probe_columns(edge.contract, rows))
    except SteadError:
        return None


def probe_columns(contract: Contract, rows: int) -> dict[str, list[Any]]:
    """Values for every column of ``contract``, inside its ranges and levels."""
    rng = np.random.default_rng(20_260_301)
    columns: dict[str, list[Any]] = {}
    for col in contract.columns:
        if col.kind in ("int", "float"):
            low = col.min if col.min is not None else -3.0
            high = col.max if col.max is not None else 3.0
            values = rng.uniform(low, high, rows)
            if col.kind == "int":
                values = np.clip(np.round(values), np.ceil(low), np.floor(high))
            columns[col.name] = values.tolist()
        elif col.kind == "bool":
            columns[col.name] = [bool(i % 2) for i in range(rows)]
        elif col.kind == "datetime":
            columns[col.name] = [f"2024-01-{1 + i % 28:02d}T12:00:00Z" for i in range(rows)]
        else:
            levels = col.levels or [f"probe-{i}" for i in range(3)]
            columns[col.name] = [levels[i % len(levels)] for i in range(rows)]
    return columns
