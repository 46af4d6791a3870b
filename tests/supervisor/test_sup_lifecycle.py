"""The supervisor as a whole: every device kind at once, start/stop hygiene, absent
devices, disabled devices, callbacks that fail, and the measure() contract."""

from __future__ import annotations

import asyncio
import json

import pytest

from edge_agent.devices import DeviceSupervisor
from edge_agent.devices.config import KIND_RULES
from firmware_bridges.devices import DeviceConfigError, DeviceNotResponding
from simulators.ble.bleak_bumble import BumbleClient, BumbleScanner
from simulators.modbus.server import ModbusDeviceSim, ModbusSimConfig, free_tcp_port
from simulators.serial.alcotester import AlcotesterSim, AlcotesterSimConfig
from simulators.serial.pty import PtyPort
from simulators.serial.streams import BadgeSim, BadgeSimConfig, PmsSim, PmsSimConfig
from tests.supervisor.sup_helpers import (
    alcotester,
    badge,
    check_health_contract,
    declare,
    modbus,
    particulate,
    run_async,
    running,
    state,
    supervised,
    wait_until,
)
from tests.supervisor.test_sup_ble import ble_world
from tests.supervisor.test_sup_ble import decl as ble_decl

pytestmark = pytest.mark.timeout(60)


def test_every_device_kind_at_once(tmp_path):
    """One kiosk: 3 BLE + alcotester + badge + PMS5003 + printer on ptys + noise + smoke on Modbus."""

    async def go():
        ports = {k: PtyPort(str(tmp_path / k)) for k in ("alc", "badge", "pm", "lp0")}
        alc = AlcotesterSim(ports["alc"], AlcotesterSimConfig(seed=1, time_scale=0.002))
        bdg = BadgeSim(ports["badge"], BadgeSimConfig(cards=[6102437], count=1, gap_s=5.0, time_scale=0.02, seed=1))
        pms = PmsSim(ports["pm"], PmsSimConfig(time_scale=0.02, seed=1))
        noise, smoke = ModbusDeviceSim(ModbusSimConfig(seed=1)), ModbusDeviceSim(ModbusSimConfig(kind="smoke", seed=1))
        nh, np_ = await noise.start_tcp()
        sh, sp = await smoke.start_tcp()
        decls = [
            ble_decl("thermometer"), ble_decl("bp_cuff"), ble_decl("plx-spot"),
            alcotester(str(tmp_path / "alc")), badge(str(tmp_path / "badge")), particulate(str(tmp_path / "pm")),
            modbus("noise", nh, np_), modbus("smoke", sh, sp),
            declare("printer", "printer", "serial", path=str(tmp_path / "lp0")),
        ]
        assert {d.kind for d in decls} == set(KIND_RULES)
        try:
            async with ble_world() as w:
                for case in ("thermometer", "bp_cuff", "plx-spot"):
                    await w.add(case)
                async with running(alc.run()), running(bdg.run()), running(pms.run()):
                    async with supervised(decls, ble_backend=(BumbleScanner, BumbleClient), ble_presence_s=0.5) as sup:
                        env: list = []
                        sup.on_environment(lambda n, r: env.append(n))
                        await wait_until(lambda: all(h["state"] == "ok" for h in sup.health().values()), 10, "all ok")
                        for kind in KIND_RULES:
                            assert sup.device_for(kind) is not None, kind
                        results = await asyncio.gather(*(sup.measure(k) for k in ("thermometer", "bp_cuff", "oximeter", "alcotester")))
                        assert [r.device.kind for r in results] == ["thermometer", "bp_cuff", "oximeter", "alcotester"]
                        card = await asyncio.wait_for(sup.badge_reads().get(), 5)
                        assert card.card_id == "0006102437"
                        await wait_until(lambda: {"pm", "noise", "smoke"} <= set(env), 5, "environment readings")
                        health = check_health_contract(sup)
                        assert len(health) == 9
        finally:
            for p in ports.values():
                p.close()
            await noise.stop()
            await smoke.stop()

    run_async(go())


def test_start_with_everything_absent_never_raises_and_stop_cleans_up(tmp_path):
    async def go():
        decls = [
            alcotester(str(tmp_path / "a")), badge(str(tmp_path / "b")), particulate(str(tmp_path / "p")),
            modbus("noise", "127.0.0.1", free_tcp_port()), modbus("smoke", "127.0.0.1", free_tcp_port()),
            ble_decl("thermometer"),
        ]
        sup = DeviceSupervisor(decls, ble_backend=(BumbleScanner, BumbleClient), start_timeout_s=2.0, ble_presence_s=0.3)
        await sup.start()
        try:
            await wait_until(lambda: all(h["state"] == "fault" for h in sup.health().values()), 3, "all faults")
            health = check_health_contract(sup)
            assert {h["code"] for h in health.values()} <= {"not_responding", "adapter_unavailable"}
            assert all(sup.device_for(k) is None for k in KIND_RULES)
            await asyncio.sleep(0.3)  # retries keep going without crashing anything
            assert all(r.attempts >= 2 for n, r in sup._runners.items() if n != "thermometer")
        finally:
            await sup.stop()
        assert sup._tasks == []

    run_async(go())


def test_disabled_device_and_measure_contract(tmp_path):
    async def go():
        decls = [alcotester(str(tmp_path / "a"), enabled=False), badge(str(tmp_path / "b"))]
        async with supervised(decls) as sup:
            assert state(sup, "alc") == ("disabled", "disabled")
            assert "отключён в настройках" in sup.health()["alc"]["message_ru"]
            assert len(sup._tasks) == 1  # a disabled device is not opened
            with pytest.raises(DeviceConfigError) as exc:
                await sup.measure("alcotester")
            assert exc.value.code == "disabled"
            with pytest.raises(DeviceConfigError) as exc:
                await sup.measure("thermometer")  # nothing declared
            assert exc.value.message_ru and exc.value.details["reason"] == "no thermometer is declared"
            with pytest.raises(DeviceConfigError):
                await sup.measure("badge_reader")  # a streaming device is not measured on demand
            assert sup.device_for("printer") is None

    run_async(go())


def test_measure_on_a_faulted_device_raises_its_fault(tmp_path):
    async def go():
        async with supervised([alcotester(str(tmp_path / "a"))]) as sup:
            with pytest.raises(DeviceNotResponding) as exc:
                await sup.measure("alcotester", timeout=0.3)
            assert exc.value.message_ru == sup.health()["alc"]["message_ru"]

    run_async(go())


def test_duplicate_names_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unique"):
        DeviceSupervisor([badge(str(tmp_path / "a")), badge(str(tmp_path / "b"))])


def test_failing_callbacks_do_not_stop_supervision_and_health_changes_are_reported(tmp_path):
    link = str(tmp_path / "ttyPMS")

    async def go():
        port = PtyPort(link)
        sim = PmsSim(port, PmsSimConfig(time_scale=0.02, seed=3))
        changes: list = []
        good: list = []
        try:
            sup = DeviceSupervisor([particulate(link)], start_timeout_s=2.0)
            sup.on_health(lambda name, entry: changes.append((name, entry["state"], entry["code"])))
            sup.on_health(lambda name, entry: 1 / 0)
            sup.on_environment(lambda name, r: 1 / 0)
            sup.on_environment(lambda name, r: good.append(r))
            async with running(sim.run()):
                await sup.start()
                try:
                    await wait_until(lambda: len(good) >= 3, 5, "readings despite a failing callback")
                    assert ("pm", "ok", "ok") in changes
                    port.close()
                    await wait_until(lambda: state(sup, "pm") == ("fault", "disconnected"), 5, "disconnect")
                    assert changes[-1] == ("pm", "fault", "disconnected")
                    json.dumps(changes)
                finally:
                    await sup.stop()
        finally:
            port.close()

    run_async(go())


def test_expired_verification_is_a_warning(tmp_path):
    async def go():
        d = badge(str(tmp_path / "b"), identity={"model": "RDM6300", "serial": "1", "verified_until": "2020-01-31"})
        async with supervised([d]) as sup:
            warnings = {w["code"]: w for w in sup.health()["badge"]["warnings"]}
            assert "2020-01-31" in warnings["verification_expired"]["message_ru"]

    run_async(go())
