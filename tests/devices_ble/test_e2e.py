"""simulator → bumble LocalLink → bleak (project-local backend) → driver → Reading, per device."""

from __future__ import annotations

from datetime import timezone

import pytest

from tests.devices_ble.conftest import ble_world

CASES = [
    ("ble-thermometer", None, ("temperature_c",)),
    ("ble-bp-cuff", None, ("systolic_mmhg", "diastolic_mmhg", "mean_arterial_mmhg", "pulse_bpm")),
    ("ble-oximeter", "ble-plx-spot", ("spo2_percent", "pulse_bpm")),
    ("ble-oximeter", "ble-plx-continuous", ("spo2_percent", "pulse_bpm")),
    ("ble-berrymed", None, ("spo2_percent", "pulse_bpm")),
]


@pytest.mark.parametrize("sim_name,profile,fields", CASES, ids=[c[1] or c[0] for c in CASES])
def test_end_to_end(arun, sim_name, profile, fields):
    async def go():
        async with ble_world() as w:
            sim = await w.add_sim(sim_name)
            progress, errors = [], []
            drv = w.driver(sim_name, profile=profile, on_progress=progress.append, on_error=errors.append)
            r = await drv.measure(timeout=10)
            assert errors == []
            assert set(r.values()) == set(fields)
            assert all(isinstance(v, float) for v in r.values().values())
            assert r.received_at is not None and r.received_at.tzinfo == timezone.utc
            assert r.device.model == "SIM-" + sim_name and r.device.verified_until == "2027-01-31"
            # what the driver got is exactly what the simulator sent
            assert any(payload.hex() == r.raw_hex for _u, payload in sim.sent) or sim_name == "ble-berrymed"
            if sim_name == "ble-bp-cuff":
                assert len(progress) > 10 and max(progress) >= 150  # live cuff pressure from 0x2A36
                assert r.device_time is not None and abs(r.status["device_clock_offset_s"]) < 5
            return r

    arun(go())


def test_kpa_cuff_and_fahrenheit_thermometer_are_converted(arun):
    async def go():
        async with ble_world() as w:
            await w.add_sim("ble-bp-cuff", kpa=True)
            r = await w.driver("ble-bp-cuff").measure(timeout=10)
            assert r.device_values["unit"] == "kPa"
            assert 70 < r.systolic_mmhg < 250 and "." in r.device_values["systolic"]
        async with ble_world() as w:
            await w.add_sim("ble-thermometer", fahrenheit=True)
            r = await w.driver("ble-thermometer").measure(timeout=10)
            assert r.device_values["unit"] == "°F" and 95 < float(r.device_values["temperature"]) < 105
            assert 35 < r.temperature_c < 41

    arun(go())


def test_two_devices_share_one_adapter(arun):
    async def go():
        import asyncio

        async with ble_world() as w:
            await w.add_sim("ble-thermometer", "F0:F0:F0:F0:F0:01")
            await w.add_sim("ble-oximeter", "F0:F0:F0:F0:F0:02")
            a, b = await asyncio.gather(w.driver("ble-thermometer").measure(10), w.driver("ble-oximeter").measure(10))
            assert a.temperature_c and b.spo2_percent

    arun(go())
