"""Helpers for tests/devices_serial (imported by module name; no conftest needed)."""

from __future__ import annotations

import asyncio
import contextlib

from firmware_bridges.devices import (
    AlcotesterConfig,
    BadgeReaderConfig,
    ModbusLink,
    NoiseConfig,
    ParticulateConfig,
    SerialSettings,
    SmokeConfig,
)
from firmware_bridges.readings import DeviceIdentity


def alc_cfg(path: str, **kw) -> AlcotesterConfig:
    kw.setdefault("ack_timeout_s", 0.5)
    kw.setdefault("test_timeout_s", 5.0)
    kw.setdefault("idle_timeout_s", 0.6)
    return AlcotesterConfig(
        identity=DeviceIdentity(kind="alcotester", model="SIM-ALC", serial="SN000123", verified_until="2099-12-31"),
        serial=SerialSettings(port=path),
        **kw,
    )


def badge_cfg(path: str, **kw) -> BadgeReaderConfig:
    return BadgeReaderConfig(identity=DeviceIdentity(kind="badge_reader", model="RDM6300"), serial=SerialSettings(port=path), **kw)


def pms_cfg(path: str, **kw) -> ParticulateConfig:
    kw.setdefault("frame_timeout_s", 0.5)
    return ParticulateConfig(identity=DeviceIdentity(kind="particulate", model="PMS5003", serial="P1"), serial=SerialSettings(port=path), **kw)


def noise_cfg(link: ModbusLink, **kw) -> NoiseConfig:
    return NoiseConfig(identity=DeviceIdentity(kind="noise", model="SM7901", serial="N1", verified_until="2027-01-01"), link=link, **kw)


def smoke_cfg(link: ModbusLink, **kw) -> SmokeConfig:
    return SmokeConfig(identity=DeviceIdentity(kind="smoke", model="SIM-SMOKE"), link=link, **kw)


def tcp_link(host: str, port: int, **kw) -> ModbusLink:
    kw.setdefault("timeout_s", 0.3)
    kw.setdefault("retries", 0)
    return ModbusLink(transport="rtu-over-tcp", host=host, tcp_port=port, **kw)


@contextlib.asynccontextmanager
async def running(coro):
    """Run a simulator coroutine as a task; always cancel and await it on exit."""
    task = asyncio.create_task(coro)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


async def collect(aiter, n: int, timeout: float = 5.0) -> list:
    out = []

    async def go():
        async for r in aiter:
            out.append(r)
            if len(out) >= n:
                return

    await asyncio.wait_for(go(), timeout)
    return out


async def collect_for(aiter, seconds: float) -> list:
    """Everything the iterator yields within ``seconds`` (typed errors propagate)."""
    out = []

    async def go():
        async for r in aiter:
            out.append(r)

    try:
        await asyncio.wait_for(go(), seconds)
    except asyncio.TimeoutError:
        pass
    return out
