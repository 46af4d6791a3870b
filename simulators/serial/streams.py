"""Streaming serial simulators on a pty: RDM6300/CDC badge reader and PMS5003.

- Badge reader (devices.md §6.1): each presented card is sent ``repeats`` times ~100 ms
  apart (readers repeat while the card is in the field), then a pause before the next
  worker. Cards come from :mod:`simulators.population` or an explicit list.
- PMS5003 (§5.1): active mode, one frame every ``interval_s`` (≈1 s; the datasheet's
  stable mode is up to 2.3 s). Understands the passive/active/read/sleep/wake commands.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import numpy as np

from firmware_bridges.serial import badge, pms5003
from simulators import population
from simulators.serial.faults import FaultPlan
from simulators.serial.pty import PtyPort


def _corrupt_last(raw: bytes, back: int) -> bytes:
    i = len(raw) - back
    b = raw[i]
    # keep RDM6300's ASCII-hex checksum ASCII hex, so only the checksum is wrong
    if 0x30 <= b <= 0x39 or 0x41 <= b <= 0x46:
        nb = ord("0") if b != ord("0") else ord("1")
    else:
        nb = b ^ 0x01
    return raw[:i] + bytes([nb]) + raw[i + 1 :]


class _StreamSim:
    def __init__(self, port: PtyPort, faults: FaultPlan | None, time_scale: float, seed: int | None) -> None:
        self.port = port
        self.faults = faults or FaultPlan()
        self.time_scale = time_scale
        self.rng = np.random.default_rng(seed)
        self.sent: list = []  # what was encoded (valid values), for tests
        self.frames = 0

    async def _sleep(self, s: float) -> None:
        await asyncio.sleep(s * self.time_scale)

    def _emit(self, raw: bytes, checksum_back: int) -> None:
        if self.faults.hit("garbage"):
            self.port.write(self.faults.garbage())
        if self.faults.hit("bad-checksum"):
            raw = _corrupt_last(raw, checksum_back)
        self.port.write(raw)
        self.frames += 1

    def _should_disconnect(self) -> bool:
        return self.faults.active("disconnect") and self.frames >= self.faults.after


@dataclass
class BadgeSimConfig:
    profile: str = "rdm6300"  # or "lines" (CDC reader printing 10-digit decimal)
    cards: list[int] = field(default_factory=list)  # empty → drawn from the population
    repeats: int = 3
    gap_s: float = 3.0  # time between workers
    count: int | None = None  # stop after this many presentations (None = forever)
    seed: int | None = None
    time_scale: float = 1.0


class BadgeSim(_StreamSim):
    def __init__(self, port: PtyPort, config: BadgeSimConfig | None = None, faults: FaultPlan | None = None) -> None:
        self.cfg = config or BadgeSimConfig()
        super().__init__(port, faults, self.cfg.time_scale, self.cfg.seed)

    def _next_card(self, i: int) -> int:
        if self.cfg.cards:
            return self.cfg.cards[i % len(self.cfg.cards)]
        return population.sample_worker(self.rng, i).badge_em

    async def run(self) -> None:
        self.port.start()
        try:
            i = 0
            while self.cfg.count is None or i < self.cfg.count:
                await self._sleep(self.cfg.gap_s)
                card = self._next_card(i)
                i += 1
                if self.faults.active("silent"):
                    continue
                self.sent.append(card)
                for _ in range(self.cfg.repeats):
                    if self._should_disconnect():
                        return
                    if self.cfg.profile == "rdm6300":
                        self._emit(badge.encode_rdm6300(0x13, card), 3)
                    else:
                        self._emit(badge.encode_badge_line(f"{card:010d}"), 3)
                    await self._sleep(0.1)
        finally:
            if self._should_disconnect():
                self.port.close()


@dataclass
class PmsSimConfig:
    interval_s: float = 1.0
    count: int | None = None
    seed: int | None = None
    time_scale: float = 1.0


class PmsSim(_StreamSim):
    def __init__(self, port: PtyPort, config: PmsSimConfig | None = None, faults: FaultPlan | None = None) -> None:
        self.cfg = config or PmsSimConfig()
        super().__init__(port, faults, self.cfg.time_scale, self.cfg.seed)
        self.active_mode = True
        self.asleep = False
        self._read_requests = 0

    def make_frame(self) -> pms5003.PmsFrame:
        pm1, pm25, pm10 = population.sample_pm_ugm3(self.rng)
        if self.faults.hit("implausible"):
            pm1, pm25, pm10 = 4000, 6000, 9000
        counts = tuple(min(0xFFFF, int(x)) for x in (pm25 * 130, pm25 * 38, pm25 * 6, pm25 * 0.5, pm10 * 0.05, pm10 * 0.01))
        return pms5003.PmsFrame(
            pm1_0_cf1=pm1, pm2_5_cf1=pm25, pm10_cf1=pm10, pm1_0_atm=pm1, pm2_5_atm=pm25, pm10_atm=pm10, counts=counts
        )

    async def _commands(self) -> None:
        buf = bytearray()
        while not self.port.closed:
            data = await self.port.read()
            if not data:
                return
            buf.extend(data)
            while (i := buf.find(pms5003.SYNC)) >= 0 and len(buf) - i >= 7:
                cmd = bytes(buf[i : i + 7])
                del buf[: i + 7]
                if cmd == pms5003.CMD_PASSIVE:
                    self.active_mode = False
                elif cmd == pms5003.CMD_ACTIVE:
                    self.active_mode = True
                elif cmd == pms5003.CMD_READ:
                    self._read_requests += 1
                elif cmd == pms5003.CMD_SLEEP:
                    self.asleep = True
                elif cmd == pms5003.CMD_WAKE:
                    self.asleep = False
            if len(buf) > 64:
                del buf[:-6]

    async def run(self) -> None:
        self.port.start()
        cmd_task = asyncio.create_task(self._commands())
        try:
            n = 0
            interval = self.cfg.interval_s
            while self.cfg.count is None or n < self.cfg.count:
                if self.faults.active("clock-drift"):
                    interval *= 1.05  # oscillator drifting: cadence stretches every frame
                await self._sleep(interval)
                if self.port.closed:
                    return
                if self.asleep or self.faults.active("silent"):
                    continue
                if not self.active_mode:
                    if not self._read_requests:
                        continue
                    self._read_requests -= 1
                if self._should_disconnect():
                    self.port.close()
                    return
                f = self.make_frame()
                self.sent.append(f)
                self._emit(f.encode(), 1)
                n += 1
        finally:
            cmd_task.cancel()
            try:
                await cmd_task
            except BaseException:
                pass
