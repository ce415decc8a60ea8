"""The ModelVersion entity, its stage history, and references like ``credit@3``.

A model version is immutable: its run, artifact hashes, input contract, output
description, owner and the project facts it was registered with never change. Only its
*stage* moves (``candidate`` → ``staging`` → ``production`` → ``retired``), and every move
is a new :class:`StageChange` row with its actor and reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from stead.core.errors import UsageError
from stead.data.contract import Contract
from stead.data.snapshot import check_name

Stage = Literal["candidate", "staging", "production", "retired"]
STAGES: tuple[Stage, ...] = get_args(Stage)

# Where each stage may move to. Retired is final: the version keeps its artifacts and
# lineage, but a retired model comes back only by registering its run again.
TRANSITIONS: dict[Stage, tuple[Stage, ...]] = {
    "candidate": ("staging", "production", "retired"),
    "staging": ("production", "retired"),
    "production": ("staging", "retired"),
    "retired": (),
}


def check_stage(text: str) -> Stage:
    if text not in STAGES:
        raise UsageError(f"stage {text!r} is not one of {', '.join(STAGES)}")
    return text


@dataclass(frozen=True)
class ModelRef:
    """``NAME`` (the latest version), ``NAME@N``, or ``NAME@production`` / ``NAME@staging``
    (the newest version now in that stage)."""

    name: str
    version: int | None = None
    stage: Stage | None = None

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        name, sep, rest = text.strip().partition("@")
        check_name(name)
        if not sep:
            return cls(name)
        if rest.isdigit() and int(rest) >= 1:
            return cls(name, version=int(rest))
        if rest in STAGES:
            return cls(name, stage=rest)
        raise UsageError(
            f"{text!r}: after '@' give a version number ≥ 1 or a stage, like {name}@3 or "
            f"{name}@production"
        )

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}@{self.version}"
        return f"{self.name}@{self.stage}" if self.stage else self.name


@dataclass(frozen=True)
class StageChange:
    """One move of a version between stages (registration is the move into candidate).

    ``override`` is true when an admin promoted past failing checklist items, which are
    listed in ``overridden``; ``checklist`` keeps each item's status at the time.
    """

    id: str
    version_id: str
    name: str
    version: int
    from_stage: Stage | None
    to_stage: Stage
    actor: str
    reason: str | None
    at: datetime
    override: bool = False
    overridden: list[str] = field(default_factory=list)
    checklist: dict[str, str] = field(default_factory=dict)
    cause: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "model": self.ref,
            "from": self.from_stage,
            "to": self.to_stage,
            "actor": self.actor,
            "reason": self.reason,
            "at": self.at.isoformat(),
            "override": self.override,
            "overridden": self.overridden,
            "checklist": self.checklist,
            "cause": self.cause,
        }


@dataclass(frozen=True)
class ModelVersion:
    """A registered model: ``name@version``, what produced it and how it may be used.

    Attributes:
        artifacts: the SHA-256 of each artifact (``model``, ``baseline``,
            ``eval_predictions``, ``eval_rows``, ``sources``), as signed in ``manifest``.
        trusted_types: the types skops may rebuild when loading (from the run, signed).
        contract: the input contract: the snapshot schema restricted to the feature set's
            input columns; ``contract_hash`` is its SHA-256 (signed).
        output: what the model returns: ``task``, ``target``, ``classes`` and ``scores``
            (``probabilities``, ``labels`` or ``values``).
        project: the problem statement, intended use, KPI, assumptions and limitations
            the version was registered with, and ``source`` saying where they came from.
        training_data: snapshot rows, time range, class balance and the split sizes.
        reference: the drift reference: the snapshot whose profile monitoring compares
            against, and the columns it covers.
        manifest: the signed manifest (canonical JSON text); ``signature`` its Ed25519
            signature (hex) by the key whose fingerprint is ``key_fingerprint``.
    """

    id: str
    name: str
    version: int
    stage: Stage
    run_id: str
    task: str
    owner: str
    artifacts: dict[str, str]
    trusted_types: list[str]
    snapshot_id: str
    snapshot_ref: str
    snapshot_hash: str
    feature_set_id: str
    feature_set_ref: str
    feature_set_version: str
    input_columns: list[str]
    contract: Contract
    contract_hash: str
    output: dict[str, Any]
    project: dict[str, Any]
    training_data: dict[str, Any]
    reference: dict[str, Any]
    manifest: str
    signature: str
    key_fingerprint: str
    description: str | None
    registered_at: datetime
    registered_by: str

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def to_dict(self, *, full: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "ref": self.ref,
            "name": self.name,
            "version": self.version,
            "stage": self.stage,
            "run_id": self.run_id,
            "task": self.task,
            "owner": self.owner,
            "artifacts": self.artifacts,
            "snapshot": self.snapshot_ref,
            "snapshot_hash": self.snapshot_hash,
            "feature_set": self.feature_set_ref,
            "feature_set_version": self.feature_set_version,
            "input_columns": self.input_columns,
            "contract_hash": self.contract_hash,
            "output": self.output,
            "key_fingerprint": self.key_fingerprint,
            "description": self.description,
            "registered_at": self.registered_at.isoformat(),
            "registered_by": self.registered_by,
        }
        if full:
            body.update(
                {
                    "trusted_types": self.trusted_types,
                    "contract": self.contract.to_dict(),
                    "project": self.project,
                    "training_data": self.training_data,
                    "reference": self.reference,
                    "manifest": self.manifest,
                    "signature": self.signature,
                }
            )
        return body


@dataclass(frozen=True)
class RegisterOutcome:
    """The version ``register`` made, or the one that already holds this run."""

    version: ModelVersion
    created: bool

    @property
    def message(self) -> str:
        v = self.version
        if self.created:
            return (
                f"registered {v.ref} from run {v.run_id} as a {v.stage}, owned by {v.owner}; "
                f"manifest signed (key {v.key_fingerprint[:23]})"
            )
        return f"run {v.run_id} is already registered as {v.ref} ({v.stage}); nothing changed"

    def to_dict(self) -> dict[str, Any]:
        return {"created": self.created, "message": self.message, **self.version.to_dict()}
