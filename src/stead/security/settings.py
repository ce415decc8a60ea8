"""``[auth]`` and ``[teams]``: identities, admins and team membership."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from stead.core.errors import SettingsError
from stead.core.settings import Settings, build_dataclass


@dataclass(frozen=True, kw_only=True)
class AuthSettings:
    """``[auth]``.

    ``enabled = "auto"`` turns token checks on whenever the server listens beyond
    loopback; ``true``/``false`` force it.
    """

    enabled: Literal["auto", "true", "false"] | bool = "auto"
    admins: list[str] = field(default_factory=list)

    def required_for(self, host: str) -> bool:
        if self.enabled in (True, "true"):
            return True
        if self.enabled in (False, "false"):
            return False
        return host not in ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Teams:
    """``[teams]``: team name → member identities."""

    members: dict[str, list[str]]

    def teams_of(self, actor: str) -> list[str]:
        return sorted(team for team, people in self.members.items() if actor in people)

    def is_member(self, actor: str, team: str) -> bool:
        return actor in self.members.get(team, [])


def auth_settings(settings: Settings) -> AuthSettings:
    table = settings.extra.get("auth", {})
    if not isinstance(table, dict):
        raise SettingsError(f"stead.toml: [auth] must be a table, got {table!r}")
    result: AuthSettings = build_dataclass(AuthSettings, table, where="stead.toml [auth]")
    return result


def teams(settings: Settings) -> Teams:
    table = settings.extra.get("teams", {})
    if not isinstance(table, dict):
        raise SettingsError(f"stead.toml: [teams] must be a table, got {table!r}")
    members: dict[str, list[str]] = {}
    for team, people in table.items():
        if not isinstance(people, list) or not all(isinstance(p, str) for p in people):
            raise SettingsError(
                f"stead.toml [teams] {team} = {people!r} is not allowed; "
                'expected a list of identities, e.g. risk = ["alice", "bob"]'
            )
        members[str(team)] = list(people)
    return Teams(members)


def check_security_settings(settings: Settings) -> None:
    """Validate ``[auth]`` and ``[teams]``; called when a workspace opens."""
    auth_settings(settings)
    teams(settings)
