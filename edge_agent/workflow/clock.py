"""The workflow's notion of time, injectable so tests and the benchmark never wait 20 minutes.

The workflow asks a :class:`Clock` for the wall time (recorded in the exam, shown on the
re-test countdown) and waits on it (re-test due times). :class:`SystemClock` is the real
one. :class:`ManualClock` runs at real speed but can be moved forward with
:meth:`ManualClock.advance`: every waiter whose due time has been passed wakes at once, and
the UI's countdown — computed from the same clock — jumps accordingly.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep_until(self, when: datetime) -> None: ...


class SystemClock:
    """Wall-clock time; waits really wait."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime) -> None:
        delay = (when - self.now()).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)


class ManualClock:
    """Real time plus an offset that :meth:`advance` increases (thread-safe to call from tests)."""

    def __init__(self, start: datetime | None = None):
        self._origin_wall = start or datetime.now(UTC)
        self._origin_mono = time.monotonic()
        self._offset = 0.0
        self._waiters: set[asyncio.Event] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def now(self) -> datetime:
        return self._origin_wall + timedelta(seconds=time.monotonic() - self._origin_mono + self._offset)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``; wakes waiters (from any thread)."""
        self._offset += seconds
        loop = self._loop
        if loop is not None and not loop.is_closed():
            for event in list(self._waiters):
                loop.call_soon_threadsafe(event.set)

    async def sleep_until(self, when: datetime) -> None:
        self._loop = asyncio.get_running_loop()
        while True:
            delay = (when - self.now()).total_seconds()
            if delay <= 0:
                return
            event = asyncio.Event()
            self._waiters.add(event)
            try:  # (not wait_for: on 3.11 it can swallow a cancellation, and the waiter lives on)
                async with asyncio.timeout(min(delay, 1.0)):
                    await event.wait()
            except TimeoutError:
                pass
            finally:
                self._waiters.discard(event)
