"""Per-record, per-input-column explanations of a model's output.

Three methods, the first that applies wins (the chosen one is named in every result):

``linear``
    For a linear model (its decision function *is* ``coef · x + intercept``, checked
    numerically on the background), exact contributions: ``coef_j × (x_j − mean_j)``
    for each transformed column ``j``, where ``mean`` is the mean of the *training* rows
    after the feature transformer. Each transformed column is mapped back to the input
    column that produced it (through the ColumnTransformer's per-step output positions
    and the step's ``get_feature_names_out``, e.g. ``region_north`` → ``region``) and
    summed, so a one-hot encoded column gets one contribution. The base value is
    ``coef · mean + intercept``; base + contributions = the decision function exactly:
    **log-odds** of the positive class for a binary classifier, the predicted class's
    decision score for a multiclass one, the **value** for a regressor.
``tree``
    For tree ensembles, shap's ``TreeExplainer`` (path-dependent, so it needs no
    background) on the transformed columns, mapped back to input columns the same way.
    Its output is the model's raw output: log-odds for gradient boosting classifiers,
    **probability** for forests, the value for regressors (``Explanation.output`` says).
``shapley`` / ``permutation``
    Anything else: Shapley values over the input columns against a background sample of
    training rows (:mod:`stead.serving.shapley`), exact for up to 10 columns, sampled
    permutations beyond. Output: the **probability** of the positive (binary) or
    predicted (multiclass) class, or the value.

In every case ``base_value + sum(contributions) == output`` for each record (up to
floating-point rounding).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

from stead.registry.loading import LoadedModel
from stead.serving.shapley import shapley_values

if TYPE_CHECKING:
    from stead.data.service import DatasetService
    from stead.registry.service import ModelRegistry
    from stead.training.service import RunService

# Background rows the model-agnostic method averages over (it costs rows × coalitions).
SAMPLED_BACKGROUND = 32
_TREE_MODULES = ("sklearn.ensemble", "sklearn.tree", "xgboost", "lightgbm", "catboost")


@dataclass(frozen=True)
class Explanation:
    """Contributions of each input column, per record.

    Attributes:
        contributions: per record, input column → contribution.
        base_values: per record, the output with no information about the record.
        outputs: per record, the explained output (= base value + contributions).
        method: ``linear``, ``tree``, ``shapley`` or ``permutation``.
        output: what is explained: ``log_odds``, ``decision``, ``probability`` or
            ``value``.
        classes: per record, the class whose output is explained (``None`` for a
            regressor).
    """

    contributions: list[dict[str, float]]
    base_values: list[float]
    outputs: list[float]
    method: str
    output: str
    classes: list[Any] | None

    def answer(self, i: int) -> dict[str, Any]:
        """What a prediction's answer says beside record ``i``'s contributions: the base
        value, and the output that base value + contributions add up to."""
        explained: dict[str, Any] = {
            "value": self.outputs[i],
            "output": self.output,
            "method": self.method,
        }
        if self.classes is not None:
            label = self.classes[i]
            explained["class"] = label.item() if hasattr(label, "item") else label  # numpy
        return {"explanation_base": self.base_values[i], "explained": explained}


class Explainer:
    """Explains one loaded version; build once per version, call per request.

    Args:
        model: the verified, loaded version.
        background: training rows (the version's input columns); the linear method
            averages all of them, the model-agnostic one a seeded sample.
        seed: for the background sample and sampled permutations.
    """

    def __init__(self, model: LoadedModel, background: pd.DataFrame, *, seed: int = 0) -> None:
        self.model = model
        self.columns = list(model.input_columns)
        self._background = background[self.columns].reset_index(drop=True)
        self._seed = seed
        pipeline = model.pipeline
        self._features = _features_of(pipeline)
        self._estimator = pipeline[-1] if isinstance(pipeline, Pipeline) else pipeline
        self._classifier = model.version.task != "regression"
        self._groups = _column_groups(self._features, self.columns, self._background.head(5))
        self._explain: Callable[[pd.DataFrame], Explanation] = self._choose()

    @property
    def method(self) -> str:
        return self._method

    def explain(self, frame: pd.DataFrame) -> Explanation:
        """Contributions for each row of ``frame`` (already valid for the contract)."""
        return self._explain(frame[self.columns].reset_index(drop=True))

    # -- choosing -----------------------------------------------------------------------

    def _choose(self) -> Callable[[pd.DataFrame], Explanation]:
        if self._groups is not None and self._linear_check():
            self._method = "linear"
            transformed = _dense(self._features.transform(self._background))
            self._mean = transformed.mean(axis=0)
            return self._linear
        if self._groups is not None and self._tree_explainer() is not None:
            self._method = "tree"
            return self._tree
        self._method = "shapley"
        rng = np.random.default_rng(self._seed)
        size = min(SAMPLED_BACKGROUND, len(self._background))
        picks = np.sort(rng.choice(len(self._background), size=size, replace=False))
        self._sample = self._background.iloc[picks].reset_index(drop=True)
        return self._agnostic

    def _linear_check(self) -> bool:
        est = self._estimator
        coef, intercept = getattr(est, "coef_", None), getattr(est, "intercept_", None)
        if coef is None or intercept is None:
            return False
        try:
            x = _dense(self._features.transform(self._background.head(20)))
            expected = _raw(est, x, self._classifier)
            computed = x @ np.atleast_2d(coef).T + np.atleast_1d(intercept)
        except Exception:  # any shape or type mismatch: not a linear model we can read
            return False
        return expected.shape == computed.shape and bool(
            np.allclose(expected, computed, rtol=1e-9, atol=1e-9)
        )

    def _tree_explainer(self) -> Any:
        est = self._estimator
        if not type(est).__module__.startswith(_TREE_MODULES):
            return None
        if not hasattr(self, "_shap"):
            try:
                import shap

                self._shap = shap.TreeExplainer(est)
            except Exception:  # shap cannot read this model: fall back
                self._shap = None
        return self._shap

    # -- methods ------------------------------------------------------------------------

    def _linear(self, frame: pd.DataFrame) -> Explanation:
        est = self._estimator
        x = _dense(self._features.transform(frame))
        coef = np.atleast_2d(est.coef_)
        intercept = np.atleast_1d(est.intercept_)
        rows = self._rows_for(x, coef.shape[0])
        terms = coef[rows] * (x - self._mean)
        base = coef[rows] @ self._mean + intercept[rows]
        output = "log_odds" if self._classifier and coef.shape[0] == 1 else "value"
        if self._classifier and coef.shape[0] > 1:
            output = "decision"
        return self._result(terms, base, "linear", output, rows, x)

    def _tree(self, frame: pd.DataFrame) -> Explanation:
        x = _dense(self._features.transform(frame))
        values = np.asarray(self._shap.shap_values(x, check_additivity=False))
        expected = np.atleast_1d(np.asarray(self._shap.expected_value, dtype=np.float64))
        if values.ndim == 3:  # (records, columns, outputs)
            rows = self._rows_for(x, values.shape[2])
            terms = values[np.arange(len(x)), :, rows]
            base = expected[rows]
        else:
            rows = np.zeros(len(x), dtype=int)
            terms, base = values, np.full(len(x), expected[0])
        total = base + terms.sum(axis=1)
        output = "value"
        if self._classifier:
            proba = self._estimator.predict_proba(x)
            picked = proba[np.arange(len(x)), self._explained_class(rows)]
            output = "probability" if np.allclose(total, picked, atol=1e-6) else "log_odds"
            if output == "log_odds" and len(self._classes()) > 2:
                output = "decision"
        return self._result(terms, base, "tree", output, rows, x)

    def _agnostic(self, frame: pd.DataFrame) -> Explanation:
        pipeline = self.model.pipeline
        if self._classifier:
            targets = np.asarray(pipeline.predict_proba(frame)).argmax(axis=1)
            if len(self._classes()) == 2:
                targets = np.ones(len(frame), dtype=int)
        rows_contrib, bases, outputs = [], [], []
        exact = True
        for i in range(len(frame)):
            k = int(targets[i]) if self._classifier else None
            f = _output_function(pipeline, k)
            result = shapley_values(f, frame.iloc[[i]], self._sample, seed=self._seed + i)
            rows_contrib.append(result.contributions[0])
            bases.append(result.base_values[0])
            outputs.append(result.outputs[0])
            exact = exact and result.exact
        classes = None
        if self._classifier:
            classes = [self._classes()[int(t)] for t in targets]
        return Explanation(
            contributions=[
                {c: float(v) for c, v in zip(self.columns, row, strict=True)}
                for row in rows_contrib
            ],
            base_values=[float(b) for b in bases],
            outputs=[float(o) for o in outputs],
            method="shapley" if exact else "permutation",
            output="probability" if self._classifier else "value",
            classes=classes,
        )

    # -- helpers ------------------------------------------------------------------------

    def _classes(self) -> list[Any]:
        return list(self.model.classes or getattr(self._estimator, "classes_", []))

    def _rows_for(self, x: np.ndarray, outputs: int) -> np.ndarray:
        """Which output each record explains: the only one, the positive class of a
        binary model, or the predicted class of a multiclass one."""
        if outputs == 1:
            return np.zeros(len(x), dtype=int)
        if outputs == 2 and self._classifier:
            return np.ones(len(x), dtype=int)
        est = self._estimator
        scores = est.decision_function(x) if hasattr(est, "decision_function") else None
        if scores is None:
            scores = est.predict_proba(x)
        return np.asarray(scores).reshape(len(x), -1).argmax(axis=1)

    def _explained_class(self, rows: np.ndarray) -> np.ndarray:
        """Class positions explained: the positive class of a binary model, else ``rows``."""
        if len(self._classes()) == 2:
            return np.ones(len(rows), dtype=int)
        return rows

    def _result(
        self,
        terms: np.ndarray,
        base: np.ndarray,
        method: str,
        output: str,
        rows: np.ndarray,
        x: np.ndarray,
    ) -> Explanation:
        assert self._groups is not None
        groups = np.asarray(self._groups, dtype=object)
        # A column the transformer dropped has no transformed columns: it contributes 0.
        by_column = {name: np.flatnonzero(groups == name) for name in self.columns}
        contributions = [
            {name: float(terms[i, where].sum()) for name, where in by_column.items()}
            for i in range(len(terms))
        ]
        classes = None
        known = self._classes()
        if self._classifier and known:
            classes = [known[int(k)] for k in self._explained_class(rows)]
        return Explanation(
            contributions=contributions,
            base_values=[float(b) for b in base],
            outputs=[float(b + t.sum()) for b, t in zip(base, terms, strict=True)],
            method=method,
            output=output,
            classes=classes,
        )


def explain(
    model: LoadedModel, frame: pd.DataFrame, *, background: pd.DataFrame
) -> list[dict[str, float]]:
    """Per-record, per-input-column contributions (see the module docstring).

    Build an :class:`Explainer` once instead when explaining request after request.
    """
    return Explainer(model, background).explain(frame).contributions


class ExplanationService:
    """Explainers of a workspace's versions, their background the version's training rows
    (``ws.explanations``). Explainers are cached per version for the life of the service."""

    def __init__(
        self, *, datasets: DatasetService, runs: RunService, models: ModelRegistry
    ) -> None:
        self._datasets = datasets
        self._runs = runs
        self._models = models
        self._cache: dict[str, Explainer] = {}

    def explainer(self, model: str | LoadedModel) -> Explainer:
        loaded = self._models.load(model) if isinstance(model, str) else model
        cached = self._cache.get(loaded.version.id)
        if cached is None:
            run = self._runs.get(loaded.version.run_id)
            cached = Explainer(loaded, self.training_rows(loaded), seed=run.seed)
            self._cache[loaded.version.id] = cached
        return cached

    def explain(self, model: str | LoadedModel, frame: pd.DataFrame) -> Explanation:
        """Explain ``frame`` with a version (``NAME@N``) or a loaded one."""
        return self.explainer(model).explain(frame)

    def training_rows(self, model: LoadedModel) -> pd.DataFrame:
        """The version's training rows (its snapshot minus the evaluation rows)."""
        run = self._runs.get(model.version.run_id)
        frame = self._datasets.load(self._datasets.get_by_id(run.snapshot_id))
        evaluation = self._runs.eval_frame(run).index
        return frame.drop(index=evaluation)[model.input_columns].reset_index(drop=True)


def _features_of(pipeline: Any) -> Any:
    if isinstance(pipeline, Pipeline) and len(pipeline.steps) > 1:
        features = pipeline[:-1]
        return features[0] if len(features.steps) == 1 else features
    return _Identity()


class _Identity:
    def transform(self, frame: pd.DataFrame) -> Any:
        return frame.to_numpy()

    def get_feature_names_out(self) -> np.ndarray:
        return np.array([], dtype=object)


def _column_groups(features: Any, columns: Sequence[str], sample: pd.DataFrame) -> list[str] | None:
    """For each transformed column, the input column it came from; ``None`` if unknown."""
    if isinstance(features, _Identity):
        return (
            list(columns)
            if all(pd.api.types.is_numeric_dtype(sample[c]) for c in columns)
            else None
        )
    if isinstance(features, ColumnTransformer):
        return _column_transformer_groups(features, columns)
    try:
        names = [str(n) for n in features.get_feature_names_out()]
    except Exception:
        return None
    return names if names and set(names) <= set(columns) else None


def _column_transformer_groups(ct: ColumnTransformer, columns: Sequence[str]) -> list[str] | None:
    width = max((s.stop for s in ct.output_indices_.values()), default=0)
    groups: list[str | None] = [None] * width
    names_in = [str(n) for n in getattr(ct, "feature_names_in_", columns)]
    for name, step, selection in ct.transformers_:
        where = ct.output_indices_.get(name)
        if where is None or where.stop == where.start:
            continue
        selected = [names_in[s] if isinstance(s, int | np.integer) else str(s) for s in selection]
        if isinstance(step, str) and step == "passthrough":
            outputs = selected
        else:
            try:
                outputs = [str(n) for n in step.get_feature_names_out(selected)]
            except Exception:
                if len(selected) != 1:
                    return None
                outputs = selected * (where.stop - where.start)
        if len(outputs) != where.stop - where.start:
            return None
        for offset, out in enumerate(outputs):
            source = _source_of(out, selected)
            if source is None:
                return None
            groups[where.start + offset] = source
    if any(g is None for g in groups):
        return None
    return [str(g) for g in groups]


def _source_of(output: str, selected: Sequence[str]) -> str | None:
    if len(selected) == 1:
        return selected[0]
    if output in selected:
        return output
    # One-hot style names: "<column>_<level>"; the longest matching column wins.
    matches = [c for c in selected if output.startswith(f"{c}_")]
    return max(matches, key=len) if matches else None


def _output_function(pipeline: Any, k: int | None) -> Callable[[pd.DataFrame], np.ndarray]:
    """The scalar the model-agnostic method explains: P(class k), or the value."""
    if k is None:
        return lambda data: np.asarray(pipeline.predict(data), dtype=np.float64)
    return lambda data: np.asarray(pipeline.predict_proba(data), dtype=np.float64)[:, k]


def _dense(values: Any) -> np.ndarray:
    if sparse.issparse(values):
        values = values.toarray()
    return np.asarray(values, dtype=np.float64)


def _raw(estimator: Any, x: np.ndarray, classifier: bool) -> np.ndarray:
    if classifier:
        raw = np.asarray(estimator.decision_function(x), dtype=np.float64)
    else:
        raw = np.asarray(estimator.predict(x), dtype=np.float64)
    return raw.reshape(len(x), -1)
