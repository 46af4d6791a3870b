"""BLE devices under supervision: one scanner per adapter, presence-based health, and
on-demand measurements through :class:`firmware_bridges.ble.driver.BleDeviceDriver`.

Medical BLE devices connect for a measurement and sleep in between, so a BLE device's
health is its *presence*: "ok" while it is seen advertising, "fault: not_responding" when
it has not been seen for ``presence_s`` ("switch it on"). A measurement connects,
subscribes, waits for the result and disconnects (the driver reconnects after a drop and
de-duplicates re-sent cuff records). Records a cuff had stored before this session are
handed to ``DeviceSupervisor.on_stored`` callbacks — never returned as the measurement.
"""

from __future__ import annotations

import asyncio
import logging

from edge_agent.devices.backoff import Backoff
from edge_agent.devices.config import DeviceDeclaration
from edge_agent.devices.messages import localize, message_for
from edge_agent.devices.runners import DeviceRunner, Progress, Sink, current_fault, emit, internal_error
from firmware_bridges.devices import DeviceError, DeviceNotResponding
from firmware_bridges.readings import Reading

log = logging.getLogger(__name__)


class BleAdapter:
    """The scanner of one Bluetooth adapter, started with backoff until it works."""

    def __init__(self, name: str, *, scanner_backend: type | None, presence_s: float, watchdog_s: float,
                 retry_initial_s: float, retry_max_s: float) -> None:
        from firmware_bridges.ble.driver import BleScannerService

        self.name = name
        self.presence_s = presence_s
        self.scanner = BleScannerService(backend=scanner_backend, adapter=name, watchdog_s=watchdog_s,
                                         stale_after_s=presence_s)
        self.ready = asyncio.Event()
        self.error: DeviceError | None = None
        self.started_at = 0.0
        self.backoff = Backoff(retry_initial_s, retry_max_s)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        started = False
        try:
            while not started:
                try:
                    await self.scanner.start()
                    started = True
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # no adapter, BlueZ down, D-Bus missing …
                    ru, en = message_for("adapter_unavailable", None)
                    self.error = DeviceNotResponding(ru, en, code="adapter_unavailable",
                                                     details={"adapter": self.name, "exception": repr(exc)})
                    log.warning("BLE adapter %s unavailable: %r", self.name, exc)
                    await asyncio.sleep(self.backoff.next())
            self.error = None
            self.started_at = loop.time()
            self.ready.set()
            await asyncio.Event().wait()
        finally:
            self.ready.clear()
            if started:
                await self.scanner.stop()


class BleRunner(DeviceRunner):
    """Thermometer, BP cuff or oximeter on BLE."""

    def __init__(self, decl: DeviceDeclaration, sink: Sink, adapter: BleAdapter, client_backend: type | None) -> None:
        super().__init__(decl, sink)
        from firmware_bridges.ble.driver import BleDeviceDriver

        self.adapter = adapter
        self.driver = BleDeviceDriver(
            self.cfg, scanner=adapter.scanner, client_backend=client_backend,
            on_reading=self._on_reading, on_error=self._on_error, on_progress=self._on_progress,
        )
        self.lock = asyncio.Lock()
        self.measuring = False
        self._progress: Progress = None
        self._last_mmhg: float | None = None

    # ----------------------------------------------------------------- presence
    def present(self) -> bool:
        return self.adapter.ready.is_set() and self.adapter.scanner.find(self.driver._match) is not None

    async def run(self) -> None:
        poll = max(0.02, min(1.0, self.adapter.presence_s / 4))
        while True:
            try:
                self._check()
            except Exception as exc:
                log.exception("%s: presence check failed", self.name)
                self.health.fault(internal_error(self.kind, exc))
            await asyncio.sleep(poll)

    def _check(self) -> None:
        h = self.health
        if not self.adapter.ready.is_set():
            err = self.adapter.error
            if err is not None and (h.state, h.code) != ("fault", err.code):
                h.fault(localize(err, self.kind))
            return
        if self.measuring:
            return  # a connected peripheral stops advertising
        if self.present():
            if h.state != "ok":
                self.backoff.reset()
                h.ok()
        elif asyncio.get_running_loop().time() - self.adapter.started_at >= self.adapter.presence_s:
            if (h.state, h.code) != ("fault", "not_responding"):
                h.fault(DeviceNotResponding.for_kind(self.kind, f"not seen advertising for {self.adapter.presence_s:g} s"))

    # ----------------------------------------------------------------- driver callbacks
    def _on_reading(self, r: Reading) -> None:
        if r.status.get("stored_record"):
            self.sink.stored(self.name, r)

    def _on_error(self, err: DeviceError) -> None:
        self.health.note_error(err)

    def _on_progress(self, mmhg: float) -> None:
        phase = "inflating" if self._last_mmhg is None or mmhg >= self._last_mmhg else "deflating"
        self._last_mmhg = mmhg
        emit(self._progress, {"kind": self.kind, "phase": phase, "cuff_pressure_mmhg": float(mmhg)})

    # ----------------------------------------------------------------- measure
    async def measure(self, *, timeout: float | None, progress: Progress, subject: str | None) -> Reading:
        emit(progress, {"kind": self.kind, "phase": "connecting"})
        if not self.adapter.ready.is_set():
            raise current_fault(self)
        async with self.lock:
            self.measuring = True
            self._progress = progress
            self._last_mmhg = None
            try:
                r = await self.driver.measure(timeout=timeout)
            except DeviceError as err:
                if err.code == "not_responding" and not self.present():
                    self.health.fault(err)
                else:
                    self.health.note_error(err)
                raise localize(err, self.kind) from err
            finally:
                self.measuring = False
                self._progress = None
        self.good(r)
        if r.status.get("device_clock_drift"):
            self.health.warn("clock_drift", offset=round(r.status.get("device_clock_offset_s", 0)))
        else:
            self.health.clear_warning("clock_drift")
        emit(progress, {"kind": self.kind, "phase": "done"})
        return r


__all__ = ["BleAdapter", "BleRunner"]
