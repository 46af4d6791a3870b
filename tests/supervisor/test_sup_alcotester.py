"""Alcotester end to end: simulator on a real pty → SerialTransport → AlcotesterDriver →
DeviceSupervisor (health, measure, progress), and every fault of the issue list."""

from __future__ import annotations

import pytest

from firmware_bridges.devices import (
    DeviceDisconnected,
    DeviceNotResponding,
    DeviceProtocolError,
    DeviceReportedError,
    ImplausibleReading,
)
from simulators.serial.alcotester import AlcotesterSim, AlcotesterSimConfig
from simulators.serial.faults import FaultPlan
from simulators.serial.pty import PtyPort
from tests.supervisor.sup_helpers import (
    alcotester,
    check_health_contract,
    run_async,
    running,
    state,
    supervised,
    wait_until,
)

pytestmark = pytest.mark.timeout(60)


def sim_on(link: str, faults: str = "", seed: int = 3, plan_kw=None, **cfg) -> tuple[PtyPort, AlcotesterSim]:
    port = PtyPort(link)
    sim = AlcotesterSim(port, AlcotesterSimConfig(seed=seed, time_scale=0.002, **cfg),
                        FaultPlan.parse(faults, seed=seed, **(plan_kw or {})))
    return port, sim


def test_measure_end_to_end_with_progress_and_health(tmp_path):
    link = str(tmp_path / "ttyALC")

    async def go():
        port, sim = sim_on(link, intoxicated_share=0.5)
        try:
            async with running(sim.run()), supervised([alcotester(link)]) as sup:
                assert state(sup, "alc") == ("ok", "ok") and sup.device_for("alcotester") == "alc"
                events = []
                r = await sup.measure("alcotester", progress=events.append, subject="badge:0006102437")
                assert r.brac_mg_l == float(sim.results[0].brac_mg_l)
                assert r.device.model == "SIM-alcotester" and r.received_at is not None
                phases = [e["phase"] for e in events]
                assert phases[0] == "connecting" and phases[-1] == "done"
                assert {"warmup", "blow", "analyzing"} <= set(phases)
                assert any(e.get("progress_percent") == 100 for e in events)
                assert all(e["kind"] == "alcotester" for e in events)
                h = check_health_contract(sup)["alc"]
                assert h["last_reading_at"] is not None and h["serial"] == "SN-alc" and h["verified_until"] == "2099-12-31"
                assert h["message_ru"] == "Алкотестер: готов"
        finally:
            port.close()

    run_async(go())


def test_absent_at_start_is_reported_then_recovers_when_it_appears(tmp_path):
    link = str(tmp_path / "ttyALC")

    async def go():
        async with supervised([alcotester(link)]) as sup:  # start() must not raise
            assert state(sup, "alc") == ("fault", "not_responding")
            h = sup.health()["alc"]
            assert h["message_ru"].startswith("Алкотестер не отвечает: проверьте, что он включён")
            assert "not responding" in h["message_en"]
            assert sup.device_for("alcotester") is None
            with pytest.raises(DeviceNotResponding) as exc:
                await sup.measure("alcotester", timeout=1)
            assert exc.value.message_ru == h["message_ru"]
            port, sim = sim_on(link)
            try:
                async with running(sim.run()):
                    await wait_until(lambda: state(sup, "alc")[0] == "ok", 5, "recovery")
                    r = await sup.measure("alcotester")
                    assert r.brac_mg_l == float(sim.results[0].brac_mg_l)
            finally:
                port.close()

    run_async(go())


def test_disconnect_mid_measurement_then_recovery(tmp_path):
    link = str(tmp_path / "ttyALC")

    async def go():
        port, sim = sim_on(link, "disconnect", plan_kw={"after": 3})
        async with running(sim.run()), supervised([alcotester(link)]) as sup:
            events = []
            with pytest.raises(DeviceDisconnected) as exc:
                await sup.measure("alcotester", progress=events.append)
            assert exc.value.code == "disconnected" and "отключился" in exc.value.message_ru  # the bridge message, reused
            assert "blow" in [e["phase"] for e in events] and "done" not in [e["phase"] for e in events]
            assert sim.results == []  # the device never produced a result, and none was invented
            assert state(sup, "alc") == ("fault", "disconnected")
            await wait_until(lambda: sup._runners["alc"].attempts >= 3, 5, "retries")
            assert state(sup, "alc") == ("fault", "disconnected")  # still says why, while retrying
            counts = sup.health()["alc"]["error_counts"]
            assert counts["disconnected"] == 1 and counts["not_responding"] >= 2  # each failure counted once
            port2, sim2 = sim_on(link, seed=5)  # cable plugged back in
            try:
                async with running(sim2.run()):
                    await wait_until(lambda: state(sup, "alc")[0] == "ok", 5, "reconnect")
                    r = await sup.measure("alcotester")
                    assert r.brac_mg_l == float(sim2.results[0].brac_mg_l)
            finally:
                port2.close()

    run_async(go())


def test_garbage_before_every_line_still_measures(tmp_path):
    link = str(tmp_path / "ttyALC")

    async def go():
        port, sim = sim_on(link, "garbage")
        try:
            async with running(sim.run()), supervised([alcotester(link)]) as sup:
                r = await sup.measure("alcotester")
                assert r.brac_mg_l == float(sim.results[0].brac_mg_l)
                assert state(sup, "alc") == ("ok", "ok")
        finally:
            port.close()

    run_async(go())


def test_bad_checksums_are_a_protocol_fault_and_no_reading(tmp_path):
    link = str(tmp_path / "ttyALC")

    async def go():
        port, sim = sim_on(link, "bad-checksum")
        try:
            async with running(sim.run()), supervised([alcotester(link)]) as sup:
                assert state(sup, "alc") == ("fault", "protocol_error")
                assert "данные не распознаются" in sup.health()["alc"]["message_ru"]  # the bridge message, reused
                with pytest.raises(DeviceProtocolError):
                    await sup.measure("alcotester", timeout=1)
        finally:
            port.close()

    run_async(go())


@pytest.mark.parametrize("code,name", [("E01", "INSUFFICIENT_VOLUME"), ("E08", "MOUTH_ALCOHOL_SUSPECTED")])
def test_device_error_code_is_raised_and_device_stays_ok(tmp_path, code, name):
    link = str(tmp_path / "ttyALC")

    async def go():
        port, sim = sim_on(link, "device-error", plan_kw={"error_code": code})
        try:
            async with running(sim.run()), supervised([alcotester(link)]) as sup:
                with pytest.raises(DeviceReportedError) as exc:
                    await sup.measure("alcotester")
                assert exc.value.code == code and exc.value.details["error_name"] == name
                from firmware_bridges.serial.alcotester import ERROR_MESSAGES

                assert (exc.value.message_ru, exc.value.message_en) == ERROR_MESSAGES[code]  # reused
                h = sup.health()["alc"]
                assert h["state"] == "ok" and h["last_error"]["code"] == code and h["error_counts"][code] == 1
        finally:
            port.close()

    run_async(go())


def test_calibration_overdue_is_a_device_fault(tmp_path):
    link = str(tmp_path / "ttyALC")

    async def go():
        port, sim = sim_on(link, cal_due="2020-01-01")
        try:
            async with running(sim.run()), supervised([alcotester(link)]) as sup:
                assert state(sup, "alc") == ("fault", "E06")
                assert "калибровка" in sup.health()["alc"]["message_ru"]
                with pytest.raises(DeviceReportedError) as exc:
                    await sup.measure("alcotester", timeout=1)
                assert exc.value.code == "E06"
        finally:
            port.close()

    run_async(go())


def test_implausible_value_is_rejected_not_returned(tmp_path):
    link = str(tmp_path / "ttyALC")

    async def go():
        port, sim = sim_on(link, "implausible")
        try:
            async with running(sim.run()), supervised([alcotester(link)]) as sup:
                with pytest.raises(ImplausibleReading) as exc:
                    await sup.measure("alcotester")
                assert exc.value.details["field"] == "brac_mg_l" and exc.value.details["value"] == 9.999
                h = sup.health()["alc"]
                assert h["state"] == "ok" and h["last_error"]["code"] == "implausible" and h["last_reading_at"] is None
        finally:
            port.close()

    run_async(go())


def test_device_that_never_answers(tmp_path):
    link = str(tmp_path / "ttyALC")

    async def go():
        port, sim = sim_on(link, "silent")
        try:
            async with running(sim.run()), supervised([alcotester(link)]) as sup:
                assert state(sup, "alc") == ("fault", "not_responding")
                with pytest.raises(DeviceNotResponding):
                    await sup.measure("alcotester", timeout=0.5)
                assert sup._runners["alc"].attempts >= 1
        finally:
            port.close()

    run_async(go())


def test_clock_drift_is_flagged_and_resynced(tmp_path):
    link = str(tmp_path / "ttyALC")

    async def go():
        port, sim = sim_on(link, "clock-drift", plan_kw={"drift_s": 300})
        try:
            async with running(sim.run()), supervised([alcotester(link)]) as sup:
                r = await sup.measure("alcotester")
                assert r.status["device_clock_skew_s"] > 250 and r.status["device_clock_resynced"] is True
                assert r.received_at < r.device_time  # the kiosk's own time is kept
                warnings = {w["code"]: w for w in sup.health()["alc"]["warnings"]}
                assert "clock_drift" in warnings and "часы устройства" in warnings["clock_drift"]["message_ru"]
                assert sup.health()["alc"]["state"] == "ok"
        finally:
            port.close()

    run_async(go())
