"""A whole kiosk for tests: ``simulators.kiosk_world`` (the real runtime with simulated
devices speaking the real protocols — BLE cuff, thermometer and oximeter on a bumble
virtual link, the alcotester, badge reader and printer on real pseudo-terminals) with
scripted device values (a test needs "a worker at 0.45 mg/L", not a random draw), a real
mosquitto broker and (optionally) the hub in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator

from edge_agent.config import KioskConfig
from edge_agent.devices import DeviceDeclaration
from edge_agent.roster import hash_pin
from edge_agent.runtime import RuntimeSettings
from edge_agent.workflow import ManualClock
from firmware_bridges.evidence import load_or_create_key, public_key_of
from simulators.ble.devices import Faults
from simulators.kiosk_world import (
    KioskWorld,
    ScriptedCuff,
    ScriptedOximeter,
    ScriptedRng,
    ScriptedThermometer,
    declarations,
    device_world,
)
from simulators.serial.alcotester import AlcotesterSim, AlcotesterSimConfig
from simulators.serial.pty import PtyPort
from tests.async_helpers import run_async as _run_async

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-quic", "--disable-dev-shm-usage",
                 # the kiosk camera (identity photo): Chromium's fake device, permission granted
                 "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


@dataclass
class Worker:
    number: str
    name: str
    card: int
    pin: str = "1234"
    birth_date: str = "1985-04-12"
    sex: str = "M"

    def roster_entry(self, consent: bool = False) -> dict:
        entry = {"personnel_number": self.number, "full_name": self.name, "birth_date": self.birth_date,
                 "sex": self.sex, "badges": [f"{self.card:010d}"], "pin_hash": hash_pin(self.pin, iterations=1000)}
        if consent:
            entry["consent_given_at"] = "2026-01-10T08:00:00+00:00"
        return entry


IVANOV = Worker("T-1001", "Иванов Иван Петрович", 6102437)
PETROV = Worker("T-1002", "Петров Пётр Сергеевич", 7203548)
SIDOROVA = Worker("T-1003", "Сидорова Анна Викторовна", 8304659, sex="F")


@contextlib.asynccontextmanager
async def kiosk_world(tmp: Path, broker, *, cuff: list | None = None, temp: list | None = None,
                      spo2: list | None = None, brac: list | None = None, intoxicated: bool = False,
                      workers: list[Worker] = (IVANOV,), consent: bool = False, speed: float = 40.0,
                      alc_time_scale: float = 0.05, workflow: dict | None = None, hub: bool = True,
                      thermo_faults: Faults | None = None, particulate: bool = False) -> AsyncIterator[KioskWorld]:
    """The kiosk of ``simulators.kiosk_world`` with scripted device values, this test's broker
    and (``hub=True``) the hub in-process; ``ManualClock`` so tests move time themselves."""
    from hub.config import KioskKey
    from hub.service import HubService
    from tests.foundation.helpers import hub_config

    tmp.mkdir(parents=True, exist_ok=True)
    hub_service = None
    key_path = tmp / "kiosk" / "key.pem"
    if hub:
        public_key = public_key_of(load_or_create_key(key_path))
        config = hub_config(tmp, broker).model_copy(update={"kiosks": [KioskKey(site="plant-1", kiosk="gate-1",
                                                                                   public_key=public_key)]})
        hub_service = await asyncio.to_thread(lambda: HubService(config).start(connect_timeout=10))
    decls = declarations(tmp)
    if particulate:
        decls.append(DeviceDeclaration(name="pm", kind="particulate", transport="serial", path=str(tmp / "pm"),
                                       zone="gate-1", identity={"model": "SIM-PMS5003"}, retry_initial_s=0.05,
                                       retry_max_s=0.3))
    config = KioskConfig.model_validate({
        "identity": {"site": "plant-1", "kiosk": "gate-1", "signing_key": str(key_path)},
        "mqtt": {"host": broker.host, "port": broker.port, "keepalive_s": 5, "reconnect_min_s": 0.2,
                 "reconnect_max_s": 2},
        "journal": {"path": str(tmp / "kiosk" / "journal.db")},
        "outbox": {"resend_after_s": 5},
        "devices": [d.model_dump(mode="json", exclude_none=True) for d in decls],
    })
    settings = RuntimeSettings.model_validate({
        "workflow": {"remeasure_pause_s": 0.8, "message_screen_s": 30, "result_screen_s": 60, **(workflow or {})},
        "screen": {"port": 0},
        "environment": {"telemetry_every_s": 1.0},
    })
    factories = {
        "bp_cuff": lambda dev, **kw: ScriptedCuff(dev, script=cuff or [(124, 80, 70)], **kw),
        "thermometer": lambda dev, **kw: ScriptedThermometer(dev, script=temp or [36.6], faults=thermo_faults, **kw),
        "oximeter": lambda dev, **kw: ScriptedOximeter(dev, script=spo2 or [(98, 71)], **kw),
    }
    try:
        async with device_world(
                config, settings, clock=ManualClock(), tmp=tmp, speed=speed,
                alc_config=AlcotesterSimConfig(time_scale=alc_time_scale, intoxicated_share=1.0 if intoxicated else 0.0),
                alc_rng=ScriptedRng(brac or [0.0]), ble_factories=factories,
                roster=[w.roster_entry(consent) for w in workers], pm_interval_s=0.1) as world:
            world.hub = hub_service
            yield world
    finally:
        if hub_service is not None:
            await asyncio.to_thread(hub_service.stop)


def restart_alcotester(world: KioskWorld, **cfg: Any) -> None:
    """The technician plugs the breathalyzer back in: a new pty on the same path, a new simulator."""
    port = PtyPort(str(world.tmp / "alc"))
    sim = AlcotesterSim(port, AlcotesterSimConfig(time_scale=0.05, intoxicated_share=0.0, **cfg))
    sim.rng = ScriptedRng([0.0])
    world.extra["ports"].append(port)
    world.extra["tasks"].append(asyncio.create_task(sim.run()))
    world.alcotester = sim


def command(type_: str, args: dict) -> dict:
    return {"schema": 1, "command_id": str(uuid.uuid4()), "type": type_,
            "ts": datetime.now(timezone.utc).isoformat(), "args": args}


def run_async(coro, timeout: float = 80.0) -> Any:
    """The shared helper (tests/async_helpers.py) with the longer timeout a whole kiosk needs."""
    return _run_async(coro, timeout)


