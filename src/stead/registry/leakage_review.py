"""The checklist's ``leakage`` item: a run's recorded leakage findings, read as of today.

A run records the findings of its leakage checks (:mod:`stead.features.leakage`); the
gate re-reads them against ``stead.toml`` as it is now, so that what the project calls a
leak today blocks production even for a run trained before:

- a recorded finding fails when its check is now ``error`` (``too_good`` is recorded as
  an error on a trained model: it fails here), passes as *accepted* when ``warn``, and
  is ignored when ``off``;
- a check that was ``off`` when the run trained but is ``error`` now fails: it never
  looked at this run's data;
- an input column of the run that ``[columns]`` now marks PII, post-prediction, id or
  target fails (``[training.leakage] forbidden_columns`` decides, as in training).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stead.core.errors import SteadError
from stead.features.settings import LeakageSettings
from stead.training.project import resolve_project
from stead.training.settings import training_settings

if TYPE_CHECKING:
    from stead.core.settings import Settings
    from stead.training.run import TrainingRun

# The data checks a run records, with the model check (too_good) after them.
CHECKS = (
    "forbidden_columns",
    "target",
    "combination",
    "contamination",
    "temporal",
    "too_good",
)


@dataclass(frozen=True)
class LeakageReview:
    """``failing`` blocks production; ``accepted`` are findings of checks set to warn."""

    run_id: str
    failing: list[str] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    settings_source: str = "stead.toml"

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "failing": self.failing,
            "accepted": self.accepted,
            "findings": self.findings,
            "settings": self.settings_source,
        }


def review_leakage(run: TrainingRun, settings: Settings) -> LeakageReview:
    """Re-read ``run``'s leakage findings and input columns against ``settings``."""
    current, source = _current_leakage(run, settings)
    review = LeakageReview(run_id=run.id, findings=list(run.leakage), settings_source=source)
    for finding in run.leakage:
        check = str(finding.get("check"))
        if check == "forbidden_columns":
            continue  # re-checked below against the column roles as they are now
        severity = getattr(current, check, finding.get("severity"))
        where = f'[training.leakage] {check} = "{severity}"'
        if severity == "error":
            review.failing.append(f"{finding.get('message')} (run {run.id}; {where})")
        elif severity == "warn":
            review.accepted.append(f"{check}: {finding.get('message')} ({where})")
    for check in CHECKS:
        if getattr(current, check) == "error" and getattr(run.spec.leakage, check) == "off":
            review.failing.append(
                f'the {check} check was off when run {run.id} trained and is "error" now: '
                "train the run again so that it runs"
            )
    _check_roles(run, settings, current, review)
    return review


def _current_leakage(run: TrainingRun, settings: Settings) -> tuple[LeakageSettings, str]:
    try:
        training = training_settings(settings, task=None)
    except SteadError:
        training = None
    if training is None:
        return run.spec.leakage, f"the leakage settings recorded with run {run.id}"
    return training.leakage, "stead.toml [training.leakage]"


def _check_roles(
    run: TrainingRun, settings: Settings, current: LeakageSettings, review: LeakageReview
) -> None:
    severity = current.forbidden_columns
    if severity == "off":
        return
    try:
        project = resolve_project(settings)
    except SteadError:
        project = None
    spec = run.spec
    roles: dict[str, set[str]] = {
        "PII": set(spec.pii) | set(project.pii if project else []),
        "known only after prediction time (post_prediction)": set(spec.post_prediction)
        | set(project.post_prediction if project else []),
        "the id column": {c for c in (spec.id_column, project and project.id) if c},
        "the target": {c for c in (spec.target, project and project.target) if c},
    }
    for label, columns in roles.items():
        used = [c for c in run.input_columns if c in columns]
        if not used:
            continue
        names = ", ".join(map(repr, used))
        text = (
            f"input column(s) {names} of run {run.id} {'is' if len(used) == 1 else 'are'} "
            f"marked {label} in [columns]: train without them"
        )
        if severity == "error":
            review.failing.append(text)
        else:
            review.accepted.append(f"forbidden_columns: {text}")
