"""BLE devices end to end: bumble GATT simulator → virtual link → bleak (project-local
bumble backend) → BleDeviceDriver → DeviceSupervisor, with the faults of the issue list."""

from __future__ import annotations

import contextlib
import re
from decimal import Decimal
from typing import Any, AsyncIterator

import pytest
from bumble.link import LocalLink

from firmware_bridges.ble.blood_pressure import BloodPressureMeasurement
from firmware_bridges.ble.sfloat import DateTime
from firmware_bridges.devices import DeviceNotResponding, DeviceReportedError, ImplausibleReading
from simulators.ble.bleak_bumble import BumbleClient, BumbleScanner, release_adapter, use_adapter
from simulators.ble.controller import local_device
from simulators.ble.devices import SIMULATORS, Faults
from tests.supervisor.sup_helpers import check_health_contract, declare, run_async, state, supervised, wait_until

pytestmark = pytest.mark.timeout(60)

AGENT = "F1:F1:F1:F1:F1:F1"
BACKEND = (BumbleScanner, BumbleClient)
BLE_OPTS = {"scan_timeout_s": 0.3, "measurement_timeout_s": 10.0, "retry_backoff_s": 0.01, "reconnect_backoff_s": 0.01}

# sim name, profile, kind, address, expected fields
CASES = {
    "thermometer": ("ble-thermometer", "ble-temperature", "thermometer", "F0:F0:F0:F0:F0:01", {"temperature_c"}),
    "bp_cuff": ("ble-bp-cuff", "ble-blood-pressure", "bp_cuff", "F0:F0:F0:F0:F0:02",
                {"systolic_mmhg", "diastolic_mmhg", "mean_arterial_mmhg", "pulse_bpm"}),
    "plx-spot": ("ble-oximeter", "ble-plx-spot", "oximeter", "F0:F0:F0:F0:F0:03", {"spo2_percent", "pulse_bpm"}),
    "plx-continuous": ("ble-oximeter", "ble-plx-continuous", "oximeter", "F0:F0:F0:F0:F0:03", {"spo2_percent", "pulse_bpm"}),
    "berrymed": ("ble-berrymed", "berrymed", "oximeter", "F0:F0:F0:F0:F0:04", {"spo2_percent", "pulse_bpm"}),
}


class World:
    def __init__(self) -> None:
        self.link = LocalLink()
        self.sims: list = []

    async def add(self, case: str, *, faults: Faults | None = None, speed: float = 500.0, **kw: Any):
        sim_name, _p, _k, address, _f = CASES[case]
        sim = SIMULATORS[sim_name](local_device(self.link, sim_name, address), faults=faults, speed=speed, seed=7, **kw)
        await sim.start()
        self.sims.append(sim)
        return sim


@contextlib.asynccontextmanager
async def ble_world(adapter: bool = True) -> AsyncIterator[World]:
    w = World()
    agent = local_device(w.link, "agent", AGENT)
    if adapter:
        use_adapter(agent)
    try:
        yield w
    finally:
        for sim in w.sims:
            await sim.stop()
        await agent.power_off()
        release_adapter()


def decl(case: str, name: str | None = None, **opts: Any):
    _s, profile, kind, address, _f = CASES[case]
    return declare(name or kind, kind, "ble", profile=profile, address=address, options={**BLE_OPTS, **opts})


def sup_kw() -> dict:
    return {"ble_backend": BACKEND, "ble_presence_s": 0.5}


@pytest.mark.parametrize("case", list(CASES))
def test_measure_end_to_end(case):
    sim_name, _p, kind, _a, fields = CASES[case]

    async def go():
        async with ble_world() as w:
            sim = await w.add(case)
            async with supervised([decl(case)], **sup_kw()) as sup:
                await wait_until(lambda: state(sup, kind) == ("ok", "ok"), 5, "seen advertising")
                assert sup.device_for(kind) == kind
                events: list[dict] = []
                r = await sup.measure(kind, progress=events.append)
                assert set(r.values()) == fields and all(isinstance(v, float) for v in r.values().values())
                assert r.device.model == f"SIM-{kind}" and r.received_at is not None
                if sim_name != "ble-berrymed":  # exactly the bytes the simulator sent
                    assert any(p.hex() == r.raw_hex for _u, p in sim.sent)
                assert events[0] == {"kind": kind, "phase": "connecting"} and events[-1]["phase"] == "done"
                if kind == "bp_cuff":
                    cuff = [e for e in events if "cuff_pressure_mmhg" in e]
                    assert len(cuff) > 10 and {e["phase"] for e in cuff} == {"inflating", "deflating"}
                    assert max(e["cuff_pressure_mmhg"] for e in cuff) >= 150
                h = check_health_contract(sup)[kind]
                assert h["state"] == "ok" and h["last_reading_at"] is not None

    run_async(go())


def test_absent_at_start_reported_then_recovers_when_switched_on():
    async def go():
        async with ble_world() as w:
            async with supervised([decl("bp_cuff")], **sup_kw()) as sup:
                await wait_until(lambda: state(sup, "bp_cuff") == ("fault", "not_responding"), 3, "absent")
                h = sup.health()["bp_cuff"]
                assert h["message_ru"].startswith("Манжета не отвечает: проверьте, что тонометр включён")
                assert h["message_en"].startswith("The blood-pressure cuff is not responding: check that it is switched on")
                with pytest.raises(DeviceNotResponding) as exc:
                    await sup.measure("bp_cuff", timeout=1.0)
                assert exc.value.message_ru == h["message_ru"] and "not seen advertising" in exc.value.details["bridge_message_en"]
                await w.add("bp_cuff")  # switched on
                await wait_until(lambda: state(sup, "bp_cuff") == ("ok", "ok"), 5, "appears")
                r = await sup.measure("bp_cuff")
                assert r.systolic_mmhg is not None

    run_async(go())


def test_disconnect_mid_measurement_recovers():
    async def go():
        async with ble_world() as w:
            await w.add("bp_cuff", faults=Faults(disconnect=1))
            async with supervised([decl("bp_cuff")], **sup_kw()) as sup:
                await wait_until(lambda: state(sup, "bp_cuff")[0] == "ok", 5, "present")
                r = await sup.measure("bp_cuff")
                assert all(v is not None for v in r.values().values())
                h = sup.health()["bp_cuff"]
                assert h["error_counts"]["disconnected"] == 1 and h["state"] == "ok" and h["last_error"] is None

    run_async(go())


def test_garbage_is_counted_and_never_decoded():
    async def go():
        async with ble_world() as w:
            await w.add("thermometer", faults=Faults(garbage=2))
            async with supervised([decl("thermometer")], **sup_kw()) as sup:
                await wait_until(lambda: state(sup, "thermometer")[0] == "ok", 5, "present")
                r = await sup.measure("thermometer")
                assert r.temperature_c is not None
                assert sup.health()["thermometer"]["error_counts"]["protocol_error"] == 2

    run_async(go())


@pytest.mark.parametrize("case", ["bp_cuff", "thermometer", "plx-spot"])
def test_implausible_value_raises_and_no_reading(case):
    kind = CASES[case][2]

    async def go():
        async with ble_world() as w:
            await w.add(case, faults=Faults(implausible=True))
            async with supervised([decl(case)], **sup_kw()) as sup:
                await wait_until(lambda: state(sup, kind)[0] == "ok", 5, "present")
                with pytest.raises(ImplausibleReading) as exc:
                    await sup.measure(kind)
                assert "повторите" in exc.value.message_ru
                h = sup.health()[kind]
                assert h["state"] == "ok" and h["last_error"]["code"] == "implausible" and h["last_reading_at"] is None

    run_async(go())


def test_oximeter_probe_unplugged_is_a_reported_error():
    async def go():
        async with ble_world() as w:
            await w.add("berrymed", faults=Faults(device_error=True))
            async with supervised([decl("berrymed", measurement_timeout_s=0.5)], **sup_kw()) as sup:
                await wait_until(lambda: state(sup, "oximeter")[0] == "ok", 5, "present")
                with pytest.raises(DeviceReportedError) as exc:
                    await sup.measure("oximeter")
                assert exc.value.code == "no_valid_value" and "проверьте палец" in exc.value.message_ru
                assert sup.health()["oximeter"]["last_reading_at"] is None

    run_async(go())


def test_device_that_connects_but_never_answers():
    async def go():
        async with ble_world() as w:
            await w.add("thermometer", faults=Faults(never_answers="silent"))
            async with supervised([decl("thermometer")], **sup_kw()) as sup:
                await wait_until(lambda: state(sup, "thermometer")[0] == "ok", 5, "present")
                with pytest.raises(DeviceNotResponding) as exc:
                    await sup.measure("thermometer", timeout=0.5)
                assert exc.value.message_ru.startswith("Термометр не отвечает")
                assert "no measurement within" in exc.value.details["bridge_message_en"]
                h = sup.health()["thermometer"]
                assert h["last_error"]["code"] == "not_responding" and h["last_reading_at"] is None

    run_async(go())


def test_clock_drift_is_a_health_warning():
    async def go():
        async with ble_world() as w:
            await w.add("thermometer", faults=Faults(clock_drift_s=3600))
            async with supervised([decl("thermometer")], **sup_kw()) as sup:
                await wait_until(lambda: state(sup, "thermometer")[0] == "ok", 5, "present")
                r = await sup.measure("thermometer")
                assert r.status["device_clock_drift"] is True and r.temperature_c is not None
                warnings = {x["code"]: x for x in sup.health()["thermometer"]["warnings"]}
                offset = int(re.search(r"is (-?\d+) s off", warnings["clock_drift"]["message_en"]).group(1))
                assert 3590 < offset < 3610 and sup.health()["thermometer"]["state"] == "ok"

    run_async(go())


def _stored(n: int) -> list[BloodPressureMeasurement]:
    return [
        BloodPressureMeasurement(Decimal(120 + i), Decimal(80), Decimal(93), False, DateTime(2025, 3, 14, 8, i, 0), Decimal(70), 1, 0)
        for i in range(n)
    ]


def test_cuff_that_clears_its_memory_after_a_read_loses_nothing_invents_nothing():
    async def go():
        async with ble_world() as w:
            sim = await w.add("bp_cuff", faults=Faults(clear_after_read=True), stored=_stored(2))
            async with supervised([decl("bp_cuff")], **sup_kw()) as sup:
                stored: list = []
                sup.on_stored(lambda name, r: stored.append((name, r)))
                await wait_until(lambda: state(sup, "bp_cuff")[0] == "ok", 5, "present")
                first = await sup.measure("bp_cuff")
                assert not first.status.get("stored_record")  # the live measurement, not a memory record
                assert [r.systolic_mmhg for _n, r in stored] == [120, 121] and sim.memory == []
                assert all(n == "bp_cuff" and r.status["stored_record"] for n, r in stored)
                second = await sup.measure("bp_cuff")
                assert len(stored) == 2 and second.raw_hex != first.raw_hex

    run_async(go())


def test_bluetooth_adapter_unavailable_then_recovers():
    async def go():
        async with ble_world(adapter=False) as w:
            await w.add("thermometer")
            d = decl("thermometer", name="thermo")
            async with supervised([d], **sup_kw()) as sup:
                await wait_until(lambda: state(sup, "thermo") == ("fault", "adapter_unavailable"), 3, "adapter fault")
                assert "Bluetooth" in sup.health()["thermo"]["message_ru"]
                with pytest.raises(DeviceNotResponding):
                    await sup.measure("thermometer", timeout=0.5)
                adapter = local_device(w.link, "agent2", "F2:F2:F2:F2:F2:F2")
                use_adapter(adapter)  # the adapter comes back (BlueZ restarted, dongle replugged)
                try:
                    await wait_until(lambda: state(sup, "thermo") == ("ok", "ok"), 5, "adapter back")
                    assert (await sup.measure("thermometer")).temperature_c is not None
                finally:
                    await sup.stop()
                    await adapter.power_off()

    run_async(go())
