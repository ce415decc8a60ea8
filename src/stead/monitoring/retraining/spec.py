"""Which training spec a retrain uses: production's recorded one, unless asked otherwise.

A retrain answers "the data moved under the model in production", so by default it trains
*that* model's spec again (the spec recorded with the production version's run, as
``stead reproduce`` does) on the new data. ``stead.toml``'s ``[training]`` may have been
edited since; training it would silently change two things at once. Opting in to the
current spec (``stead retrain ENDPOINT --current-spec``, ``spec="current"``) is explicit,
and either way the choice, and how the two specs differ, is recorded with the trigger.
The chosen spec is trained as it is, through ``ws.runs.train(spec=...)``.

The code is another matter: a retrain runs the workspace's code as it is now, not the
production run's stored sources. When they differ, :func:`code_warning` says so in the
trigger's evidence, next to the spec's warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from stead.core.errors import SpecError, SteadError, UsageError
from stead.training.spec import RunSpec

if TYPE_CHECKING:
    from stead.training.run import TrainingRun
    from stead.training.service import RunService

SpecChoice = Literal["production", "current"]
SPEC_CHOICES: tuple[SpecChoice, ...] = ("production", "current")


@dataclass(frozen=True)
class RetrainSpec:
    """The spec a retrain trains, and how it compares with the other candidate spec.

    ``differences`` maps each differing key of the result-deciding spec (``params``,
    ``seed``, ``estimator`` ...) to ``{"production": ..., "current": ...}``.
    """

    used: SpecChoice
    production_run: str
    spec: RunSpec
    differences: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Why the current spec could not be read (no [training] table, a bad setting).
    current_problem: str | None = None

    @property
    def differs(self) -> bool:
        return bool(self.differences) or self.current_problem is not None

    @property
    def warning(self) -> str | None:
        if self.current_problem is not None:
            return (
                f"retrained with the spec of production run {self.production_run}; the "
                f"current [training] spec could not be read: {self.current_problem}"
            )
        if not self.differences:
            return None
        keys = ", ".join(sorted(self.differences))
        if self.used == "production":
            return (
                f"stead.toml [training] differs from the spec of production run "
                f"{self.production_run} ({keys}): retrained with production's spec; "
                "use --current-spec to train the current one"
            )
        return (
            f"retrained with the current [training] spec, which differs from the spec of "
            f"production run {self.production_run} ({keys}): the candidate changes the "
            "model, not only its data"
        )

    @property
    def description(self) -> str:
        """How the candidate's description names its spec."""
        if self.used == "production":
            return f"with the spec of production run {self.production_run}"
        return "with the current [training] spec" + (
            f" (differs from production run {self.production_run} in "
            f"{', '.join(sorted(self.differences))})"
            if self.differences
            else ""
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "used": self.used,
            "production_run": self.production_run,
            "differs": self.differs,
            "differences": self.differences,
            "current_problem": self.current_problem,
            "warning": self.warning,
        }


def choose_spec(runs: RunService, production_run: TrainingRun, *, use: str) -> RetrainSpec:
    """The spec to retrain with (``ws.runs.train(spec=...)`` trains it as it is).

    Raises:
        UsageError: ``use`` is neither ``production`` nor ``current``.
        SpecError: the current spec is asked for and cannot be read.
    """
    if use not in SPEC_CHOICES:
        raise UsageError(f"spec {use!r} is not allowed; expected 'production' or 'current'")
    recorded = production_run.spec
    current: RunSpec | None = None
    problem: str | None = None
    try:
        current = runs.spec()[0]
    except SteadError as error:
        if use == "current":
            raise
        problem = error.message
    differences = _differences(recorded, current) if current is not None else {}
    if use == "current":
        assert current is not None
        return RetrainSpec("current", production_run.id, current, differences)
    return RetrainSpec("production", production_run.id, recorded, differences, problem)


def _differences(production: RunSpec, current: RunSpec) -> dict[str, dict[str, Any]]:
    ours, theirs = production.result_inputs(), current.result_inputs()
    return {
        key: {"production": ours.get(key), "current": theirs.get(key)}
        for key in sorted(set(ours) | set(theirs))
        if ours.get(key) != theirs.get(key)
    }


def with_spec_advice(error: SpecError, chosen: RetrainSpec) -> SpecError:
    """``error`` with the option that works, when it is a leakage check's refusal.

    Its advice names ``stead.toml`` settings; a retrain of production's recorded spec
    does not read them, so the way to apply one is to retrain the current spec.
    """
    from stead.features.leakage import LeakageDetected  # pandas and SciPy: only here

    if chosen.used != "production" or not isinstance(error, LeakageDetected):
        return error
    advice = (
        f"; this retrain trains the spec recorded with production run "
        f"{chosen.production_run}, which stead.toml's [training] tables (split, leakage "
        "settings) do not change: change the setting there, then retrain with "
        '--current-spec (spec="current")'
    )
    return type(error)(
        error.message + advice,
        details={**error.details, "spec": "production", "option": "--current-spec"},
    )


def code_warning(production_run: TrainingRun, run: TrainingRun) -> str | None:
    """A warning when ``run`` (the retrain's) ran other project code than production's.

    A retrain runs the workspace's code as it is now, never the production run's stored
    sources; when they differ the candidate may change the model, not only its data.
    """
    ours, theirs = production_run.code_version, run.code_version
    if ours.sources_hash == theirs.sources_hash:
        return None
    changed = sorted(
        path
        for path in set(ours.files) | set(theirs.files)
        if ours.files.get(path) != theirs.files.get(path)
    )
    return (
        f"retrained with the workspace's code, which differs from the code of production "
        f"run {production_run.id} ({', '.join(changed) or 'the project sources'}): the "
        "candidate may change the model, not only its data"
    )
