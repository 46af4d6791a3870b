"""bleak device drivers for the kiosk's BLE thermometer, BP cuff and pulse oximeters.

Only bleak's public API is used (``BleakScanner`` / ``BleakClient``); both take a
``backend`` class that defaults to bleak's platform backend (BlueZ on the Pi). Tests and
simulations pass the project-local bumble backend (``simulators.ble.bleak_bumble``),
which production code never imports.

Reliability, modelled on Home Assistant's Bluetooth stack (``habluetooth`` scanner
watchdog) and using its connect library, ``bleak-retry-connector``:

* :class:`BleScannerService` — one scanner per adapter that remembers what it saw and a
  **watchdog** that restarts the scanner when it has been silent for ``watchdog_s``;
* find the device with **bounded scan attempts** (``connect_attempts``, ``retry_backoff_s``);
* connect through ``bleak_retry_connector.establish_connection`` (**bounded retries**,
  ``connect_attempts``, its error-specific backoff and BlueZ clean-up), each attempt with the
  configured connect timeout (**at least 10 s** in production config) and under a
  **per-adapter lock** so one adapter has one pending connect (devices.md §9.3, §11 #6);
* an attempt counts as connected only once the result characteristic is subscribed and the
  link is still up (:class:`SessionClient`);
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
from bleak_retry_connector import BleakClientWithServiceCache, establish_connection

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


# --------------------------------------------------------------------------- one connect attempt


class SessionClient(BleakClientWithServiceCache):
    """The client class handed to ``bleak_retry_connector.establish_connection``: one kiosk session.

    Each connect attempt uses the configured timeout (the connector passes its own fixed 20 s),
    an outer guard against a backend that ignores it, and the per-adapter lock; then ``setup``
    subscribes. The attempt succeeds only if the link is still up afterwards; otherwise it raises
    ``BleakError`` so the connector retries. ``disconnected`` belongs to this client and is re-armed
    at the start of every attempt, so a drop of an abandoned attempt cannot mark a later one.
    """

    def __init__(
        self,
        device: BLEDevice,
        disconnected_callback: Callable[[BleakClient], None] | None = None,
        *,
        connect_timeout_s: float,
        adapter: str,
        setup: Callable[["SessionClient"], Any],
        stats: dict[str, int],
        failures: list[str],
        **kwargs: Any,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self.disconnected = asyncio.Event()
        self.connect_timeout_s = connect_timeout_s
        self._adapter = adapter
        self._setup = setup
        self._stats = stats
        self.failures = failures
        self._user_disconnected_callback = disconnected_callback
        super().__init__(device, disconnected_callback=self._disconnected, timeout=connect_timeout_s,
                         bluez={"adapter": adapter}, **kwargs)

    def _disconnected(self, client: BleakClient) -> None:
        self._loop.call_soon_threadsafe(self.disconnected.set)
        if self._user_disconnected_callback is not None:
            self._user_disconnected_callback(client)

    async def connect(self, **kwargs: Any) -> None:
        kwargs["timeout"] = self.connect_timeout_s
        self.disconnected.clear()
        self._stats["connect_attempts"] += 1
        try:
            async with adapter_lock(self._adapter):
                # outer guard: a backend that ignores its timeout must not hang the kiosk
                await asyncio.wait_for(super().connect(**kwargs), self.connect_timeout_s + 5.0)
            await asyncio.wait_for(self._setup(self), self.connect_timeout_s)
        except DeviceProtocolError:
            await self.disconnect_quietly()
            raise
        except (BleakError, asyncio.TimeoutError, OSError, EOFError) as exc:
            self._failed(f"{type(exc).__name__}: {exc}")
            await self.disconnect_quietly()
            if isinstance(exc, OSError):  # the connector retries Bleak errors and timeouts, not OSError
                raise BleakError(f"{type(exc).__name__}: {exc}") from exc
            raise
        if self.disconnected.is_set() or not self.is_connected:
            self._failed("dropped during setup")
            await self.disconnect_quietly()
            raise BleakError("dropped during setup")

    def _failed(self, why: str) -> None:
        self._stats["connect_failures"] += 1
        self.failures.append(why)
        logger.info("%s connect attempt %d failed: %s", self.address, len(self.failures), why)

    async def disconnect_quietly(self) -> None:
        """Disconnect, logging and counting (not raising) a failure: the link may already be gone."""
        try:
            await asyncio.wait_for(self.disconnect(), 5.0)
        except Exception as exc:
            self._stats["disconnect_errors"] += 1
            logger.info("disconnect from %s failed (link probably gone): %s: %s", self.address,
                        type(exc).__name__, exc)


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
            connect_attempts=0, connects=0, connect_failures=0, disconnect_errors=0, drops=0, readings=0,
            duplicates=0, decode_errors=0, implausible=0, callback_errors=0, loop_errors=0,
        )

    # ----------------------------------------------------------------- helpers
    def _call(self, what: str, callback: Callable[[Any], None] | None, value: Any) -> None:
        """Run a user callback; its exception is logged and counted, and never reaches the BLE stack."""
        if callback is None:
            return
        try:
            callback(value)
        except Exception:
            self.stats["callback_errors"] += 1
            logger.exception("%s: %s callback raised", self._name, what)

    def _emit_error(self, err: DeviceError) -> None:
        self.last_error = err
        logger.warning("%s: %s", self._name, err.message_en)
        self._call("on_error", self.on_error, err)
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
    async def connect(self, scanner: BleScannerService) -> tuple[SessionClient, asyncio.Event]:
        """Find, connect and subscribe, with bounded retries. Raises :class:`DeviceNotResponding`
        (or :class:`DeviceProtocolError` for a device without the profile's characteristic)."""
        device = None
        for attempt in range(1, self.config.connect_attempts + 1):
            if attempt > 1 and self.retry_backoff_s:
                await asyncio.sleep(self.retry_backoff_s * (attempt - 1))
            device = await self._find(scanner)
            if device is not None:
                break
        if device is None:
            last = f"not seen advertising within {self.scan_timeout_s:g} s"
            raise DeviceNotResponding.for_kind(
                self.kind, f"{self.config.connect_attempts} scan attempt(s) failed; last: {last}",
                details={"attempts": self.config.connect_attempts, "last": last},
            )
        failures: list[str] = []
        kwargs: dict[str, Any] = {}
        if self._client_backend is not None:
            kwargs["backend"] = self._client_backend
        try:
            client = await establish_connection(
                SessionClient, device, self._name, max_attempts=self.config.connect_attempts,
                ble_device_callback=lambda: scanner.find(self._match) or device,
                connect_timeout_s=self.connect_timeout_s, adapter=self.config.adapter, setup=self._subscribe,
                stats=self.stats, failures=failures, **kwargs,
            )
        except (BleakError, asyncio.TimeoutError) as exc:
            last = failures[-1] if failures else f"{type(exc).__name__}: {exc}"
            raise DeviceNotResponding.for_kind(
                self.kind, f"{self.config.connect_attempts} connect attempt(s) failed; last: {last}",
                details={"attempts": self.config.connect_attempts, "last": last, "connector": str(exc)},
            ) from exc
        self.stats["connects"] += 1
        return client, client.disconnected

    @property
    def _name(self) -> str:
        return self.config.name or self.spec.name

    async def _safe_disconnect(self, client: SessionClient) -> None:
        await client.disconnect_quietly()

    async def _subscribe(self, client: BleakClient) -> None:
        """Check the profile's service and result characteristic and subscribe (one attempt's ``setup``)."""
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
        if mmhg is not None:
            self._call("on_progress", self.on_progress, mmhg)

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
        self._call("on_reading", self.on_reading, reading)
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
                logger.warning("%s: session loop did not stop within 10 s; cancelled", self._name)
            except Exception as exc:  # the result (or error) is already decided; keep the loop's failure visible
                self.stats["loop_errors"] += 1
                logger.warning("%s: session loop ended with %s: %s", self._name, type(exc).__name__, exc)
