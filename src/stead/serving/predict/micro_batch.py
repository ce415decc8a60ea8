"""Micro-batching: concurrent requests to one model become one model call.

The batcher is opportunistic by default: the first request is sent at once, and the
requests that arrive while the model is busy are sent together as the next call. That
adds no latency when traffic is light and batches exactly when batching pays. A
``max_wait`` above zero also holds a call back briefly to let a batch form.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Pending(Generic[T, R]):
    item: T
    size: int
    future: asyncio.Future[R]


class MicroBatcher(Generic[T, R]):
    """Runs ``call(items) -> results`` on groups of concurrently submitted items.

    Args:
        call: takes a list of items and returns one result per item, in order. It runs
            in ``executor`` (a thread), so the event loop keeps accepting requests.
        max_batch: most rows per call (an item counts as its ``size`` rows).
        max_wait: seconds to wait for more items after the first (0 = opportunistic).
        executor: where ``call`` runs; ``None`` is the loop's default thread pool.
    """

    def __init__(
        self,
        call: Callable[[list[T]], Sequence[R]],
        *,
        max_batch: int = 256,
        max_wait: float = 0.0,
        executor: Executor | None = None,
    ) -> None:
        self.call = call
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.executor = executor
        self._queue: asyncio.Queue[_Pending[T, R]] | None = None
        self._worker: asyncio.Task[None] | None = None
        self.batches = 0
        self.items = 0

    async def submit(self, item: T, *, size: int = 1) -> R:
        """Queue ``item`` (of ``size`` rows) and wait for its result."""
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._worker = asyncio.get_running_loop().create_task(self._run())
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(item, size, future))
        return await future

    async def _run(self) -> None:
        assert self._queue is not None
        queue = self._queue
        loop = asyncio.get_running_loop()
        while True:
            first = await queue.get()
            group = [first]
            rows = first.size
            deadline = loop.time() + self.max_wait
            while rows < self.max_batch:
                if not queue.empty():
                    nxt = queue.get_nowait()
                elif self.max_wait > 0 and (remaining := deadline - loop.time()) > 0:
                    try:
                        nxt = await asyncio.wait_for(queue.get(), remaining)
                    except TimeoutError:
                        break
                else:
                    break
                group.append(nxt)
                rows += nxt.size
            await self._dispatch(loop, group)

    async def _dispatch(self, loop: asyncio.AbstractEventLoop, group: list[_Pending[T, R]]) -> None:
        live = [p for p in group if not p.future.cancelled()]
        if not live:
            return
        self.batches += 1
        self.items += len(live)
        try:
            results = await loop.run_in_executor(self.executor, self.call, [p.item for p in live])
        except BaseException as exc:  # every waiter must hear about the failure
            for pending in live:
                if not pending.future.done():
                    pending.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for pending, result in zip(live, results, strict=True):
            if not pending.future.done():
                pending.future.set_result(result)

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
            self._queue = None
