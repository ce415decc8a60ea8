"""``ws.endpoints``: deploy versions to named endpoints, canary, shadow, promote, roll back.

Every change writes a new deployment revision and its audit event in one transaction
(``endpoint.<action>``, with actor and reason). Before a version takes traffic it passes
:class:`~stead.serving.deploy.gate.DeploymentGate`: ownership, stage and the readiness
checklist (an admin may override the checklist with a reason; the overridden items are
kept on the revision). Refusals are audited. A rollback activates the previous
revision (``N - 1``, or any earlier one with ``to=``) as a new revision copying its
policy; it skips the stage and checklist checks, which that revision passed when it was
made, but refuses a version retired since.
"""

from __future__ import annotations

import builtins
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from stead.core.clock import utcnow
from stead.core.errors import Conflict, NotFound, UsageError
from stead.predictions.record import check_endpoint
from stead.registry.version import ModelRef, ModelVersion
from stead.serving.deploy.deployment import (
    STAGES_FOR,
    Action,
    Deployment,
    DeployOutcome,
    Endpoint,
    FallbackRef,
)
from stead.serving.deploy.router import ShadowTarget, TrafficPolicy
from stead.serving.deploy.tables import DeploymentRow, EndpointRow

if TYPE_CHECKING:
    from stead.core.context import Context
    from stead.registry.service import ModelRegistry
    from stead.security.access import AccessPolicy, Principal
    from stead.serving.deploy.gate import DeploymentGate, GateOutcome

# The gate reads readiness checklists (scikit-learn through the champion comparison), so
# it is imported when an endpoint first changes (in _gate), not when endpoints are listed.


class EndpointService:
    """The endpoints of a workspace (``ws.endpoints``).

    Args:
        context: the open workspace.
        models: the registry to read versions and checklists from.
        access: who may act for whom (the gate's owner check).
    """

    def __init__(self, context: Context, *, models: ModelRegistry, access: AccessPolicy) -> None:
        self._ctx = context
        self._models = models
        self._access = access

    @cached_property
    def _gate(self) -> DeploymentGate:
        from stead.serving.deploy.gate import DeploymentGate

        return DeploymentGate(self._ctx, self._models, self._access)

    # -- reading --------------------------------------------------------------------

    def list(self) -> builtins.list[Endpoint]:
        """Every endpoint with its active revision, by name."""
        with self._ctx.store.read() as session:
            rows = session.scalars(select(EndpointRow).order_by(EndpointRow.name)).all()
            return [self._entity(session, row) for row in rows]

    def owner(self, name: str) -> str | None:
        """Who owns the endpoint ``name`` (its production model's owner); ``None`` when it
        was never deployed."""
        with self._ctx.store.read() as session:
            row = session.get(EndpointRow, name)
            return row.owner if row is not None else None

    def get(self, name: str) -> Endpoint:
        """The endpoint ``name`` and its active revision.

        Raises:
            NotFound: naming the endpoints that exist.
        """
        with self._ctx.store.read() as session:
            row = session.get(EndpointRow, name)
            if row is None:
                known = session.scalars(select(EndpointRow.name).order_by(EndpointRow.name))
                names = ", ".join(known) or "none yet"
                raise NotFound(
                    f"no endpoint named {name!r} (endpoints: {names}); create one with "
                    f"`stead deploy {name} NAME@N`"
                )
            return self._entity(session, row)

    def stage_warnings(self, name: str) -> builtins.list[str]:
        """What ``name`` serves from a stage its role no longer allows: a version moved
        (promoted, demoted, archived or retired) after it was deployed. The gate checks
        stages only when traffic changes, so this is how a person finds out.

        Raises:
            NotFound: no such endpoint.
        """
        policy = self.get(name).policy
        roles = [("production", policy.production)]
        if policy.canary:
            roles.append(("canary", policy.canary))
        roles += [("shadow", s.version) for s in policy.shadows]
        found = []
        for role, ref in roles:
            stage = self._models.get(ref).stage
            if stage not in STAGES_FOR[role]:
                allowed = " or ".join(STAGES_FOR[role])
                found.append(
                    f"{ref} serves as {role} but is in {stage} now (a {role} version must be "
                    f"in {allowed}): deploy another version, or promote it back"
                )
        return found

    def history(self, name: str) -> builtins.list[Deployment]:
        """Every revision of ``name``, oldest first."""
        self.get(name)
        with self._ctx.store.read() as session:
            rows = session.scalars(
                select(DeploymentRow)
                .where(DeploymentRow.endpoint == name)
                .order_by(DeploymentRow.revision)
            )
            return [row.to_entity() for row in rows]

    def revision(self, name: str, revision: int) -> Deployment:
        """One revision of ``name``.

        Raises:
            NotFound: no such endpoint or revision.
        """
        endpoint = self.get(name)
        with self._ctx.store.read() as session:
            row = session.scalars(
                select(DeploymentRow).where(
                    DeploymentRow.endpoint == name, DeploymentRow.revision == revision
                )
            ).first()
        if row is None:
            raise NotFound(
                f"endpoint {name} has no revision {revision}; revisions are 1 to "
                f"{endpoint.revision}"
            )
        return row.to_entity()

    def active(self) -> dict[str, tuple[Deployment, Deployment | None]]:
        """Every endpoint's active revision and the revision before it (what a server
        keeps loaded), by endpoint name."""
        with self._ctx.store.read() as session:
            rows = session.execute(
                select(DeploymentRow)
                .join(EndpointRow, EndpointRow.name == DeploymentRow.endpoint)
                .where(DeploymentRow.revision >= EndpointRow.revision - 1)
                .where(DeploymentRow.revision <= EndpointRow.revision)
                .order_by(DeploymentRow.endpoint, DeploymentRow.revision)
            ).scalars()
            found: dict[str, builtins.list[Deployment]] = {}
            for row in rows:
                found.setdefault(row.endpoint, []).append(row.to_entity())
        return {
            name: (revs[-1], revs[-2] if len(revs) > 1 else None) for name, revs in found.items()
        }

    def sequence(self) -> int:
        """The newest deployment's sequence number over all endpoints (0: none yet).

        It only grows: a server that polls it knows that something changed when it does.
        """
        with self._ctx.store.read() as session:
            return int(session.scalar(select(func.max(DeploymentRow.id))) or 0)

    # -- changing -------------------------------------------------------------------

    def deploy(
        self,
        endpoint: str,
        model: str,
        *,
        fallback: str | None = None,
        reason: str | None = None,
        override: bool = False,
        principal: Principal | None = None,
    ) -> DeployOutcome:
        """Serve ``model`` (``NAME@N``, in stage ``production``) as the endpoint's
        production version, creating the endpoint if needed.

        A running canary or shadow of the same version is dropped (it is production now);
        others stay. The fallback becomes ``fallback`` (``NAME@N`` or
        ``NAME@N:baseline``), else the new production version's baseline.

        Raises:
            Conflict: the version is not in production, or the endpoint changed meanwhile.
            GateFailed: its checklist fails (an admin may pass ``override=True`` with a
                ``reason``).
            PermissionDenied: the actor does not own the endpoint or the model.
        """
        name = check_endpoint(endpoint)
        who = principal or self._gate.principal()
        version = self._version(model)
        current = self._current(name)
        self._gate.owner(who, current.owner if current else None, version, name)
        self._gate.stage(version, "production", name, who)
        gate = self._gate.checklist(version, who, name, override=override, reason=reason)
        chosen = self._fallback(fallback) if fallback else None
        base = current.active.policy if current else None
        policy = TrafficPolicy(
            production=version.ref,
            canary=base.canary if base and base.canary != version.ref else None,
            canary_share=base.canary_share if base and base.canary != version.ref else 0.0,
            shadows=tuple(s for s in (base.shadows if base else ()) if s.version != version.ref),
            fallback=str(chosen) if chosen else None,
        )
        return self._write(
            name,
            "deploy",
            policy,
            who,
            reason=reason,
            based_on=current,
            owner=version.owner,
            gate=gate,
        )

    def canary(
        self,
        endpoint: str,
        model: str,
        *,
        share: float = 10.0,
        reason: str | None = None,
        override: bool = False,
        principal: Principal | None = None,
    ) -> DeployOutcome:
        """Send ``share`` percent of the endpoint's traffic (sticky per entity key) to
        ``model`` (stage ``staging`` or ``production``).

        Raises:
            UsageError: the share is not in (0, 100].
            NotFound: the endpoint does not exist (deploy a production version first).
            Conflict, GateFailed, PermissionDenied: as for :meth:`deploy`.
        """
        if not 0.0 < share <= 100.0:
            raise UsageError(f"--share {share:g}: a canary share is a percentage in (0, 100]")
        who = principal or self._gate.principal()
        current = self._require(endpoint)
        version = self._version(model)
        if version.ref == current.policy.production:
            raise Conflict(f"{version.ref} is already production on {endpoint}; nothing to canary")
        self._gate.owner(who, current.owner if current else None, version, endpoint)
        self._gate.stage(version, "canary", endpoint, who)
        gate = self._gate.checklist(version, who, endpoint, override=override, reason=reason)
        policy = replace(
            current.policy,
            canary=version.ref,
            canary_share=share / 100.0,
            shadows=tuple(s for s in current.policy.shadows if s.version != version.ref),
        )
        return self._write(
            endpoint,
            "canary",
            policy,
            who,
            reason=reason,
            based_on=current,
            owner=current.owner,
            gate=gate,
        )

    def end_canary(
        self, endpoint: str, *, reason: str | None = None, principal: Principal | None = None
    ) -> DeployOutcome:
        """Stop the canary: all traffic goes to production again.

        Raises:
            Conflict: there is no canary.
        """
        who = principal or self._gate.principal()
        current = self._require(endpoint)
        if not current.policy.canary:
            raise Conflict(f"endpoint {endpoint} has no canary")
        self._gate.owner(who, current.owner if current else None, None, endpoint)
        policy = replace(current.policy, canary=None, canary_share=0.0)
        return self._write(
            endpoint,
            "end_canary",
            policy,
            who,
            reason=reason,
            based_on=current,
            owner=current.owner,
        )

    def promote_canary(
        self, endpoint: str, *, reason: str | None = None, principal: Principal | None = None
    ) -> DeployOutcome:
        """Make the canary the production version (it must be in stage ``production``:
        promote it in the registry first). The fallback becomes its baseline unless one
        was chosen explicitly.

        Raises:
            Conflict: there is no canary, or it is not in production.
            PermissionDenied: the actor does not own the endpoint.
        """
        who = principal or self._gate.principal()
        current = self._require(endpoint)
        canary = current.policy.canary
        if not canary:
            raise Conflict(f"endpoint {endpoint} has no canary to promote")
        version = self._version(canary)
        self._gate.owner(who, current.owner if current else None, version, endpoint)
        self._gate.stage(version, "production", endpoint, who)
        policy = replace(current.policy, production=version.ref, canary=None, canary_share=0.0)
        return self._write(
            endpoint,
            "promote_canary",
            policy,
            who,
            reason=reason,
            based_on=current,
            owner=version.owner,
        )

    def shadow(
        self,
        endpoint: str,
        model: str,
        *,
        share: float = 100.0,
        reason: str | None = None,
        override: bool = False,
        principal: Principal | None = None,
    ) -> DeployOutcome:
        """Mirror ``share`` percent of the endpoint's requests to ``model`` (stage
        ``staging`` or ``production``), off the response path. Its outputs are logged
        beside production's and agreement is measured; it never affects a response.

        Raises:
            UsageError: the share is not in (0, 100].
            Conflict, GateFailed, PermissionDenied: as for :meth:`canary`.
        """
        if not 0.0 < share <= 100.0:
            raise UsageError(f"--share {share:g}: a shadow share is a percentage in (0, 100]")
        who = principal or self._gate.principal()
        current = self._require(endpoint)
        version = self._version(model)
        if version.ref in (current.policy.production, current.policy.canary):
            raise Conflict(
                f"{version.ref} already answers on {endpoint}; a shadow is a version that does not"
            )
        self._gate.owner(who, current.owner if current else None, version, endpoint)
        self._gate.stage(version, "shadow", endpoint, who)
        gate = self._gate.checklist(version, who, endpoint, override=override, reason=reason)
        shadows = [s for s in current.policy.shadows if s.version != version.ref]
        shadows.append(ShadowTarget(version.ref, share / 100.0))
        policy = replace(current.policy, shadows=tuple(shadows))
        return self._write(
            endpoint,
            "shadow",
            policy,
            who,
            reason=reason,
            based_on=current,
            owner=current.owner,
            gate=gate,
        )

    def remove_shadow(
        self,
        endpoint: str,
        model: str,
        *,
        reason: str | None = None,
        principal: Principal | None = None,
    ) -> DeployOutcome:
        """Stop mirroring traffic to ``model``.

        Raises:
            Conflict: it is not a shadow of the endpoint.
        """
        who = principal or self._gate.principal()
        current = self._require(endpoint)
        ref = str(ModelRef.parse(model))
        remaining = tuple(s for s in current.policy.shadows if s.version != ref)
        if len(remaining) == len(current.policy.shadows):
            shadows = ", ".join(s.version for s in current.policy.shadows) or "none"
            raise Conflict(f"{ref} is not a shadow of {endpoint} (shadows: {shadows})")
        self._gate.owner(who, current.owner if current else None, None, endpoint)
        policy = replace(current.policy, shadows=remaining)
        return self._write(
            endpoint,
            "remove_shadow",
            policy,
            who,
            reason=reason,
            based_on=current,
            owner=current.owner,
        )

    def rollback(
        self,
        endpoint: str,
        *,
        to: int | None = None,
        reason: str | None = None,
        principal: Principal | None = None,
    ) -> DeployOutcome:
        """Activate the previous revision (or revision ``to``) as a new revision that
        copies its policy. Servers keep the previous revision's models loaded, so this
        takes effect as fast as they notice it (about a second).

        Raises:
            Conflict: there is no earlier revision, or it serves a version retired since.
            NotFound: no such endpoint or revision.
            PermissionDenied: the actor does not own the endpoint.
        """
        who = principal or self._gate.principal()
        current = self._require(endpoint)
        self._gate.owner(who, current.owner if current else None, None, endpoint)
        number = current.revision - 1 if to is None else to
        if number < 1:
            raise Conflict(
                f"endpoint {endpoint} is at its first revision; there is nothing to roll back to"
            )
        if number >= current.revision:
            raise UsageError(
                f"--to {number}: roll back to an earlier revision than the active one "
                f"({current.revision})"
            )
        target = self.revision(endpoint, number)
        production = self._version(target.policy.production)
        retired = [
            ref for ref in _answering(target.policy) if self._version(ref).stage == "retired"
        ]
        if retired:
            self._gate.refuse(endpoint, who, "stage", f"{', '.join(retired)} retired since")
            raise Conflict(
                f"revision {number} of {endpoint} serves {', '.join(retired)}, retired since; "
                "roll back to another revision (--to N) or deploy a version"
            )
        return self._write(
            endpoint,
            "rollback",
            target.policy,
            who,
            reason=reason,
            based_on=current,
            owner=production.owner,
            restores=target.revision,
        )

    # -- helpers ----------------------------------------------------------------------

    def _version(self, ref: str) -> ModelVersion:
        parsed = ModelRef.parse(ref)
        if parsed.version is None:
            raise UsageError(
                f"{ref!r}: deploy an exact version, NAME@N (`stead models list "
                f"{parsed.name}` shows them)"
            )
        return self._models.get(parsed)

    def _current(self, name: str) -> Endpoint | None:
        try:
            return self.get(name)
        except NotFound:
            return None

    def _require(self, name: str) -> Endpoint:
        check_endpoint(name)
        return self.get(name)

    def _fallback(self, text: str) -> FallbackRef:
        chosen = FallbackRef.parse(text)
        self._version(chosen.version)  # it must exist
        return chosen

    def _write(
        self,
        name: str,
        action: Action,
        policy: TrafficPolicy,
        who: Principal,
        *,
        reason: str | None,
        based_on: Endpoint | None,
        owner: str,
        restores: int | None = None,
        gate: GateOutcome | None = None,
    ) -> DeployOutcome:
        checks, overridden = gate or ({}, {})
        with self._ctx.store.change(
            f"endpoint.{action}", f"endpoint:{name}", reason=reason, actor=who.identity
        ) as change:
            session = change.session
            row = session.get(EndpointRow, name)
            active = row.revision if row is not None else 0
            expected = based_on.revision if based_on is not None else 0
            if active != expected:
                raise Conflict(
                    f"endpoint {name} changed (revision {active}) while this change was "
                    f"prepared against revision {expected}; retry"
                )
            now = utcnow()
            if row is None:
                row = EndpointRow(
                    name=name, owner=owner, revision=0, created_at=now, created_by=change.actor
                )
                session.add(row)
                session.flush()  # the revision row refers to it
            deployment_row = DeploymentRow(
                endpoint=name,
                revision=active + 1,
                action=action,
                policy=policy.to_dict(),
                restores=restores,
                actor=change.actor,
                reason=reason,
                created_at=now,
                override=bool(overridden),
                overridden=overridden,
                checklist=checks,
            )
            row.owner = owner
            row.revision = active + 1
            session.add(deployment_row)
            session.flush()
            deployment = deployment_row.to_entity()
            change.details.update(
                {
                    "revision": deployment.revision,
                    "sequence": deployment.sequence,
                    "policy": policy.to_dict(),
                    "previous_revision": active or None,
                    "restores": restores,
                    "override": bool(overridden),
                    "overridden": overridden,
                }
            )
        return DeployOutcome(deployment, based_on.active if based_on else None)

    def _entity(self, session: Any, row: EndpointRow) -> Endpoint:
        active = session.scalars(
            select(DeploymentRow).where(
                DeploymentRow.endpoint == row.name, DeploymentRow.revision == row.revision
            )
        ).one()
        return Endpoint(
            name=row.name,
            owner=row.owner,
            active=active.to_entity(),
            created_at=row.created_at,
            created_by=row.created_by,
        )


def _answering(policy: TrafficPolicy) -> builtins.list[str]:
    found = [policy.production]
    if policy.canary:
        found.append(policy.canary)
    return found
