"""One supervision loop per declared device: open it, keep it open, report its health.

A runner's task never ends on a device failure: every :class:`DeviceError` (and any
unexpected exception, reported as ``internal_error``) becomes the device's health, the
link is closed, and the runner tries again after an exponential backoff. Streaming
devices hand their readings to the supervisor through :class:`Sink`; on-demand devices
(the alcotester here, the BLE ones in :mod:`edge_agent.devices.ble`) serve ``measure()``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

from edge_agent.devices.backoff import Backoff
from edge_agent.devices.config import DeviceDeclaration
from edge_agent.devices.health import DeviceHealth
from edge_agent.devices.messages import is_device_fault, localize, message_for
from firmware_bridges.devices import (
    DeviceConfigError,
    DeviceDisconnected,
    DeviceError,
    DeviceNotResponding,
    DeviceProtocolError,
    DeviceReportedError,
    ImplausibleReading,
)
from firmware_bridges.readings import Reading

log = logging.getLogger(__name__)

Progress = Callable[[dict], None] | None


class Sink(Protocol):
    """What a runner hands its output to (the supervisor)."""

    clock: Callable[[], float]

    def environment(self, name: str, reading: Reading) -> None: ...

    def badge(self, name: str, reading: Reading) -> None: ...

    def stored(self, name: str, reading: Reading) -> None: ...

    def health_changed(self, health: DeviceHealth) -> None: ...


def internal_error(kind: str, exc: BaseException) -> DeviceError:
    ru, en = message_for("internal_error", kind)
    return DeviceError(ru, en, code="internal_error", kind=kind, details={"exception": repr(exc)})


def emit(progress: Progress, event: dict) -> None:
    """Call a progress callback; a broken callback must not break a measurement."""
    if progress is None:
        return
    try:
        progress(event)
    except Exception:
        log.exception("progress callback raised")


class DeviceRunner:
    """Base: health, backoff, and the reconnect loop around :meth:`session`."""

    def __init__(self, decl: DeviceDeclaration, sink: Sink) -> None:
        self.decl = decl
        self.name = decl.name
        self.kind = decl.kind
        self.cfg = decl.bridge_config()
        self.sink = sink
        self.health = DeviceHealth(decl, on_change=sink.health_changed)
        self.backoff = Backoff(decl.retry_initial_s, decl.retry_max_s)
        self.attempts = 0  # sessions started (open attempts)
        self._wake = asyncio.Event()

    # ----------------------------------------------------------------- loop
    async def run(self) -> None:
        """Supervise until cancelled; never raises anything but CancelledError."""
        while True:
            self.attempts += 1
            self.health.connecting()
            try:
                await self.session()
                raise DeviceNotResponding.for_kind(self.kind, "the link ended")
            except asyncio.CancelledError:
                raise
            except DeviceError as err:
                self.health.fault(err)
            except Exception as exc:  # a bug must cost one device, not the kiosk
                log.exception("%s: supervision loop error", self.name)
                self.health.fault(internal_error(self.kind, exc))
            await self.sleep(self.backoff.next())

    async def session(self) -> None:
        """Open the device and serve it until the link is lost (raise a DeviceError)."""
        raise NotImplementedError

    async def sleep(self, seconds: float) -> None:
        """Sleep, or return early when :meth:`wake` is called."""
        self._wake.clear()
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancel that races
            # with the event being set (CPython gh-86296), and stop() would hang
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        except TimeoutError:
            pass

    def wake(self) -> None:
        self._wake.set()

    def good(self, reading: Reading | None = None) -> None:
        """The device delivered: health ok, backoff reset."""
        self.backoff.reset()
        self.health.reading(reading.received_at if reading is not None else None)

    # ----------------------------------------------------------------- on demand
    async def measure(self, *, timeout: float | None, progress: Progress, subject: str | None) -> Reading:
        ru, en = f"{self.kind}: измерение по запросу не поддерживается", f"{self.kind} is not measured on demand"
        raise DeviceConfigError(ru, en, kind=self.kind)


def _all_invalid(r: Reading) -> bool:
    values = {k: v for k, v in r.values().items() if k != "card_id"}
    return bool(values) and all(v is None for v in values.values())


def _implausible(kind: str, reading: Reading) -> ImplausibleReading:
    ru, en = message_for("implausible", kind)
    return ImplausibleReading(ru, en, kind=kind, details={"invalid": dict(reading.invalid)})


# --------------------------------------------------------------------------- serial streams


class BadgeRunner(DeviceRunner):
    """RDM6300 / CDC badge reader. Output-only: an open port is all that can be checked."""

    async def session(self) -> None:
        from firmware_bridges.serial.drivers import BadgeReaderDriver

        async with BadgeReaderDriver(self.cfg) as drv:
            self.health.ok()
            self.backoff.reset()
            async for r in drv.readings():
                self.good(r)
                self.sink.badge(self.name, r)


class ParticulateRunner(DeviceRunner):
    """PMS5003 in active mode; a frame with only implausible values is passed on (values
    null, reasons kept) and makes the device "fault: implausible" until a valid frame."""

    async def session(self) -> None:
        from firmware_bridges.serial.drivers import ParticulateDriver

        async with ParticulateDriver(self.cfg) as drv:
            async for r in drv.readings():
                if _all_invalid(r):
                    self.health.fault(_implausible(self.kind, r))
                else:
                    self.good(r)
                self.sink.environment(self.name, r)


# --------------------------------------------------------------------------- modbus


class ModbusRunner(DeviceRunner):
    """Noise transmitter / smoke detector poller.

    An exception reply or an implausible value is a fault of the device, but the link
    works: keep polling. Silence, garbled replies and a lost link end the session: close,
    back off, reconnect. The smoke detector fails closed (devices.md §5.2): any of these
    makes its health "fault" with "alarm state unknown" in the message, and a detector
    that reports its own fault bit is "fault: detector_fault".
    """

    async def session(self) -> None:
        from firmware_bridges.modbus.drivers import NoisePoller, SmokePoller

        poller_cls = NoisePoller if self.kind == "noise" else SmokePoller
        loop = asyncio.get_running_loop()
        async with poller_cls(self.cfg) as poller:
            while True:
                t0 = loop.time()
                try:
                    r = await poller.read_once()
                except (ImplausibleReading, DeviceReportedError) as err:
                    self.health.fault(err)
                else:
                    self._accept(r)
                await asyncio.sleep(max(0.0, self.cfg.poll_interval_s - (loop.time() - t0)))

    def _accept(self, r: Reading) -> None:
        if self.kind == "smoke" and r.status.get("fault"):
            ru, en = message_for("detector_fault", self.kind)
            self.health.fault(DeviceReportedError(ru, en, code="detector_fault", kind=self.kind))
            self.backoff.reset()
        else:
            self.good(r)
        self.sink.environment(self.name, r)


# --------------------------------------------------------------------------- printer


class PrinterRunner(DeviceRunner):
    """No printer protocol bridge exists: watch that the printer's port opens and stays
    up (a USB printer unplugged → hang-up → "disconnected"); bytes it sends are discarded."""

    async def session(self) -> None:
        from firmware_bridges.serial.transport import SerialTransport

        async with SerialTransport(self.cfg, kind=self.kind) as transport:
            self.health.ok()
            self.backoff.reset()
            while True:
                try:
                    await transport.read(timeout=self.decl.check_interval_s)
                except TimeoutError:
                    pass


# --------------------------------------------------------------------------- alcotester

_ALCOTESTER_PHASES = {"WARMUP": "warmup", "BLOW": "blow", "BLOW_PROGRESS": "blow", "ANALYZING": "analyzing"}


class AlcotesterRunner(DeviceRunner):
    """Breathalyzer on the line protocol: the port stays open, ``STAT`` checks it every
    ``check_interval_s`` while idle, ``measure()`` runs one test under the same lock."""

    def __init__(self, decl: DeviceDeclaration, sink: Sink) -> None:
        super().__init__(decl, sink)
        self.driver = None
        self.lock = asyncio.Lock()
        self._lost: DeviceError | None = None
        self._ready = asyncio.Event()

    async def session(self) -> None:
        from firmware_bridges.serial.drivers import AlcotesterDriver

        self._lost = None
        async with AlcotesterDriver(self.cfg) as drv:
            try:
                async with self.lock:
                    await drv.status()
                self.driver = drv
                self.health.ok()
                self.backoff.reset()
                self._ready.set()
                while True:
                    await self.sleep(self.decl.check_interval_s)
                    if self._lost is not None:
                        raise self._lost
                    async with self.lock:
                        await drv.status()
                    if self.health.state != "ok":
                        self.health.ok()
            finally:
                self.driver = None
                self._ready.clear()

    async def _driver_now(self, wait_s: float):
        """The open driver; if the device is down, ask the loop to retry now and wait a little."""
        if self.driver is None:
            self.wake()
            try:
                async with asyncio.timeout(wait_s):
                    await self._ready.wait()
            except TimeoutError:
                pass
        if self.driver is None:
            raise current_fault(self)
        return self.driver

    async def measure(self, *, timeout: float | None, progress: Progress, subject: str | None) -> Reading:
        emit(progress, {"kind": self.kind, "phase": "connecting"})
        drv = await self._driver_now(min(3.0, timeout or 3.0))

        def on_event(evt) -> None:
            event: dict[str, Any] = {"kind": self.kind, "phase": _ALCOTESTER_PHASES.get(evt.event, evt.event.lower())}
            if evt.event == "WARMUP":
                event["seconds"] = evt.value
            elif evt.event == "BLOW_PROGRESS":
                event["progress_percent"] = evt.value
            emit(progress, event)

        async with self.lock:
            if self.driver is not drv:
                raise current_fault(self)
            try:
                r = await drv.measure(subject_ref=subject or "-", timeout=timeout, on_event=on_event)
            except DeviceError as err:
                if is_device_fault(err.code):
                    self.health.fault(err)
                    self._lost = err
                    self.wake()
                else:
                    self.health.note_error(err)
                raise localize(err, self.kind) from err
        self.good(r)
        skew = r.status.get("device_clock_skew_s")
        if skew is not None and abs(skew) > drv.max_clock_skew_s:
            self.health.warn("clock_drift", offset=round(skew))
        else:
            self.health.clear_warning("clock_drift")
        emit(progress, {"kind": self.kind, "phase": "done"})
        return r


_FAULT_CLASSES: dict[str, type[DeviceError]] = {
    "not_responding": DeviceNotResponding,
    "adapter_unavailable": DeviceNotResponding,
    "disconnected": DeviceDisconnected,
    "protocol_error": DeviceProtocolError,
    "implausible": ImplausibleReading,
    "config_error": DeviceConfigError,
    "disabled": DeviceConfigError,
}


def current_fault(runner: DeviceRunner) -> DeviceError:
    """The typed error that explains why ``runner``'s device cannot measure now."""
    h = runner.health
    if h.state in ("fault", "disabled"):
        code, ru, en = h.code, h.message_ru, h.message_en
    else:
        code = "not_responding"
        ru, en = message_for(code, runner.kind)
    return _FAULT_CLASSES.get(code, DeviceReportedError)(ru, en, code=code, kind=runner.kind)


RUNNERS: dict[str, type[DeviceRunner]] = {
    "badge_reader": BadgeRunner,
    "particulate": ParticulateRunner,
    "noise": ModbusRunner,
    "smoke": ModbusRunner,
    "printer": PrinterRunner,
    "alcotester": AlcotesterRunner,
}

__all__ = ["DeviceRunner", "RUNNERS", "Sink", "current_fault", "emit", "internal_error"]
