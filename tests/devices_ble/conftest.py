"""Harness for the BLE tests: a fresh bumble LocalLink per test, the bumble bleak backend,
and an asyncio runner that fails the test if it leaves tasks behind. No mocks."""

from __future__ import annotations

import contextlib
from typing import Any, AsyncIterator

import pytest
from bumble.link import LocalLink

from firmware_bridges.ble.config import BleDeviceConfig
from firmware_bridges.ble.driver import BleDeviceDriver
from simulators.ble.bleak_bumble import BumbleClient, BumbleScanner, release_adapter, use_adapter
from simulators.ble.controller import local_device
from simulators.ble.devices import SIMULATORS, Faults
from tests.async_helpers import run_async  # noqa: F401  (re-exported for the tests here)

AGENT_ADDRESS = "F1:F1:F1:F1:F1:F1"
SIM_ADDRESS = "F0:F0:F0:F0:F0:F0"

PROFILE_FOR = {
    "ble-thermometer": ("ble-temperature", "thermometer"),
    "ble-bp-cuff": ("ble-blood-pressure", "bp_cuff"),
    "ble-oximeter": ("ble-plx-spot", "oximeter"),
    "ble-berrymed": ("berrymed", "oximeter"),
}




@pytest.fixture
def arun():
    return run_async


class World:
    def __init__(self) -> None:
        self.link = LocalLink()
        self.sims: list = []
        self.agent = None

    async def add_sim(self, name: str, address: str = SIM_ADDRESS, *, faults: Faults | None = None, speed: float = 500.0, seed: int = 7, **kw: Any):
        sim = SIMULATORS[name](local_device(self.link, name, address), faults=faults, speed=speed, seed=seed, **kw)
        await sim.start()
        self.sims.append(sim)
        return sim

    def driver(self, sim_name: str, *, profile: str | None = None, connect_timeout_s: float = 1.0, scan_timeout_s: float = 1.0, **kw: Any) -> BleDeviceDriver:
        prof, kind = PROFILE_FOR[sim_name]
        profile = profile or prof
        cfg_kw = {k: kw.pop(k) for k in list(kw) if k in BleDeviceConfig.model_fields}
        if profile == "berrymed":
            cfg_kw.setdefault("advertised_name", "BerryMed")
        cfg = BleDeviceConfig(
            profile=profile, identity={"kind": kind, "model": "SIM-" + sim_name, "serial": "SN1", "verified_until": "2027-01-31"},
            **cfg_kw,
        )
        kw.setdefault("retry_backoff_s", 0.01)
        kw.setdefault("reconnect_backoff_s", 0.01)
        return BleDeviceDriver(
            cfg, scanner_backend=BumbleScanner, client_backend=BumbleClient,
            connect_timeout_s=connect_timeout_s, scan_timeout_s=scan_timeout_s, **kw,
        )


@contextlib.asynccontextmanager
async def ble_world() -> AsyncIterator[World]:
    world = World()
    world.agent = local_device(world.link, "agent", AGENT_ADDRESS)
    use_adapter(world.agent)
    try:
        yield world
    finally:
        for sim in world.sims:
            await sim.stop()
        await world.agent.power_off()
        release_adapter()
