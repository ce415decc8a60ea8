"""Whether this replica can take traffic: the answer of ``/readyz`` and
``/v2/health/ready``, for load balancers and Kubernetes readiness probes.

A replica is ready once it has started (the deployments read, the log open) and every
endpoint deployed is loaded, so it can answer all of its traffic; with ``[serving]
ready_when = "any"``, once at least one is. An endpoint whose active revision cannot be
loaded (an artifact altered on disk, a model that fails to load) is not loaded, unless
this process still serves an earlier revision of it. With nothing deployed a replica is
ready: there is nothing it cannot answer.

The problems are logged when they change, and shown in the body to a caller who may read
the endpoints (auth off, or a ``viewer`` token); anyone else learns ready or not.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from stead.core.errors import Unauthenticated
from stead.security.tokens import role_allows
from stead.serving.http.worker_state import ServingRuntime

log = logging.getLogger("stead.serving")


@dataclass(frozen=True)
class Readiness:
    """What a readiness probe is told."""

    ready: bool
    reason: str = ""
    endpoints: dict[str, int] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)

    def body(self, *, detailed: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"ready": self.ready}
        if self.reason:
            body["reason"] = self.reason
        if detailed:
            body["endpoints"] = self.endpoints
            if self.problems:
                body["problems"] = self.problems
        return body


def readiness(rt: ServingRuntime) -> Readiness:
    """This replica's readiness now (and a log line when its problems changed)."""
    watcher = rt.watcher
    if not rt.ready or watcher is None:
        return Readiness(False, "loading deployments")
    table, problems = dict(watcher.table), dict(watcher.problems)
    endpoints = {name: live.revision for name, live in sorted(table.items())}
    unloaded = sorted(set(problems) - set(table))
    configured = len(table) + len(unloaded)
    any_will_do = rt.settings.ready_when == "any"
    ready = not unloaded or (any_will_do and bool(table))
    reason = ""
    if unloaded:
        reason = f"{len(unloaded)} of {configured} deployed endpoints are not loaded"
    _log_change(rt, problems, unloaded)
    return Readiness(ready, reason, endpoints, dict(sorted(problems.items())))


def _log_change(rt: ServingRuntime, problems: dict[str, str], unloaded: list[str]) -> None:
    seen = frozenset(f"{k}: {v}" for k, v in problems.items())
    if rt.problems_logged == seen:
        return
    rt.problems_logged = seen
    for name in unloaded:
        log.warning("endpoint %s is not loaded, so not ready for it: %s", name, problems[name])
    for name in sorted(set(problems) - set(unloaded)):
        log.warning("endpoint %s keeps an earlier revision: %s", name, problems[name])


async def may_see_details(rt: ServingRuntime, authorization: str | None) -> bool:
    """Whether the caller may read endpoint names, revisions and problems."""
    if not rt.auth_required:
        return True
    if not authorization:
        return False
    try:
        token = await rt.tokens.authenticate(authorization)
    except Unauthenticated:
        return False
    return role_allows(token.role, "viewer")
