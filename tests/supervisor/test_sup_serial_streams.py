"""Badge reader, PMS5003 and printer port end to end: simulator on a real pty →
SerialTransport → bridge → DeviceSupervisor, with the faults of the issue list."""

from __future__ import annotations

import asyncio

import pytest

from edge_agent.devices import environment_to_telemetry
from firmware_bridges.contract import TelemetryBody
from simulators.serial.faults import FaultPlan
from simulators.serial.pty import PtyPort
from simulators.serial.streams import BadgeSim, BadgeSimConfig, PmsSim, PmsSimConfig
from tests.supervisor.sup_helpers import (
    badge,
    check_health_contract,
    declare,
    particulate,
    run_async,
    running,
    state,
    supervised,
    wait_until,
)

pytestmark = pytest.mark.timeout(60)

A, B = 6102437, 12345678


def badge_sim(link, cards, faults="", rate=1.0, after=2, **cfg):
    port = PtyPort(link)
    cfg.setdefault("time_scale", 0.02)
    return port, BadgeSim(port, BadgeSimConfig(cards=cards, seed=1, **cfg), FaultPlan.parse(faults, seed=1, rate=rate, after=after))


async def drain(q: asyncio.Queue, n: int, timeout: float = 5.0) -> list:
    out = []
    async with asyncio.timeout(timeout):
        while len(out) < n:
            out.append(await q.get())
    return out


# --------------------------------------------------------------------------- badge


def test_badge_reads_are_debounced(tmp_path):
    link = str(tmp_path / "ttyBADGE")

    async def go():
        # A, B, A with 60 ms between workers; each card repeated 3x while held
        port, sim = badge_sim(link, [A, B, A], count=3, gap_s=3.0)
        try:
            async with supervised([badge(link, debounce_s=3.0)]) as sup, running(sim.run()) as task:
                assert state(sup, "badge") == ("ok", "ok")
                await task
                await asyncio.sleep(0.1)
                q = sup.badge_reads()
                got = [q.get_nowait().card_id for _ in range(q.qsize())]
                assert got == ["0006102437", "0012345678"]  # the second A came within 3 s: once
                assert sup.health()["badge"]["last_reading_at"] is not None
        finally:
            port.close()

    run_async(go())


def test_badge_same_card_after_the_window_counts_again(tmp_path):
    link = str(tmp_path / "ttyBADGE")

    async def go():
        port, sim = badge_sim(link, [A, B, A], count=3, gap_s=5.0)  # 100 ms between workers
        try:
            async with supervised([badge(link, debounce_s=0.05)]) as sup, running(sim.run()):
                got = [r.card_id for r in await drain(sup.badge_reads(), 3)]
                assert got == ["0006102437", "0012345678", "0006102437"]
        finally:
            port.close()

    run_async(go())


@pytest.mark.parametrize("fault", ["garbage", "bad-checksum"])
def test_badge_garbage_and_bad_checksums_invent_no_card(tmp_path, fault):
    link = str(tmp_path / "ttyBADGE")

    async def go():
        cards = [A, B, 777, 4242]
        port, sim = badge_sim(link, cards, fault, rate=0.5, count=4, gap_s=5.0, repeats=4)
        try:
            async with supervised([badge(link, debounce_s=0.05)]) as sup, running(sim.run()) as task:
                await task
                await asyncio.sleep(0.1)
                q = sup.badge_reads()
                got = [q.get_nowait().card_id for _ in range(q.qsize())]
                assert got and set(got) <= {f"{c:010d}" for c in cards}
                assert state(sup, "badge") == ("ok", "ok")
        finally:
            port.close()

    run_async(go())


def test_badge_disconnect_then_recovery(tmp_path):
    link = str(tmp_path / "ttyBADGE")

    async def go():
        port, sim = badge_sim(link, [A], "disconnect", after=1, count=1, gap_s=1.0)
        async with supervised([badge(link)]) as sup, running(sim.run()) as task:
            await task
            await wait_until(lambda: state(sup, "badge") == ("fault", "disconnected"), 3, "disconnect")
            assert "отключился" in sup.health()["badge"]["message_ru"]
            assert (await drain(sup.badge_reads(), 1))[0].card_id == "0006102437"
            port2, sim2 = badge_sim(link, [B], count=1, gap_s=5.0)
            try:
                async with running(sim2.run()):
                    await wait_until(lambda: state(sup, "badge") == ("ok", "ok"), 5, "recovery")
                    assert (await drain(sup.badge_reads(), 1))[0].card_id == "0012345678"
            finally:
                port2.close()

    run_async(go())


def test_badge_reader_absent_at_start(tmp_path):
    async def go():
        async with supervised([badge(str(tmp_path / "nope"))]) as sup:
            assert state(sup, "badge") == ("fault", "not_responding")
            assert sup.health()["badge"]["message_ru"] == "Считыватель пропусков не найден: проверьте кабель считывателя"
            assert sup.badge_reads().empty()

    run_async(go())


# --------------------------------------------------------------------------- PMS5003


def pms_sim(link, faults="", rate=1.0, after=2, **cfg):
    port = PtyPort(link)
    cfg.setdefault("time_scale", 0.02)
    return port, PmsSim(port, PmsSimConfig(seed=2, **cfg), FaultPlan.parse(faults, seed=2, rate=rate, after=after))


def collector(sup):
    got: list = []
    sup.on_environment(lambda name, r: got.append((name, r)))
    return got


def test_particulate_end_to_end_to_telemetry(tmp_path):
    link = str(tmp_path / "ttyPMS")

    async def go():
        port, sim = pms_sim(link)
        try:
            async with running(sim.run()), supervised([particulate(link)]) as sup:
                got = collector(sup)
                await wait_until(lambda: len(got) >= 3, 5, "3 readings")
                assert state(sup, "pm") == ("ok", "ok")
                sent = [(f.pm1_0_atm, f.pm2_5_atm, f.pm10_atm) for f in sim.sent]
                for name, r in got:
                    assert name == "pm" and (r.pm1_0_ugm3, r.pm2_5_ugm3, r.pm10_ugm3) in sent
                body = environment_to_telemetry(got, sup.zones())
                TelemetryBody.model_validate(body)
                assert body["readings"][0]["zone"] == "gate-1" and body["readings"][0]["sensor_id"] == "pm"
                check_health_contract(sup)
        finally:
            port.close()

    run_async(go())


def test_particulate_garbage_is_skipped(tmp_path):
    link = str(tmp_path / "ttyPMS")

    async def go():
        port, sim = pms_sim(link, "garbage")
        try:
            async with running(sim.run()), supervised([particulate(link)]) as sup:
                got = collector(sup)
                await wait_until(lambda: len(got) >= 3, 5, "readings")
                sent = {f.pm2_5_atm for f in sim.sent}
                assert all(r.pm2_5_ugm3 in sent for _n, r in got)
                assert state(sup, "pm") == ("ok", "ok")
        finally:
            port.close()

    run_async(go())


def test_particulate_bad_checksums_are_a_protocol_fault(tmp_path):
    link = str(tmp_path / "ttyPMS")

    async def go():
        port, sim = pms_sim(link, "bad-checksum", time_scale=0.002)
        try:
            async with running(sim.run()), supervised([particulate(link)]) as sup:
                got = collector(sup)
                await wait_until(lambda: state(sup, "pm") == ("fault", "protocol_error"), 5, "protocol fault")
                assert got == []  # not one reading from a corrupted frame
        finally:
            port.close()

    run_async(go())


def test_particulate_silent_is_not_responding(tmp_path):
    link = str(tmp_path / "ttyPMS")

    async def go():
        port, sim = pms_sim(link, "silent")
        try:
            async with running(sim.run()), supervised([particulate(link)]) as sup:
                await wait_until(lambda: state(sup, "pm") == ("fault", "not_responding"), 3, "not responding")
                assert "Датчик пыли не присылает данных" in sup.health()["pm"]["message_ru"]
        finally:
            port.close()

    run_async(go())


def test_particulate_implausible_values_are_kept_invalid_and_reported(tmp_path):
    link = str(tmp_path / "ttyPMS")

    async def go():
        port, sim = pms_sim(link, "implausible")
        try:
            async with running(sim.run()), supervised([particulate(link)]) as sup:
                got = collector(sup)
                await wait_until(lambda: len(got) >= 2, 5, "readings")
                for _n, r in got:  # values withheld, reasons kept: nothing invented, nothing lost
                    assert r.pm2_5_ugm3 is None and "implausible" in r.invalid["pm2_5_ugm3"]
                assert state(sup, "pm") == ("fault", "implausible")
                body = environment_to_telemetry(got, sup.zones())
                assert body["readings"][0]["values"]["pm2_5_ugm3"] is None and body["readings"][0]["invalid"]
        finally:
            port.close()

    run_async(go())


def test_particulate_disconnect_then_recovery(tmp_path):
    link = str(tmp_path / "ttyPMS")

    async def go():
        port, sim = pms_sim(link, "disconnect", after=2)
        async with running(sim.run()), supervised([particulate(link)]) as sup:
            got = collector(sup)
            await wait_until(lambda: state(sup, "pm") == ("fault", "disconnected"), 5, "disconnect")
            port2, sim2 = pms_sim(link)
            try:
                async with running(sim2.run()):
                    await wait_until(lambda: state(sup, "pm") == ("ok", "ok"), 5, "recovery")
                    await wait_until(lambda: len(got) >= 3, 5, "readings after recovery")
            finally:
                port2.close()

    run_async(go())


# --------------------------------------------------------------------------- printer (port presence)


def test_printer_port_presence(tmp_path):
    link = str(tmp_path / "lp0")

    async def go():
        decl = declare("printer", "printer", "serial", path=link, check_interval_s=0.1)
        async with supervised([decl]) as sup:
            assert state(sup, "printer") == ("fault", "not_responding")
            assert sup.health()["printer"]["message_ru"].startswith("Принтер не найден")
            port = PtyPort(link)  # the printer is plugged in
            await wait_until(lambda: state(sup, "printer") == ("ok", "ok"), 5, "printer found")
            assert sup.device_for("printer") == "printer"
            port.close()  # unplugged
            await wait_until(lambda: state(sup, "printer") == ("fault", "disconnected"), 5, "unplugged")
            assert sup.device_for("printer") is None

    run_async(go())
