"""``[auth]`` and ``[teams]``: identities, admins and team membership.

::

    [auth]
    enabled = "auto"          # "auto" (on beyond loopback), true or false
    admins = ["alice"]        # may override gates and manage tokens

    [teams]
    risk = ["alice", "bob"]   # team name -> member identities

``[auth]`` keys can be overridden by ``STEAD_AUTH_<KEY>`` (``STEAD_AUTH_ENABLED=false``,
``STEAD_AUTH_ADMINS='["alice"]'``, a TOML list that replaces the whole list). ``[teams]``
is read from the file only: its keys are team names the user chose (``risk-team``,
``Fraud``), which a variable name cannot spell back faithfully, and a membership is an
access grant that should be reviewed where the teams are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from stead.core.errors import SettingsError
from stead.core.settings import SETTINGS_FILE, Settings, stage_table


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


def auth_settings(settings: Settings, env: Mapping[str, str] | None = None) -> AuthSettings:
    """``[auth]`` parsed and checked, with ``STEAD_AUTH_*`` applied.

    Raises:
        SettingsError: naming the key (or the variable), the value and what is allowed.
    """
    return stage_table(settings, "auth", AuthSettings, env=env)


def teams(settings: Settings) -> Teams:
    """``[teams]`` parsed and checked; from the file only (see the module docstring).

    Raises:
        SettingsError: ``[teams]`` is not a table, or a team is not a list of identities.
    """
    where = f"{settings.root / SETTINGS_FILE} [teams]"
    table = settings.extra.get("teams", {})
    if not isinstance(table, dict):
        raise SettingsError(f"{where} must be a table, got {table!r}")
    members: dict[str, list[str]] = {}
    for team, people in table.items():
        if not isinstance(people, list) or not all(isinstance(p, str) for p in people):
            raise SettingsError(
                f"{where} {team} = {people!r} is not allowed; "
                'expected a list of identities, e.g. risk = ["alice", "bob"]'
            )
        members[str(team)] = list(people)
    return Teams(members)
