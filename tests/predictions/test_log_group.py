"""Group commit: requests answered in one pass of the event loop share one journal write."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from stead.predictions.group_commit import GroupCommit
from stead.predictions.reader import read_prediction_records
from stead.predictions.writer import PredictionLog, PredictionLogError

from .records import make_record


class Counted:
    """The real log, counting the calls that reach it."""

    def __init__(self, log: PredictionLog) -> None:
        self.log, self.calls = log, 0

    def log_many(self, records: list) -> None:  # type: ignore[type-arg]
        self.calls += 1
        self.log.log_many(records)


def test_concurrent_answers_share_one_write_and_every_record_is_logged(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, mode="journal")
    counted = Counted(log)
    group = GroupCommit(counted)  # type: ignore[arg-type]

    async def answer_all() -> None:
        # 64 answers finishing in the same loop pass, as the micro-batcher releases them.
        await asyncio.gather(*(group.log([make_record(i)]) for i in range(64)))
        await group.log([make_record(64), make_record(65)])  # a later pass: its own call

    asyncio.run(answer_all())
    log.close()

    assert counted.calls == 2
    logged = read_prediction_records(tmp_path, "credit")
    assert sorted(r.request_id for r in logged) == [f"req-{i:06d}" for i in range(66)]


def test_every_request_of_a_refused_group_hears_of_it(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, mode="journal")
    log.close()
    group = GroupCommit(log)

    async def answer_all() -> list[BaseException | None]:
        return await asyncio.gather(
            *(group.log([make_record(i)]) for i in range(3)), return_exceptions=True
        )

    outcomes = asyncio.run(answer_all())
    assert len(outcomes) == 3 and all(isinstance(o, PredictionLogError) for o in outcomes)
    with pytest.raises(PredictionLogError):
        asyncio.run(group.log([make_record(9)]))
