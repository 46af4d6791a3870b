"""Async device drivers for the serial devices: transport → framer → codec → Reading.

Uniform interface (issue 4)::

    async with AlcotesterDriver(cfg) as d:          # on-demand
        reading = await d.measure(subject_ref="badge:0006102437", timeout=60)

    async with BadgeReaderDriver(cfg) as d:         # streaming
        async for reading in d.readings():
            ...

Every reading carries the device identity from config and the kiosk's UTC receive time.
Failures are typed :class:`~firmware_bridges.devices.DeviceError` subclasses with ru/en
messages; a bad frame is skipped (resync), never turned into a reading.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timezone

from firmware_bridges.devices import (
    AlcotesterConfig,
    BadgeReaderConfig,
    DeviceError,
    DeviceNotResponding,
    DeviceProtocolError,
    DeviceReportedError,
    ImplausibleReading,
    ParticulateConfig,
)
from firmware_bridges.readings import DecodeError, Reading
from firmware_bridges.serial import alcotester as alc
from firmware_bridges.serial import badge, pms5003
from firmware_bridges.serial.framing import FixedFramer, FrameError, LineFramer
from firmware_bridges.serial.transport import SerialTransport

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class _SerialDriver:
    kind: str = ""

    def __init__(self, config) -> None:
        self.config = config
        self.transport = SerialTransport(config.serial, kind=config.kind)
        self.bad_frames = 0  # counters for supervision / telemetry
        self.good_frames = 0
        self.abort_failures = 0

    async def __aenter__(self):
        await self.transport.open()
        return self

    async def __aexit__(self, *exc) -> None:
        self.transport.close()

    def _stamp(self, r: Reading) -> Reading:
        return r.model_copy(update={"device": self.config.identity, "received_at": utcnow()})


# --------------------------------------------------------------------------- alcotester


class AlcotesterDriver(_SerialDriver):
    """On-demand breathalyzer on the §3.4 line protocol."""

    kind = "alcotester"
    #: device clock further off than this (s) is reported and re-synchronised with TIME (D)
    max_clock_skew_s = 5.0

    def __init__(self, config: AlcotesterConfig) -> None:
        super().__init__(config)
        self.framer = LineFramer(max_len=256)
        self._seq = int(time.time()) % 1000  # start away from 0 so stale lines are unlikely to match
        self._lines: list[bytes] = []
        self.clock_skew_s: float | None = None

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) % 100000
        return self._seq

    async def _next_message(self, deadline: float) -> alc.Message:
        """Next valid message before ``deadline`` (loop time); bad lines are counted and skipped."""
        loop = asyncio.get_running_loop()
        while True:
            while self._lines:
                line = self._lines.pop(0)
                start = line.rfind(b"$")
                if start > 0:  # resync: junk before the sentence start
                    self.bad_frames += 1
                    line = line[start:]
                try:
                    msg = alc.decode_message(line)
                except DecodeError as e:
                    self.bad_frames += 1
                    log.warning("alcotester: bad line skipped: %s", e)
                    continue
                self.good_frames += 1
                return msg
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError
            data = await self.transport.read(timeout=remaining)
            for item in self.framer.feed(data):
                if isinstance(item, FrameError):
                    self.bad_frames += 1
                else:
                    self._lines.append(item)

    async def _request(self, command: str, arg: str | None = None) -> int:
        seq = self._next_seq()
        await self.transport.write(alc.AlReq(seq, command, arg).encode())
        return seq

    async def _wait_ack(self, seq: int) -> alc.AlAck:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.ack_timeout_s
        bad_before = self.bad_frames
        while True:
            try:
                msg = await self._next_message(deadline)
            except TimeoutError:
                if self.bad_frames > bad_before:
                    raise DeviceProtocolError.for_kind(self.kind, "acknowledgement garbled (bad checksum/garbage)") from None
                raise DeviceNotResponding.for_kind(self.kind, f"no $ALACK within {self.config.ack_timeout_s} s") from None
            if isinstance(msg, alc.AlAck) and msg.seq == seq:
                return msg

    def _reported(self, code: str, test_id: str | None = None, extra: dict | None = None) -> DeviceReportedError:
        ru, en = alc.ERROR_MESSAGES.get(code, (f"Алкотестер сообщил ошибку {code}", f"Breathalyzer reported error {code}"))
        return DeviceReportedError(
            ru, en, code=code, kind=self.kind,
            details={"error_name": alc.ERROR_CODES.get(code, "UNKNOWN"), "test_id": test_id, **(extra or {})},
        )

    async def status(self) -> None:
        """``STAT``: returns if the device is ready; DeviceReportedError (e.g. E11/E06) if not."""
        ack = await self._wait_ack(await self._request("STAT"))
        if not ack.ok:
            raise self._reported(ack.code or "E05")

    async def set_time(self, now: datetime | None = None) -> None:
        ack = await self._wait_ack(await self._request("TIME", alc.fmt_utc(now or utcnow())))
        if not ack.ok:
            raise self._reported(ack.code or "E05")

    async def measure(
        self,
        subject_ref: str = "-",
        timeout: float | None = None,
        on_event: Callable[[alc.AlEvt], None] | None = None,
    ) -> Reading:
        """Arm a test and wait for its result.

        Returns the Reading (``brac_mg_l`` + test id, blow data, ‰ with its ratio). Raises
        DeviceReportedError for ALERR/ALACK ERR (insufficient blow, not ready, calibration
        overdue …), DeviceNotResponding on silence, DeviceProtocolError when the lines were
        garbled, DeviceDisconnected if the port goes away, ImplausibleReading for a BrAC
        outside 0–3 mg/L.
        """
        loop = asyncio.get_running_loop()
        self.framer.reset()
        self._lines.clear()
        self.transport.discard_input()
        seq = await self._request("TEST", re.sub(r"[^A-Za-z0-9_:.\-]", "_", subject_ref)[:40] or "-")
        ack = await self._wait_ack(seq)
        if not ack.ok:
            raise self._reported(ack.code or "E05")
        total = timeout if timeout is not None else self.config.test_timeout_s
        deadline = loop.time() + total
        bad_before = self.bad_frames
        while True:
            idle_deadline = min(deadline, loop.time() + self.config.idle_timeout_s)
            try:
                msg = await self._next_message(idle_deadline)
            except TimeoutError:
                await self._abort_quietly()
                if self.bad_frames > bad_before:
                    raise DeviceProtocolError.for_kind(
                        self.kind, "result lost: lines were corrupted (bad checksum/garbage); repeat the test"
                    ) from None
                raise DeviceNotResponding.for_kind(self.kind, "no result before the timeout") from None
            if getattr(msg, "seq", None) != seq:
                continue  # stale line from an earlier test
            if isinstance(msg, alc.AlEvt):
                if on_event:
                    on_event(msg)
                continue
            if isinstance(msg, alc.AlErr):
                raise self._reported(msg.code, msg.test_id, {"volume_l": msg.volume_l and float(msg.volume_l)})
            if isinstance(msg, alc.AlRes):
                return await self._result(msg)

    async def _abort_quietly(self) -> None:
        """Best-effort ABORT after a timeout: the timeout is what gets reported, so a failed write is
        logged and counted (``abort_failures``), not raised over it."""
        try:
            await self.transport.write(alc.AlReq(self._next_seq(), "ABORT").encode())
        except DeviceError as error:
            self.abort_failures += 1
            log.warning("%s (%s): ABORT after a timeout not sent: %s", self.transport.settings.port, self.kind,
                        error.message_en)

    async def _result(self, msg: alc.AlRes) -> Reading:
        r = self._stamp(alc.message_to_reading(msg, ratio=self.config.blood_breath_ratio, raw=msg.encode().rstrip()))
        lo, hi = alc.PLAUSIBLE_BRAC_MG_L
        if not lo <= float(msg.brac_mg_l) <= hi:
            raise ImplausibleReading.for_field(self.kind, "brac_mg_l", float(msg.brac_mg_l), lo, hi)
        skew = (msg.time - r.received_at).total_seconds()
        self.clock_skew_s = skew
        status = dict(r.status, device_clock_skew_s=round(skew, 1))
        if abs(skew) > self.max_clock_skew_s:
            status["device_clock_resynced"] = True
            try:
                await self.set_time()
            except DeviceError as e:  # the result stands; the resync is best effort
                status["device_clock_resynced"] = False
                log.warning("alcotester: clock resync failed: %s", e)
        return r.model_copy(update={"status": status})


# --------------------------------------------------------------------------- streams


class _StreamDriver(_SerialDriver, abc.ABC):
    #: silence (s) after which a streaming device is "not responding"; None = never (badge)
    idle_timeout_s: float | None = None
    max_bad_in_row = 20

    @abc.abstractmethod
    def _framer(self):
        """A fresh framer that cuts this device's byte stream into frames."""

    @abc.abstractmethod
    def _decode(self, frame: bytes) -> Reading:
        """One frame -> a Reading (raises DecodeError)."""

    def _accept(self, r: Reading) -> Reading | None:
        return r

    async def readings(self) -> AsyncIterator[Reading]:
        framer = self._framer()
        bad_in_row = 0
        while True:
            try:
                data = await self.transport.read(timeout=self.idle_timeout_s)
            except TimeoutError:
                raise DeviceNotResponding.for_kind(self.kind, f"no data for {self.idle_timeout_s} s") from None
            for item in framer.feed(data):
                if isinstance(item, FrameError):
                    self.bad_frames += 1
                    bad_in_row += 1
                    log.debug("%s: %s", self.kind, item)
                else:
                    try:
                        r = self._decode(item)
                    except DecodeError as e:
                        self.bad_frames += 1
                        bad_in_row += 1
                        log.debug("%s: bad frame: %s", self.kind, e)
                        continue
                    self.good_frames += 1
                    bad_in_row = 0
                    r = self._accept(self._stamp(r))
                    if r is not None:
                        yield r
                if bad_in_row > self.max_bad_in_row:
                    raise DeviceProtocolError.for_kind(self.kind, f"{bad_in_row} bad frames in a row")


class BadgeReaderDriver(_StreamDriver):
    """RDM6300 frames or CDC lines; repeats of the same card within the window are dropped (§6.1)."""

    kind = "badge_reader"

    def __init__(self, config: BadgeReaderConfig) -> None:
        super().__init__(config)
        self._last: tuple[str, float] | None = None

    def _framer(self):
        if self.config.profile == "rdm6300":
            return FixedFramer(bytes([badge.STX]), badge.RDM6300_LEN, badge.rdm6300_problem)
        return LineFramer(max_len=64)

    def _decode(self, frame: bytes) -> Reading:
        if self.config.profile == "rdm6300":
            return badge.decode_rdm6300(frame, self.config.card_format)
        return badge.decode_badge_line(frame)

    def _accept(self, r: Reading) -> Reading | None:
        now = time.monotonic()
        key = r.device_values.get("em_hex") or r.card_id
        if self._last and self._last[0] == key and now - self._last[1] < self.config.dedup_window_s:
            self._last = (key, now)  # held in the field: extend the window
            return None
        self._last = (key, now)
        return r


class ParticulateDriver(_StreamDriver):
    """PMS5003 in active mode. A value beyond the sensor's range is kept as invalid, not dropped silently."""

    kind = "particulate"

    def __init__(self, config: ParticulateConfig) -> None:
        super().__init__(config)
        self.idle_timeout_s = config.frame_timeout_s
        self.max_bad_in_row = config.max_bad_frames

    def _framer(self):
        return FixedFramer(pms5003.SYNC, pms5003.FRAME_LEN, pms5003.frame_problem)

    def _decode(self, frame: bytes) -> Reading:
        return pms5003.decode_reading(frame)

    def _accept(self, r: Reading) -> Reading | None:
        lo, hi = pms5003.PLAUSIBLE_UGM3
        bad = {k: getattr(r, k) for k in ("pm1_0_ugm3", "pm2_5_ugm3", "pm10_ugm3") if not lo <= getattr(r, k) <= hi}
        if r.pm1_0_ugm3 is not None and r.pm10_ugm3 is not None and r.pm1_0_ugm3 > r.pm10_ugm3 and not bad:
            # PM1.0 ⊂ PM10: a larger PM1.0 is physically impossible (D)
            bad = {"pm1_0_ugm3": r.pm1_0_ugm3, "pm10_ugm3": r.pm10_ugm3}
        if not bad:
            return r
        upd = {k: None for k in bad}
        inv = {k: f"implausible {v} µg/m³ (sensor range {lo}–{hi}, PM1.0 ≤ PM2.5 ≤ PM10)" for k, v in bad.items()}
        return r.model_copy(update={**upd, "invalid": {**r.invalid, **inv}})

    async def set_active_mode(self) -> None:
        await self.transport.write(pms5003.CMD_ACTIVE)
