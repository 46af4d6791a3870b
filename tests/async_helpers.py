"""Running a coroutine in a fresh event loop, failing the test if it leaves tasks behind."""

from __future__ import annotations

import asyncio
from typing import Any


def run_async(coro, timeout: float = 30.0) -> Any:
    """Run ``coro`` in a fresh loop; fail if any task is still pending afterwards."""

    async def wrapper():
        try:
            return await asyncio.wait_for(coro, timeout)
        finally:
            for _ in range(5):
                await asyncio.sleep(0)
            left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
            for t in left:
                t.cancel()
            if left:
                await asyncio.gather(*left, return_exceptions=True)
            assert not left, f"test left tasks running: {left}"

    return asyncio.run(wrapper())
