"""The bumble bleak backend and the virtual-controller fix, through bleak's public API."""

from __future__ import annotations

import asyncio
import time

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakError

from simulators.ble.bleak_bumble import BumbleClient, BumbleScanner
from tests.devices_ble.conftest import SIM_ADDRESS, ble_world

HTS = "00001809-0000-1000-8000-00805f9b34fb"


def test_scan_connect_read_indicate(arun):
    async def go():
        async with ble_world() as w:
            await w.add_sim("ble-thermometer", speed=1000)
            dev = await BleakScanner.find_device_by_filter(lambda d, a: HTS in a.service_uuids, timeout=3, backend=BumbleScanner)
            assert dev is not None and dev.name == "OHS-THERMO"
            got = asyncio.Queue()
            async with BleakClient(dev, backend=BumbleClient, timeout=3) as c:
                assert c.backend_id == "BumbleClient" and c.mtu_size >= 23
                ch = c.services.get_characteristic("2a1c")
                assert ch.properties == ["indicate"]
                assert [d.uuid for d in ch.descriptors] == ["00002902-0000-1000-8000-00805f9b34fb"]
                assert (await c.read_gatt_char("2a1d")) == bytearray([6])
                await c.start_notify(ch, lambda _c, data: got.put_nowait(bytes(data)))
                data = await asyncio.wait_for(got.get(), 3)
                assert data[0] & 0x02  # timestamp flag set by the simulator

    arun(go())


def test_connect_to_absent_device_times_out_then_next_connect_works(arun):
    """devices.md §9.3: without CancellableController this connect hangs forever."""

    async def go():
        async with ble_world() as w:
            t0 = time.monotonic()
            with pytest.raises(asyncio.TimeoutError):
                await BleakClient("F9:F9:F9:F9:F9:F9", backend=BumbleClient, timeout=0.5).connect()
            assert 0.45 < time.monotonic() - t0 < 2.0
            await w.add_sim("ble-thermometer")
            c = BleakClient(SIM_ADDRESS, backend=BumbleClient, timeout=2)
            await c.connect()
            assert c.is_connected
            await c.disconnect()
            assert not c.is_connected

    arun(go())


def test_concurrent_connects_on_one_adapter_are_serialised(arun):
    async def go():
        async with ble_world() as w:
            await w.add_sim("ble-thermometer", "F0:F0:F0:F0:F0:01")
            await w.add_sim("ble-bp-cuff", "F0:F0:F0:F0:F0:02")
            clients = [BleakClient(a, backend=BumbleClient, timeout=2) for a in ("F0:F0:F0:F0:F0:01", "F0:F0:F0:F0:F0:02")]
            await asyncio.gather(*(c.connect() for c in clients))  # no COMMAND_DISALLOWED
            assert all(c.is_connected for c in clients)
            assert clients[1].services.get_characteristic("2a36").properties == ["notify"]
            await asyncio.gather(*(c.disconnect() for c in clients))

    arun(go())


def test_peer_disconnect_fires_callback(arun):
    async def go():
        async with ble_world() as w:
            sim = await w.add_sim("ble-thermometer")
            fired = asyncio.Event()
            c = BleakClient(SIM_ADDRESS, disconnected_callback=lambda _c: fired.set(), backend=BumbleClient, timeout=2)
            await c.connect()
            for conn in list(sim._connections):
                await conn.disconnect()
            await asyncio.wait_for(fired.wait(), 2)
            assert not c.is_connected
            with pytest.raises(BleakError):
                await c.read_gatt_char("2a1d")

    arun(go())
