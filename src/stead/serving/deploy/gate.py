"""What a change of an endpoint must pass, and the record of every refusal.

Before a version takes traffic on an endpoint:

- the actor must belong to the team that owns the endpoint's production model and the
  deployed version, or be an admin (:class:`~stead.security.access.Principal`);
- the version's stage must allow the role: ``production`` for production, at least
  ``staging`` for a canary or a shadow;
- its before-deployment readiness checklist must pass, unless an admin overrides with a
  reason.

Each refusal is audited as ``endpoint.change.refused`` with who was refused and why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stead.core.errors import Conflict, GateFailed, PermissionDenied, UsageError
from stead.registry.checklist import Checklist
from stead.registry.version import ModelVersion
from stead.security.access import Principal
from stead.serving.deploy.deployment import STAGES_FOR

if TYPE_CHECKING:
    from stead.core.context import Context
    from stead.registry.service import ModelRegistry
    from stead.security.access import AccessPolicy

# A version's checklist item statuses, and the blocking items an override passed.
GateOutcome = tuple[dict[str, dict[str, str]], dict[str, list[str]]]


class DeploymentGate:
    """Checks a change of an endpoint; refuses (and audits the refusal) when it fails.

    Args:
        context: the open workspace.
        models: the registry (versions and their checklists).
        access: who may act for whom.
    """

    def __init__(self, context: Context, models: ModelRegistry, access: AccessPolicy) -> None:
        self._ctx = context
        self._models = models
        self._access = access

    def principal(self) -> Principal:
        """The workspace's actor, with its teams and admin rights from ``stead.toml``."""
        return self._access.principal(self._ctx.actor)

    def owner(
        self, who: Principal, current: str | None, version: ModelVersion | None, name: str
    ) -> None:
        """Refuse unless ``who`` may act for the endpoint's owner (``current``) and the
        deployed version's.

        Raises:
            PermissionDenied: naming the owner (not its members).
        """
        owners = [current] if current else []
        if version is not None and version.owner not in owners:
            owners.append(version.owner)
        for owner in owners:
            if who.may_act_for(owner):
                continue
            # The owner, never its members: the refused caller must not learn who they are.
            message = (
                f"{who.identity!r} may not change endpoint {name}: it serves models owned by "
                f"{owner!r}; only its members or an admin may"
            )
            self.refuse(name, who, "permission", message)
            raise PermissionDenied(
                message, details={"actor": who.identity, "owner": owner, "endpoint": name}
            )

    def stage(self, version: ModelVersion, role: str, name: str, who: Principal) -> None:
        """Refuse unless the version's stage allows ``role``.

        Raises:
            Conflict: saying which stage is needed and how to get there.
        """
        allowed = STAGES_FOR[role]
        if version.stage in allowed:
            return
        message = (
            f"{version.ref} is in {version.stage}; a {role} version must be in "
            f"{' or '.join(allowed)}"
        )
        hint = f"`stead models promote {version.ref} --to {allowed[0]}`"
        self.refuse(name, who, "stage", message)
        raise Conflict(f"{message}: {hint} first", details={"model": version.ref, "role": role})

    def checklist(
        self,
        version: ModelVersion,
        who: Principal,
        name: str,
        *,
        override: bool,
        reason: str | None,
    ) -> GateOutcome:
        """The version's checklist statuses, and the items an override passed.

        Raises:
            GateFailed: before-deployment items fail and there is no override.
            PermissionDenied: an override by someone who is not an admin.
            UsageError: an override without a reason.
        """
        if override:
            if not (reason or "").strip():
                raise UsageError("an override needs a reason: pass --reason '...' (it is audited)")
            if not who.admin:
                message = (
                    f"{who.identity!r} may not override the readiness checklist of "
                    f"{version.ref}: only an admin may"
                )
                self.refuse(name, who, "permission", message)
                raise PermissionDenied(message)
        checklist = self._models.checklist(version.ref)
        if not checklist.ready and not override:
            self.refuse(name, who, "gate", _failing_text(checklist), model=version.ref)
            raise _gate_failed(version, checklist, name)
        blocking = [i.key for i in checklist.blocking]
        return {version.ref: checklist.statuses()}, ({version.ref: blocking} if blocking else {})

    def refuse(
        self, name: str, who: Principal, why: str, message: str, *, model: str | None = None
    ) -> None:
        """Record a refused change of endpoint ``name`` in the audit trail."""
        with self._ctx.store.change(
            "endpoint.change.refused", f"endpoint:{name}", actor=who.identity
        ) as change:
            change.details.update({"refused_by": why, "message": message})
            if model:
                change.details["model"] = model


def _failing_text(checklist: Checklist) -> str:
    return "; ".join(f"{i.key} ({i.status}): {i.detail}" for i in checklist.blocking)


def _gate_failed(version: ModelVersion, checklist: Checklist, endpoint: str) -> GateFailed:
    lines = [f"  - {i.title} [{i.key}] ({i.status}): {i.detail}" for i in checklist.blocking]
    return GateFailed(
        f"{version.ref} cannot be deployed to {endpoint}: {len(lines)} checklist item(s) do "
        "not pass:\n" + "\n".join(lines) + "\nFix them and deploy again, or an admin may "
        "deploy anyway with --override --reason '...' (audited)",
        details={
            "model": version.ref,
            "endpoint": endpoint,
            "failing": {
                i.key: {"status": i.status, "detail": i.detail} for i in checklist.blocking
            },
        },
    )
