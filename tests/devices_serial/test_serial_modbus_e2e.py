"""Noise and smoke Modbus end to end: pymodbus server (RTU-over-TCP or socat pty) →
pymodbus client → codec → Reading, with faults."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from firmware_bridges.devices import (
    DeviceDisconnected,
    DeviceNotResponding,
    DeviceProtocolError,
    DeviceReportedError,
    ImplausibleReading,
    ModbusLink,
    RegisterSpec,
)
from firmware_bridges.modbus.drivers import NoisePoller, SmokePoller
from simulators.modbus.server import ModbusDeviceSim, ModbusSimConfig
from simulators.serial.faults import FaultPlan
from tests.devices_serial.devserial_helpers import noise_cfg, smoke_cfg, tcp_link

pytestmark = pytest.mark.timeout(30)


def run(coro):
    return asyncio.run(coro)


async def _noise(faults="", n=3, plan_kw=None, sim_kw=None, cfg_kw=None, link_kw=None):
    sim = ModbusDeviceSim(ModbusSimConfig(seed=4, **(sim_kw or {})), FaultPlan.parse(faults, seed=4, **(plan_kw or {})))
    try:
        h, p = await sim.start_tcp()
        async with NoisePoller(noise_cfg(tcp_link(h, p, **(link_kw or {})), **(cfg_kw or {}))) as d:
            return sim, [await d.read_once() for _ in range(n)]
    finally:
        await sim.stop()


def test_noise_readings_match_registers():
    sim, rs = run(_noise())
    assert [r.noise_dba for r in rs] == [round(h[0] * 0.1, 3) for h in sim.history]
    assert all(r.device.serial == "N1" and r.received_at for r in rs)


def test_noise_register_address_is_configuration():
    # GEMHO-style: level in HR 0x000E (devices.md §4.1)
    sim, rs = run(_noise(sim_kw={"level_address": 0x0E}, cfg_kw={"level": RegisterSpec(function=3, address=0x0E, scale=0.1)}))
    assert [r.noise_dba for r in rs] == [round(h[0] * 0.1, 3) for h in sim.history]
    assert rs[0].device_values["register"] == 0x0E


def test_noise_streaming_interface():
    async def go():
        sim = ModbusDeviceSim(ModbusSimConfig(seed=4))
        try:
            h, p = await sim.start_tcp()
            async with NoisePoller(noise_cfg(tcp_link(h, p), poll_interval_s=0.01)) as d:
                out = []
                async for r in d.readings():
                    out.append(r)
                    if len(out) == 3:
                        break
                return out
        finally:
            await sim.stop()

    assert len(run(go())) == 3


def test_noise_exception_reply():
    with pytest.raises(DeviceReportedError) as ei:
        run(_noise("device-error", plan_kw={"error_code": "2"}))
    assert ei.value.code == "modbus_exception_2" and "register map" in ei.value.message_en


@pytest.mark.parametrize("fault", ["bad-checksum", "garbage"])
def test_noise_garbled_replies(fault):
    with pytest.raises(DeviceProtocolError):
        run(_noise(fault))


def test_noise_garbled_sometimes_recovers_with_retries():
    sim, rs = run(_noise("bad-checksum", n=4, plan_kw={"rate": 0.3}, link_kw={"retries": 5}))
    assert len(rs) == 4 and all(r.noise_dba is not None for r in rs)


def test_noise_silent():
    with pytest.raises(DeviceNotResponding):
        run(_noise("silent"))


def test_noise_implausible():
    with pytest.raises(ImplausibleReading):
        run(_noise("implausible"))


def test_noise_disconnect():
    with pytest.raises((DeviceDisconnected, DeviceNotResponding)):
        run(_noise("disconnect", n=5, plan_kw={"after": 2}))


def test_noise_server_absent():
    async def go():
        from simulators.modbus.server import free_tcp_port

        async with NoisePoller(noise_cfg(tcp_link("127.0.0.1", free_tcp_port()))):
            pass

    with pytest.raises(DeviceNotResponding):
        run(go())


async def _smoke(faults="", level=0.0, plan_kw=None):
    sim = ModbusDeviceSim(ModbusSimConfig(kind="smoke", seed=4), FaultPlan.parse(faults, seed=4, **(plan_kw or {})))
    sim.smoke_level = level
    try:
        h, p = await sim.start_tcp()
        async with SmokePoller(smoke_cfg(tcp_link(h, p))) as d:
            return sim, await d.read_once()
    finally:
        await sim.stop()


def test_smoke_normal_and_alarm():
    _, r = run(_smoke())
    assert r.status["alarm"] is False and r.smoke_obscuration_pct_ft < 1
    _, r = run(_smoke(level=6.0))
    assert r.status["alarm"] is True and r.smoke_obscuration_pct_ft > 5


def test_smoke_fails_closed_on_exception_and_silence():
    with pytest.raises(DeviceReportedError):
        run(_smoke("device-error"))
    with pytest.raises(DeviceNotResponding) as ei:
        run(_smoke("silent"))
    assert ei.value.kind == "smoke"


def test_smoke_implausible():
    with pytest.raises(ImplausibleReading):
        run(_smoke("implausible"))


@pytest.mark.skipif(not shutil.which("socat"), reason="socat not installed")
def test_noise_over_socat_pty():
    async def go():
        sim = ModbusDeviceSim(ModbusSimConfig(seed=9))
        try:
            path = await sim.start_serial()
            async with NoisePoller(noise_cfg(ModbusLink(port=path, timeout_s=1.0))) as d:
                rs = [await d.read_once() for _ in range(2)]
            return sim, rs
        finally:
            await sim.stop()

    sim, rs = run(go())
    assert [r.noise_dba for r in rs] == [round(h[0] * 0.1, 3) for h in sim.history]
    assert sim._socat is None
