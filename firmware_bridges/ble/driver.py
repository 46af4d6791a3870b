"""bleak device drivers for the kiosk's BLE thermometer, BP cuff and pulse oximeters.

Only bleak's public API is used (``BleakScanner`` / ``BleakClient``); both take a
``backend`` class that defaults to bleak's platform backend (BlueZ on the Pi). Tests and
simulations pass the project-local bumble backend (``simulators.ble.bleak_bumble``),
which production code never imports.

Reliability, modelled on Home Assistant's Bluetooth stack (``habluetooth`` scanner
watchdog, ``bleak-retry-connector``):

* :class:`BleScannerService` — one scanner per adapter that remembers what it saw and a
  **watchdog** that restarts the scanner when it has been silent for ``watchdog_s``;
* connect with **bounded retries** (``connect_attempts``, default 3), a connect timeout of
  **at least 10 s** in production config, backoff between attempts, and a
  **per-adapter lock** so one adapter has one pending connect (devices.md §9.3, §11 #6);
* a session counts as connected only once the result characteristic is subscribed;
* **reconnect after a drop**, reporting :class:`DeviceDisconnected`;
* **de-duplication** of timestamped records a cuff re-sends (key: characteristic, device
  timestamp and values — the raw record bytes), bounded LRU;
* per-characteristic indications vs notifications: the result characteristic must offer
  the property its profile mandates (0x2A1C/0x2A35/0x2A5E indicate; 0x2A36/0x2A5F and the
  BerryMed stream notify, devices.md §1.3–§1.5, §2);
* typed errors with ru/en messages (``firmware_bridges.devices``); undecodable bytes and
  implausible values are reported, never turned into readings.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError
from bleak.uuids import normalize_uuid_16, normalize_uuid_str

from firmware_bridges.ble import berrymed, blood_pressure, plx, thermometer
from firmware_bridges.ble.config import BleDeviceConfig
from firmware_bridges.ble.plausibility import check_plausible
from firmware_bridges.ble.sfloat import BleDecodeError
from firmware_bridges.devices import (
    DeviceDisconnected,
    DeviceError,
    DeviceNotResponding,
    DeviceProtocolError,
    DeviceReportedError,
    ImplausibleReading,
)
from firmware_bridges.readings import Reading

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- profiles


@dataclass(frozen=True)
class ProfileSpec:
    name: str
    kind: str
    service_uuid: str
    result_uuid: str
    result_property: str  # "indicate" | "notify"
    decode: Callable[[bytes], Reading]
    progress_uuid: str | None = None
    stream: bool = False  # BerryMed: bytes form a stream; frame them


PROFILE_SPECS: dict[str, ProfileSpec] = {
    "ble-temperature": ProfileSpec(
        "ble-temperature", "thermometer", normalize_uuid_16(thermometer.SERVICE_UUID),
        normalize_uuid_16(thermometer.TEMPERATURE_MEASUREMENT_UUID), "indicate", thermometer.decode_temperature,
    ),
    "ble-blood-pressure": ProfileSpec(
        "ble-blood-pressure", "bp_cuff", normalize_uuid_16(blood_pressure.SERVICE_UUID),
        normalize_uuid_16(blood_pressure.BLOOD_PRESSURE_MEASUREMENT_UUID), "indicate",
        blood_pressure.decode_blood_pressure,
        progress_uuid=normalize_uuid_16(blood_pressure.INTERMEDIATE_CUFF_PRESSURE_UUID),
    ),
    "ble-plx-spot": ProfileSpec(
        "ble-plx-spot", "oximeter", normalize_uuid_16(plx.SERVICE_UUID),
        normalize_uuid_16(plx.SPOT_CHECK_UUID), "indicate", plx.decode_spot_check,
    ),
    "ble-plx-continuous": ProfileSpec(
        "ble-plx-continuous", "oximeter", normalize_uuid_16(plx.SERVICE_UUID),
        normalize_uuid_16(plx.CONTINUOUS_UUID), "notify", plx.decode_continuous,
    ),
    "berrymed": ProfileSpec(
        "berrymed", "oximeter", normalize_uuid_str(berrymed.SERVICE_UUID),
        normalize_uuid_str(berrymed.DATA_UUID), "notify", berrymed.decode_berrymed, stream=True,
    ),
}


# --------------------------------------------------------------------------- per-adapter connect lock

_LOCKS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]]" = weakref.WeakKeyDictionary()


def adapter_lock(adapter: str) -> asyncio.Lock:
    """The lock that serialises connects on ``adapter`` (one pending LE connect per controller)."""
    loop = asyncio.get_running_loop()
    locks = _LOCKS.setdefault(loop, {})
    if adapter not in locks:
        locks[adapter] = asyncio.Lock()
    return locks[adapter]


# --------------------------------------------------------------------------- scanner + watchdog


class BleScannerService:
    """One scanner per adapter, remembering the last advertisement of each device, with a watchdog.

    The watchdog restarts the scanner when no advertisement has arrived for ``watchdog_s``
    (a wedged BlueZ discovery goes silent without an error; restarting it is the cure HA uses).
    """

    def __init__(
        self,
        *,
        backend: type | None = None,
        adapter: str = "hci0",
        watchdog_s: float = 30.0,
        check_interval_s: float | None = None,
        stale_after_s: float = 60.0,
    ) -> None:
        self._backend = backend
        self.adapter = adapter
        self.watchdog_s = watchdog_s
        self._check = check_interval_s or max(0.01, watchdog_s / 4)
        self._stale = stale_after_s
        self._scanner: BleakScanner | None = None
        self._watchdog_task: asyncio.Task | None = None
        self._seen: dict[str, tuple[BLEDevice, AdvertisementData, float]] = {}
        self._last_adv = time.monotonic()
        self._changed: asyncio.Event | None = None
        self.restarts = 0
        self.advertisements = 0

    async def __aenter__(self) -> "BleScannerService":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    def _on_adv(self, device: BLEDevice, adv: AdvertisementData) -> None:
        now = time.monotonic()
        self._last_adv = now
        self.advertisements += 1
        self._seen[device.address.upper()] = (device, adv, now)
        if self._changed is not None:
            self._changed.set()

    async def _start_scanner(self) -> None:
        kwargs: dict[str, Any] = {"bluez": {"adapter": self.adapter}}
        if self._backend is not None:
            kwargs["backend"] = self._backend
        self._scanner = BleakScanner(self._on_adv, **kwargs)
        await self._scanner.start()
        self._last_adv = time.monotonic()

    async def start(self) -> None:
        self._changed = asyncio.Event()
        await self._start_scanner()
        self._watchdog_task = asyncio.create_task(self._watchdog(), name=f"ble-scanner-watchdog-{self.adapter}")

    async def _stop_scanner(self) -> None:
        scanner, self._scanner = self._scanner, None
        if scanner is not None:
            try:
                await asyncio.wait_for(scanner.stop(), 5.0)
            except (BleakError, asyncio.TimeoutError, OSError) as exc:
                logger.warning("scanner stop failed: %s", exc)

    async def restart(self, reason: str = "") -> None:
        logger.warning("restarting BLE scanner on %s: %s", self.adapter, reason or "requested")
        self.restarts += 1
        await self._stop_scanner()
        await self._start_scanner()

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(self._check)
            silent = time.monotonic() - self._last_adv
            if silent >= self.watchdog_s:
                try:
                    await self.restart(f"no advertisement for {silent:.1f} s")
                except (BleakError, OSError) as exc:  # keep watching; try again next period
                    logger.error("scanner restart failed: %s", exc)
                    self._last_adv = time.monotonic()

    async def stop(self) -> None:
        task, self._watchdog_task = self._watchdog_task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        await self._stop_scanner()

    def find(self, match: Callable[[BLEDevice, AdvertisementData], bool]) -> BLEDevice | None:
        now = time.monotonic()
        best = None
        for device, adv, seen in self._seen.values():
            if now - seen <= self._stale and match(device, adv):
                if best is None or seen > best[1]:
                    best = (device, seen)
        return best[0] if best else None

    async def wait_for(self, match: Callable[[BLEDevice, AdvertisementData], bool], timeout: float) -> BLEDevice | None:
        assert self._changed is not None, "scanner service not started"
        deadline = time.monotonic() + timeout
        while True:
            found = self.find(match)
            if found is not None:
                return found
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(left, 0.25))
            except asyncio.TimeoutError:
                pass


# --------------------------------------------------------------------------- de-duplication


class RecordDeduplicator:
    """Bounded memory of timestamped records already passed on (cuffs re-send stored records)."""

    def __init__(self, size: int = 1024) -> None:
        self._keys: OrderedDict[tuple, None] = OrderedDict()
        self._size = size

    def seen(self, key: tuple) -> bool:
        """True if ``key`` was seen before; otherwise remember it and return False."""
        if key in self._keys:
            self._keys.move_to_end(key)
            return True
        self._keys[key] = None
        if len(self._keys) > self._size:
            self._keys.popitem(last=False)
        return False


# --------------------------------------------------------------------------- driver


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class BleDeviceDriver:
    """Connects to one configured BLE device and turns its values into :class:`Reading` s.

    Callbacks: ``on_reading(Reading)``, ``on_error(DeviceError)``, ``on_progress(mmHg)`` (cuff).
    ``connect_timeout_s`` / ``scan_timeout_s`` override the config for test harnesses only;
    production config enforces a connect timeout >= 10 s.
    """

    def __init__(
        self,
        config: BleDeviceConfig,
        *,
        scanner: BleScannerService | None = None,
        scanner_backend: type | None = None,
        client_backend: type | None = None,
        on_reading: Callable[[Reading], None] | None = None,
        on_error: Callable[[DeviceError], None] | None = None,
        on_progress: Callable[[float], None] | None = None,
        connect_timeout_s: float | None = None,
        scan_timeout_s: float | None = None,
        retry_backoff_s: float | None = None,
        reconnect_backoff_s: float | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.config = config
        self.spec = PROFILE_SPECS[config.profile]
        self.kind = self.spec.kind
        self._scanner = scanner
        self._scanner_backend = scanner_backend
        self._client_backend = client_backend
        self.on_reading = on_reading
        self.on_error = on_error
        self.on_progress = on_progress
        self.connect_timeout_s = connect_timeout_s if connect_timeout_s is not None else config.connect_timeout_s
        self.scan_timeout_s = scan_timeout_s if scan_timeout_s is not None else config.scan_timeout_s
        self.retry_backoff_s = retry_backoff_s if retry_backoff_s is not None else config.retry_backoff_s
        self.reconnect_backoff_s = (
            reconnect_backoff_s if reconnect_backoff_s is not None else config.reconnect_backoff_s
        )
        self._clock = clock
        self._dedup = RecordDeduplicator(config.dedup_size)
        self._framer: berrymed.BerryMedFramer | None = None
        self._progress_seen = False
        self._result_waiter: asyncio.Future | None = None
        self.last_error: DeviceError | None = None
        self._last_invalid: Reading | None = None
        self.stats: dict[str, int] = dict(
            connect_attempts=0, connects=0, connect_failures=0, drops=0, readings=0,
            duplicates=0, decode_errors=0, implausible=0,
        )

    # ----------------------------------------------------------------- helpers
    def _emit_error(self, err: DeviceError) -> None:
        self.last_error = err
        logger.warning("%s: %s", self.config.name or self.spec.name, err.message_en)
        if self.on_error is not None:
            try:
                self.on_error(err)
            except Exception:
                logger.exception("on_error callback raised")
        w = self._result_waiter
        if isinstance(err, ImplausibleReading) and w is not None and not w.done():
            w.set_exception(err)  # a result came and it is nonsense: the worker must repeat now

    def _match(self, device: BLEDevice, adv: AdvertisementData) -> bool:
        cfg = self.config
        if cfg.address:
            return device.address.upper() == cfg.address.upper()
        if cfg.advertised_name:
            name = adv.local_name or device.name or ""
            return name.startswith(cfg.advertised_name)
        return self.spec.service_uuid in [u.lower() for u in adv.service_uuids]

    async def _find(self, scanner: BleScannerService) -> BLEDevice | None:
        return await scanner.wait_for(self._match, self.scan_timeout_s)

    # ----------------------------------------------------------------- connect
    async def connect(self, scanner: BleScannerService) -> tuple[BleakClient, asyncio.Event]:
        """Find, connect and subscribe, with bounded retries. Raises :class:`DeviceNotResponding`."""
        last: str = ""
        for attempt in range(1, self.config.connect_attempts + 1):
            if attempt > 1 and self.retry_backoff_s:
                await asyncio.sleep(self.retry_backoff_s * (attempt - 1))
            device = await self._find(scanner)
            if device is None:
                last = f"not seen advertising within {self.scan_timeout_s:g} s"
                continue
            self.stats["connect_attempts"] += 1
            disconnected = asyncio.Event()
            loop = asyncio.get_running_loop()
            kwargs: dict[str, Any] = {"timeout": self.connect_timeout_s, "bluez": {"adapter": self.config.adapter}}
            if self._client_backend is not None:
                kwargs["backend"] = self._client_backend
            client = BleakClient(
                device, disconnected_callback=lambda _c: loop.call_soon_threadsafe(disconnected.set), **kwargs
            )
            try:
                async with adapter_lock(self.config.adapter):
                    # outer guard: a backend that ignores its timeout must not hang the kiosk
                    await asyncio.wait_for(client.connect(), self.connect_timeout_s + 5.0)
                await asyncio.wait_for(self._subscribe(client), self.connect_timeout_s)
            except DeviceProtocolError:
                await self._safe_disconnect(client)
                raise
            except (BleakError, asyncio.TimeoutError, OSError, EOFError) as exc:
                self.stats["connect_failures"] += 1
                last = f"attempt {attempt}: {type(exc).__name__}: {exc}"
                logger.info("%s connect %s", self.spec.name, last)
                await self._safe_disconnect(client)
                continue
            if disconnected.is_set() or not client.is_connected:
                self.stats["connect_failures"] += 1
                last = f"attempt {attempt}: dropped during setup"
                await self._safe_disconnect(client)
                continue
            self.stats["connects"] += 1
            return client, disconnected
        raise DeviceNotResponding.for_kind(
            self.kind, f"{self.config.connect_attempts} connect attempt(s) failed; last: {last}",
            details={"attempts": self.config.connect_attempts, "last": last},
        )

    async def _safe_disconnect(self, client: BleakClient) -> None:
        try:
            await asyncio.wait_for(client.disconnect(), 5.0)
        except Exception as exc:  # the link may already be gone
            logger.debug("disconnect: %s", exc)

    async def _subscribe(self, client: BleakClient) -> None:
        spec = self.spec
        service = client.services.get_service(spec.service_uuid)
        if service is None:
            raise DeviceProtocolError.for_kind(self.kind, f"service {spec.service_uuid} not found: wrong device?")
        char = service.get_characteristic(spec.result_uuid)
        if char is None or spec.result_property not in char.properties:
            raise DeviceProtocolError.for_kind(
                self.kind,
                f"characteristic {spec.result_uuid} missing or without '{spec.result_property}' "
                f"({None if char is None else char.properties})",
            )
        self._framer = berrymed.BerryMedFramer() if spec.stream else None
        self._progress_seen = False
        if spec.progress_uuid:
            pchar = service.get_characteristic(spec.progress_uuid)
            if pchar is not None and "notify" in pchar.properties:
                await client.start_notify(pchar, self._on_progress)
            else:
                self._progress_seen = True  # a cuff without 0x2A36: every result counts as live
        await client.start_notify(char, self._on_result)

    # ----------------------------------------------------------------- data path
    def _on_progress(self, _char: Any, data: bytearray) -> None:
        try:
            cuff, _m = blood_pressure.parse_cuff_pressure(bytes(data))
        except BleDecodeError as exc:
            self.stats["decode_errors"] += 1
            self._emit_error(self._protocol_error(exc, bytes(data)))
            return
        self._progress_seen = True
        mmhg = cuff.mmhg()
        if mmhg is not None and self.on_progress is not None:
            try:
                self.on_progress(mmhg)
            except Exception:
                logger.exception("on_progress callback raised")

    def _protocol_error(self, exc: BleDecodeError, raw: bytes) -> DeviceProtocolError:
        err = DeviceProtocolError.for_kind(self.kind, str(exc))
        err.details["raw_hex"] = raw.hex()
        return err

    def _on_result(self, _char: Any, data: bytearray) -> None:
        raw = bytes(data)
        if self._framer is not None:
            try:
                packets = self._framer.feed(raw)
            except BleDecodeError as exc:  # the framer only yields well-formed packets; belt and braces
                self.stats["decode_errors"] += 1
                self._emit_error(self._protocol_error(exc, raw))
                return
            for packet, praw in packets:
                self._accept(berrymed.packet_to_reading(packet, praw))
            return
        try:
            reading = self.spec.decode(raw)
        except BleDecodeError as exc:
            self.stats["decode_errors"] += 1
            self._emit_error(self._protocol_error(exc, raw))
            return
        self._accept(reading)

    def _accept(self, reading: Reading) -> None:
        now = self._clock()
        status = dict(reading.status)
        stored = self.spec.progress_uuid is not None and not self._progress_seen
        if stored:
            status["stored_record"] = True
        if reading.device_time is not None:
            local_now = now.astimezone().replace(tzinfo=None)
            offset = (reading.device_time - local_now).total_seconds()
            status["device_clock_offset_s"] = round(offset, 1)
            if not stored and abs(offset) > self.config.clock_drift_tolerance_s:
                status["device_clock_drift"] = True
        reading = reading.model_copy(update={"received_at": now, "device": self.config.identity, "status": status})
        try:
            check_plausible(reading, self.kind)
        except ImplausibleReading as err:
            self.stats["implausible"] += 1
            self._emit_error(err)
            return
        if "device_time" in reading.device_values:  # only timestamped records can be told apart
            key = (self.spec.result_uuid, reading.raw_hex)
            if self._dedup.seen(key):
                self.stats["duplicates"] += 1
                logger.info("%s: duplicate record %s ignored", self.spec.name, reading.raw_hex)
                return
        self.stats["readings"] += 1
        if self.on_reading is not None:
            try:
                self.on_reading(reading)
            except Exception:
                logger.exception("on_reading callback raised")
        w = self._result_waiter
        if w is None or w.done() or stored:
            return
        if self.spec.result_property == "notify" and all(v is None for v in reading.values().values()):
            # a stream (continuous PLX, BerryMed) sends "searching / no finger" packets first: wait on
            self._last_invalid = reading
            return
        w.set_result(reading)

    # ----------------------------------------------------------------- loops
    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Stay connected until ``stop`` is set: reconnect after drops, report errors, never raise DeviceError."""
        stop = stop or asyncio.Event()
        own_scanner = self._scanner is None
        scanner = self._scanner or BleScannerService(
            backend=self._scanner_backend, adapter=self.config.adapter, watchdog_s=self.config.scanner_watchdog_s
        )
        if own_scanner:
            await scanner.start()
        stop_wait = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                try:
                    client, disconnected = await self.connect(scanner)
                except DeviceError as err:
                    self._emit_error(err)
                    await self._sleep_or_stop(stop_wait, self.reconnect_backoff_s)
                    continue
                disc_wait = asyncio.create_task(disconnected.wait())
                try:
                    await asyncio.wait({disc_wait, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    disc_wait.cancel()
                    if client.is_connected:
                        await self._safe_disconnect(client)
                if disconnected.is_set() and not stop.is_set():
                    self.stats["drops"] += 1
                    self._emit_error(DeviceDisconnected.for_kind(self.kind, "link dropped; reconnecting"))
                    await self._sleep_or_stop(stop_wait, self.reconnect_backoff_s)
        finally:
            stop_wait.cancel()
            try:
                await stop_wait
            except asyncio.CancelledError:
                pass
            if own_scanner:
                await scanner.stop()

    @staticmethod
    async def _sleep_or_stop(stop_wait: asyncio.Task, delay: float) -> None:
        if delay > 0:
            await asyncio.wait({stop_wait}, timeout=delay)

    async def measure(self, timeout: float | None = None) -> Reading:
        """Connect and return the first new result (not a stored record, not a duplicate).

        Raises :class:`ImplausibleReading` at once for a nonsense result; on timeout raises
        the last error seen (disconnect, protocol error) or :class:`DeviceNotResponding`.
        """
        timeout = timeout if timeout is not None else self.config.measurement_timeout_s
        loop = asyncio.get_running_loop()
        self._result_waiter = loop.create_future()
        self.last_error = None
        self._last_invalid = None
        stop = asyncio.Event()
        task = asyncio.create_task(self.run(stop), name=f"ble-measure-{self.spec.name}")
        try:
            done, _ = await asyncio.wait({self._result_waiter, task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if self._result_waiter in done:
                return self._result_waiter.result()
            if task in done:
                task.result()  # re-raise an unexpected crash of the loop
            if self.last_error is not None:
                raise self.last_error
            if self._last_invalid is not None:
                reasons = sorted(set(self._last_invalid.invalid.values()))
                raise DeviceReportedError(
                    f"Пульсоксиметр не даёт достоверного значения ({', '.join(reasons)}): проверьте палец и датчик",
                    f"The oximeter gives no valid value within {timeout:g} s ({', '.join(reasons)}): "
                    "check the finger and the sensor",
                    code="no_valid_value", kind=self.kind, details={"reasons": reasons},
                )
            raise DeviceNotResponding.for_kind(self.kind, f"no measurement within {timeout:g} s")
        finally:
            waiter, self._result_waiter = self._result_waiter, None
            if not waiter.done():
                waiter.cancel()
            stop.set()
            try:
                await asyncio.wait_for(task, 10.0)
            except asyncio.TimeoutError:
                task.cancel()
            except Exception:
                pass
