"""Following deployments: every worker of every replica reads the active revisions from
the metadata store and switches within about a second of a change.

A background thread polls one number, the newest deployment's sequence
(``SELECT max(id)``, an index lookup), every ``[serving] poll_interval`` seconds. When it
moves, the watcher reads each endpoint's active and previous revision, loads any version
they need that is not loaded yet (before switching: requests keep being answered by the
old revision meanwhile), then swaps in the new routing table in one assignment. The
previous revision's versions stay loaded, so a rollback switches without loading
anything. A revision whose versions cannot be loaded is not switched to: the endpoint
keeps serving what it served, the failure is reported (``problems``) and retried.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from stead.serving.deploy.deployment import Deployment
from stead.serving.deploy.endpoints import EndpointService
from stead.serving.deploy.router import Router, TrafficPolicy
from stead.serving.predict.pool import ModelPool, ServedModel

log = logging.getLogger("stead.serving")
RETRY_AFTER = 5.0


@dataclass(frozen=True)
class LiveEndpoint:
    """What one endpoint serves in this process right now."""

    name: str
    deployment: Deployment
    router: Router
    fallback: str

    @property
    def revision(self) -> int:
        return self.deployment.revision


def refs_of(deployment: Deployment) -> list[str]:
    """Every ref a revision needs loaded: answering versions, shadows, the fallback."""
    policy: TrafficPolicy = deployment.policy
    refs = [policy.production]
    if policy.canary:
        refs.append(policy.canary)
    refs.extend(s.version for s in policy.shadows)
    refs.append(str(deployment.fallback))
    return list(dict.fromkeys(refs))


class DeploymentWatcher:
    """Keeps :attr:`table` (endpoint name → :class:`LiveEndpoint`) current.

    Args:
        endpoints: where deployments are read.
        pool: where versions are loaded.
        interval: seconds between two polls of the revision counter.
        on_unloaded: called with versions no revision needs any more (to close them).
    """

    def __init__(
        self,
        endpoints: EndpointService,
        pool: ModelPool,
        *,
        interval: float,
        on_unloaded: Callable[[list[ServedModel]], None] = lambda _gone: None,
    ) -> None:
        self._endpoints = endpoints
        self._pool = pool
        self._interval = interval
        self._on_unloaded = on_unloaded
        self.table: dict[str, LiveEndpoint] = {}
        self.problems: dict[str, str] = {}
        self._seen: int | None = None
        self._retry_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ready = False

    def start(self) -> None:
        """Load what is deployed now (blocking), then follow changes in a thread."""
        self.refresh()
        self.ready = True
        self._thread = threading.Thread(target=self._run, name="stead-deployments", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.refresh()
            except Exception:  # the database may be briefly unreachable: keep serving
                log.exception("reading the deployments failed; serving what is loaded")

    def refresh(self) -> bool:
        """Poll once; switch to new revisions. Returns whether the table changed."""
        sequence = self._endpoints.sequence()
        if sequence == self._seen and not (self.problems and time.monotonic() >= self._retry_at):
            return False
        active = self._endpoints.active()
        table = dict(self.table)
        problems: dict[str, str] = {}
        needed: set[str] = set()
        for name, (current, previous) in active.items():
            refs = refs_of(current)
            failed = self._pool.ensure(refs)
            if failed:
                problems[name] = f"revision {current.revision} is not served: " + "; ".join(
                    f"{ref}: {error}" for ref, error in failed.items()
                )
                if name in table:
                    needed.update(refs_of(table[name].deployment))
                continue
            table[name] = LiveEndpoint(
                name=name,
                deployment=current,
                router=Router(name, current.policy),
                fallback=str(current.fallback),
            )
            needed.update(refs)
            if previous is not None:
                # Warm, so that a rollback needs no load; failing here is not fatal.
                kept = refs_of(previous)
                self._pool.ensure(kept)
                needed.update(ref for ref in kept if ref in self._pool)
        for name in [n for n in table if n not in active]:
            del table[name]
        changed = table != self.table
        self.table = table
        self.problems = problems
        self._retry_at = time.monotonic() + RETRY_AFTER
        self._seen = sequence
        gone = self._pool.retain(needed)
        if gone:
            self._on_unloaded(gone)
        if changed:
            log.info(
                "serving %s",
                ", ".join(f"{n} revision {e.revision}" for n, e in sorted(table.items())),
            )
        return changed
