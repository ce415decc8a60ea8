"""``[training]``: the training spec, and the check that runs when a workspace opens.

::

    [training]
    snapshot = "credit"                  # NAME (latest version) or NAME@V
    estimator = "sklearn.ensemble.HistGradientBoostingClassifier"
    params = { max_iter = 200 }
    seed = 42                            # governs random, NumPy, every random_state
    metrics = ["roc_auc", "accuracy"]    # default depends on [project] task
    positive_class = 1                   # binary: the class the scores and metrics are of


    [training.split]
    method = "random"                    # "random" (stratified) or "time"; default "time"
                                         # when [columns] time is set, else "random"
    eval_fraction = 0.2

    [training.baseline]                  # the fallback model, trained in the same run
    estimator = "sklearn.dummy.DummyClassifier"   # default: Dummy* for the task
    params = { strategy = "prior" }

    [training.leakage]                   # each check: "error" | "warn" | "off"
    target = "error"

:func:`stage_settings` validates ``[project]``, ``[features]`` and ``[training]``
together when a workspace opens, so a wrong setting fails there, naming the key, the
value and what is allowed. Each key can be overridden by ``STEAD_<TABLE>_<KEY>``
(``STEAD_TRAINING_SEED``, ``STEAD_TRAINING_SPLIT_METHOD``, ``STEAD_PROJECT_OWNER``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from stead.core.errors import SettingsError, SpecError
from stead.core.settings import Settings, between, build_dataclass, stage_values
from stead.features.imports import ImportPath
from stead.features.settings import LeakageSettings, feature_settings
from stead.training.project import Project, Task, resolve_project

WHERE = "stead.toml [training]"

# The metric names each task allows, and its defaults: plain data, so that checking
# [training] when a workspace opens does not import scikit-learn. The scorers behind the
# names are stead.training.evaluation's.
METRIC_NAMES: dict[Task, frozenset[str]] = {
    "binary": frozenset(
        {
            "roc_auc",
            "average_precision",
            "log_loss",
            "brier",
            "accuracy",
            "balanced_accuracy",
            "f1",
            "precision",
            "recall",
        }
    ),
    "multiclass": frozenset(
        {"accuracy", "balanced_accuracy", "f1_macro", "f1_weighted", "log_loss", "roc_auc_ovr"}
    ),
    "regression": frozenset({"rmse", "mae", "r2", "mape", "median_ae"}),
}
DEFAULT_METRICS: dict[Task, list[str]] = {
    # Average precision shows what a rare positive class does to a model, where accuracy
    # (0.968 against the prior baseline's 0.967 at 3 % positives) shows nothing.
    "binary": ["roc_auc", "average_precision", "accuracy", "log_loss"],
    "multiclass": ["accuracy", "f1_macro", "log_loss"],
    "regression": ["rmse", "mae", "r2"],
}

DEFAULT_BASELINES: dict[Task, tuple[str, dict[str, Any]]] = {
    "binary": ("sklearn.dummy:DummyClassifier", {"strategy": "prior"}),
    "multiclass": ("sklearn.dummy:DummyClassifier", {"strategy": "prior"}),
    "regression": ("sklearn.dummy:DummyRegressor", {"strategy": "mean"}),
}


@dataclass(frozen=True, kw_only=True)
class SplitSettings:
    """``[training.split]``: how rows are divided into training and evaluation.

    ``random`` draws ``eval_fraction`` of the rows with the run's seed, stratified by the
    target for classification (unless ``stratify = false``). ``time`` evaluates on the
    latest ``eval_fraction`` of rows by the time column: every row at or after the cut-off
    time is evaluation, every earlier row is training. Unset (``None``), the run spec
    resolves it: ``time`` when ``[columns] time`` names a column, else ``random``.

    ``refit = true`` fits the saved model (and baseline) again on *all* rows after the
    evaluation: the recorded metrics are those of the fit on the training rows (an honest
    estimate of the procedure), while the model that is registered and served has also
    learned from the newest rows. Its evaluation rows are then training rows, so it is
    never judged on them (the registry's champion comparison refuses to; a retrain judges
    it on a backtest instead). Retraining sets it; ``stead reproduce`` replays it.
    """

    method: Literal["random", "time"] | None = None
    eval_fraction: float = 0.2
    stratify: bool = True
    refit: bool = False

    def __post_init__(self) -> None:
        between("eval_fraction", self.eval_fraction, 0.01, 0.99)


@dataclass(frozen=True, kw_only=True)
class BaselineSettings:
    """``[training.baseline]``: the fallback model; default is a Dummy* for the task."""

    estimator: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.estimator is not None:
            _check_path(self.estimator, "estimator")


@dataclass(frozen=True, kw_only=True)
class TrainingSettings:
    """``[training]``: what to train on, with what, and how to evaluate it."""

    snapshot: str | None = None
    estimator: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    metrics: list[str] = field(default_factory=list)
    # Binary: the class whose probability is scored (ROC AUC, average precision, F1 ...);
    # default the second of the sorted classes (1 of 0/1, True of False, "yes" of no/yes).
    positive_class: str | int | bool | None = None
    split: SplitSettings = field(default_factory=SplitSettings)
    baseline: BaselineSettings = field(default_factory=BaselineSettings)
    leakage: LeakageSettings = field(default_factory=LeakageSettings)
    # Types inside a model that skops does not trust and stead's reviewed list does not
    # cover (see training/persistence.py); listing one here is a reviewed decision.
    trusted_types: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.snapshot is None:
            raise ValueError("missing key 'snapshot': the dataset to train on, e.g. \"credit@3\"")
        if self.estimator is None:
            raise ValueError(
                "missing key 'estimator': the estimator's import path, e.g. "
                '"sklearn.ensemble.HistGradientBoostingClassifier"'
            )
        _check_path(self.estimator, "estimator")
        if not 0 <= self.seed < 2**32:
            raise ValueError(f"seed = {self.seed} is not allowed; expected 0 to 2**32 - 1")

    def metrics_for(self, task: Task) -> list[str]:
        return list(self.metrics) or list(DEFAULT_METRICS[task])

    def baseline_for(self, task: Task) -> tuple[str, dict[str, Any]]:
        if self.baseline.estimator is None:
            path, params = DEFAULT_BASELINES[task]
            return path, {**params, **self.baseline.params}
        return self.baseline.estimator, dict(self.baseline.params)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_metrics(names: list[str], task: Task) -> None:
    """Raise ``ValueError`` naming an unknown metric and the ones this task allows."""
    allowed = METRIC_NAMES[task]
    for name in names:
        if name not in allowed:
            raise ValueError(
                f"metric {name!r} is not available for a {task} task; choose from "
                f"{', '.join(sorted(allowed))}"
            )


def _check_path(text: str, key: str) -> None:
    try:
        ImportPath.parse(text, where=key)
    except SpecError as exc:
        raise ValueError(exc.message) from exc


def training_settings(
    settings: Settings, *, task: Task | None, env: Mapping[str, str] | None = None
) -> TrainingSettings | None:
    """``[training]`` parsed and checked (metrics against ``task``), or ``None``.

    ``STEAD_TRAINING_*`` variables override keys (``STEAD_TRAINING_SPLIT_METHOD`` for
    ``[training.split] method``); ``None`` when neither the file nor a variable gives the
    table (see :func:`stead.core.settings.stage_table`).
    """
    found = stage_values(settings, "training", TrainingSettings, env=env, optional=True)
    if found is None:
        return None
    table, where = found
    parsed: TrainingSettings = build_dataclass(TrainingSettings, table, where=where)
    if task is not None:
        try:
            check_metrics(parsed.metrics, task)
        except ValueError as exc:
            raise SettingsError(f"{where} metrics: {exc}") from exc
    return parsed


@dataclass(frozen=True)
class StageSettings:
    """The problem definition, feature and training settings of one workspace."""

    project: Project | None
    training: TrainingSettings | None


def stage_settings(settings: Settings) -> StageSettings:
    """Parse ``[project]``, ``[features]`` and ``[training]``, each only when present
    (in ``stead.toml``, or through a ``STEAD_<TABLE>_*`` variable).

    Raises:
        SettingsError: a table is invalid, or ``[training]`` lacks the tables it needs.
    """
    project = resolve_project(settings)
    features = feature_settings(settings)
    training = training_settings(settings, task=project.task if project else None)
    if training is not None and project is None:
        raise SettingsError(
            f"{WHERE} needs a [project] table (task and target column); see docs/training.md"
        )
    if training is not None and features is None:
        raise SettingsError(
            f"{WHERE} needs a [features] table naming the feature function, e.g. "
            '[features] definition = "features:build"'
        )
    return StageSettings(project=project, training=training)
