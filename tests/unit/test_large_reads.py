"""Large reads leave the store to others: paced to a share of the time, and cut into time
slices so that no single query matches a whole surge."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from kefu.services.analytics.store import time_slices
from kefu.shared.store import paced

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


START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_a_minute_is_read_a_second_at_a_time_and_the_last_slice_is_open() -> None:
    slices = time_slices(START, START + timedelta(minutes=1), 60)
    assert len(slices) == 60
    assert slices[0] == (START, START + timedelta(seconds=1))
    assert all(upper == following[0] for (_, upper), following in pairwise(slices))
    assert slices[-1] == (START + timedelta(seconds=59), None)


def test_nothing_to_slice_is_one_open_query() -> None:
    assert time_slices(START, START - timedelta(seconds=5), 60) == [(START, None)]
