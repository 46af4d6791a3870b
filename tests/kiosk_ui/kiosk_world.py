"""A whole kiosk for tests: the real runtime (agent, supervisor, workflow, screen) with
simulated devices speaking the real protocols — BLE cuff, thermometer and oximeter on a
bumble virtual link, the alcotester, badge reader and printer on real pseudo-terminals —
a real mosquitto broker and (optionally) the hub in-process.

The simulators are the project's own; the scripted subclasses below only choose the
values they send (a test needs "a worker at 0.45 mg/L", not a random draw), the protocol
and timing code is unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator

import numpy as np
from bumble.link import LocalLink

from edge_agent.config import KioskConfig
from edge_agent.devices import DeviceDeclaration
from edge_agent.roster import hash_pin
from edge_agent.runtime import KioskRuntime, RuntimeSettings
from edge_agent.workflow import ManualClock
from firmware_bridges.ble.blood_pressure import BloodPressureMeasurement
from firmware_bridges.ble.thermometer import TemperatureMeasurement
from firmware_bridges.evidence import load_or_create_key, public_key_of
from firmware_bridges.serial import badge
from simulators.ble.bleak_bumble import BumbleClient, BumbleScanner, release_adapter, use_adapter
from simulators.ble.controller import local_device
from simulators.ble.devices import BloodPressureSim, Faults, PlxSim, ThermometerSim
from simulators.serial.alcotester import AlcotesterSim, AlcotesterSimConfig
from simulators.serial.faults import FaultPlan
from simulators.serial.printer import PrinterSim
from simulators.serial.pty import PtyPort
from simulators.serial.streams import PmsSim, PmsSimConfig

AGENT_ADDRESS = "F1:F1:F1:F1:F1:F1"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-quic", "--disable-dev-shm-usage"]


class _Script:
    def __init__(self, values: list) -> None:
        self.values = list(values)

    def next(self) -> Any:
        return self.values.pop(0) if len(self.values) > 1 else self.values[0]


class ScriptedCuff(BloodPressureSim):
    def __init__(self, device, *, script: list[tuple[int, int, int]], **kw: Any) -> None:
        super().__init__(device, **kw)
        self.script = _Script(script)

    def next_measurement(self) -> BloodPressureMeasurement:
        s, d, p = self.script.next()
        return BloodPressureMeasurement(self._p(s), self._p(d), self._p(round(d + (s - d) / 3)), self.kpa,
                                        self.device_now(), self.number(p, 0), 1, 0)


class ScriptedThermometer(ThermometerSim):
    def __init__(self, device, *, script: list[float], **kw: Any) -> None:
        super().__init__(device, **kw)
        self.script = _Script(script)

    def next_measurement(self) -> TemperatureMeasurement:
        return TemperatureMeasurement(self.number(self.script.next(), 1), False, self.device_now(), self.temperature_type)


class ScriptedOximeter(PlxSim):
    def __init__(self, device, *, script: list[tuple[int, int]], **kw: Any) -> None:
        super().__init__(device, **kw)
        self.script = _Script(script)

    def _values(self):
        spo2, pr = self.script.next()
        return self.number(spo2, 0), self.number(pr, 0), 1 << 7, 0


class ScriptedRng:
    """A numpy Generator whose BrAC draws are scripted (intoxicated draws use ``lognormal``)."""

    def __init__(self, brac: list[float], seed: int = 5) -> None:
        self._rng = np.random.default_rng(seed)
        self._brac = _Script(brac)

    def random(self, *a: Any, **kw: Any) -> float:
        return 0.5  # never a "residual trace" draw; intoxication comes from the share (0 or 1)

    def lognormal(self, *a: Any, **kw: Any) -> float:
        return float(self._brac.next())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rng, name)


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


@dataclass
class KioskWorld:
    runtime: KioskRuntime
    clock: ManualClock
    url: str
    badge_port: PtyPort
    printer: PrinterSim
    alcotester: AlcotesterSim
    sims: dict[str, Any]
    tmp: Path
    hub: Any = None
    extra: dict = field(default_factory=dict)

    def present(self, card: int) -> None:
        """A worker holds a card to the reader (RDM6300 frames, repeated as readers do)."""
        for _ in range(3):
            self.badge_port.write(badge.encode_rdm6300(0x13, card))

    @property
    def workflow(self):
        return self.runtime.workflow

    def screen(self) -> str:
        return self.runtime.workflow.view["screen"]

    async def wait_screen(self, screen: str, timeout: float = 20.0) -> dict:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.runtime.workflow.view["screen"] != screen:
            if loop.time() > deadline:
                raise AssertionError(f"screen {screen!r} not reached; now {self.runtime.workflow.view}")
            await asyncio.sleep(0.02)
        return self.runtime.workflow.view


def declarations(tmp: Path, *, fast: bool = True) -> list[DeviceDeclaration]:
    ident = lambda kind, serial: {"model": f"SIM-{kind}", "serial": serial, "verified_until": "2027-06-30"}  # noqa: E731
    retry = {"retry_initial_s": 0.05, "retry_max_s": 0.3}
    ble_opts = {"scan_timeout_s": 2.0, "measurement_timeout_s": 20.0, "retry_backoff_s": 0.05,
                "reconnect_backoff_s": 0.05}
    return [
        DeviceDeclaration(name="cuff", kind="bp_cuff", transport="ble", identity=ident("bp", "BP-1"),
                          address="F0:F0:F0:F0:F0:02", options=ble_opts, **retry),
        DeviceDeclaration(name="thermo", kind="thermometer", transport="ble", identity=ident("ht", "HT-1"),
                          address="F0:F0:F0:F0:F0:01", options=ble_opts, **retry),
        DeviceDeclaration(name="oxi", kind="oximeter", transport="ble", profile="ble-plx-spot",
                          identity=ident("plx", "OX-1"), address="F0:F0:F0:F0:F0:03", options=ble_opts, **retry),
        DeviceDeclaration(name="alc", kind="alcotester", transport="serial", path=str(tmp / "alc"),
                          identity={"model": "SIM-alc", "serial": "SN000123", "verified_until": "2027-06-30"},
                          check_interval_s=0.5, options={"ack_timeout_s": 1.0, "test_timeout_s": 10.0,
                                                         "idle_timeout_s": 3.0}, **retry),
        DeviceDeclaration(name="badge", kind="badge_reader", transport="serial", path=str(tmp / "badge"),
                          identity={"model": "SIM-RDM6300"}, debounce_s=0.3,
                          options={"dedup_window_s": 0.2}, **retry),
        DeviceDeclaration(name="printer", kind="printer", transport="serial", path=str(tmp / "printer"),
                          identity={"model": "SIM-ESCPOS-58", "serial": "PR-1"}, **retry),
    ]


@contextlib.asynccontextmanager
async def kiosk_world(tmp: Path, broker, *, cuff: list | None = None, temp: list | None = None,
                      spo2: list | None = None, brac: list | None = None, intoxicated: bool = False,
                      workers: list[Worker] = (IVANOV,), consent: bool = False, speed: float = 40.0,
                      alc_time_scale: float = 0.05, workflow: dict | None = None, hub: bool = True,
                      thermo_faults: Faults | None = None, particulate: bool = False) -> AsyncIterator[KioskWorld]:
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
    link = LocalLink()
    agent_dev = local_device(link, "agent", AGENT_ADDRESS)
    use_adapter(agent_dev)
    sims = {
        "cuff": ScriptedCuff(local_device(link, "cuff", "F0:F0:F0:F0:F0:02"), script=cuff or [(124, 80, 70)], speed=speed, seed=1),
        "thermo": ScriptedThermometer(local_device(link, "thermo", "F0:F0:F0:F0:F0:01"), script=temp or [36.6],
                                      speed=speed, seed=2, faults=thermo_faults),
        "oxi": ScriptedOximeter(local_device(link, "oxi", "F0:F0:F0:F0:F0:03"), script=spo2 or [(98, 71)], speed=speed, seed=3),
    }
    for sim in sims.values():
        await sim.start()
    alc_port, badge_port, printer_port = PtyPort(str(tmp / "alc")), PtyPort(str(tmp / "badge")), PtyPort(str(tmp / "printer"))
    alc = AlcotesterSim(alc_port, AlcotesterSimConfig(time_scale=alc_time_scale, intoxicated_share=1.0 if intoxicated else 0.0))
    alc.rng = ScriptedRng(brac or [0.0])
    printer = PrinterSim(printer_port)
    badge_port.start()
    tasks = [asyncio.create_task(alc.run()), asyncio.create_task(printer.run())]
    extra_ports = []
    decls = declarations(tmp)
    if particulate:
        pm_port = PtyPort(str(tmp / "pm"))
        extra_ports.append(pm_port)
        tasks.append(asyncio.create_task(PmsSim(pm_port, PmsSimConfig(interval_s=0.1, seed=4)).run()))
        decls.append(DeviceDeclaration(name="pm", kind="particulate", transport="serial", path=str(tmp / "pm"),
                                       zone="gate-1", identity={"model": "SIM-PMS5003"}, retry_initial_s=0.05,
                                       retry_max_s=0.3))
    world = None
    runtime = None
    try:
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
        clock = ManualClock()
        runtime = KioskRuntime(config, settings, clock=clock, ble_backend=(BumbleScanner, BumbleClient))
        runtime.roster.apply_update({"version": "t1", "full": True,
                                     "workers": [w.roster_entry(consent) for w in workers]})
        url = await runtime.start()
        world = KioskWorld(runtime=runtime, clock=clock, url=url, badge_port=badge_port, printer=printer,
                           alcotester=alc, sims=sims, tmp=tmp, hub=hub_service)
        world.extra["ports"] = [alc_port, badge_port, printer_port, *extra_ports]
        world.extra["tasks"] = tasks
        yield world
    finally:
        if runtime is not None:
            await runtime.stop()
        for task in (world.extra["tasks"] if world else tasks):
            task.cancel()
        await asyncio.gather(*(world.extra["tasks"] if world else tasks), return_exceptions=True)
        for port in (world.extra["ports"] if world else [alc_port, badge_port, printer_port, *extra_ports]):
            port.close()
        for sim in sims.values():
            await sim.stop()
        await agent_dev.power_off()
        release_adapter()
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
    """Run ``coro`` in a fresh loop; fail if any task is still pending afterwards."""

    async def wrapper():
        try:
            return await asyncio.wait_for(coro, timeout)
        finally:
            for _ in range(5):
                await asyncio.sleep(0)
            left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
            for t in left:
                t.cancel()
            if left:
                await asyncio.gather(*left, return_exceptions=True)
            assert not left, f"test left tasks running: {left}"

    return asyncio.run(wrapper())


