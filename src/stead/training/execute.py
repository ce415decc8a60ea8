"""Executing a run spec: build, seed, fit, evaluate. Shared by training and reproduce.

Everything here runs inside :func:`stead.features.sources.importing` for the run's
sources, so the user code that executes is exactly the hashed (or stored) code.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.pipeline import Pipeline

from stead.core.errors import SpecError
from stead.features.columns import input_columns, output_columns
from stead.features.definition import build_transformer
from stead.features.imports import ImportPath
from stead.training.evaluation import Predictions, evaluate, positive_index, predict
from stead.training.project import Task
from stead.training.spec import RunSpec
from stead.training.split import Split

StepCallback = Callable[[str], None]


def check_data(frame: pd.DataFrame, spec: RunSpec, *, source: str) -> None:
    """Refuse data the spec cannot train on, before anything is fitted or stored.

    Raises:
        SpecError: a named column is missing, the target has missing values, too few
            classes for the task, or is not numeric for regression.
    """
    for role, column in (
        ("target", spec.target),
        ("id", spec.id_column),
        ("time", spec.time_column),
    ):
        if column is not None and column not in frame.columns:
            raise SpecError(
                f"the {role} column {column!r} is not in {source}; its columns are: "
                f"{', '.join(map(str, frame.columns))}"
            )
    y = frame[spec.target]
    missing = np.flatnonzero(y.isna().to_numpy())
    if len(missing):
        raise SpecError(
            f"target {spec.target!r} is missing in {len(missing)} row(s) of {source} (rows "
            f"{', '.join(map(str, missing[:5]))}); drop them before snapshotting"
        )
    if spec.task == "regression":
        if not pd.api.types.is_numeric_dtype(y.dtype) or pd.api.types.is_bool_dtype(y.dtype):
            raise SpecError(
                f"target {spec.target!r} in {source} is {y.dtype}, not numeric; a regression "
                'needs a numeric target (or set [project] task = "binary"/"multiclass")'
            )
        return
    classes = sorted(map(str, y.unique()))
    if len(classes) < 2:
        raise SpecError(
            f"target {spec.target!r} has one class ({classes[0]}) in {source}; a classifier "
            "needs at least two"
        )
    if spec.task == "binary" and len(classes) > 2:
        raise SpecError(
            f"target {spec.target!r} has {len(classes)} classes in {source} "
            f'({", ".join(classes[:10])}); set [project] task = "multiclass"'
        )
    if spec.task == "binary" and spec.positive_class is not None:
        positive_index(list(y.unique()), spec.positive_class, source=source)
    if spec.task == "multiclass" and len(classes) == 2:
        raise SpecError(
            f'target {spec.target!r} has two classes in {source}; set [project] task = "binary"'
        )


def make_estimator(path_text: str, params: dict[str, Any], *, where: str, task: Task) -> Any:
    """Import and construct an estimator, checking that it suits the task.

    Raises:
        SpecError: the import path does not import, the params are wrong, or the object
            is not an estimator of the task's kind.
    """
    path = ImportPath.parse(path_text, where=where)
    factory = path.resolve(where=where)
    if not callable(factory):
        raise SpecError(f"{where} = {path_text!r} is a {type(factory).__name__}, not a class")
    try:
        estimator = factory(**params)
    except TypeError as exc:
        raise SpecError(
            f"{where} = {path_text!r} does not accept params {sorted(params)}: {exc}"
        ) from exc
    except Exception as exc:
        raise SpecError(f"{where} = {path_text!r} raised {type(exc).__name__}: {exc}") from exc
    for method in ("fit", "predict", "get_params", "set_params"):
        if not callable(getattr(estimator, method, None)):
            raise SpecError(
                f"{where} = {path_text!r} built a {type(estimator).__name__}, which has no "
                f"{method}(); stead trains scikit-learn compatible estimators"
            )
    kind = _kind(estimator)
    if task == "regression" and kind == "classifier":
        raise SpecError(f"{where} = {path_text!r} is a classifier but [project] task is regression")
    if task != "regression" and kind == "regressor":
        raise SpecError(f"{where} = {path_text!r} is a regressor but [project] task is {task}")
    validate = getattr(estimator, "_validate_params", None)
    if callable(validate) and hasattr(estimator, "_parameter_constraints"):
        # scikit-learn checks parameter values only in fit; check them before anything runs.
        try:
            validate()
        except (ValueError, TypeError) as exc:
            raise SpecError(f"{where} = {path_text!r}: {exc}") from exc
    return estimator


def _kind(estimator: Any) -> str | None:
    try:
        if is_classifier(estimator):
            return "classifier"
        if is_regressor(estimator):
            return "regressor"
    except Exception:  # objects without scikit-learn tags: no opinion
        return None
    return None


@dataclass
class Prepared:
    """Unfitted parts of a run, built from the spec and checked against the data."""

    features: Any
    model: Any
    baseline: Any
    input_columns: list[str]


def prepare(spec: RunSpec, frame: pd.DataFrame, *, source: str) -> Prepared:
    """Build the feature transformer and both estimators; find the input columns.

    Raises:
        SpecError: for any part that cannot be built or does not fit the data.
    """
    seed_everything(spec.seed)
    features = build_transformer(spec.feature_definition, spec.feature_params)
    model = make_estimator(
        spec.estimator, spec.params, where="[training] estimator", task=spec.task
    )
    baseline = make_estimator(
        spec.baseline_estimator,
        spec.baseline_params,
        where="[training.baseline] estimator",
        task=spec.task,
    )
    candidates = frame.drop(columns=[spec.target])
    columns = input_columns(features, candidates, source=source)
    if not columns:
        raise SpecError(
            f"the feature definition {spec.feature_definition!r} uses no column of {source}"
        )
    return Prepared(features=features, model=model, baseline=baseline, input_columns=columns)


def seed_everything(seed: int) -> None:
    """Seed the global generators user code may draw from (``random``, NumPy's legacy)."""
    random.seed(seed)
    np.random.seed(seed)


def pin_random_states(estimator: Any, seed: int) -> list[str]:
    """Set every ``random_state`` parameter left unset (``None``) to ``seed``.

    Values the user set explicitly are kept (and recorded in the spec's params).
    """
    params = estimator.get_params(deep=True)
    unset = {
        key: seed
        for key, value in params.items()
        if (key == "random_state" or key.endswith("__random_state")) and value is None
    }
    if unset:
        estimator.set_params(**unset)
    return sorted(unset)


@dataclass
class Fitted:
    """A fitted run: the model and baseline pipelines and their evaluation results."""

    pipeline: Pipeline
    baseline: Pipeline
    predictions: Predictions
    baseline_predictions: Predictions
    metrics: dict[str, float | None]
    baseline_metrics: dict[str, float | None]
    classes: list[Any] | None
    output_columns: list[str] | None
    pinned: list[str]
    timings: dict[str, float] = field(default_factory=dict)
    # With ``[training.split] refit``: the refitted model's outputs on the evaluation rows,
    # which ``reproduce`` compares to prove the saved (refitted) model bit-identical.
    refit_predictions: Predictions | None = None


def fit_and_evaluate(
    prepared: Prepared,
    frame: pd.DataFrame,
    split: Split,
    spec: RunSpec,
    *,
    on_step: StepCallback | None = None,
) -> Fitted:
    """Fit the pipeline and the baseline on the training rows; score the evaluation rows."""
    step = on_step or (lambda _s: None)
    timings: dict[str, float] = {}
    X = frame[prepared.input_columns]
    y = frame[spec.target]
    X_train, y_train = X.iloc[split.train], y.iloc[split.train]
    X_eval, y_eval = X.iloc[split.eval], y.iloc[split.eval].to_numpy()

    pipeline = Pipeline([("features", prepared.features), ("model", prepared.model)])
    pinned = pin_random_states(pipeline, spec.seed)
    pinned += [f"baseline:{k}" for k in pin_random_states(prepared.baseline, spec.seed)]
    seed_everything(spec.seed)

    # Unfitted copies (random states pinned) for the refit on all rows, taken before fitting.
    refit = (clone(pipeline), clone(prepared.baseline)) if spec.split.refit else None

    step("fitting model")
    started = time.perf_counter()
    pipeline.fit(X_train, y_train)
    timings["fit"] = time.perf_counter() - started

    step("fitting baseline")
    started = time.perf_counter()
    baseline = _fit_baseline(pipeline, prepared.baseline, X_train, y_train)
    timings["fit_baseline"] = time.perf_counter() - started

    step("evaluating")
    started = time.perf_counter()
    classes_array = _classes(pipeline, spec.task)
    predictions = predict(pipeline, X_eval, task=spec.task, classes=classes_array)
    baseline_predictions = predict(baseline, X_eval, task=spec.task, classes=classes_array)
    metrics = evaluate(
        y_eval,
        predictions,
        task=spec.task,
        metrics=spec.metrics,
        classes=classes_array,
        positive=spec.positive_class,
    )
    baseline_metrics = evaluate(
        y_eval,
        baseline_predictions,
        task=spec.task,
        metrics=spec.metrics,
        classes=classes_array,
        positive=spec.positive_class,
    )
    timings["evaluate"] = time.perf_counter() - started
    refit_predictions = None
    if refit is not None:
        started = time.perf_counter()
        seed_everything(spec.seed)
        pipeline = refit[0].fit(X, y)
        baseline = _fit_baseline(pipeline, refit[1], X, y)
        if not np.array_equal(_classes(pipeline, spec.task), classes_array):
            raise SpecError(
                "refitting on all rows found classes the training rows lack; add rows of "
                "every class before the evaluation period, or set [training.split] refit = false"
            )
        refit_predictions = predict(pipeline, X_eval, task=spec.task, classes=classes_array)
        timings["refit"] = time.perf_counter() - started
    return Fitted(
        pipeline=pipeline,
        baseline=baseline,
        predictions=predictions,
        baseline_predictions=baseline_predictions,
        metrics=metrics,
        baseline_metrics=baseline_metrics,
        classes=None if spec.task == "regression" else [_plain(c) for c in classes_array],
        output_columns=output_columns(pipeline.named_steps["features"]),
        pinned=pinned,
        timings=timings,
        refit_predictions=refit_predictions,
    )


def _fit_baseline(pipeline: Pipeline, baseline: Any, X: pd.DataFrame, y: pd.Series) -> Pipeline:
    """The baseline on ``pipeline``'s fitted features: only its estimator is fitted, so
    serving can swap one pipeline for the other."""
    fitted_features = pipeline.named_steps["features"]
    baseline.fit(fitted_features.transform(X), y)
    return Pipeline([("features", fitted_features), ("model", baseline)])


def _classes(pipeline: Pipeline, task: Task) -> np.ndarray:
    if task == "regression":
        return np.array([])
    classes: np.ndarray = np.asarray(pipeline.classes_)
    return classes


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
