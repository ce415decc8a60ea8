"""Group commit on the event loop: the records of every request answered in one pass of
the loop reach the prediction log in one call, so the crash journal makes one
``write()`` for all of them instead of one per request.

A request's answer waits only until the end of the loop pass it finished in (the
callbacks already ready then run first, which is where the micro-batcher releases the
requests it predicted together). Each waiting request gets the outcome of the call that
carried its records: done, or the log's error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from stead.predictions.record import PredictionRecord
from stead.predictions.writer import PredictionLog


class GroupCommit:
    """Logs records through ``log.log_many``, grouped per event-loop pass."""

    def __init__(self, log: PredictionLog) -> None:
        self._log = log
        self._records: list[PredictionRecord] = []
        self._waiting: list[asyncio.Future[None]] = []

    async def log(self, records: Sequence[PredictionRecord]) -> None:
        """Return once ``records`` are logged with the others of this loop pass.

        Raises:
            PredictionLogError: the log refused the group (closed, or full).
        """
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._commit)
        self._records.extend(records)
        self._waiting.append(done)
        await done

    def _commit(self) -> None:
        records, waiting = self._records, self._waiting
        self._records, self._waiting = [], []
        try:
            self._log.log_many(records)
        except Exception as exc:  # every request of the group hears of it
            for done in waiting:
                if not done.done():
                    done.set_exception(exc)
            return
        for done in waiting:
            if not done.done():
                done.set_result(None)
