"""Endpoints and their deployment revisions.

An endpoint is a named :class:`~stead.serving.deploy.router.TrafficPolicy`: a production
version, optionally a canary with a share, shadows with theirs, and a fallback. Every
change of the policy is a new :class:`Deployment` revision (1, 2, 3 ... per endpoint);
nothing is edited in place, so the history says what served when, who changed it and
why. A rollback is a new revision too, copying an earlier one's policy, so revision
numbers only grow and every server can tell "something changed" from one counter.

The fallback is a model version (``credit@3``) or the fallback baseline trained in a
version's run (``credit@3:baseline``, the default: the production version's baseline).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from stead.core.errors import UsageError
from stead.serving.deploy.router import TrafficPolicy

# Which stages may take which role on an endpoint (the gate's rule, and what
# `stead endpoints show` checks a live policy against).
STAGES_FOR: dict[str, tuple[str, ...]] = {
    "production": ("production",),
    "canary": ("staging", "production"),
    "shadow": ("staging", "production"),
}

Action = Literal[
    "deploy",
    "canary",
    "end_canary",
    "promote_canary",
    "shadow",
    "remove_shadow",
    "rollback",
]
ACTIONS: tuple[Action, ...] = get_args(Action)
BASELINE_SUFFIX = ":baseline"


@dataclass(frozen=True)
class FallbackRef:
    """What answers when the chosen model fails: a version, or a version's baseline."""

    version: str
    baseline: bool

    @classmethod
    def parse(cls, text: str) -> FallbackRef:
        """``NAME@N`` or ``NAME@N:baseline``.

        Raises:
            UsageError: anything else.
        """
        ref, baseline = text, False
        if text.endswith(BASELINE_SUFFIX):
            ref, baseline = text[: -len(BASELINE_SUFFIX)], True
        name, _, number = ref.partition("@")
        if not name or not number.isdigit():
            raise UsageError(
                f"fallback {text!r}: expected NAME@N (a version) or NAME@N:baseline (the "
                "fallback baseline trained with that version)"
            )
        return cls(ref, baseline)

    def __str__(self) -> str:
        return self.version + (BASELINE_SUFFIX if self.baseline else "")


def baseline_of(version: str) -> str:
    """The fallback that is ``version``'s own baseline: ``credit@3:baseline``."""
    return version + BASELINE_SUFFIX


@dataclass(frozen=True)
class Deployment:
    """One revision of an endpoint's traffic policy.

    Attributes:
        endpoint: the endpoint name.
        revision: 1, 2, 3 ... per endpoint; the responses carry it.
        sequence: a counter over every endpoint's revisions; servers poll its maximum to
            notice any change cheaply.
        action: what made it (``deploy``, ``canary``, ``promote_canary``, ``shadow``,
            ``rollback`` ...).
        policy: what it serves.
        restores: for a rollback, the revision whose policy it copies.
        override: an admin deployed past failing checklist items, listed in
            ``overridden`` (per version); ``checklist`` keeps each deployed version's
            item statuses at the time.
    """

    endpoint: str
    revision: int
    sequence: int
    action: Action
    policy: TrafficPolicy
    actor: str
    reason: str | None
    created_at: datetime
    restores: int | None = None
    override: bool = False
    overridden: dict[str, list[str]] = field(default_factory=dict)
    checklist: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def production(self) -> str:
        return self.policy.production

    @property
    def fallback(self) -> FallbackRef:
        return FallbackRef.parse(self.policy.fallback or baseline_of(self.policy.production))

    def describe(self) -> str:
        """One line a person reads: what this revision serves."""
        p = self.policy
        parts = [f"production {p.production}"]
        if p.canary:
            parts.append(f"canary {p.canary} at {p.canary_share:.0%}")
        parts.extend(f"shadow {s.version} at {s.share:.0%}" for s in p.shadows)
        parts.append(f"fallback {self.fallback}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "revision": self.revision,
            "sequence": self.sequence,
            "action": self.action,
            "policy": self.policy.to_dict(),
            "fallback": str(self.fallback),
            "restores": self.restores,
            "actor": self.actor,
            "reason": self.reason,
            "created_at": self.created_at.isoformat(),
            "override": self.override,
            "overridden": self.overridden,
            "checklist": self.checklist,
            "summary": self.describe(),
        }


@dataclass(frozen=True)
class Endpoint:
    """An endpoint and the revision it serves now.

    ``owner`` is the owner of the production version: the team that may change the
    endpoint (besides admins).
    """

    name: str
    owner: str
    active: Deployment
    created_at: datetime
    created_by: str

    @property
    def revision(self) -> int:
        return self.active.revision

    @property
    def policy(self) -> TrafficPolicy:
        return self.active.policy

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "owner": self.owner,
            "revision": self.revision,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "active": self.active.to_dict(),
        }


@dataclass(frozen=True)
class DeployOutcome:
    """What a change did: the new revision, and the one it replaced (if any)."""

    deployment: Deployment
    previous: Deployment | None

    @property
    def message(self) -> str:
        d = self.deployment
        text = f"{d.endpoint} revision {d.revision} ({d.action.replace('_', ' ')}): {d.describe()}"
        if d.restores is not None:
            text += f"; restores revision {d.restores}"
        if d.override:
            items = sorted({i for found in d.overridden.values() for i in found})
            text += f" (admin override of: {', '.join(items)})"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "deployment": self.deployment.to_dict(),
            "previous": self.previous.to_dict() if self.previous else None,
        }


def check_action(action: str) -> Action:
    if action not in ACTIONS:
        raise UsageError(f"deployment action {action!r} is not one of {', '.join(ACTIONS)}")
    return action
