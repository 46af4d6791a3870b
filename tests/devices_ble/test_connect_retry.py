"""Connects go through bleak-retry-connector with the kiosk's own attempt (connect, subscribe,
link still up): bounded attempts, every failure counted, and a link dropped during an earlier
attempt never marks the session that finally connected (the late-callback bug, ruff B023)."""

from __future__ import annotations

import asyncio

import pytest

from firmware_bridges.ble.driver import BleScannerService
from firmware_bridges.devices import DeviceNotResponding
from simulators.ble.bleak_bumble import BumbleScanner
from simulators.ble.devices import Faults
from tests.devices_ble.conftest import SIM_ADDRESS, ble_world


def test_every_attempt_dropped_gives_up_after_the_configured_attempts(arun):
    async def go():
        async with ble_world() as w:
            await w.add_sim("ble-thermometer", faults=Faults(drop_on_connect=1.0))
            drv = w.driver("ble-thermometer", address=SIM_ADDRESS, connect_attempts=2)
            async with BleScannerService(backend=BumbleScanner) as scanner:
                with pytest.raises(DeviceNotResponding) as exc:
                    await drv.connect(scanner)
            assert exc.value.details["attempts"] == 2
            assert drv.stats["connects"] == 0
            assert drv.stats["connect_attempts"] >= 2
            assert drv.stats["connect_failures"] == drv.stats["connect_attempts"]
            assert "connect attempt(s) failed" in exc.value.message_en

    arun(go(), timeout=60)


def test_a_session_connected_after_drops_is_not_marked_by_an_earlier_link(arun):
    async def go():
        async with ble_world() as w:
            await w.add_sim("ble-thermometer", faults=Faults(drop_on_connect=0.6), seed=11)
            retried = 0
            async with BleScannerService(backend=BumbleScanner) as scanner:
                for _ in range(8):
                    drv = w.driver("ble-thermometer", address=SIM_ADDRESS, connect_attempts=6)
                    try:
                        client, disconnected = await drv.connect(scanner)
                    except DeviceNotResponding:
                        continue  # six drops in a row: possible, and not what this test is about
                    retried += drv.stats["connect_attempts"] > 1
                    await asyncio.sleep(0.05)  # well past the simulator's 4 ms drop window of every attempt
                    assert client.is_connected and not disconnected.is_set(), drv.stats
                    await drv._safe_disconnect(client)
            assert retried, "no connect needed a retry: the test did not exercise the late callback"

    arun(go(), timeout=120)
