"""BLE device simulators: bumble GATT servers speaking the real profiles, with fault injection.

* :class:`ThermometerSim` — Health Thermometer 0x1809 (0x2A1C indicate, 0x2A1D read).
* :class:`BloodPressureSim` — Blood Pressure 0x1810 (0x2A35 indicate, 0x2A36 notify,
  0x2A49 read), with a cuff memory (stored records) and a realistic inflate/deflate cycle.
* :class:`PlxSim` — Pulse Oximeter 0x1822 (0x2A5E indicate, 0x2A5F notify, 0x2A60 read).
* :class:`BerryMedSim` — BerryMed BCI 5-byte packets on the ISSC transparent-UART service,
  streamed in chunks that split packets (devices.md §2).

Values come from :mod:`simulators.population` (age-dependent BP, a share of febrile
workers, seeded numpy Generator). Timing is realistic at ``speed=1`` (cuff ≈ 45 s,
thermometer ≈ 3 s, spot-check ≈ 6 s) and divided by ``speed`` (tests use 50–1000).

Encoders are the codec classes of :mod:`firmware_bridges.ble` (the protocol is shared).

Faults (:class:`Faults`, selectable per run, ``--fault key=value`` in ``ohs-sim``):

==========================  ===============================================================
``disconnect=N``            cut the link mid-measurement in the first N sessions
``garbage=N``               send N undecodable frames before each result
``special=nan|nres|pinf|ninf|reserved``  IEEE-11073 special value in the main value
``device_error=1``          the device reports a sensor fault (PLX device status, BerryMed
                            probe unplugged, cuff "improper position + movement")
``implausible=1``           physiologically impossible values
``never_answers=no-advertising|silent``  invisible device / connects but never measures
``clock_drift_s=S``         device clock off by S seconds
``clear_after_read=1``      cuff erases stored records once they were sent
``resend_stored=1``         cuff re-sends its whole memory on every connection
``drop_on_connect=P``       drop a fresh connection with probability P (connect benchmark)
==========================  ===============================================================
"""

from __future__ import annotations

import abc
import asyncio
import logging
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bumble.core import UUID, AdvertisingData
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, Service

from firmware_bridges.ble import berrymed, blood_pressure, plx, thermometer
from firmware_bridges.ble.blood_pressure import BloodPressureMeasurement, CuffPressure
from firmware_bridges.ble.plx import Continuous, SpotCheck
from firmware_bridges.ble.sfloat import DateTime, Special
from firmware_bridges.ble.thermometer import TemperatureMeasurement
from simulators import population

logger = logging.getLogger(__name__)

SPECIALS = {
    "nan": Special.NAN,
    "nres": Special.NRES,
    "pinf": Special.POSITIVE_INFINITY,
    "ninf": Special.NEGATIVE_INFINITY,
    "reserved": Special.RESERVED,
}


@dataclass
class Faults:
    disconnect: int = 0
    garbage: int = 0
    special: str | None = None
    device_error: bool = False
    implausible: bool = False
    never_answers: str | None = None
    clock_drift_s: float = 0.0
    clear_after_read: bool = False
    resend_stored: bool = False
    drop_on_connect: float = 0.0

    @classmethod
    def parse(cls, items: list[str] | None) -> "Faults":
        """``["garbage=2", "special=nan"]`` → Faults; raises ValueError with the valid keys."""
        f = cls()
        types = {fl.name: fl.type for fl in fields(cls)}
        for item in items or []:
            key, _, value = item.partition("=")
            key = key.strip().replace("-", "_")
            if key not in types:
                raise ValueError(f"unknown fault {key!r}; known: {', '.join(types)}")
            t = str(types[key])
            if "bool" in t:
                setattr(f, key, value.strip().lower() in ("", "1", "true", "yes", "on"))
            elif "int" in t:
                setattr(f, key, int(value))
            elif "float" in t:
                setattr(f, key, float(value))
            else:
                setattr(f, key, value.strip() or None)
        if f.special is not None and f.special not in SPECIALS:
            raise ValueError(f"special must be one of {', '.join(SPECIALS)}")
        if f.never_answers not in (None, "no-advertising", "silent"):
            raise ValueError("never_answers must be 'no-advertising' or 'silent'")
        return f


class SimulatedBleDevice(abc.ABC):
    """Common machinery: services, advertising, one session task per subscribed connection."""

    kind = "device"
    local_name = "OHS-SIM"
    adv_uuids16: tuple[int, ...] = ()

    def __init__(
        self,
        device: Device,
        *,
        faults: Faults | None = None,
        speed: float = 1.0,
        seed: int | None = None,
        advertising_interval_ms: float = 20.0,
        name: str | None = None,
    ) -> None:
        self.device = device
        self.faults = faults or Faults()
        self.speed = speed
        self.rng = population.rng_from(seed)
        self.worker = population.sample_worker(self.rng)
        self.adv_interval = advertising_interval_ms
        self.name = name or self.local_name
        self.sessions = 0  # connections accepted
        self.measurement_sessions = 0  # subscribed measurement sessions
        self.sent: list[tuple[str, bytes]] = []  # every value sent, for tests
        self._tasks: set[asyncio.Task] = set()
        self._session_for: dict[int, asyncio.Task] = {}
        self._connections: set[Connection] = set()

    # ---------------------------------------------------------------- lifecycle
    @abc.abstractmethod
    def services(self) -> list[Service]:
        """The GATT services this device serves."""

    def advertising_data(self) -> bytes:
        ad: list[tuple[int, bytes]] = [
            (AdvertisingData.FLAGS, bytes([AdvertisingData.LE_GENERAL_DISCOVERABLE_MODE_FLAG | AdvertisingData.BR_EDR_NOT_SUPPORTED_FLAG])),
            (AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode()),
        ]
        if self.adv_uuids16:
            ad.append(
                (AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS, b"".join(u.to_bytes(2, "little") for u in self.adv_uuids16))
            )
        return bytes(AdvertisingData(ad))

    async def start(self) -> None:
        self.device.add_services(self.services())
        self.device.on("connection", self._on_connection)
        if not self.device.powered_on:
            await self.device.power_on()
        if self.faults.never_answers != "no-advertising":
            await self.device.start_advertising(
                auto_restart=True,
                advertising_data=self.advertising_data(),
                advertising_interval_min=self.adv_interval,
                advertising_interval_max=self.adv_interval,
            )

    async def stop(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            await self.device.stop_advertising()
        except Exception:
            pass
        for conn in list(self._connections):
            try:
                await conn.disconnect()
            except Exception:
                pass
        try:
            await self.device.power_off()
        except Exception:
            pass

    def _spawn(self, coro, name: str) -> asyncio.Task:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.debug("simulator task %s ended: %r", task.get_name(), task.exception())

    def _on_connection(self, conn: Connection) -> None:
        self.sessions += 1
        self._connections.add(conn)

        def on_disc(*_a: Any) -> None:
            self._connections.discard(conn)
            t = self._session_for.pop(conn.handle, None)
            if t is not None:
                t.cancel()

        conn.on("disconnection", on_disc)
        if self.faults.drop_on_connect and self.rng.random() < self.faults.drop_on_connect:
            self._spawn(self._drop_soon(conn), "sim-drop")

    async def _drop_soon(self, conn: Connection) -> None:
        await asyncio.sleep(float(self.rng.uniform(0.0, 0.004)))
        try:
            await conn.disconnect()
        except Exception:
            pass

    def _subscribe_handler(self, char: Characteristic, session):
        def on_subscription(bearer, notify: bool, indicate: bool) -> None:
            conn = getattr(bearer, "connection", bearer)
            if not (notify or indicate):
                t = self._session_for.pop(conn.handle, None)
                if t is not None:
                    t.cancel()
                return
            if self.faults.never_answers == "silent":
                return
            if conn.handle in self._session_for and not self._session_for[conn.handle].done():
                return
            self.measurement_sessions += 1
            self._session_for[conn.handle] = self._spawn(
                self._guarded(session(conn, self.measurement_sessions)), f"sim-session-{self.kind}"
            )

        char.on("subscription", on_subscription)

    async def _guarded(self, coro) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the link went away under us: that is the simulated world
            logger.debug("%s session ended: %r", self.kind, exc)

    # ---------------------------------------------------------------- helpers
    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self.speed)

    def device_now(self) -> DateTime:
        return DateTime.from_datetime(datetime.now() + timedelta(seconds=self.faults.clock_drift_s))

    async def indicate(self, conn: Connection, char: Characteristic, payload: bytes) -> None:
        self.sent.append((str(char.uuid), payload))
        await self.device.indicate_subscriber(conn, char, payload)

    async def notify(self, conn: Connection, char: Characteristic, payload: bytes) -> None:
        self.sent.append((str(char.uuid), payload))
        await self.device.notify_subscriber(conn, char, payload)

    async def maybe_disconnect(self, conn: Connection, session_no: int) -> bool:
        if session_no <= self.faults.disconnect:
            await conn.disconnect()
            return True
        return False

    def garbage(self) -> bytes:
        return bytes(self.rng.integers(0, 256, size=3, dtype=int).tolist())  # too short for any profile

    def number(self, value: float | Decimal | None, decimals: int) -> Decimal | Special:
        if self.faults.special:
            return SPECIALS[self.faults.special]
        return Decimal(str(value)).quantize(Decimal(1).scaleb(-decimals))


class ThermometerSim(SimulatedBleDevice):
    """Health Thermometer 0x1809; one measurement (≈3 s) per subscription."""

    kind = "thermometer"
    local_name = "OHS-THERMO"
    adv_uuids16 = (thermometer.SERVICE_UUID,)
    measure_s = 3.0

    def __init__(self, device: Device, *, fahrenheit: bool = False, temperature_type: int = 6, **kw: Any) -> None:
        super().__init__(device, **kw)
        self.fahrenheit = fahrenheit
        self.temperature_type = temperature_type

    def services(self) -> list[Service]:
        self.char = Characteristic(
            UUID.from_16_bits(thermometer.TEMPERATURE_MEASUREMENT_UUID), Characteristic.INDICATE, Characteristic.READABLE, b""
        )
        ttype = Characteristic(
            UUID.from_16_bits(thermometer.TEMPERATURE_TYPE_UUID), Characteristic.READ, Characteristic.READABLE,
            bytes([self.temperature_type]),
        )
        self._subscribe_handler(self.char, self._session)
        return [Service(UUID.from_16_bits(thermometer.SERVICE_UUID), [self.char, ttype])]

    def next_measurement(self) -> TemperatureMeasurement:
        t = 52.3 if self.faults.implausible else population.sample_temperature_c(self.rng, self.worker.febrile)
        if self.fahrenheit and not self.faults.implausible:
            t = t * 9 / 5 + 32
        return TemperatureMeasurement(self.number(t, 1), self.fahrenheit, self.device_now(), self.temperature_type)

    async def _session(self, conn: Connection, n: int) -> None:
        await self.sleep(self.measure_s / 2)
        if await self.maybe_disconnect(conn, n):
            return
        await self.sleep(self.measure_s / 2)
        for _ in range(self.faults.garbage):
            await self.indicate(conn, self.char, self.garbage())
        await self.indicate(conn, self.char, self.next_measurement().encode())


class BloodPressureSim(SimulatedBleDevice):
    """Blood Pressure 0x1810 cuff with memory; ≈8 s inflation + ≈35 s deflation at speed 1."""

    kind = "bp_cuff"
    local_name = "OHS-CUFF"
    adv_uuids16 = (blood_pressure.SERVICE_UUID,)
    inflate_s = 8.0
    deflate_mmhg_per_s = 3.5
    step_s = 0.5

    def __init__(self, device: Device, *, kpa: bool = False, stored: list[BloodPressureMeasurement] | None = None, **kw: Any) -> None:
        super().__init__(device, **kw)
        self.kpa = kpa
        self.memory: list[BloodPressureMeasurement] = list(stored or [])
        self._sent_once: set[int] = set()

    def services(self) -> list[Service]:
        self.char = Characteristic(
            UUID.from_16_bits(blood_pressure.BLOOD_PRESSURE_MEASUREMENT_UUID), Characteristic.INDICATE, Characteristic.READABLE, b""
        )
        self.cuff = Characteristic(
            UUID.from_16_bits(blood_pressure.INTERMEDIATE_CUFF_PRESSURE_UUID), Characteristic.NOTIFY, Characteristic.READABLE, b""
        )
        # Blood Pressure Feature: body movement, cuff fit, irregular pulse, pulse range, position (bits 0–4)
        feature = Characteristic(
            UUID.from_16_bits(blood_pressure.BLOOD_PRESSURE_FEATURE_UUID), Characteristic.READ, Characteristic.READABLE,
            (0x001F).to_bytes(2, "little"),
        )
        self._subscribe_handler(self.char, self._session)
        return [Service(UUID.from_16_bits(blood_pressure.SERVICE_UUID), [self.char, self.cuff, feature])]

    def _p(self, mmhg: float) -> Decimal | Special:
        if self.kpa:
            return self.number(mmhg * 0.133322387415, 1)
        return self.number(mmhg, 0)

    def next_measurement(self) -> BloodPressureMeasurement:
        if self.faults.implausible:
            s, d, p = 320, 20, 300
        else:
            s, d, p = population.sample_bp(self.rng, self.worker.age, self.worker.sex, self.worker.hypertensive)
        status = 0
        if self.faults.device_error:
            status = blood_pressure.STATUS_BODY_MOVEMENT | blood_pressure.STATUS_IMPROPER_POSITION
        elif self.rng.random() < 0.05:
            status = blood_pressure.STATUS_IRREGULAR_PULSE
        mean = d + (s - d) / 3
        return BloodPressureMeasurement(
            self._p(s), self._p(d), self._p(round(mean)), self.kpa, self.device_now(),
            self.number(p, 0) if not self.faults.special else Decimal(p), 1, status,
        )

    async def _session(self, conn: Connection, n: int) -> None:
        # 1. stored records: unsent ones (or all of them, for a cuff that re-sends)
        for rec in list(self.memory):
            if self.faults.resend_stored or id(rec) not in self._sent_once:
                await self.indicate(conn, self.char, rec.encode())
                self._sent_once.add(id(rec))
        if self.faults.clear_after_read:
            self.memory.clear()
        # 2. a live measurement: inflate, then deflate while notifying 0x2A36
        result = self.next_measurement()
        target = 180.0
        steps = max(1, int(self.inflate_s / self.step_s))
        for i in range(1, steps + 1):
            await self.sleep(self.step_s)
            await self.notify(conn, self.cuff, CuffPressure(self._p_plain(target * i / steps), self.kpa).encode())
            if i == steps // 2 and await self.maybe_disconnect(conn, n):
                return
        pressure = target
        while pressure > 50:
            await self.sleep(self.step_s)
            pressure -= self.deflate_mmhg_per_s * self.step_s * 4
            await self.notify(conn, self.cuff, CuffPressure(self._p_plain(max(pressure, 0)), self.kpa).encode())
        for _ in range(self.faults.garbage):
            await self.indicate(conn, self.char, self.garbage())
        await self.indicate(conn, self.char, result.encode())
        if not self.faults.clear_after_read:
            self.memory.append(result)
            self._sent_once.add(id(result))

    def _p_plain(self, mmhg: float) -> Decimal:
        if self.kpa:
            return Decimal(str(round(mmhg * 0.133322387415, 1)))
        return Decimal(int(round(mmhg)))


class PlxSim(SimulatedBleDevice):
    """Pulse Oximeter 0x1822: spot-check (≈6 s) on 0x2A5E, a 1 Hz stream on 0x2A5F."""

    kind = "oximeter"
    local_name = "OHS-PLX"
    adv_uuids16 = (plx.SERVICE_UUID,)
    spot_s = 6.0
    period_s = 1.0

    def services(self) -> list[Service]:
        self.spot = Characteristic(UUID.from_16_bits(plx.SPOT_CHECK_UUID), Characteristic.INDICATE, Characteristic.READABLE, b"")
        self.cont = Characteristic(UUID.from_16_bits(plx.CONTINUOUS_UUID), Characteristic.NOTIFY, Characteristic.READABLE, b"")
        features = Characteristic(
            UUID.from_16_bits(plx.FEATURES_UUID), Characteristic.READ, Characteristic.READABLE, (0x0003).to_bytes(2, "little")
        )
        self._subscribe_handler(self.spot, self._spot_session)
        self._subscribe_handler(self.cont, self._continuous_session)
        return [Service(UUID.from_16_bits(plx.SERVICE_UUID), [self.spot, self.cont, features])]

    def _values(self) -> tuple[Decimal | Special, Decimal | Special, int, int]:
        if self.faults.implausible:
            spo2, pr = 40, 320
        else:
            spo2 = population.sample_spo2(self.rng)
            pr = population.sample_bp(self.rng, self.worker.age, self.worker.sex)[2]
        ms = 1 << 7  # validated data
        ds = (1 << 15) | (1 << 1) if self.faults.device_error else 0
        return self.number(spo2, 0), self.number(pr, 0), ms, ds

    async def _spot_session(self, conn: Connection, n: int) -> None:
        await self.sleep(self.spot_s / 2)
        if await self.maybe_disconnect(conn, n):
            return
        await self.sleep(self.spot_s / 2)
        for _ in range(self.faults.garbage):
            await self.indicate(conn, self.spot, self.garbage())
        spo2, pr, ms, ds = self._values()
        await self.indicate(conn, self.spot, SpotCheck(spo2, pr, self.device_now(), ms, ds).encode())

    async def _continuous_session(self, conn: Connection, n: int) -> None:
        i = 0
        while True:
            await self.sleep(self.period_s)
            i += 1
            if i == 1 and await self.maybe_disconnect(conn, n):
                return
            for _ in range(self.faults.garbage if i == 1 else 0):
                await self.notify(conn, self.cont, self.garbage())
            spo2, pr, ms, ds = self._values()
            await self.notify(conn, self.cont, Continuous(spo2, pr, measurement_status=ms, device_status=ds, pulse_amplitude_index=Decimal("5.2")).encode())


class BerryMedSim(SimulatedBleDevice):
    """BerryMed BCI oximeter: 5-byte packets at 20 Hz, streamed in chunks that split packets."""

    kind = "oximeter"
    local_name = "BerryMed"
    packet_hz = 20.0

    def services(self) -> list[Service]:
        self.data = Characteristic(UUID(berrymed.DATA_UUID), Characteristic.NOTIFY, Characteristic.READABLE, b"")
        self._subscribe_handler(self.data, self._session)
        return [Service(UUID(berrymed.SERVICE_UUID), [self.data])]

    def packet(self, i: int) -> bytes:
        f = self.faults
        if f.device_error:
            return berrymed.BerryMedPacket(probe_unplugged=True, no_finger=True).encode()
        if i < 4 or f.special:  # searching for a pulse first, as the real device does
            return berrymed.BerryMedPacket(signal_strength=2, no_finger=bool(f.special), pulse_searching=True, pleth=50).encode()
        if f.implausible:
            spo2, pr = 45, 254
        else:
            spo2 = population.sample_spo2(self.rng)
            pr = population.sample_bp(self.rng, self.worker.age, self.worker.sex)[2]
        return berrymed.BerryMedPacket(
            signal_strength=6, has_signal=True, pulse_beep=(i % 10 == 0), pleth=int(self.rng.integers(0, 101)),
            bargraph=int(self.rng.integers(0, 16)), pulse_rate=pr, spo2=spo2,
        ).encode()

    async def _session(self, conn: Connection, n: int) -> None:
        buf = b""
        i = 0
        while True:
            await self.sleep(4 / self.packet_hz)
            if i == 4 and await self.maybe_disconnect(conn, n):
                return
            if i == 4 and self.faults.garbage:
                buf += bytes(int(x) & 0x7F for x in self.rng.integers(0, 256, size=7 * self.faults.garbage))
            for _ in range(4):
                buf += self.packet(i)
                i += 1
            while buf:  # chunks of 1..20 bytes: packets split across notifications (§2)
                k = int(self.rng.integers(1, 21))
                chunk, buf = buf[:k], buf[k:]
                await self.notify(conn, self.data, chunk)


SIMULATORS: dict[str, type[SimulatedBleDevice]] = {
    "ble-thermometer": ThermometerSim,
    "ble-bp-cuff": BloodPressureSim,
    "ble-oximeter": PlxSim,
    "ble-berrymed": BerryMedSim,
}
