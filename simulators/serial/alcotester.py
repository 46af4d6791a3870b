"""Simulated breathalyzer speaking the §3.4 line protocol on a pty.

Behaviour: ``TEST`` → ``ALACK OK`` → ``WARMUP,<s>`` → ``BLOW`` → ``BLOW_PROGRESS`` 25/50/75/100
→ ``ANALYZING`` → ``ALRES`` (or ``ALERR``). ``STAT`` → ACK; ``ABORT`` → ACK and ``ALERR E10``;
``TIME,<utc>`` → resets the clock offset. Real devices take seconds (warm-up 2–10 s, a
blow 3–6 s, analysis 2–4 s — typical fuel-cell analyzers; **D**); ``time_scale`` shrinks that
for tests.

BrAC values come from :mod:`simulators.population` (``intoxicated_share`` of subjects).
Faults: see :mod:`simulators.serial.faults`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import numpy as np

from firmware_bridges.readings import DecodeError
from firmware_bridges.serial import alcotester as alc
from firmware_bridges.serial.framing import LineFramer
from simulators import population
from simulators.serial.faults import FaultPlan
from simulators.serial.pty import PtyPort

DEVICE_ERRORS_ON_TEST = ("E01", "E02", "E07", "E08")


@dataclass
class AlcotesterSimConfig:
    serial: str = "SN000123"
    cal_due: str = "2099-12-31"
    intoxicated_share: float = population.DEFAULT_INTOXICATED_SHARE
    time_scale: float = 1.0
    warmup_s: float = 3.0
    blow_s: float = 4.5
    analyze_s: float = 2.5
    seed: int | None = None


class AlcotesterSim:
    def __init__(self, port: PtyPort, config: AlcotesterSimConfig | None = None, faults: FaultPlan | None = None) -> None:
        self.port = port
        self.cfg = config or AlcotesterSimConfig()
        self.faults = faults or FaultPlan()
        self.rng = np.random.default_rng(self.cfg.seed)
        self.clock_offset = timedelta(0)
        self.tests = 0
        self.results: list[alc.AlRes] = []  # what the simulator encoded, for tests
        self._test: asyncio.Task | None = None
        self._framer = LineFramer()

    async def _sleep(self, s: float) -> None:
        await asyncio.sleep(s * self.cfg.time_scale)

    def _send(self, raw: bytes) -> None:
        if self.faults.hit("garbage"):
            raw = self.faults.garbage() + raw
        if self.faults.hit("bad-checksum") and raw.startswith(b"$"):
            star = raw.rfind(b"*")
            hh = int(raw[star + 1 : star + 3], 16) ^ 0x5A
            raw = raw[: star + 1] + f"{hh:02X}".encode() + raw[star + 3 :]
        self.port.write(raw)

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.clock_offset

    async def run(self) -> None:
        self.port.start()
        try:
            while not self.port.closed:
                data = await self.port.read()
                if not data:
                    return
                for line in self._framer.feed(data):
                    if isinstance(line, bytes):
                        await self._handle(line)
        finally:
            if self._test and not self._test.done():
                self._test.cancel()
                try:
                    await self._test
                except BaseException:
                    pass

    async def _handle(self, line: bytes) -> None:
        try:
            msg = alc.decode_message(line)
        except DecodeError:
            return  # a real device ignores lines it cannot parse
        if not isinstance(msg, alc.AlReq) or self.faults.active("silent"):
            return
        if msg.command == "STAT":
            if self.cfg.cal_due < self.now().date().isoformat():
                self._send(alc.AlAck(msg.seq, False, "E06").encode())
            else:
                self._send(alc.AlAck(msg.seq, True).encode())
        elif msg.command == "TIME":
            self.clock_offset = timedelta(0)
            self._send(alc.AlAck(msg.seq, True).encode())
        elif msg.command == "ABORT":
            self._send(alc.AlAck(msg.seq, True).encode())
            if self._test and not self._test.done():
                self._test.cancel()
        elif msg.command == "TEST":
            if self._test and not self._test.done():
                self._send(alc.AlAck(msg.seq, False, "E11").encode())  # busy: not ready
                return
            if self.faults.error_code == "E11" and self.faults.hit("device-error"):
                self._send(alc.AlAck(msg.seq, False, "E11").encode())
                return
            self._send(alc.AlAck(msg.seq, True).encode())
            self._test = asyncio.create_task(self._run_test(msg.seq))

    async def _run_test(self, seq: int) -> None:
        self.tests += 1
        tid = f"T{self.tests:06d}"
        step = 0

        async def evt(event: str, value: int | None = None) -> None:
            nonlocal step
            step += 1
            if self.faults.active("disconnect") and step > self.faults.after:
                self.port.close()  # cable pulled mid-measurement
                raise asyncio.CancelledError
            self._send(alc.AlEvt(seq, tid, event, value).encode())

        try:
            if self.faults.active("clock-drift"):
                self.clock_offset += timedelta(seconds=self.faults.drift_s)
            await evt("WARMUP", int(round(self.cfg.warmup_s)))
            await self._sleep(self.cfg.warmup_s)
            if self.cfg.cal_due < self.now().date().isoformat():
                self._send(alc.AlErr(seq, tid, "E06", alc.ERROR_CODES["E06"]).encode())
                return
            await evt("BLOW")
            for pct in (25, 50, 75, 100):
                await self._sleep(self.cfg.blow_s / 4)
                await evt("BLOW_PROGRESS", pct)
            vol, dur, temp = population.sample_breath(self.rng)
            if self.faults.hit("device-error"):
                code = self.faults.error_code or str(self.rng.choice(DEVICE_ERRORS_ON_TEST))
                if code == "E11":
                    code = "E01"
                if code in ("E01", "E02"):
                    self._send(alc.AlErr(seq, tid, code, alc.ERROR_CODES[code], Decimal("0.62"), Decimal("1.3")).encode())
                else:
                    self._send(alc.AlErr(seq, tid, code, alc.ERROR_CODES.get(code, "SENSOR_FAULT")).encode())
                return
            await evt("ANALYZING")
            await self._sleep(self.cfg.analyze_s)
            intox = bool(self.rng.random() < self.cfg.intoxicated_share)
            brac = population.sample_brac_mg_l(self.rng, intox)
            if self.faults.hit("implausible"):
                brac = 9.999
            res = alc.AlRes(
                seq=seq,
                test_id=tid,
                time=self.now().replace(microsecond=0),
                brac_mg_l=Decimal(f"{brac:.3f}"),
                volume_l=Decimal(f"{vol:.2f}"),
                duration_s=Decimal(f"{dur:.1f}"),
                breath_temp_c=Decimal(f"{temp:.1f}"),
                serial=self.cfg.serial,
                cal_due=self.cfg.cal_due,
            )
            self.results.append(res)
            self._send(res.encode())
        except asyncio.CancelledError:
            if not self.port.closed:
                self._send(alc.AlErr(seq, tid, "E10", "ABORTED").encode())
