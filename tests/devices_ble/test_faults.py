"""Every injected fault produces the intended typed error or recovery; nothing crashes and no
reading is invented."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from firmware_bridges.ble.blood_pressure import BloodPressureMeasurement
from firmware_bridges.ble.sfloat import DateTime
from firmware_bridges.devices import (
    DeviceDisconnected,
    DeviceNotResponding,
    DeviceProtocolError,
    DeviceReportedError,
    ImplausibleReading,
)
from simulators.ble.bleak_bumble import stall_scanner
from simulators.ble.devices import Faults
from tests.devices_ble.conftest import ble_world

ALL = [("ble-thermometer", None), ("ble-bp-cuff", None), ("ble-oximeter", "ble-plx-spot"), ("ble-oximeter", "ble-plx-continuous"), ("ble-berrymed", None)]
IDS = [p or s for s, p in ALL]


@pytest.mark.parametrize("sim_name,profile", ALL, ids=IDS)
def test_disconnect_mid_measurement_then_recovers(arun, sim_name, profile):
    async def go():
        async with ble_world() as w:
            await w.add_sim(sim_name, faults=Faults(disconnect=1))
            errors = []
            drv = w.driver(sim_name, profile=profile, on_error=errors.append)
            r = await drv.measure(timeout=10)
            assert any(isinstance(e, DeviceDisconnected) for e in errors)
            assert errors[0].message_ru and errors[0].message_en and errors[0].code == "disconnected"
            assert drv.stats["drops"] == 1 and drv.stats["connects"] == 2
            assert all(v is not None for v in r.values().values())

    arun(go())


@pytest.mark.parametrize("sim_name,profile", ALL, ids=IDS)
def test_garbage_is_reported_not_decoded(arun, sim_name, profile):
    async def go():
        async with ble_world() as w:
            await w.add_sim(sim_name, faults=Faults(garbage=2))
            errors, readings = [], []
            drv = w.driver(sim_name, profile=profile, on_error=errors.append, on_reading=readings.append)
            r = await drv.measure(timeout=10)
            if sim_name == "ble-berrymed":  # a stream: the framer resynchronises and discards
                assert errors == [] and drv._framer.discarded >= 14
            else:
                assert len(errors) == 2 and all(isinstance(e, DeviceProtocolError) for e in errors)
                assert "truncated" in errors[0].message_en and errors[0].details["raw_hex"]
                assert drv.stats["decode_errors"] == 2
            assert all(v is not None for v in r.values().values())

    arun(go())


@pytest.mark.parametrize("special,reason", [("nan", "not-a-number"), ("nres", "not-at-this-resolution"), ("pinf", "positive-infinity"), ("ninf", "negative-infinity"), ("reserved", "reserved-value")])
def test_special_values_become_no_value_with_reason(arun, special, reason):
    async def go():
        async with ble_world() as w:
            await w.add_sim("ble-thermometer", faults=Faults(special=special))
            await w.add_sim("ble-bp-cuff", "F0:F0:F0:F0:F0:02", faults=Faults(special=special))
            t = await w.driver("ble-thermometer").measure(timeout=10)
            assert t.temperature_c is None and t.invalid == {"temperature_c": reason}
            bp = await w.driver("ble-bp-cuff", address="F0:F0:F0:F0:F0:02").measure(timeout=10)
            assert bp.systolic_mmhg is None and bp.diastolic_mmhg is None and bp.mean_arterial_mmhg is None
            assert bp.invalid["systolic_mmhg"] == reason and bp.pulse_bpm is not None

    arun(go())


def test_plx_special_and_device_error(arun):
    async def go():
        async with ble_world() as w:
            await w.add_sim("ble-oximeter", faults=Faults(special="nan"))
            r = await w.driver("ble-oximeter").measure(timeout=10)
            assert r.spo2_percent is None and r.invalid["spo2_percent"] == "not-a-number"
        async with ble_world() as w:
            await w.add_sim("ble-oximeter", faults=Faults(device_error=True))
            r = await w.driver("ble-oximeter").measure(timeout=10)
            assert r.spo2_percent is None and "sensor_disconnected" in r.invalid["spo2_percent"]
            assert "equipment_malfunction_detected" in r.status["device_and_sensor_status"]

    arun(go())


@pytest.mark.parametrize("fault", [Faults(device_error=True), Faults(special="nan")], ids=["probe-unplugged", "no-finger"])
def test_berrymed_without_valid_value_is_a_device_reported_error(arun, fault):
    async def go():
        async with ble_world() as w:
            await w.add_sim("ble-berrymed", faults=fault)
            readings = []
            with pytest.raises(DeviceReportedError) as exc:
                await w.driver("ble-berrymed", on_reading=readings.append).measure(timeout=0.5)
            assert exc.value.code == "no_valid_value" and exc.value.message_ru
            assert readings and all(r.spo2_percent is None and r.invalid for r in readings)

    arun(go())


def test_bp_device_error_flags_are_kept(arun):
    async def go():
        async with ble_world() as w:
            await w.add_sim("ble-bp-cuff", faults=Faults(device_error=True))
            r = await w.driver("ble-bp-cuff").measure(timeout=10)
            assert r.status["body_movement"] and r.status["improper_position"] and r.systolic_mmhg

    arun(go())


@pytest.mark.parametrize("sim_name,profile", ALL, ids=IDS)
def test_implausible_values_are_rejected(arun, sim_name, profile):
    async def go():
        async with ble_world() as w:
            await w.add_sim(sim_name, faults=Faults(implausible=True))
            readings = []
            drv = w.driver(sim_name, profile=profile, on_reading=readings.append)
            with pytest.raises(ImplausibleReading) as exc:
                await drv.measure(timeout=10)
            assert exc.value.code == "implausible" and "повторите" in exc.value.message_ru
            # nothing invented: no reading with a number reached the kiosk (a stream's
            # "searching" packets may, but they carry no values)
            assert all(v is None for r in readings for v in r.values().values())

    arun(go())


def test_device_that_never_advertises(arun):
    async def go():
        async with ble_world() as w:
            await w.add_sim("ble-thermometer", faults=Faults(never_answers="no-advertising"))
            errors = []
            drv = w.driver("ble-thermometer", scan_timeout_s=0.2, on_error=errors.append)
            with pytest.raises(DeviceNotResponding) as exc:
                await drv.measure(timeout=1.5)
            assert "not seen advertising" in exc.value.message_en and exc.value.code == "not_responding"

    arun(go())


def test_device_that_connects_but_never_measures(arun):
    async def go():
        async with ble_world() as w:
            await w.add_sim("ble-bp-cuff", faults=Faults(never_answers="silent"))
            with pytest.raises(DeviceNotResponding) as exc:
                await w.driver("ble-bp-cuff").measure(timeout=0.5)
            assert "no measurement within" in exc.value.message_en

    arun(go())


def test_pinned_address_absent_connect_retries_bounded(arun):
    async def go():
        async with ble_world() as w:
            await w.add_sim("ble-thermometer")
            drv = w.driver("ble-thermometer", address="F7:F7:F7:F7:F7:F7", scan_timeout_s=0.1, connect_attempts=3)
            from firmware_bridges.ble.driver import BleScannerService
            from simulators.ble.bleak_bumble import BumbleScanner

            async with BleScannerService(backend=BumbleScanner) as sc:
                with pytest.raises(DeviceNotResponding) as exc:
                    await drv.connect(sc)
            assert exc.value.details["attempts"] == 3

    arun(go())


def test_clock_drift_is_flagged_and_kiosk_time_kept(arun):
    async def go():
        async with ble_world() as w:
            await w.add_sim("ble-thermometer", faults=Faults(clock_drift_s=3600))
            r = await w.driver("ble-thermometer").measure(timeout=10)
            assert r.status["device_clock_drift"] is True
            assert 3590 < r.status["device_clock_offset_s"] < 3610
            assert r.received_at is not None and r.temperature_c

    arun(go())


def _stored(n: int) -> list[BloodPressureMeasurement]:
    return [
        BloodPressureMeasurement(Decimal(120 + i), Decimal(80), Decimal(93), False, DateTime(2025, 3, 14, 8, i, 0), Decimal(70), 1, 0)
        for i in range(n)
    ]


def test_cuff_that_clears_memory_after_read_loses_nothing(arun):
    async def go():
        async with ble_world() as w:
            sim = await w.add_sim("ble-bp-cuff", faults=Faults(clear_after_read=True), stored=_stored(2))
            readings = []
            drv = w.driver("ble-bp-cuff", on_reading=readings.append)
            first = await drv.measure(timeout=10)
            assert [r.status.get("stored_record", False) for r in readings] == [True, True, False]
            assert first is readings[-1] and sim.memory == []
            await drv.measure(timeout=10)
            assert len(readings) == 4 and drv.stats["duplicates"] == 0
            assert [r.systolic_mmhg for r in readings[:2]] == [120, 121]

    arun(go())


def test_cuff_that_resends_stored_records_is_deduplicated(arun):
    async def go():
        async with ble_world() as w:
            await w.add_sim("ble-bp-cuff", faults=Faults(resend_stored=True), stored=_stored(2))
            readings = []
            drv = w.driver("ble-bp-cuff", on_reading=readings.append)
            await drv.measure(timeout=10)
            await drv.measure(timeout=10)
            await drv.measure(timeout=10)
            # 2 stored + 3 new, each exactly once; re-sent ones dropped: (2+1) + (2+2) duplicates
            assert len(readings) == 5 and len({r.raw_hex for r in readings}) == 5
            assert drv.stats["duplicates"] == 3 + 4

    arun(go())


def test_run_reconnects_after_drops(arun):
    async def go():
        async with ble_world() as w:
            await w.add_sim("ble-oximeter", faults=Faults(disconnect=2), speed=50)
            readings, errors = [], []
            drv = w.driver("ble-oximeter", profile="ble-plx-continuous", on_reading=readings.append, on_error=errors.append)
            stop = asyncio.Event()
            task = asyncio.create_task(drv.run(stop))
            for _ in range(200):
                await asyncio.sleep(0.01)
                if len(readings) >= 3:
                    break
            stop.set()
            await task
            assert drv.stats["drops"] == 2 and len(readings) >= 3
            assert sum(isinstance(e, DeviceDisconnected) for e in errors) == 2

    arun(go())


def test_scanner_watchdog_restarts_a_silent_scanner(arun):
    async def go():
        from firmware_bridges.ble.driver import BleScannerService
        from simulators.ble.bleak_bumble import BumbleScanner

        async with ble_world() as w:
            await w.add_sim("ble-thermometer")
            async with BleScannerService(backend=BumbleScanner, watchdog_s=0.15, check_interval_s=0.03) as sc:
                await asyncio.sleep(0.05)
                stall_scanner()  # scanner wedged: no advertisements arrive any more
                await asyncio.sleep(0.05)
                sc._seen.clear()
                drv = w.driver("ble-thermometer", scanner=sc, scan_timeout_s=2)
                r = await drv.measure(timeout=5)
                assert sc.restarts >= 1 and r.temperature_c

    arun(go())
