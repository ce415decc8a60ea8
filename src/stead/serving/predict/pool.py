"""Versions loaded for serving: each with its runner, compiled contract, micro-batcher
and the one thread its model calls run on.

A :class:`ModelPool` loads what the active deployments need (verified and signed, via
``ws.models.load``) and keeps it until no active or previous revision needs it any more.
The fallback baseline of a version is served like a version, as ``NAME@N:baseline``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from threadpoolctl import threadpool_limits

from stead.registry.loading import LoadedModel
from stead.registry.version import ModelVersion
from stead.serving.deploy.deployment import FallbackRef
from stead.serving.predict.contract import EdgeBatch, EdgeContract
from stead.serving.predict.micro_batch import MicroBatcher
from stead.serving.predict.runner import ModelRunner
from stead.serving.settings import ServingSettings

if TYPE_CHECKING:
    from stead.core.settings import ValidationSettings
    from stead.registry.service import ModelRegistry

log = logging.getLogger("stead.serving")


def _one_thread() -> None:
    # One model call at a time per version, and one BLAS/OpenMP thread per call: on a
    # small machine the event loop needs the other core, and OpenMP workers spinning
    # beside it cost more (2.3 ms per one-row call instead of 0.3 ms, measured) than
    # they save. Concurrency comes from batching, not threads.
    threading.current_thread().__dict__["_stead_limits"] = threadpool_limits(limits=1)


@dataclass
class ServedModel:
    """One servable thing: a version, or a version's fallback baseline."""

    ref: str
    version: ModelVersion
    loaded: LoadedModel
    runner: ModelRunner
    edge: EdgeContract
    batcher: MicroBatcher[EdgeBatch, list[dict[str, Any]]]
    executor: ThreadPoolExecutor

    async def predict(self, batch: EdgeBatch) -> list[dict[str, Any]]:
        """The outputs of ``batch``'s records, from a micro-batched model call."""
        return await self.batcher.submit(batch, size=batch.rows)

    async def close(self) -> None:
        await self.batcher.close()
        self.executor.shutdown(wait=False)

    def describe(self) -> dict[str, Any]:
        return {"ref": self.ref, "rowwise": self.runner.rowwise, **self.runner.facts}


class ModelPool:
    """The versions a server process holds, by ref (``credit@3``, ``credit@3:baseline``).

    Args:
        models: the registry to load from (verifies signatures and hashes).
        settings: ``[serving]`` (batch size and wait, range policy).
        validation: ``[validation]`` (range tolerance, unseen categories).
        id_column: ``[columns] id``, accepted in records besides the contract.
        context: other fields a client naturally sends with a record that are never
            model inputs (``[columns] time`` and ``pii``): accepted, not passed to the
            model, and logged sanitised (PII hashed or dropped by the log).
    """

    def __init__(
        self,
        models: ModelRegistry,
        settings: ServingSettings,
        validation: ValidationSettings,
        *,
        id_column: str | None,
        context: Sequence[str] = (),
    ) -> None:
        self._models = models
        self._settings = settings
        self._validation = validation
        self._extra = tuple(dict.fromkeys(c for c in (id_column, *context) if c))
        self._served: dict[str, ServedModel] = {}
        self._loaded: dict[str, LoadedModel] = {}
        self._lock = threading.Lock()

    def get(self, ref: str) -> ServedModel:
        """A loaded ref.

        Raises:
            KeyError: it is not loaded.
        """
        return self._served[ref]

    def __contains__(self, ref: str) -> bool:
        return ref in self._served

    @property
    def refs(self) -> list[str]:
        return sorted(self._served)

    def ensure(self, refs: Iterable[str]) -> dict[str, Exception]:
        """Load every ref not loaded yet (blocking; call it off the event loop).

        Returns:
            The refs that could not be loaded, with why.
        """
        failed: dict[str, Exception] = {}
        for ref in refs:
            if ref in self._served:
                continue
            try:
                served = self._load(ref)
            except Exception as exc:
                log.error("could not load %s for serving: %s", ref, exc)
                failed[ref] = exc
                continue
            with self._lock:
                self._served[ref] = served
        return failed

    def retain(self, refs: Iterable[str]) -> list[ServedModel]:
        """Forget every ref not in ``refs``; returns them, for the caller to close."""
        keep = set(refs)
        with self._lock:
            gone = [s for ref, s in self._served.items() if ref not in keep]
            for served in gone:
                del self._served[served.ref]
            versions = {FallbackRef.parse(r).version for r in keep if "@" in r}
            for version in [v for v in self._loaded if v not in versions]:
                del self._loaded[version]
        return gone

    def _load(self, ref: str) -> ServedModel:
        target = FallbackRef.parse(ref)
        loaded = self._loaded.get(target.version)
        if loaded is None:
            loaded = self._models.load(target.version)
            self._loaded[target.version] = loaded
        version = loaded.version
        s = self._settings
        edge = EdgeContract(
            loaded.contract,
            policy=self._validation,
            out_of_range=s.out_of_range,
            extra=self._extra,
            model=ref,
        )
        pipeline = loaded.baseline if target.baseline else loaded.pipeline
        runner = ModelRunner(pipeline, edge=edge, output=version.output, label=ref)
        executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"stead-model-{ref}", initializer=_one_thread
        )
        batcher: MicroBatcher[EdgeBatch, list[dict[str, Any]]] = MicroBatcher(
            runner.run, max_batch=s.max_batch, max_wait=s.max_wait, executor=executor
        )
        log.info("loaded %s for serving: %s", ref, runner.facts)
        return ServedModel(ref, version, loaded, runner, edge, batcher, executor)
