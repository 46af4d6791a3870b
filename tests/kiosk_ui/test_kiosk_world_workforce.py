"""``ohs-sim kiosk-world``: the kiosk with simulated devices and workforce, as a process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import httpx
import pytest

from simulators.kiosk_world import WarpClock
from tests.foundation.test_demo import ROOT


def test_warp_clock_runs_fast_only_while_warping():
    clock = WarpClock(speed=100)
    t0 = clock.now()
    time.sleep(0.05)
    assert clock.now() - t0 < timedelta(seconds=1)
    clock.warp(True)
    asyncio.run(clock.sleep_until(clock.now() + timedelta(seconds=10)))  # 0.1 s real
    clock.warp(False)
    t1 = clock.now()
    assert t1 - t0 >= timedelta(seconds=10)
    time.sleep(0.05)
    assert clock.now() - t1 < timedelta(seconds=1)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_kiosk_world_process_runs_exams_and_stops_cleanly(tmp_path, broker, stop_signal):
    config = tmp_path / "kiosk.toml"
    config.write_text(f"""
[identity]
site = "plant-1"
kiosk = "gate-1"
signing_key = "{tmp_path}/k/key.pem"
[mqtt]
host = "{broker.host}"
port = {broker.port}
[journal]
path = "{tmp_path}/k/journal.db"
[screen]
port = 0
""")
    proc = subprocess.Popen([sys.executable, "-m", "simulators.cli", "kiosk-world", "--config", str(config),
                             "--speed", "40", "--workers", "10"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("READY kiosk-world http://127.0.0.1:"), line + proc.stdout.read()
        url = line.split()[2]
        assert "<html" in httpx.get(url).text.lower()
        screens = set()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not {"measuring", "result"} <= screens:
            screens.add(httpx.get(url + "api/state").json()["view"]["screen"])
            time.sleep(0.05)
        assert {"measuring", "result"} <= screens, screens
        assert (tmp_path / "k" / "badge").exists()
        time.sleep(1.0)  # the worker reads the result and taps OK
    finally:
        proc.send_signal(stop_signal)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert "kiosk-world stopped: " in out and "Traceback" not in out, out
    assert "'admitted'" in out or "'not_admitted'" in out or "'needs_medic'" in out, out
    for pty in ("alc", "badge", "printer"):
        assert not os.path.lexists(tmp_path / "k" / pty), f"pty link {pty} left behind"


def test_workforce_intoxicated_worker_comes_back_for_the_retest(tmp_path, broker):
    """The devices measure the worker at the kiosk: a sober worker is admitted; an
    intoxicated one is sent to the re-test, comes back when the countdown ends (the test
    moves the clock) and is confirmed not admitted at minute ≥ 15 (rules: alcohol)."""
    from edge_agent.runtime import parse_runtime_config
    from simulators import population
    from simulators.kiosk_world import PERSON_SIMS, Workforce, device_world, roster_entry, simulation_settings
    from tests.kiosk_ui.kiosk_world import run_async

    data = {"identity": {"site": "plant-1", "kiosk": "gate-1", "signing_key": str(tmp_path / "k" / "key.pem")},
            "mqtt": {"host": broker.host, "port": broker.port},
            "journal": {"path": str(tmp_path / "k" / "journal.db")}, "screen": {"port": 0}}
    config, settings = parse_runtime_config(data, "test")
    config, settings = simulation_settings(config, settings, speed=40, directory=tmp_path / "k")
    rng = population.rng_from(7)
    sober = population.sample_worker(rng, 1, intoxicated_share=0.0, febrile_share=0.0, hypertensive_share=0.0)
    drunk = population.sample_worker(rng, 2, intoxicated_share=1.0, febrile_share=0.0, hypertensive_share=0.0)

    async def scenario():
        # a manual clock: it runs at wall speed (nothing warps it) and the test moves it past the
        # countdown itself, so a loaded machine changes no minute of the exam
        clock = WarpClock(speed=1)
        async with device_world(config, settings, clock=clock, tmp=tmp_path / "k", speed=40,
                                ble_factories=PERSON_SIMS,
                                roster=[roster_entry(w, rng) for w in (sober, drunk)]) as world:
            workforce = Workforce(world, [sober, drunk], seed=3, speed=40)
            async with httpx.AsyncClient(base_url=world.url, timeout=10) as client:
                first = await workforce.visit(client, drunk)
                assert first.outcome is None and first.retest_due is not None
                assert clock.now() < first.retest_due
                await workforce._wait_idle(client)
                ok = await workforce.visit(client, sober)
                assert ok.outcome == "admitted", (ok, world.workflow.view, world.workflow.finished[-1:])
                assert workforce._next_worker() is sober  # the re-test is not due yet: the drunk one waits
                clock.advance((first.retest_due - clock.now()).total_seconds() + 30)  # minute 15.5 or so
                assert workforce._next_worker() is drunk  # countdown ended: back to the kiosk
                await workforce._wait_idle(client)
                second = await workforce.visit(client, drunk)
                # a trace on the confirmation (the simulated analyser draws at random) asks for one more
                # test later (rule set: alcohol.trace): the worker comes back until the procedure ends
                for _ in range(3):
                    if second.outcome is not None or second.retest_due is None:
                        break
                    clock.advance((second.retest_due - clock.now()).total_seconds() + 30)
                    await workforce._wait_idle(client)
                    second = await workforce.visit(client, drunk)
            body = world.workflow.finished[-1]
            waiting = {n: (s.retest_kinds, s.retest_reason, [a.minute for a in s.attempts],
                           s.decision and [(f.rule, f.effect) for f in s.decision.fired])
                       for n, s in world.workflow.waiting.items()}
            assert body["worker"]["personnel_number"] == drunk.worker_id, (second, waiting)
            minutes = [a["minute"] for a in body["attempts"]]
            assert minutes[0] == 0 and 15 <= minutes[1] <= 20, minutes  # the confirmation, in its window
            # the confirmation decides: refused, or the medic when the second test does not confirm
            assert second.outcome == body["outcome"] and second.outcome in ("not_admitted", "needs_medic"), \
                (second, body["outcome"], body["fired"])
            # the breath-test procedure decided on the second test: confirmed (refused), not confirmed,
            # or a trace that persisted (the medic) — the simulated analyser draws the intoxicated
            # worker's values at random (lognormal around 0.35 mg/L: about one draw in ten is under
            # 0.16); another finding may decide more severely
            fired = [(f["rule"], f["effect"]) for f in body["fired"]]
            decided = {("alcohol", "not_admitted"), ("alcohol", "needs_medic"), ("alcohol.unconfirmed", "needs_medic"),
                       ("alcohol.trace", "needs_medic")}
            assert decided & set(fired), fired
            brac = [m["value"] for m in body["measurements"] if m["field"] == "brac_mg_l"]
            assert len(brac) >= 2 and brac[0] >= 0.05, brac  # the first test found alcohol
            assert {m["device_model"] for m in body["measurements"]} >= {"SIM-alc"}

    run_async(scenario(), timeout=60)


def test_workforce_answers_the_fatigue_screening_when_the_kiosk_asks_it(tmp_path, broker):
    """With the optional screening on (workflow.fatigue), a simulated worker answers each item on
    its own screen and the exam record carries the scored screening."""
    from edge_agent.runtime import parse_runtime_config
    from simulators import population
    from simulators.kiosk_world import PERSON_SIMS, Workforce, device_world, roster_entry, simulation_settings
    from tests.kiosk_ui.kiosk_world import run_async

    data = {"identity": {"site": "plant-1", "kiosk": "gate-1", "signing_key": str(tmp_path / "k" / "key.pem")},
            "mqtt": {"host": broker.host, "port": broker.port},
            "journal": {"path": str(tmp_path / "k" / "journal.db")}, "screen": {"port": 0},
            "workflow": {"fatigue": {"enabled": True, "instruments": ["kss", "phq4"]}}}
    config, settings = parse_runtime_config(data, "test")
    config, settings = simulation_settings(config, settings, speed=40, directory=tmp_path / "k")
    rng = population.rng_from(11)
    worker = population.sample_worker(rng, 1, intoxicated_share=0.0, febrile_share=0.0, hypertensive_share=0.0)

    async def scenario():
        async with device_world(config, settings, clock=WarpClock(speed=1), tmp=tmp_path / "k", speed=40,
                                ble_factories=PERSON_SIMS, roster=[roster_entry(worker, rng)]) as world:
            workforce = Workforce(world, [worker], seed=5, speed=40)
            async with httpx.AsyncClient(base_url=world.url, timeout=10) as client:
                visit = await workforce.visit(client, worker)
            assert visit.outcome is not None, world.workflow.view
            body = world.workflow.finished[-1]
            screening = body["fatigue"]
            assert [a["item"] for a in screening["answers"]] == ["kss", "phq4_1", "phq4_2", "phq4_3", "phq4_4"]
            assert set(screening["results"]) == {"kss", "phq4"}

    run_async(scenario(), timeout=60)
