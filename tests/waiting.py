"""Waiting for what another process or task changes."""

import asyncio
from collections.abc import Callable


async def wait_until(condition: Callable[[], bool], wait_s: float = 15) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while not condition() and loop.time() < deadline:
        await asyncio.sleep(0.05)
    assert condition()
