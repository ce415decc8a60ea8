"""API tokens: roles, teams, stored hashed, revocable.

A token reads ``stead_<id>_<secret>``. Only the SHA-256 of the secret is stored, so the
database never holds a usable credential; the plain token is shown once, at creation.

Roles are duties, not a ladder (:data:`GRANTS`): a ``viewer`` reads; a ``predictor`` also
predicts; a ``labeler`` reads and sends labels, for the endpoints its team owns; a
``deployer`` predicts and changes the endpoints its team owns, but does not label (labels
feed the monitoring and retraining that judge its models); an ``admin`` does everything,
for every team. Only an admin creates or revokes tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from stead.core.clock import utcnow
from stead.core.context import Context
from stead.core.db import Base, UTCDateTime, entity_from_row
from stead.core.errors import NotFound, Unauthenticated, UsageError
from stead.core.ids import new_id
from stead.security.access import AccessPolicy

Role = Literal["viewer", "predictor", "labeler", "deployer", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
PREFIX = "stead"
# Each role and the roles whose operations it may perform.
GRANTS: dict[str, frozenset[Role]] = {
    "viewer": frozenset({"viewer"}),
    "predictor": frozenset({"viewer", "predictor"}),
    "labeler": frozenset({"viewer", "labeler"}),
    "deployer": frozenset({"viewer", "predictor", "deployer"}),
    "admin": frozenset(ROLES),
}


def role_allows(role: str, needed: Role) -> bool:
    """Whether a token of ``role`` may do what ``needed`` may.

    >>> role_allows("deployer", "predictor"), role_allows("deployer", "labeler")
    (True, False)
    """
    return needed in GRANTS.get(role, frozenset())


def roles_allowing(needed: Role) -> list[Role]:
    """The roles that may do what ``needed`` may, in :data:`ROLES` order."""
    return [role for role in ROLES if role_allows(role, needed)]


class ApiTokenRow(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    team: Mapped[str | None] = mapped_column(String(200), nullable=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    def to_entity(self) -> ApiToken:
        return entity_from_row(ApiToken, self)


@dataclass(frozen=True)
class ApiToken:
    """A token's public facts; ``identity`` is who it acts as in the audit trail."""

    id: str
    name: str
    role: Role
    team: str | None
    created_at: datetime
    created_by: str
    revoked_at: datetime | None

    @property
    def identity(self) -> str:
        return f"token:{self.name}"

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "team": self.team,
            "identity": self.identity,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # the full ``stead_<id>_<secret>`` string, shown once


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenService:
    """``ws.tokens``: create, list, revoke and check API tokens."""

    def __init__(self, context: Context, *, access: AccessPolicy) -> None:
        self._ctx = context
        self._access = access

    def create(self, *, name: str, role: str, team: str | None = None) -> IssuedToken:
        """Issue a token; the returned secret is never stored and cannot be shown again.

        Only an admin (``[auth] admins``; ``stead init`` names the workspace's creator)
        may create or revoke tokens.

        Raises:
            PermissionDenied: the actor is not an admin, or no admin is configured.
            UsageError: an unknown role, an empty name, or a labeler without a team.
        """
        self._access.require_admin(self._ctx.actor, action="create API tokens")
        if role not in ROLES:
            raise UsageError(f"role {role!r} is not one of {', '.join(ROLES)}")
        if not name.strip():
            raise UsageError("a token needs a name that says who or what uses it")
        if role == "labeler" and not (team or "").strip():
            raise UsageError(
                "a labeler token labels the endpoints of one team: pass --team TEAM "
                "(the team, or the identity, that owns the endpoints)"
            )
        token_id = new_id("tk")
        secret = secrets.token_urlsafe(32)
        with self._ctx.store.change("token.create", f"token:{token_id}") as change:
            row = ApiTokenRow(
                id=token_id,
                name=name,
                role=role,
                team=team,
                secret_hash=_hash(secret),
                created_at=utcnow(),
                created_by=change.actor,
            )
            change.session.add(row)
            change.details.update({"name": name, "role": role, "team": team})
            token = row.to_entity()
        return IssuedToken(token=token, secret=f"{PREFIX}_{token_id}_{secret}")

    def revoke(self, token_id: str, *, reason: str | None = None) -> ApiToken:
        self._access.require_admin(self._ctx.actor, action="revoke API tokens")
        with self._ctx.store.change("token.revoke", f"token:{token_id}", reason=reason) as change:
            row = change.session.get(ApiTokenRow, token_id)
            if row is None:
                raise NotFound(f"no token with id {token_id}; `stead tokens list` shows them")
            if row.revoked_at is None:
                row.revoked_at = utcnow()
            change.details.update({"name": row.name, "role": row.role})
            return row.to_entity()

    def list(self) -> list[ApiToken]:
        with self._ctx.store.read() as session:
            rows = session.scalars(select(ApiTokenRow).order_by(ApiTokenRow.created_at))
            return [row.to_entity() for row in rows]

    def authenticate(self, presented: str) -> ApiToken:
        """The active token a bearer string belongs to.

        Raises:
            Unauthenticated: for a malformed, unknown or revoked token (one message for
                all three, so a caller learns nothing about which tokens exist).
        """
        refused = Unauthenticated(
            "invalid or revoked API token; create one with `stead tokens create`"
        )
        parts = presented.strip().split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            raise refused
        _, token_id, secret = parts
        with self._ctx.store.read() as session:
            row = session.get(ApiTokenRow, token_id)
            if row is None or row.revoked_at is not None:
                raise refused
            if not hmac.compare_digest(row.secret_hash, _hash(secret)):
                raise refused
            return row.to_entity()
