"""Ownership checks: only the owning team or an admin may change what a team owns.

A refusal names the owner and how to find who may act (``[teams]`` in ``stead.toml``), never
the members themselves: a refused caller (a token of another team over HTTP) must not learn
who holds the rights it lacks.
"""

from __future__ import annotations

from dataclasses import dataclass

from stead.core.context import Context
from stead.core.errors import PermissionDenied
from stead.security.settings import auth_settings, teams

NO_ADMIN_HINT = (
    'name one in stead.toml: [auth] admins = ["{actor}"] '
    "(or STEAD_AUTH_ADMINS='[\"{actor}\"]'); `stead init` names the workspace's creator"
)


@dataclass(frozen=True)
class Principal:
    """Who acts: an identity, the teams it acts for, whether it is an admin.

    The CLI acts as the workspace actor (teams from ``[teams]``, see
    :meth:`AccessPolicy.principal`); the HTTP server as the API token (its team, and admin
    when its role is ``admin``).
    """

    identity: str
    teams: tuple[str, ...] = ()
    admin: bool = False

    def may_act_for(self, owner: str) -> bool:
        return self.admin or owner == self.identity or owner in self.teams


class AccessPolicy:
    """Answers "may this actor change things owned by this team?" from ``stead.toml``.

    An owner is a team name from ``[teams]`` or, for a one-person project, an identity.
    """

    def __init__(self, context: Context) -> None:
        self._teams = teams(context.settings)
        self._admins = set(auth_settings(context.settings).admins)

    def is_admin(self, actor: str) -> bool:
        return actor in self._admins

    def principal(self, actor: str) -> Principal:
        """``actor`` as a :class:`Principal`: its teams from ``[teams]``, admin when it
        is in ``[auth] admins``."""
        return Principal(
            identity=actor, teams=tuple(self._teams.teams_of(actor)), admin=self.is_admin(actor)
        )

    def may_act_for(self, actor: str, owner: str) -> bool:
        return self.is_admin(actor) or actor == owner or self._teams.is_member(actor, owner)

    def require_owner(self, actor: str, owner: str, *, action: str) -> None:
        """Raise unless ``actor`` belongs to ``owner`` or is an admin.

        Raises:
            PermissionDenied: naming the owner (not its members).
        """
        if self.may_act_for(actor, owner):
            return
        raise PermissionDenied(
            f"{actor!r} may not {action}: it is owned by {owner!r}; only its members "
            f"([teams] {owner} in stead.toml) or an admin may. Ask one of them, or set "
            "STEAD_ACTOR if you are one",
            details={"actor": actor, "owner": owner},
        )

    def require_admin(self, actor: str, *, action: str) -> None:
        """Raise unless ``actor`` is in ``[auth] admins``.

        Raises:
            PermissionDenied: saying how to name an admin when none is configured.
        """
        if self.is_admin(actor):
            return
        if not self._admins:
            raise PermissionDenied(
                f"{actor!r} may not {action}: only an admin may, and this workspace has no "
                f"admin; {NO_ADMIN_HINT.format(actor=actor)}",
                details={"actor": actor},
            )
        raise PermissionDenied(
            f"{actor!r} may not {action}: only an admin may ([auth] admins in stead.toml)",
            details={"actor": actor},
        )
