"""``DeviceSupervisor``: opens every declared device, keeps it connected, reports its health.

One asyncio task per device (plus one scanner task per Bluetooth adapter). A device that
is absent or broken never makes ``start()`` raise and never stops the other devices: its
failure becomes its ``health()`` entry (state, code, ru/en message) and it is retried
with exponential backoff. On-demand devices serve ``measure()``; badge reads go to one
de-bounced queue; particulate/noise/smoke readings go to ``on_environment`` callbacks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from edge_agent.devices.config import ON_DEMAND_KINDS, DeviceDeclaration
from edge_agent.devices.health import DeviceHealth
from edge_agent.devices.messages import message_for
from edge_agent.devices.runners import RUNNERS, DeviceRunner, current_fault
from firmware_bridges.devices import DeviceConfigError
from firmware_bridges.readings import Reading

log = logging.getLogger(__name__)

EnvironmentCallback = Callable[[str, Reading], None]


class DeviceSupervisor:
    """Supervises the kiosk's devices. See ``docs/integrator-devices.md`` §6.

    ``ble_backend``: ``(scanner_backend_cls, client_backend_cls)`` passed through to bleak
    (tests and simulations use ``simulators.ble.bleak_bumble``); ``None`` in production
    (bleak's platform backend). ``clock`` drives the badge de-bounce.
    ``ble_presence_s``: a BLE device not seen advertising for this long is "not responding".
    """

    def __init__(
        self,
        devices: list[DeviceDeclaration],
        *,
        ble_backend: tuple | None = None,
        clock: Callable[[], float] = time.monotonic,
        start_timeout_s: float = 5.0,
        ble_presence_s: float = 30.0,
        ble_watchdog_s: float = 30.0,
        badge_queue_size: int = 256,
    ) -> None:
        names = [d.name for d in devices]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"device names must be unique; repeated: {', '.join(dupes)}")
        self.clock = clock
        self.start_timeout_s = start_timeout_s
        self.declarations = list(devices)
        scanner_backend, client_backend = ble_backend if ble_backend else (None, None)
        self._badges: asyncio.Queue[Reading] = asyncio.Queue(maxsize=badge_queue_size)
        self._last_card: dict[tuple[str, str], float] = {}
        self._env_callbacks: list[EnvironmentCallback] = []
        self._stored_callbacks: list[EnvironmentCallback] = []
        self._health_callbacks: list[Callable[[str, dict], None]] = []
        self._tasks: list[asyncio.Task] = []
        self.dropped_badges = 0
        self._runners: dict[str, DeviceRunner] = {}
        self._adapters: dict = {}
        for decl in devices:
            if decl.transport == "ble":
                from edge_agent.devices.ble import BleAdapter, BleRunner

                name = decl.bridge_config().adapter
                if name not in self._adapters:
                    ble_decls = [d for d in devices if d.transport == "ble"]
                    self._adapters[name] = BleAdapter(
                        name, scanner_backend=scanner_backend, presence_s=ble_presence_s, watchdog_s=ble_watchdog_s,
                        retry_initial_s=min(d.retry_initial_s for d in ble_decls),
                        retry_max_s=min(d.retry_max_s for d in ble_decls),
                    )
                self._runners[decl.name] = BleRunner(decl, self, self._adapters[name], client_backend)
            else:
                self._runners[decl.name] = RUNNERS[decl.kind](decl, self)

    # ----------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Start supervising every enabled device; wait (≤ ``start_timeout_s``) for first contact."""
        if self._tasks:
            return
        for name, adapter in self._adapters.items():
            self._tasks.append(asyncio.create_task(adapter.run(), name=f"ble-adapter-{name}"))
        for name, runner in self._runners.items():
            if runner.decl.enabled:
                self._tasks.append(asyncio.create_task(runner.run(), name=f"device-{name}"))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_timeout_s
        while loop.time() < deadline and any(r.health.state == "connecting" for r in self._runners.values()):
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        """Close every device and cancel every task."""
        tasks, self._tasks = self._tasks, []
        runners = [t for t in tasks if not t.get_name().startswith("ble-adapter-")]
        adapters = [t for t in tasks if t.get_name().startswith("ble-adapter-")]
        for group in (runners, adapters):  # devices first, then the scanners they use
            await _cancel_all(group)



    async def __aenter__(self) -> "DeviceSupervisor":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    # ----------------------------------------------------------------- health
    def health(self) -> dict[str, dict]:
        """Device name → health entry (JSON-serialisable; the status message's ``devices``)."""
        return {name: r.health.to_dict() for name, r in self._runners.items()}

    def on_health(self, callback: Callable[[str, dict], None]) -> None:
        """``callback(device_name, health_entry)`` on every state/code change (for device_fault events)."""
        self._health_callbacks.append(callback)

    def health_changed(self, health: DeviceHealth) -> None:
        entry = health.to_dict()
        for cb in list(self._health_callbacks):
            try:
                cb(health.decl.name, entry)
            except Exception:
                log.exception("health callback raised")

    def device_for(self, kind: str) -> str | None:
        """Name of the first healthy declared device of ``kind`` (None if none is ok)."""
        for name, r in self._runners.items():
            if r.kind == kind and r.health.state == "ok":
                return name
        return None

    def zones(self) -> dict[str, str]:
        """Device name → zone, for :func:`environment_to_telemetry`."""
        return {d.name: d.zone for d in self.declarations if d.zone}

    # ----------------------------------------------------------------- on demand
    async def measure(
        self,
        kind: str,
        *,
        timeout: float | None = None,
        progress: Callable[[dict], None] | None = None,
        subject: str | None = None,
    ) -> Reading:
        """Measure once on the healthy device of ``kind`` (or the first enabled one, which
        may just have been switched on). Raises a ``DeviceError`` subclass, never invents."""
        if kind not in ON_DEMAND_KINDS:
            ru, en = f"{kind}: измерение по запросу не поддерживается", f"{kind} is not measured on demand"
            raise DeviceConfigError(ru, en, kind=kind, details={"on_demand_kinds": list(ON_DEMAND_KINDS)})
        name = self.device_for(kind)
        if name is None:
            enabled = [n for n, r in self._runners.items() if r.kind == kind and r.decl.enabled]
            if not enabled:
                declared = [r for r in self._runners.values() if r.kind == kind]
                if declared:
                    raise current_fault(declared[0])
                ru, en = message_for("config_error", kind)
                raise DeviceConfigError(ru, en, kind=kind, details={"reason": f"no {kind} is declared"})
            name = enabled[0]
        return await self._runners[name].measure(timeout=timeout, progress=progress, subject=subject)

    # ----------------------------------------------------------------- streams
    def badge_reads(self) -> asyncio.Queue[Reading]:
        """Every card read, de-bounced: the same card on a reader within ``debounce_s`` counts once."""
        return self._badges

    def badge(self, name: str, reading: Reading) -> None:
        if reading.card_id is None:
            return
        runner = self._runners[name]
        now = self.clock()
        key = (name, reading.card_id)
        last = self._last_card.get(key)
        self._last_card[key] = now  # held in the field: the window extends
        if last is not None and now - last < runner.decl.debounce_s:
            return
        for k in [k for k, t in self._last_card.items() if now - t > 3600]:
            del self._last_card[k]
        if self._badges.full():
            dropped = self._badges.get_nowait()
            self.dropped_badges += 1
            log.warning("badge queue full: oldest read %s dropped (nobody is consuming badge_reads())", dropped.card_id)
        self._badges.put_nowait(reading)

    def on_environment(self, callback: EnvironmentCallback) -> None:
        """``callback(device_name, reading)`` for every particulate/noise/smoke reading."""
        self._env_callbacks.append(callback)

    def environment(self, name: str, reading: Reading) -> None:
        self._call(self._env_callbacks, name, reading)

    def on_stored(self, callback: EnvironmentCallback) -> None:
        """``callback(device_name, reading)`` for records a device had stored before the
        session (a cuff's memory). They are history, never the current measurement."""
        self._stored_callbacks.append(callback)

    def stored(self, name: str, reading: Reading) -> None:
        self._call(self._stored_callbacks, name, reading)

    @staticmethod
    def _call(callbacks: list[EnvironmentCallback], name: str, reading: Reading) -> None:
        for cb in list(callbacks):
            try:
                cb(name, reading)
            except Exception:
                log.exception("device callback raised for %s", name)


async def _cancel_all(tasks: list[asyncio.Task], rounds: int = 50) -> None:
    """Cancel ``tasks`` and wait for them. A cancel can be swallowed by ``asyncio.wait_for``
    inside a bridge on Python 3.11 (CPython gh-86296), so pending tasks are cancelled again."""
    pending = set(tasks)
    for _ in range(rounds):
        if not pending:
            break
        for t in pending:
            t.cancel()
        _done, pending = await asyncio.wait(pending, timeout=0.1)
    for t in tasks:
        if t.done() and not t.cancelled() and t.exception() is not None:
            log.error("task %s ended with %r", t.get_name(), t.exception())
    if pending:
        log.error("tasks did not stop: %s", ", ".join(t.get_name() for t in pending))


__all__ = ["DeviceSupervisor"]
