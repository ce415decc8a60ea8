"""Ownership checks: only the owning team or an admin may change what a team owns."""

from __future__ import annotations

from stead.core.context import Context
from stead.core.errors import PermissionDenied
from stead.security.settings import auth_settings, teams


class AccessPolicy:
    """Answers "may this actor change things owned by this team?" from ``stead.toml``.

    An owner is a team name from ``[teams]`` or, for a one-person project, an identity.
    """

    def __init__(self, context: Context) -> None:
        self._teams = teams(context.settings)
        self._admins = set(auth_settings(context.settings).admins)

    def is_admin(self, actor: str) -> bool:
        return actor in self._admins

    def may_act_for(self, actor: str, owner: str) -> bool:
        return self.is_admin(actor) or actor == owner or self._teams.is_member(actor, owner)

    def require_owner(self, actor: str, owner: str, *, action: str) -> None:
        """Raise unless ``actor`` belongs to ``owner`` or is an admin.

        Raises:
            PermissionDenied: saying who may do it instead.
        """
        if self.may_act_for(actor, owner):
            return
        members = self._teams.members.get(owner, [owner])
        allowed = ", ".join(sorted({*members, *self._admins})) or owner
        raise PermissionDenied(
            f"{actor!r} may not {action}: it is owned by {owner!r}; only its members or an "
            f"admin may ({allowed}). Ask one of them, or set STEAD_ACTOR if you are one",
            details={"actor": actor, "owner": owner, "allowed": sorted({*members, *self._admins})},
        )

    def require_admin(self, actor: str, *, action: str) -> None:
        if not self.is_admin(actor):
            admins = ", ".join(sorted(self._admins)) or "nobody: set [auth] admins in stead.toml"
            raise PermissionDenied(f"{actor!r} may not {action}: only an admin may ({admins})")
