"""The problem definition: ``[project]`` in ``stead.toml``.

::

    [project]
    name = "credit-default"
    owner = "risk-team"
    problem = "Predict which applicants default within 12 months."
    task = "binary"                       # binary | multiclass | regression
    kpi = "Loss rate on approved applications"
    assumptions = ["Applicants resemble those of the last two years."]
    intended_use = "Rank applications for manual review."
    limitations = ["Not validated for business loans."]
    # target / id / time: see below

**Column roles have one home: ``[columns]``.** The data stage reads it when it snapshots
(schema roles, time parsing), the leakage checks read it for PII and post-prediction
columns. ``[project]`` may also name ``target``, ``id`` and ``time`` (the problem
statement reads naturally with them); a value given in only one of the two tables is used,
and when both give a value they must agree, otherwise opening the workspace fails. The
resolved columns are recorded in every training run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from stead.core.errors import SettingsError
from stead.core.settings import Settings, build_dataclass, stage_values

Task = Literal["binary", "multiclass", "regression"]
WHERE = "stead.toml [project]"

_REQUIRED = {
    "name": 'the project\'s name, e.g. name = "credit-default"',
    "owner": 'the team or person accountable for the model, e.g. owner = "risk-team"',
    "problem": "the problem statement in a sentence or two",
    "task": 'one of "binary", "multiclass", "regression"',
    "kpi": "the business KPI the model serves",
    "assumptions": "a list of documented assumptions (at least one sentence)",
    "intended_use": "what the model is meant to be used for",
}


@dataclass(frozen=True, kw_only=True)
class ProjectSettings:
    """``[project]`` as written (column roles not yet merged with ``[columns]``)."""

    name: str = ""
    owner: str = ""
    problem: str = ""
    task: Task = "binary"
    kpi: str = ""
    assumptions: list[str] = field(default_factory=list)
    intended_use: str = ""
    limitations: list[str] = field(default_factory=list)
    target: str | None = None
    id: str | None = None
    time: str | None = None

    def __post_init__(self) -> None:
        for key in ("name", "owner", "problem", "kpi", "intended_use"):
            if not getattr(self, key).strip():
                raise ValueError(f"{key} must not be empty; expected {_REQUIRED[key]}")
        if not [a for a in self.assumptions if a.strip()]:
            raise ValueError(f"assumptions must not be empty; expected {_REQUIRED['assumptions']}")


@dataclass(frozen=True)
class Project:
    """The problem definition with its column roles resolved against ``[columns]``."""

    name: str
    owner: str
    problem: str
    task: Task
    kpi: str
    assumptions: list[str]
    intended_use: str
    limitations: list[str]
    target: str
    id: str | None
    time: str | None
    pii: list[str]
    post_prediction: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def project_settings(
    settings: Settings, env: Mapping[str, str] | None = None
) -> ProjectSettings | None:
    """``[project]`` parsed and checked, or ``None`` when the table is absent.

    ``STEAD_PROJECT_*`` variables override keys; a variable alone configures the table
    (see :func:`stead.core.settings.stage_table`), which then needs every required key.
    """
    found = stage_values(settings, "project", ProjectSettings, env=env, optional=True)
    if found is None:
        return None
    table, where = found
    missing = [key for key in _REQUIRED if key not in table]
    if missing:
        key = missing[0]
        raise SettingsError(f"{where}: missing key {key!r}: {_REQUIRED[key]}")
    parsed: ProjectSettings = build_dataclass(ProjectSettings, table, where=where)
    return parsed


def resolve_project(settings: Settings) -> Project | None:
    """The project with target/id/time merged from ``[project]`` and ``[columns]``.

    Raises:
        SettingsError: ``[project]`` is invalid, the two tables disagree on a column, or
            no target column is named anywhere.
    """
    parsed = project_settings(settings)
    if parsed is None:
        return None
    columns = settings.columns
    resolved: dict[str, str | None] = {}
    for role in ("target", "id", "time"):
        mine, theirs = getattr(parsed, role), getattr(columns, role)
        if mine is not None and theirs is not None and mine != theirs:
            raise SettingsError(
                f"stead.toml: [project] {role} = {mine!r} but [columns] {role} = {theirs!r}; "
                "a column role has one value: remove one of them or make them equal"
            )
        resolved[role] = mine if mine is not None else theirs
    target = resolved["target"]
    if target is None:
        raise SettingsError(
            f"{WHERE}: no target column; set [columns] target (or [project] target) to the "
            "column the model predicts"
        )
    for role in ("id", "time"):
        if resolved[role] == target:
            raise SettingsError(
                f"stead.toml: column {target!r} is both the target and the {role} column"
            )
    return Project(
        name=parsed.name,
        owner=parsed.owner,
        problem=parsed.problem,
        task=parsed.task,
        kpi=parsed.kpi,
        assumptions=[a for a in parsed.assumptions if a.strip()],
        intended_use=parsed.intended_use,
        limitations=list(parsed.limitations),
        target=target,
        id=resolved["id"],
        time=resolved["time"],
        pii=list(columns.pii),
        post_prediction=list(columns.post_prediction),
    )
