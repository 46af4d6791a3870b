"""Async pollers for the Modbus noise transmitter and smoke detector.

::

    async with NoisePoller(cfg) as d:
        r = await d.read_once()            # one poll → Reading
        async for r in d.readings():       # poll every cfg.poll_interval_s
            ...

Errors are typed DeviceError subclasses. The smoke detector **fails closed**
(devices.md §5.2): a timeout or exception reply raises — the supervisor must treat the
alarm state as unknown, never as normal.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timezone

from firmware_bridges.devices import ImplausibleReading, NoiseConfig, SmokeConfig
from firmware_bridges.modbus import noise, smoke
from firmware_bridges.modbus.transport import ModbusTransport
from firmware_bridges.readings import Reading


class _Poller(abc.ABC):
    kind = ""

    def __init__(self, config) -> None:
        self.config = config
        self.transport = ModbusTransport(config.link, kind=config.kind)

    async def __aenter__(self):
        await self.transport.open()
        return self

    async def __aexit__(self, *exc) -> None:
        self.transport.close()

    def _stamp(self, r: Reading) -> Reading:
        return r.model_copy(update={"device": self.config.identity, "received_at": datetime.now(timezone.utc)})

    @abc.abstractmethod
    async def read_once(self) -> Reading:
        """Poll the device once and decode its registers."""

    async def readings(self) -> AsyncIterator[Reading]:
        loop = asyncio.get_running_loop()
        while True:
            t0 = loop.time()
            yield await self.read_once()
            await asyncio.sleep(max(0.0, self.config.poll_interval_s - (loop.time() - t0)))


class NoisePoller(_Poller):
    kind = "noise"

    def __init__(self, config: NoiseConfig) -> None:
        super().__init__(config)

    async def read_once(self) -> Reading:
        cfg: NoiseConfig = self.config
        raw = (await self.transport.read({"level": cfg.level}))["level"]
        r = self._stamp(noise.registers_to_reading(raw, cfg.level, cfg.weighting))
        lo, hi = cfg.plausible_db
        if r.noise_dba is not None and not lo <= r.noise_dba <= hi:
            raise ImplausibleReading.for_field(self.kind, "noise_dba", r.noise_dba, lo, hi)
        return r


class SmokePoller(_Poller):
    kind = "smoke"

    def __init__(self, config: SmokeConfig) -> None:
        super().__init__(config)

    async def read_once(self) -> Reading:
        cfg: SmokeConfig = self.config
        specs = {k: getattr(cfg, k) for k in ("obscuration", "alarm", "fault") if getattr(cfg, k) is not None}
        values = await self.transport.read(specs)
        r = self._stamp(smoke.values_to_reading(values, cfg))
        lo, hi = cfg.plausible_pct_ft
        v = r.smoke_obscuration_pct_ft
        if v is not None and not lo <= v <= hi:
            raise ImplausibleReading.for_field(self.kind, "smoke_obscuration_pct_ft", v, lo, hi)
        return r
