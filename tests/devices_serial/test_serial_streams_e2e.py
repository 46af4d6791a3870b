"""Badge reader and PMS5003 end to end over real ptys, with every applicable fault."""

from __future__ import annotations

import asyncio

import pytest

from firmware_bridges.devices import DeviceDisconnected, DeviceNotResponding, DeviceProtocolError
from firmware_bridges.serial.drivers import BadgeReaderDriver, ParticulateDriver
from simulators.serial.faults import FaultPlan
from simulators.serial.pty import PtyPort
from simulators.serial.streams import BadgeSim, BadgeSimConfig, PmsSim, PmsSimConfig
from tests.devices_serial.devserial_helpers import badge_cfg, collect, collect_for, pms_cfg, running

pytestmark = pytest.mark.timeout(30)
CARDS = [6102437, 12345678, 4000000000]


def run(coro):
    return asyncio.run(coro)


async def _badge(faults="", n=3, profile="rdm6300", plan_kw=None, sim_kw=None, timeout=3.0):
    port = PtyPort()
    sim = BadgeSim(
        port,
        BadgeSimConfig(**{"profile": profile, "cards": CARDS, "gap_s": 0.05, "repeats": 3, "seed": 1, **(sim_kw or {})}),
        FaultPlan.parse(faults, seed=1, **(plan_kw or {})),
    )
    try:
        async with BadgeReaderDriver(badge_cfg(port.path, profile=profile, dedup_window_s=0.3)) as d:
            async with running(sim.run()):
                return sim, await collect(d.readings(), n, timeout)
    finally:
        port.close()


@pytest.mark.parametrize("profile", ["rdm6300", "lines"])
def test_badge_cards_deduplicated(profile):
    sim, rs = run(_badge(profile=profile))
    assert [r.card_id for r in rs] == [f"{c:010d}" for c in CARDS]  # 3 repeats each → 1 reading each
    assert all(r.device.kind == "badge_reader" and r.received_at for r in rs)


def test_badge_garbage_and_bad_checksum_recover():
    async def go():
        port = PtyPort()
        sim = BadgeSim(port, BadgeSimConfig(cards=CARDS * 3, gap_s=0.05, repeats=4, count=9, seed=5),
                       FaultPlan.parse("garbage,bad-checksum", rate=0.5, seed=5))
        try:
            async with BadgeReaderDriver(badge_cfg(port.path, dedup_window_s=0.05)) as d:
                async with running(sim.run()):
                    return d, await collect_for(d.readings(), 1.5)
        finally:
            port.close()

    d, rs = run(go())
    # corrupted repeats are dropped and a card gets through on a clean repeat; nothing invented
    assert rs and {r.card_id for r in rs} <= {f"{c:010d}" for c in CARDS}
    assert d.bad_frames > 0


def test_badge_bad_checksum_everywhere_yields_nothing():
    async def go():
        return await _badge("bad-checksum", n=1, timeout=0.8)

    with pytest.raises(asyncio.TimeoutError):
        run(go())


def test_badge_disconnect():
    with pytest.raises(DeviceDisconnected):
        run(_badge("disconnect", n=10, plan_kw={"after": 4}))


def test_badge_silent_produces_no_reading():
    with pytest.raises(asyncio.TimeoutError):
        run(_badge("silent", n=1, timeout=0.5))


async def _pms(faults="", n=3, plan_kw=None, cfg_kw=None, timeout=3.0):
    port = PtyPort()
    sim = PmsSim(port, PmsSimConfig(interval_s=0.02, seed=2), FaultPlan.parse(faults, seed=2, **(plan_kw or {})))
    try:
        async with ParticulateDriver(pms_cfg(port.path, **(cfg_kw or {}))) as d:
            async with running(sim.run()):
                return sim, await collect(d.readings(), n, timeout)
    finally:
        port.close()


def test_pms_stream_matches_encoded_frames():
    sim, rs = run(_pms(n=5))
    sent = {(f.pm1_0_atm, f.pm2_5_atm, f.pm10_atm) for f in sim.sent}
    for r in rs:
        assert (r.pm1_0_ugm3, r.pm2_5_ugm3, r.pm10_ugm3) in sent
        assert r.device.model == "PMS5003" and r.pm1_0_ugm3 <= r.pm2_5_ugm3 <= r.pm10_ugm3


def test_pms_garbage_resync():
    sim, rs = run(_pms("garbage", n=5))
    sent = [(f.pm1_0_atm, f.pm2_5_atm, f.pm10_atm) for f in sim.sent]
    assert [(r.pm1_0_ugm3, r.pm2_5_ugm3, r.pm10_ugm3) for r in rs] == sent[: len(rs)]


def test_pms_some_bad_checksums_skipped():
    sim, rs = run(_pms("bad-checksum", n=3, plan_kw={"rate": 0.5}))
    sent = {(f.pm1_0_atm, f.pm2_5_atm, f.pm10_atm) for f in sim.sent}
    assert all((r.pm1_0_ugm3, r.pm2_5_ugm3, r.pm10_ugm3) in sent for r in rs)


def test_pms_all_bad_checksums_is_protocol_error():
    with pytest.raises(DeviceProtocolError):
        run(_pms("bad-checksum", n=1, cfg_kw={"max_bad_frames": 5}))


def test_pms_implausible_marked_invalid():
    sim, rs = run(_pms("implausible", n=2))
    for r in rs:
        assert r.pm2_5_ugm3 is None and "implausible" in r.invalid["pm2_5_ugm3"]
        assert r.device_values["pm2_5_atm"] == 6000  # what the device sent is kept


def test_pms_silent_not_responding():
    with pytest.raises(DeviceNotResponding):
        run(_pms("silent", n=1, cfg_kw={"frame_timeout_s": 0.2}))


def test_pms_disconnect():
    with pytest.raises(DeviceDisconnected):
        run(_pms("disconnect", n=10, plan_kw={"after": 2}))


def test_pms_clock_drift_stream_continues():
    sim, rs = run(_pms("clock-drift", n=4))
    assert len(rs) == 4


def test_pms_passive_mode_commands():
    async def go():
        port = PtyPort()
        sim = PmsSim(port, PmsSimConfig(interval_s=0.01, seed=2))
        try:
            async with ParticulateDriver(pms_cfg(port.path, frame_timeout_s=0.3)) as d:
                async with running(sim.run()):
                    from firmware_bridges.serial import pms5003

                    await d.transport.write(pms5003.CMD_PASSIVE)
                    await asyncio.sleep(0.1)
                    d.transport.discard_input()
                    n0 = len(sim.sent)
                    await asyncio.sleep(0.1)
                    assert len(sim.sent) == n0  # passive: nothing unsolicited
                    await d.transport.write(pms5003.CMD_READ)
                    rs = await collect(d.readings(), 1, 2)
                    return rs
        finally:
            port.close()

    assert len(run(go())) == 1
