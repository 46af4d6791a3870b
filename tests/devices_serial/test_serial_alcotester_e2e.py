"""Alcotester end to end: simulator on a real pty → SerialTransport → driver → Reading."""

from __future__ import annotations

import asyncio
import os

import pytest

from firmware_bridges.devices import (
    DeviceDisconnected,
    DeviceNotResponding,
    DeviceProtocolError,
    DeviceReportedError,
    ImplausibleReading,
)
from firmware_bridges.serial.drivers import AlcotesterDriver
from simulators.serial.alcotester import AlcotesterSim, AlcotesterSimConfig
from simulators.serial.faults import FaultPlan
from simulators.serial.pty import PtyPort
from tests.devices_serial.devserial_helpers import alc_cfg, running

pytestmark = pytest.mark.timeout(30)

FAST = dict(time_scale=0.002)


def run(coro):
    return asyncio.run(coro)


async def _measure(faults="", sim_kw=None, cfg_kw=None, n=1, plan_kw=None):
    port = PtyPort()
    sim = AlcotesterSim(port, AlcotesterSimConfig(seed=3, **{**FAST, **(sim_kw or {})}), FaultPlan.parse(faults, seed=3, **(plan_kw or {})))
    results = []
    try:
        async with running(sim.run()):
            async with AlcotesterDriver(alc_cfg(port.path, **(cfg_kw or {}))) as d:
                for _ in range(n):
                    results.append(await d.measure(subject_ref="badge:0006102437"))
    finally:
        port.close()
    return sim, results


def test_full_test_reads_back_what_the_simulator_encoded():
    sim, rs = run(_measure(n=3, sim_kw={"intoxicated_share": 0.5}))
    assert len(rs) == len(sim.results) == 3
    for r, res in zip(rs, sim.results, strict=True):
        assert r.brac_mg_l == float(res.brac_mg_l)
        assert r.status["test_id"] == res.test_id
        assert r.status["blood_breath_ratio"] == "2000:1"
        assert r.device.model == "SIM-ALC" and r.device.verified_until == "2099-12-31"
        assert r.received_at.tzinfo is not None and abs(r.status["device_clock_skew_s"]) < 3


def test_events_are_reported():
    async def go():
        port = PtyPort()
        sim = AlcotesterSim(port, AlcotesterSimConfig(seed=1, **FAST))
        events = []
        try:
            async with running(sim.run()):
                async with AlcotesterDriver(alc_cfg(port.path)) as d:
                    await d.measure(on_event=lambda e: events.append((e.event, e.value)))
        finally:
            port.close()
        return events

    ev = run(go())
    assert ev[0][0] == "WARMUP" and ("BLOW", None) in ev and ("BLOW_PROGRESS", 100) in ev and ev[-1] == ("ANALYZING", None)


@pytest.mark.parametrize("code", ["E01", "E07", "E08"])
def test_device_error_codes_raise_typed_error(code):
    with pytest.raises(DeviceReportedError) as ei:
        run(_measure("device-error", plan_kw={"error_code": code}))
    e = ei.value
    assert e.code == code and e.message_ru and e.message_en
    assert e.details["error_name"] == {"E01": "INSUFFICIENT_VOLUME", "E07": "NO_BLOW_TIMEOUT", "E08": "MOUTH_ALCOHOL_SUSPECTED"}[code]


def test_not_ready_is_reported_at_arm_time():
    with pytest.raises(DeviceReportedError) as ei:
        run(_measure("device-error", plan_kw={"error_code": "E11"}))
    assert ei.value.code == "E11" and "not ready" in ei.value.message_en


def test_calibration_overdue():
    with pytest.raises(DeviceReportedError) as ei:
        run(_measure(sim_kw={"cal_due": "2020-01-01"}))
    assert ei.value.code == "E06" and "calibration" in ei.value.message_en.lower()


def test_silent_device_is_not_responding():
    with pytest.raises(DeviceNotResponding) as ei:
        run(_measure("silent"))
    assert "не отвечает" in ei.value.message_ru and "not responding" in ei.value.message_en


def test_disconnect_mid_measurement():
    with pytest.raises(DeviceDisconnected):
        run(_measure("disconnect", plan_kw={"after": 3}))


def test_bad_checksum_never_yields_a_reading():
    with pytest.raises((DeviceProtocolError, DeviceNotResponding)):
        run(_measure("bad-checksum"))


def test_garbage_before_every_line_is_survived():
    # random bytes before every line: the driver resyncs on '$', checksums reject the rest
    sim, rs = run(_measure("garbage", n=2))
    assert [r.brac_mg_l for r in rs] == [float(x.brac_mg_l) for x in sim.results]


def test_garbage_on_own_line_recovers():
    async def go():
        port = PtyPort()
        sim = AlcotesterSim(port, AlcotesterSimConfig(seed=1, **FAST))
        orig = sim._send

        def noisy(raw):  # garbage terminated by CRLF between every line
            port.write(b"\x00\xffGARBAGE\x13\r\n")
            orig(raw)

        sim._send = noisy
        try:
            async with running(sim.run()):
                async with AlcotesterDriver(alc_cfg(port.path)) as d:
                    r = await d.measure()
                    return sim, r, d.bad_frames
        finally:
            port.close()

    sim, r, bad = run(go())
    assert r.brac_mg_l == float(sim.results[0].brac_mg_l) and bad > 0


def test_implausible_value_rejected():
    with pytest.raises(ImplausibleReading) as ei:
        run(_measure("implausible"))
    assert ei.value.details["field"] == "brac_mg_l"


def test_clock_drift_is_recorded_and_resynced():
    sim, rs = run(_measure("clock-drift", n=2, plan_kw={"drift_s": 300}))
    assert rs[0].status["device_clock_skew_s"] > 250 and rs[0].status["device_clock_resynced"] is True
    # after the TIME resync the next test drifts only by one step, not two
    assert rs[1].status["device_clock_skew_s"] < 350
    assert rs[0].received_at < rs[0].device_time  # the kiosk's time is kept separately


def test_missing_port_is_not_responding(tmp_path):
    async def go():
        async with AlcotesterDriver(alc_cfg(str(tmp_path / "nope"))):
            pass

    with pytest.raises(DeviceNotResponding):
        run(go())


def test_pty_and_link_are_cleaned_up(tmp_path):
    link = str(tmp_path / "ttyALC")
    port = PtyPort(link)
    assert os.path.islink(link)
    port.close()
    assert not os.path.exists(link)


def test_no_descriptor_leak_across_runs():
    def fds():
        return len(os.listdir("/proc/self/fd"))

    run(_measure())  # warm up lazy imports / loop resources
    before = fds()
    for faults in ("", "disconnect", "silent", "garbage"):
        try:
            run(_measure(faults, plan_kw={"after": 3}))
        except Exception:
            pass
    assert fds() == before


def test_transport_executor_fallback_with_pyserial_url():
    """Ports without a file descriptor (pyserial URLs) use the executor path."""
    from firmware_bridges.devices import SerialSettings
    from firmware_bridges.serial.transport import SerialTransport

    async def go():
        async with SerialTransport(SerialSettings(port="loop://"), kind="alcotester") as t:
            assert t._fd is None
            await t.write(b"$ALACK,1,OK*46\r\n")
            data = b""
            while not data.endswith(b"\n"):
                data += await t.read(timeout=1)
            with pytest.raises(TimeoutError):
                await t.read(timeout=0.1)
            return data

    assert run(go()) == b"$ALACK,1,OK*46\r\n"
