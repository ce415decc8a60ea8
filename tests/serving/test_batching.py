from __future__ import annotations

import asyncio
import threading

import pytest

from stead.serving.predict.micro_batch import MicroBatcher


def test_concurrent_requests_share_model_calls_and_keep_their_own_results() -> None:
    calls: list[list[int]] = []
    gate = threading.Event()

    def model(items: list[int]) -> list[int]:
        calls.append(items)
        gate.wait(timeout=5)  # hold the first call so the others queue up behind it
        return [x * 10 for x in items]

    async def scenario() -> list[int]:
        batcher: MicroBatcher[int, int] = MicroBatcher(model, max_batch=64)
        first = asyncio.ensure_future(batcher.submit(0))
        await asyncio.sleep(0.05)
        rest = [asyncio.ensure_future(batcher.submit(i)) for i in range(1, 21)]
        await asyncio.sleep(0.05)
        gate.set()
        results = await asyncio.gather(first, *rest)
        await batcher.close()
        return list(results)

    assert asyncio.run(scenario()) == [i * 10 for i in range(21)]
    assert calls[0] == [0] and calls[1] == list(range(1, 21))  # one call for the 20 that queued


def test_batches_never_exceed_max_batch_rows() -> None:
    sizes: list[int] = []
    gate = threading.Event()

    def model(items: list[int]) -> list[int]:
        sizes.append(len(items))
        gate.wait(timeout=5)
        return items

    async def scenario() -> None:
        batcher: MicroBatcher[int, int] = MicroBatcher(model, max_batch=8)
        tasks = [asyncio.ensure_future(batcher.submit(i, size=2)) for i in range(20)]
        await asyncio.sleep(0.05)
        gate.set()
        await asyncio.gather(*tasks)
        await batcher.close()

    asyncio.run(scenario())
    assert max(sizes) <= 4 and sum(sizes) == 20  # 4 items × 2 rows = the 8-row cap


def test_a_failing_call_fails_every_request_in_its_batch_and_the_batcher_goes_on() -> None:
    def model(items: list[int]) -> list[int]:
        if 13 in items:
            raise ValueError("bad row")
        return items

    async def scenario() -> int:
        batcher: MicroBatcher[int, int] = MicroBatcher(model)
        with pytest.raises(ValueError, match="bad row"):
            await batcher.submit(13)
        result = await batcher.submit(7)
        await batcher.close()
        return result

    assert asyncio.run(scenario()) == 7
