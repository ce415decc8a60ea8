"""What one server process holds while it runs: the workspace, the loaded versions, the
deployment watcher, the prediction log, the metrics and the token check.

The workspace is opened through the ``open_workspace`` the composition root passes
(``Workspace.open``): every part below runs on the services it built once, the same
objects ``ws.models``, ``ws.endpoints`` and ``ws.predictions`` are, and nothing here
imports the root.

It is made when the app is created (reading only ``stead.toml``, so a wrong setting fails
at once) and started in the app's lifespan, after uvicorn forked its workers: the
workspace, the log's writer thread and the watcher's thread must belong to the process
that uses them.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from stead.core.settings import find_root, load_settings
from stead.predictions.writer import PredictionLog
from stead.security.settings import auth_settings
from stead.serving.deploy.watcher import DeploymentWatcher
from stead.serving.errors import NotReady
from stead.serving.http.auth import TokenCheck
from stead.serving.predict.contract import EdgeBatch
from stead.serving.predict.engine import ServingEngine
from stead.serving.predict.idempotency import ResponseStore
from stead.serving.predict.metrics import ServingMetrics
from stead.serving.predict.pool import ModelPool, ServedModel
from stead.serving.settings import serving_settings

if TYPE_CHECKING:
    from stead.core.settings import Settings
    from stead.core.store import MetadataStore
    from stead.predictions.feedback import FeedbackService
    from stead.predictions.service import PredictionService
    from stead.registry.service import ModelRegistry
    from stead.security.tokens import TokenService
    from stead.serving.deploy.endpoints import EndpointService
    from stead.serving.explain import Explanation, ExplanationService

log = logging.getLogger("stead.serving")
# How long a version no revision needs stays open: requests that picked it just before
# the switch finish on it.
CLOSE_AFTER = 30.0


class ServerWorkspace(Protocol):
    """What the server uses of an open workspace."""

    settings: Settings
    store: MetadataStore
    notices: list[str]

    @property
    def models(self) -> ModelRegistry: ...
    @property
    def endpoints(self) -> EndpointService: ...
    @property
    def predictions(self) -> PredictionService: ...
    @property
    def feedback(self) -> FeedbackService: ...
    @property
    def explanations(self) -> ExplanationService: ...
    @property
    def tokens(self) -> TokenService: ...
    def close(self) -> None: ...


OpenWorkspace = Callable[[Path], ServerWorkspace]


class ServingRuntime:
    """The server's state.

    Args:
        workspace: the workspace directory (or any directory below it).
        open_workspace: opens it (in the worker process, when the app starts).
        host: the address the server listens on (decides ``[auth] enabled = "auto"``).
        auth: force token checks on or off (``None``: from ``[auth] enabled``).
    """

    def __init__(
        self,
        workspace: str | os.PathLike[str],
        *,
        open_workspace: OpenWorkspace,
        host: str,
        auth: bool | None = None,
    ) -> None:
        self.root = find_root(Path(workspace))
        self._open_workspace = open_workspace
        settings = load_settings(self.root)
        self.settings = serving_settings(settings)
        self.auth_required = auth_settings(settings).required_for(host) if auth is None else auth
        self.metrics = ServingMetrics()
        self._ws: ServerWorkspace | None = None
        self._engine: ServingEngine | None = None
        self._tokens: TokenCheck | None = None
        self._log: PredictionLog | None = None
        self._responses: ResponseStore | None = None
        self.watcher: DeploymentWatcher | None = None
        self.pool: ModelPool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # The deployment problems last logged (see :mod:`.readiness`).
        self.problems_logged: frozenset[str] = frozenset()

    # -- parts, once started ----------------------------------------------------------

    @property
    def ws(self) -> ServerWorkspace:
        if self._ws is None:
            raise NotReady("the server is starting; retry in a moment")
        return self._ws

    @property
    def engine(self) -> ServingEngine:
        if self._engine is None:
            raise NotReady("the server is starting; retry in a moment")
        return self._engine

    @property
    def tokens(self) -> TokenCheck:
        if self._tokens is None:
            raise NotReady("the server is starting; retry in a moment")
        return self._tokens

    @property
    def responses(self) -> ResponseStore:
        if self._responses is None:
            raise NotReady("the server is starting; retry in a moment")
        return self._responses

    @property
    def ready(self) -> bool:
        return self.watcher is not None and self.watcher.ready and self._log is not None

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Open the workspace, load what is deployed, open the log (in this process)."""
        self._loop = asyncio.get_running_loop()
        ws = await asyncio.to_thread(self._open_workspace, self.root)
        self._ws = ws
        for notice in ws.notices:
            log.info("%s", notice)
        self._tokens = TokenCheck(ws.tokens)
        self._responses = ResponseStore(ws.store, ttl=self.settings.idempotency_ttl)
        columns = ws.settings.columns
        self.pool = ModelPool(
            ws.models,
            self.settings,
            ws.settings.validation,
            id_column=columns.id,
            context=(columns.time, *columns.pii) if columns.time else tuple(columns.pii),
        )
        self.watcher = DeploymentWatcher(
            ws.endpoints,
            self.pool,
            interval=self.settings.poll_interval,
            on_unloaded=self._close_later,
        )
        self._log = ws.predictions.open_log(on_quarantine=self.metrics.log_quarantined)
        await asyncio.to_thread(self.watcher.start)
        self._engine = ServingEngine(
            watcher=self.watcher,
            pool=self.pool,
            prediction_log=self._log,
            metrics=self.metrics,
            settings=self.settings,
            id_column=columns.id,
            explainer=self._explainer(ws.explanations),
        )
        for name, live in self.watcher.table.items():
            self.metrics.revision.labels(name).set(live.revision)
        tune_garbage_collector()

    async def stop(self) -> None:
        """Stop following deployments, finish shadows, close models and the log."""
        if self.watcher is not None:
            await asyncio.to_thread(self.watcher.stop)
        if self._engine is not None:
            await self._engine.close()
        if self.pool is not None:
            for served in self.pool.retain(()):
                await served.close()
        if self._log is not None:
            stats = await asyncio.to_thread(self._log.close)
            log.info("prediction log closed: %s", stats)
        if self._ws is not None:
            self._ws.close()

    def _close_later(self, gone: list[ServedModel]) -> None:
        # Called from the watcher's thread; the batchers belong to the event loop.
        loop = self._loop
        if loop is None:
            return
        for served in gone:
            loop.call_soon_threadsafe(self._schedule_close, served)

    def _schedule_close(self, served: ServedModel) -> None:
        assert self._loop is not None
        loop = self._loop
        loop.call_later(CLOSE_AFTER, lambda: loop.create_task(served.close()))

    def revision_changed(self) -> None:
        if self.watcher is not None:
            for name, live in self.watcher.table.items():
                self.metrics.revision.labels(name).set(live.revision)

    @staticmethod
    def _explainer(
        service: ExplanationService,
    ) -> Callable[[ServedModel, EdgeBatch], Explanation]:
        def explain(served: ServedModel, batch: EdgeBatch) -> Explanation:
            return service.explainer(served.loaded).explain(batch.frame(served.runner.columns))

        return explain


def tune_garbage_collector() -> None:
    """Keep the cyclic garbage collector from stalling requests.

    Everything loaded at start (libraries, models) lives as long as the process, so it
    is frozen out of the collector's passes; a full pass over it took a good part of
    0.1 s. And a busy server allocates hundreds of thousands of short-lived objects a
    second, nearly all freed by reference counting: with the default thresholds a full
    collection still ran every 0.4 s, scanning the prediction records waiting for the
    log (5-20 ms each, the p99 at 64 concurrent requests). Higher thresholds make such
    passes rare; cycles are still collected.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
