"""Noise transmitter and smoke detector end to end: pymodbus simulator (RTU over TCP, and
RTU on a socat pty) → pymodbus client → poller → DeviceSupervisor, with faults."""

from __future__ import annotations

import shutil

import pytest

from edge_agent.devices import EnvironmentLimits, environment_alarm, environment_to_telemetry
from firmware_bridges.contract import EventBody, TelemetryBody
from simulators.modbus.server import ModbusDeviceSim, ModbusSimConfig, free_tcp_port
from simulators.serial.faults import FaultPlan
from tests.supervisor.sup_helpers import declare, modbus, run_async, state, supervised, wait_until

pytestmark = pytest.mark.timeout(60)


def sim(kind="noise", faults="", **plan_kw) -> ModbusDeviceSim:
    return ModbusDeviceSim(ModbusSimConfig(kind=kind, seed=4), FaultPlan.parse(faults, seed=4, **plan_kw))


def collector(sup):
    got: list = []
    sup.on_environment(lambda name, r: got.append((name, r)))
    return got


def test_noise_end_to_end_readings_telemetry_and_alarm():
    async def go():
        s = sim()
        try:
            host, port = await s.start_tcp()
            async with supervised([modbus("noise", host, port)]) as sup:
                got = collector(sup)
                await wait_until(lambda: len(got) >= 5, 5, "noise readings")
                assert state(sup, "noise") == ("ok", "ok")
                served = [round(h[0] * 0.1, 3) for h in s.history]
                values = [r.noise_dba for _n, r in got]  # exactly what was served, in order (the
                k = served.index(values[0])              # first poll ran before the callback was added)
                assert values == served[k : k + len(values)] and k <= 1
                TelemetryBody.model_validate(environment_to_telemetry(got, sup.zones()))
                limits = EnvironmentLimits()
                for name, r in got:
                    ev = environment_alarm(name, r, limits, zone="shop-3")
                    if r.noise_dba > 80.0:
                        assert EventBody.model_validate(ev).type == "noise_over_limit" and ev["zone"] == "shop-3"
                    else:
                        assert ev is None
        finally:
            await s.stop()

    run_async(go())


def test_smoke_alarm_register_becomes_an_alarm_event():
    async def go():
        s = sim("smoke")
        try:
            host, port = await s.start_tcp()
            async with supervised([modbus("smoke", host, port)]) as sup:
                got = collector(sup)
                await wait_until(lambda: len(got) >= 2, 5, "smoke readings")
                assert all(r.status["alarm"] is False for _n, r in got)
                assert all(environment_alarm(n, r, {}) is None for n, r in got)
                s.smoke_level = 6.0  # smoke: the detector sets its alarm register
                await wait_until(lambda: got[-1][1].status["alarm"] is True, 5, "alarm")
                ev = environment_alarm("smoke", got[-1][1], EnvironmentLimits())
                assert ev["type"] == "smoke_alarm" and ev["severity"] == "critical" and ev["details"]["by"] == "alarm_register"
                assert state(sup, "smoke") == ("ok", "ok")  # the detector works: it is reporting smoke
        finally:
            await s.stop()

    run_async(go())


def test_smoke_detector_fault_bit_fails_closed():
    async def go():
        s = sim("smoke")
        try:
            host, port = await s.start_tcp()
            # a module reporting 0 = fault on the fault register (polarity is configuration, §5.2)
            d = modbus("smoke", host, port, options={"fault": {"function": 3, "address": 2, "datatype": "bool", "alarm_when": 0}})
            async with supervised([d]) as sup:
                got = collector(sup)
                await wait_until(lambda: len(got) >= 1, 5, "reading")
                assert state(sup, "smoke") == ("fault", "detector_fault")
                assert "состояние тревоги неизвестно" in sup.health()["smoke"]["message_ru"]
                r = got[0][1]
                assert r.status["alarm"] is None and r.smoke_obscuration_pct_ft is None
                ev = environment_alarm("smoke", r, EnvironmentLimits())
                assert ev["type"] == "smoke_state_unknown" and ev["severity"] == "alarm"
        finally:
            await s.stop()

    run_async(go())


@pytest.mark.parametrize("kind", ["noise", "smoke"])
def test_exception_reply_is_a_fault_and_polling_goes_on(kind):
    async def go():
        s = sim(kind, "device-error", error_code="2")
        try:
            host, port = await s.start_tcp()
            async with supervised([modbus(kind, host, port)]) as sup:
                got = collector(sup)
                await wait_until(lambda: sup.health()[kind]["error_counts"].get("modbus_exception_2", 0) >= 3, 5, "polls")
                assert state(sup, kind) == ("fault", "modbus_exception_2")
                assert "карту регистров" in sup.health()[kind]["message_ru"]
                assert got == [] and sup._runners[kind].attempts == 1  # the link stayed up
        finally:
            await s.stop()

    run_async(go())


@pytest.mark.parametrize("fault", ["bad-checksum", "garbage"])
def test_garbled_replies_are_a_protocol_fault(fault):
    async def go():
        s = sim("noise", fault)
        try:
            host, port = await s.start_tcp()
            async with supervised([modbus("noise", host, port)]) as sup:
                got = collector(sup)
                await wait_until(lambda: state(sup, "noise") == ("fault", "protocol_error"), 5, "protocol fault")
                assert got == []
        finally:
            await s.stop()

    run_async(go())


def test_silent_smoke_detector_alarm_state_unknown():
    async def go():
        s = sim("smoke", "silent")
        try:
            host, port = await s.start_tcp()
            async with supervised([modbus("smoke", host, port)]) as sup:
                got = collector(sup)
                await wait_until(lambda: state(sup, "smoke") == ("fault", "not_responding"), 5, "not responding")
                h = sup.health()["smoke"]
                assert "состояние тревоги неизвестно" in h["message_ru"] and "alarm state unknown" in h["message_en"]
                assert got == [] and sup.device_for("smoke") is None
        finally:
            await s.stop()

    run_async(go())


def test_implausible_noise_is_a_fault_and_no_reading():
    async def go():
        s = sim("noise", "implausible")
        try:
            host, port = await s.start_tcp()
            async with supervised([modbus("noise", host, port)]) as sup:
                got = collector(sup)
                await wait_until(lambda: state(sup, "noise") == ("fault", "implausible"), 5, "implausible")
                assert got == [] and sup.health()["noise"]["last_error"]["code"] == "implausible"
        finally:
            await s.stop()

    run_async(go())


def test_disconnect_then_recovery_and_absent_at_start():
    async def go():
        port = free_tcp_port()
        async with supervised([modbus("noise", "127.0.0.1", port)]) as sup:
            assert state(sup, "noise") == ("fault", "not_responding")  # nothing there yet
            s = sim("noise", "disconnect", after=3)
            await s.start_tcp(port=port)
            try:
                got = collector(sup)
                await wait_until(lambda: state(sup, "noise")[0] == "ok", 5, "appears")
                await wait_until(lambda: state(sup, "noise")[0] == "fault", 5, "server gone")
                assert state(sup, "noise")[1] in ("disconnected", "not_responding")
                n = len(got)
                assert 1 <= n <= 4
            finally:
                await s.stop()
            s2 = sim("noise")
            await s2.start_tcp(port=port)
            try:
                await wait_until(lambda: state(sup, "noise") == ("ok", "ok"), 5, "recovery")
                await wait_until(lambda: len(got) >= n + 2, 5, "readings again")
            finally:
                await s2.stop()

    run_async(go())


@pytest.mark.skipif(not shutil.which("socat"), reason="socat not installed")
def test_noise_over_rtu_on_a_socat_pty():
    async def go():
        s = sim("noise")
        try:
            path = await s.start_serial()
            d = declare("noise-rtu", "noise", "modbus-rtu", path=path, baudrate=9600, unit_id=1, zone="shop-3",
                        options={"poll_interval_s": 0.05, "timeout_s": 1.0})
            async with supervised([d]) as sup:
                got = collector(sup)
                await wait_until(lambda: len(got) >= 2, 5, "readings")
                served = {round(h[0] * 0.1, 3) for h in s.history}
                assert all(r.noise_dba in served for _n, r in got)
                assert state(sup, "noise-rtu") == ("ok", "ok")
        finally:
            await s.stop()

    run_async(go())
