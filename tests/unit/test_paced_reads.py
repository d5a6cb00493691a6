"""A background read paced to a share of the time leaves the rest to others."""

import asyncio
from collections.abc import AsyncIterator

from shared.store import paced

FETCH_S = 0.02  # what one batch of the read costs


async def batches(count: int, size: int) -> AsyncIterator[dict]:
    for batch in range(count):
        await asyncio.sleep(FETCH_S)
        for index in range(size):
            yield {"_id": batch * size + index}


async def read(share: float) -> tuple[list[dict], float]:
    loop = asyncio.get_running_loop()
    started = loop.time()
    documents = [document async for document in paced(batches(4, 10), 10, share)]
    return documents, loop.time() - started


async def test_a_quarter_share_takes_four_times_as_long_and_reads_everything() -> None:
    documents, took = await read(0.25)
    assert [d["_id"] for d in documents] == list(range(40))
    assert took >= 4 * 4 * FETCH_S * 0.95


async def test_a_full_share_does_not_pause() -> None:
    _, took = await read(1.0)
    assert took < 4 * FETCH_S * 2
