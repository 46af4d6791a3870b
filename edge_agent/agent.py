"""The kiosk runtime: the journal, the uplink, and the one way records enter the system.

Everything a kiosk produces goes through :meth:`KioskAgent.record`: it validates the body
against the wire contract (so an invalid record is refused at the source, with a reason),
journals it durably, and only then wakes the uplink.

Durable writes are slow on purpose (SQLite ``synchronous=FULL`` fsyncs; on a kiosk's SD card
that can take hundreds of milliseconds), so code running on the kiosk's asyncio loop (the
workflow, the screen, the device supervisor's callbacks, telemetry) never calls
:meth:`KioskAgent.record` directly: it goes through :attr:`KioskAgent.writer`, one thread
that performs the writes in the order they were asked for (:meth:`KioskAgent.record_async`
awaits the durable record, :meth:`KioskAgent.record_soon` is fire-and-forget for
synchronous callbacks). Synchronous programs (simulators, benches) keep calling ``record``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from typing import Any, Callable

from pydantic import BaseModel, ValidationError

from edge_agent.config import KioskConfig
from edge_agent.evidence import ChainSealer, load_or_create_key
from edge_agent.journal import Journal, JournalRecord
from edge_agent.uplink import Uplink
from firmware_bridges.contract import BODY_MODELS, RECORD_KINDS

log = logging.getLogger(__name__)


class RecordRejected(ValueError):
    """A record that does not follow the wire contract; nothing was journaled."""


class SerialWriter:
    """Blocking durable writes on one thread, carried out in the order they were handed over.

    Why a thread of its own and not ``asyncio.to_thread``: the default executor has several
    threads, and two appends handed over in order could reach the journal in the other
    order. Why not on the loop: an fsync stalls the screen and the BLE links meanwhile.

    :meth:`run` awaits the result (and re-raises the write's exception). A write once
    handed over is carried out even if the awaiting task is cancelled (stopping the kiosk
    must not lose it). :meth:`submit` is for synchronous code on the loop (device
    callbacks); :meth:`close` waits for every write handed over.
    """

    def __init__(self, name: str = "journal-writer"):
        self.name = name
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        """Hand over a write without waiting; a failure is logged."""
        future = self._pool.submit(fn, *args, **kwargs)
        future.add_done_callback(self._log_failure)
        return future

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Hand over a write and await it (off the loop)."""
        future = asyncio.wrap_future(self._pool.submit(fn, *args, **kwargs))
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:  # the write goes on; nobody awaits its outcome now
            future.add_done_callback(self._log_failure)
            raise

    def close(self) -> None:
        """Carry out every write handed over, then stop the thread (idempotent)."""
        self._pool.shutdown(wait=True)

    def _log_failure(self, future: concurrent.futures.Future | asyncio.Future) -> None:
        if not future.cancelled() and future.exception() is not None:
            log.error("%s: a write failed", self.name, exc_info=future.exception())


class KioskAgent:
    def __init__(self, config: KioskConfig, *, status_extra: Callable[[], dict] | None = None,
                 on_command: Callable[[str, dict], None] | None = None):
        self.config = config
        self.journal = Journal(config.journal.path, **config.journal.journal_options())
        self.sealer = ChainSealer(load_or_create_key(config.signing_key_path))
        self.uplink = Uplink(config, self.journal, public_key=self.sealer.public_key,
                             status_extra=status_extra, on_command=on_command)
        self.writer = SerialWriter()

    def start(self) -> "KioskAgent":
        self.uplink.start()
        return self

    def stop(self, *, graceful: bool = True) -> None:
        """Blocking (writes still handed over are carried out first): call it off the loop."""
        self.writer.close()
        self.uplink.stop(graceful=graceful)
        self.journal.close()

    def record(self, kind: str, body: dict | BaseModel) -> JournalRecord:
        """Validate, journal durably, then hand to the uplink. Raises RecordRejected."""
        if kind not in RECORD_KINDS:
            raise RecordRejected(f"unknown record kind {kind!r}; expected one of {', '.join(RECORD_KINDS)}")
        if isinstance(body, BaseModel):
            body = body.model_dump(mode="json")
        try:
            validated = BODY_MODELS[kind].model_validate(body)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or kind}: {e['msg']}" for e in error.errors()[:5]
            )
            raise RecordRejected(f"{kind} record refused: {problems}") from None
        body = validated.model_dump(mode="json", exclude={"chain"} if kind == "exam" else None)
        record = self.journal.append(kind, body, seal=self.sealer if kind == "exam" else None)
        self.uplink.notify()
        return record

    async def record_async(self, kind: str, body: dict | BaseModel) -> JournalRecord:
        """:meth:`record` on the writer thread, awaited: for code on the event loop."""
        return await self.writer.run(self.record, kind, body)

    def record_soon(self, kind: str, body: dict | BaseModel) -> concurrent.futures.Future:
        """:meth:`record` on the writer thread, not awaited (synchronous callbacks on the loop);
        a refused or failed record is logged."""
        return self.writer.submit(self.record, kind, body)

    def status(self) -> dict:
        return {
            "site": self.config.identity.site,
            "kiosk": self.config.identity.kiosk,
            "connected": self.uplink.connected,
            "outbox_depth": self.journal.outbox_depth(),
            "last_seq": self.journal.last_seq(),
            "counters": dict(self.uplink.counters),
        }
