"""A whole kiosk on one machine: the real kiosk runtime (agent, device supervisor, exam
workflow, touch-screen server) with every device simulated over its real protocol, and a
simulated workforce that uses it the way people do.

* Devices: BLE cuff, thermometer and oximeter are the project's bumble GATT simulators on
  a virtual link (reached through the project-local bleak backend
  ``simulators.ble.bleak_bumble``); the breathalyzer, badge reader, printer (and a PMS5003
  particulate sensor when declared) are the serial simulators on real pseudo-terminals at
  the ``path`` each ``[[devices]]`` declaration names. A config without ``[[devices]]``
  gets the default set of :func:`declarations`.
* Workforce (:class:`Workforce`): a seeded population (``simulators.population``; a share
  intoxicated, febrile, hypertensive). A worker holds their badge to the reader (RDM6300
  frames written into the badge reader's pty), reads the screen through ``GET /api/state``
  and taps through ``POST /api/action`` — the endpoints the page's JavaScript calls —
  consent, exam type, the survey, "OK" on the result. Before they step up, the simulated
  devices are handed that worker, so the values they measure are that worker's draws.
  A worker sent to a scheduled re-test steps aside and comes back when the countdown on
  the screen ends.
* Time (:class:`WarpClock`): devices run ``speed`` times faster than real ones; the
  workflow's clock runs ``speed`` times faster while some worker waits for a re-test
  countdown, at real speed otherwise — re-tests take seconds, and the exam times recorded
  stay close to the wall clock (they run ahead by the waits skipped).

Run: ``ohs-sim kiosk-world --config KIOSK.toml [--speed N] [--workers N]``; it prints
``READY kiosk-world <screen URL>``. The test helpers (``tests/kiosk_ui/kiosk_world.py``)
build on :func:`device_world` with scripted devices.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import httpx
import numpy as np
from bumble.link import LocalLink

from edge_agent.config import KioskConfig
from edge_agent.devices import DeviceDeclaration
from edge_agent.roster import hash_pin
from edge_agent.runtime import KioskRuntime, RuntimeSettings, load_runtime_config
from edge_agent.workflow.clock import Clock
from firmware_bridges.ble.blood_pressure import BloodPressureMeasurement
from firmware_bridges.ble.thermometer import TemperatureMeasurement
from firmware_bridges.logsetup import configure_logging
from firmware_bridges.serial import badge
from simulators import population
from simulators.ble.bleak_bumble import BumbleClient, BumbleScanner, release_adapter, use_adapter
from simulators.ble.controller import local_device
from simulators.ble.devices import BloodPressureSim, PlxSim, ThermometerSim
from simulators.serial.alcotester import AlcotesterSim, AlcotesterSimConfig
from simulators.serial.printer import PrinterSim
from simulators.serial.pty import PtyPort
from simulators.serial.streams import PmsSim, PmsSimConfig

log = logging.getLogger(__name__)

AGENT_ADDRESS = "F1:F1:F1:F1:F1:F1"
BLE_SIMS = {"bp_cuff": BloodPressureSim, "thermometer": ThermometerSim, "oximeter": PlxSim}
BLE_SEEDS = {"bp_cuff": 1, "thermometer": 2, "oximeter": 3}

# ---------------------------------------------------------------------------- scripted devices


class _Script:
    """Values in order; the last one repeats."""

    def __init__(self, values: list) -> None:
        self.values = list(values)

    def next(self) -> Any:
        return self.values.pop(0) if len(self.values) > 1 else self.values[0]


class ScriptedCuff(BloodPressureSim):
    """The cuff simulator sending chosen (systolic, diastolic, pulse) values."""

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


class PersonCuff(BloodPressureSim):
    """The population cuff; the pulse is the person's (``heart_bpm``, set per worker) when known.

    The stock simulators draw the cuff's and the oximeter's pulse independently, so two
    devices on one arm would disagree by more than the rule set's 15 /min plausibility
    limit in about one exam in five; one heart, two devices: ±2 /min here (**D**)."""

    heart_bpm: int | None = None

    def next_measurement(self) -> BloodPressureMeasurement:
        m = super().next_measurement()
        if self.heart_bpm is None or self.faults.implausible or self.faults.special:
            return m
        return dataclasses.replace(m, pulse_rate=self.number(self.heart_bpm + int(self.rng.integers(-2, 3)), 0))


class PersonOximeter(PlxSim):
    """The population oximeter with the person's pulse (see :class:`PersonCuff`)."""

    heart_bpm: int | None = None

    def _values(self):
        spo2, pr, ms, ds = super()._values()
        if self.heart_bpm is not None and not self.faults.implausible:
            pr = self.number(self.heart_bpm + int(self.rng.integers(-2, 3)), 0)
        return spo2, pr, ms, ds


PERSON_SIMS = {"bp_cuff": PersonCuff, "oximeter": PersonOximeter}

# ---------------------------------------------------------------------------- the world


def declarations(directory: Path) -> list[DeviceDeclaration]:
    """The default simulated device set: BLE on fixed virtual addresses, serial on ptys in ``directory``."""
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
        DeviceDeclaration(name="alc", kind="alcotester", transport="serial", path=str(directory / "alc"),
                          identity={"model": "SIM-alc", "serial": "SN000123", "verified_until": "2027-06-30"},
                          check_interval_s=0.5, options={"ack_timeout_s": 1.0, "test_timeout_s": 10.0,
                                                         "idle_timeout_s": 3.0}, **retry),
        DeviceDeclaration(name="badge", kind="badge_reader", transport="serial", path=str(directory / "badge"),
                          identity={"model": "SIM-RDM6300"}, debounce_s=0.3,
                          options={"dedup_window_s": 0.2}, **retry),
        DeviceDeclaration(name="printer", kind="printer", transport="serial", path=str(directory / "printer"),
                          identity={"model": "SIM-ESCPOS-58", "serial": "PR-1"}, **retry),
    ]


@dataclass
class KioskWorld:
    runtime: KioskRuntime
    clock: Any
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


BleFactory = Callable[..., Any]


@contextlib.asynccontextmanager
async def device_world(config: KioskConfig, settings: RuntimeSettings, *, clock: Clock, tmp: Path,
                       speed: float = 40.0, alc_config: AlcotesterSimConfig | None = None, alc_rng: Any = None,
                       ble_factories: dict[str, BleFactory] | None = None, roster: list[dict] | None = None,
                       pm_interval_s: float = 1.0) -> AsyncIterator[KioskWorld]:
    """Start a simulator for every declared device of ``config``, then the real runtime.

    ``ble_factories`` (kind → class or callable taking ``(bumble_device, speed=, seed=)``)
    replaces a BLE simulator (tests script values); ``roster`` entries are loaded before
    the start. Everything is released on exit, in reverse order.
    """
    ble_factories = {**BLE_SIMS, **(ble_factories or {})}
    link = LocalLink()
    agent_dev = local_device(link, "agent", AGENT_ADDRESS)
    use_adapter(agent_dev)
    sims: dict[str, Any] = {}
    ports: list[PtyPort] = []
    tasks: list[asyncio.Task] = []
    alc = printer = badge_port = None
    runtime = None
    world = None
    try:
        for decl in (d for d in config.devices if d.enabled):
            if decl.transport == "ble" and decl.kind in ble_factories:
                sim = ble_factories[decl.kind](local_device(link, decl.name, decl.address), speed=speed,
                                               seed=BLE_SEEDS.get(decl.kind))
                sims[decl.name] = sim
                await sim.start()
            elif decl.transport == "serial" and decl.kind in ("alcotester", "badge_reader", "printer", "particulate"):
                Path(decl.path).parent.mkdir(parents=True, exist_ok=True)
                port = PtyPort(decl.path)
                ports.append(port)
                if decl.kind == "alcotester":
                    alc = AlcotesterSim(port, alc_config or AlcotesterSimConfig(time_scale=1.0 / speed))
                    if alc_rng is not None:
                        alc.rng = alc_rng
                    tasks.append(asyncio.create_task(alc.run(), name="sim-alcotester"))
                elif decl.kind == "printer":
                    printer = PrinterSim(port)
                    tasks.append(asyncio.create_task(printer.run(), name="sim-printer"))
                elif decl.kind == "particulate":
                    sim = PmsSim(port, PmsSimConfig(interval_s=pm_interval_s, seed=4))
                    tasks.append(asyncio.create_task(sim.run(), name="sim-particulate"))
                else:
                    badge_port = port
                    port.start()
            else:
                log.warning("device %s (%s over %s) has no simulator here; it will show as faulty",
                            decl.name, decl.kind, decl.transport)
        runtime = KioskRuntime(config, settings, clock=clock, ble_backend=(BumbleScanner, BumbleClient))
        if roster:
            runtime.roster.apply_update({"version": "sim-1", "full": True, "workers": roster})
        url = await runtime.start()
        world = KioskWorld(runtime=runtime, clock=clock, url=url, badge_port=badge_port, printer=printer,
                           alcotester=alc, sims=sims, tmp=tmp)
        world.extra["ports"] = ports
        world.extra["tasks"] = tasks
        yield world
    finally:
        async def release() -> None:
            if runtime is not None:
                await runtime.stop()
            all_tasks = world.extra["tasks"] if world else tasks
            for task in all_tasks:
                task.cancel()
            await asyncio.gather(*all_tasks, return_exceptions=True)
            for port in (world.extra["ports"] if world else ports):
                port.close()
            for sim in sims.values():
                await sim.stop()
            await agent_dev.power_off()
            release_adapter()

        await finish_despite_cancel(release())


async def finish_despite_cancel(coro) -> None:
    """Run cleanup to its end even if the caller is cancelled again meanwhile (a second
    Ctrl-C; or uvicorn, which captures SIGTERM/SIGINT while the screen serves and raises
    them again when it stops) — a half-done cleanup would leave ptys and tasks behind."""
    task = asyncio.ensure_future(coro)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():
                break
            cancelled = True
    task.result()
    if cancelled:
        raise asyncio.CancelledError


# ---------------------------------------------------------------------------- time


class WarpClock:
    """The workflow's clock for simulations: wall time plus an offset that grows
    ``speed - 1`` seconds per real second while :meth:`warp` is on (someone waits for a
    re-test countdown), so a 15-minute wait passes in 15/speed seconds."""

    def __init__(self, speed: float, start: datetime | None = None):
        self.speed = max(1.0, float(speed))
        self._origin_wall = start or datetime.now(timezone.utc)
        self._origin_mono = time.monotonic()
        self._offset = 0.0
        self._warp_since: float | None = None

    def _elapsed(self) -> float:
        now = time.monotonic()
        extra = 0.0 if self._warp_since is None else (now - self._warp_since) * (self.speed - 1.0)
        return now - self._origin_mono + self._offset + extra

    def now(self) -> datetime:
        return self._origin_wall + timedelta(seconds=self._elapsed())

    @property
    def warping(self) -> bool:
        return self._warp_since is not None

    def warp(self, on: bool) -> None:
        if on and self._warp_since is None:
            self._warp_since = time.monotonic()
        elif not on and self._warp_since is not None:
            self._offset += (time.monotonic() - self._warp_since) * (self.speed - 1.0)
            self._warp_since = None

    def advance(self, seconds: float) -> None:
        """Move the clock forward at once (a test's manual clock: with ``speed=1`` nothing else moves
        it faster than the wall clock, so a countdown ends exactly when the test says)."""
        self._offset += max(0.0, float(seconds))

    async def sleep_until(self, when: datetime) -> None:
        while True:
            delay = (when - self.now()).total_seconds()
            if delay <= 0:
                return
            await asyncio.sleep(min(delay / (self.speed if self.warping else 1.0), 0.25))


# ---------------------------------------------------------------------------- workforce

SURNAMES = [("Иванов", "Иванова"), ("Смирнов", "Смирнова"), ("Кузнецов", "Кузнецова"), ("Попов", "Попова"),
            ("Васильев", "Васильева"), ("Петров", "Петрова"), ("Соколов", "Соколова"), ("Михайлов", "Михайлова"),
            ("Новиков", "Новикова"), ("Фёдоров", "Фёдорова"), ("Морозов", "Морозова"), ("Волков", "Волкова")]
NAMES = {"M": ["Алексей", "Сергей", "Дмитрий", "Андрей", "Николай", "Игорь"],
         "F": ["Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Анна"]}
PATRONYMICS = {"M": ["Иванович", "Петрович", "Сергеевич", "Андреевич"],
               "F": ["Ивановна", "Петровна", "Сергеевна", "Андреевна"]}


def roster_entry(worker: population.Worker, rng: np.random.Generator, today: date | None = None) -> dict:
    """The kiosk roster entry of a population worker (a seeded Russian name; no consent yet)."""
    sex = worker.sex
    surname = SURNAMES[int(rng.integers(len(SURNAMES)))][0 if sex == "M" else 1]
    full = f"{surname} {NAMES[sex][int(rng.integers(6))]} {PATRONYMICS[sex][int(rng.integers(4))]}"
    today = today or date.today()
    birth = date(today.year - worker.age, int(rng.integers(1, 13)), int(rng.integers(1, 29)))
    return {"personnel_number": worker.worker_id, "full_name": full, "birth_date": birth.isoformat(), "sex": sex,
            "badges": [worker.badge_decimal10], "pin_hash": hash_pin("0000", iterations=1000)}


def survey_answer(rng: np.random.Generator, worker: population.Worker, question_id: str) -> bool:
    """How a worker answers a survey question: febrile workers feel unwell; a few complain anyway."""
    if question_id == "slept_enough":
        return bool(rng.random() >= 0.03)
    if question_id == "feels_unwell":
        return bool(worker.febrile or rng.random() < 0.02)
    return bool(rng.random() < 0.03)  # took_medication and any site-specific yes/no question


def fatigue_answer(rng: np.random.Generator, worker: population.Worker, scale: list[int]) -> int:
    """A screening item's answer: most workers rested (the low third of the scale), febrile ones
    tired (the upper half), a few tired anyway."""
    low, high = scale[: max(1, len(scale) // 3)], scale[len(scale) // 2:]
    tired = worker.febrile or rng.random() < 0.05
    return int(rng.choice(high if tired else low))


@dataclass
class Visit:
    worker: population.Worker
    outcome: str | None = None  # admitted / not_admitted / needs_medic, or None (re-test, message, gave up)
    retest_due: datetime | None = None
    early: bool = False  # came back before the countdown ended (sent away again)


class Workforce:
    """Simulated workers using one kiosk through its badge reader and its screen's HTTP API."""

    def __init__(self, world: KioskWorld, workers: list[population.Worker], *, seed: int = 1, speed: float = 30.0,
                 exams_per_minute: float | None = None, poll_s: float = 0.1):
        self.world = world
        self.workers = {w.worker_id: w for w in workers}
        self.rng = np.random.default_rng(seed)
        self.speed = speed
        self.gap_s = 60.0 / exams_per_minute if exams_per_minute else 0.0
        self.poll_s = poll_s
        self.think_s = max(0.05, 3.0 / speed)  # reading a screen and tapping, sped up like the devices
        self.waiting: dict[str, datetime] = {}  # worker id -> re-test due (the screen's countdown)
        self.visits: list[Visit] = []
        self.outcomes: dict[str, int] = {}
        self.visit_count = 0

    def _clock_now(self) -> datetime:
        return self.world.clock.now()

    def _keep_time(self) -> None:
        """Warp the clock while someone waits for a countdown that has not ended."""
        now = self._clock_now()
        warp = getattr(self.world.clock, "warp", None)
        if warp is not None:
            warp(any(due > now for due in self.waiting.values()))

    async def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while True:
            self._keep_time()
            left = end - time.monotonic()
            if left <= 0:
                return
            await asyncio.sleep(min(left, self.poll_s))

    def _next_worker(self) -> population.Worker:
        now = self._clock_now()
        due = sorted((d, w) for w, d in self.waiting.items() if d <= now)
        if due:
            return self.workers[due[0][1]]
        free = [w for w in self.workers if w not in self.waiting]
        return self.workers[free[int(self.rng.integers(len(free)))]]

    def _hand_devices_to(self, worker: population.Worker) -> None:
        """The worker puts the cuff on, takes the thermometer …: the devices measure this worker."""
        heart = population.sample_bp(self.rng, worker.age, worker.sex, worker.hypertensive)[2]
        for sim in self.world.sims.values():
            sim.worker = worker
            if hasattr(sim, "heart_bpm"):
                sim.heart_bpm = heart
        if self.world.alcotester is not None:
            self.world.alcotester.cfg.intoxicated_share = 1.0 if worker.intoxicated else 0.0

    async def run(self, visits: int | None = None) -> None:
        """Workers step up one after another (returning re-tests first) until cancelled."""
        async with httpx.AsyncClient(base_url=self.world.url, timeout=10.0) as client:
            made = 0
            while visits is None or made < visits:
                started = time.monotonic()
                if not self.workers.keys() - self.waiting.keys() and all(
                        d > self._clock_now() for d in self.waiting.values()):
                    await self._sleep(self.poll_s)  # everyone is waiting for a re-test
                    continue
                try:
                    await self._wait_idle(client)
                    visit = await self.visit(client, self._next_worker())
                except httpx.HTTPError as error:  # the screen server hiccuped: say so, try again
                    log.warning("kiosk screen %s did not answer: %r; retrying", self.world.url, error)
                    await self._sleep(0.5)
                    continue
                self.visits = (self.visits + [visit])[-200:]
                if visit.outcome:
                    self.outcomes[visit.outcome] = self.outcomes.get(visit.outcome, 0) + 1
                made += 1
                self.visit_count += 1
                await self._sleep(max(self.think_s, self.gap_s - (time.monotonic() - started)))

    async def _state(self, client: httpx.AsyncClient) -> dict:
        response = await client.get("/api/state")
        response.raise_for_status()
        return response.json()

    async def _tap(self, client: httpx.AsyncClient, action: str, **data: Any) -> None:
        await self._sleep(self.think_s)
        response = await client.post("/api/action", json={"action": action, **data})
        response.raise_for_status()

    async def _wait_idle(self, client: httpx.AsyncClient) -> None:
        while (await self._state(client))["view"]["screen"] != "idle":
            await self._sleep(self.poll_s)

    async def visit(self, client: httpx.AsyncClient, worker: population.Worker, timeout_s: float = 120.0) -> Visit:
        """One person at the kiosk: badge, taps, measurements, until they walk away."""
        visit = Visit(worker)
        self.waiting.pop(worker.worker_id, None)
        self._keep_time()
        self._hand_devices_to(worker)
        self.world.present(worker.badge_em)
        left_idle = False
        answered: set[int] = set()
        answered_fatigue: set[int] = set()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            await self._sleep(self.poll_s)
            view = (await self._state(client))["view"]
            screen = view["screen"]
            if screen == "idle":
                if left_idle:
                    return visit
                continue
            left_idle = True
            if screen == "consent":
                await self._tap(client, "consent_accept")
            elif screen == "exam_type":
                await self._tap(client, "exam_type", exam_type=view.get("default", "pre_shift"))
            elif screen == "survey" and view.get("index") not in answered:
                answered.add(view["index"])
                await self._tap(client, "answer", value=survey_answer(self.rng, worker, view["question"]["id"]),
                                question=view["question"]["id"], step=view["step"])
            elif screen == "fatigue" and view.get("index") not in answered_fatigue:
                answered_fatigue.add(view["index"])
                item = view["item"]
                await self._tap(client, "fatigue_answer", item=item["id"],
                                points=fatigue_answer(self.rng, worker, [s["value"] for s in item["scale"]]),
                                step=view["step"])
            elif screen == "result":
                visit.outcome = view.get("outcome")
                await self._tap(client, "ok")
                return visit
            elif screen == "retest_wait":
                if not view.get("early"):
                    visit.retest_due = self._clock_now() + timedelta(seconds=float(view.get("due_in_s") or 0.0))
                    self.waiting[worker.worker_id] = visit.retest_due
                else:  # came too early: step aside again until the countdown ends
                    visit.early = True
                    visit.retest_due = self._clock_now() + timedelta(seconds=float(view.get("due_in_s") or 0.0))
                    self.waiting[worker.worker_id] = visit.retest_due
                await self._tap(client, "ok")
                return visit
            elif screen in ("message", "pin"):
                await self._tap(client, "ok" if screen == "message" else "cancel")
                return visit
        log.warning("worker %s gave up after %.0f s at screen %s", worker.worker_id, timeout_s, screen)
        await self._tap(client, "cancel")
        return visit


# ---------------------------------------------------------------------------- ohs-sim kiosk-world


def simulation_settings(config: KioskConfig, settings: RuntimeSettings, *, speed: float,
                        directory: Path) -> tuple[KioskConfig, RuntimeSettings]:
    """The config as run here: the default simulated devices when none are declared, and the
    workflow's real-time pause before a re-measurement shortened by ``speed``."""
    if not config.devices:
        config = config.model_copy(update={"devices": declarations(directory)})
    workflow = settings.workflow.model_copy(update={"remeasure_pause_s": settings.workflow.remeasure_pause_s / speed})
    return config, settings.model_copy(update={"workflow": workflow})


async def run_world(config_path: str, *, speed: float = 30.0, workers: int = 40, seed: int = 1,
                    exams_per_minute: float | None = None, duration: float | None = None) -> None:
    """``ohs-sim kiosk-world``: start everything, print READY, run the workforce until cancelled."""
    config, settings = load_runtime_config(config_path)
    directory = Path(config.journal.path).parent
    directory.mkdir(parents=True, exist_ok=True)
    config, settings = simulation_settings(config, settings, speed=speed, directory=directory)
    rng = population.rng_from(seed)
    people = population.population(rng, workers)
    roster = [roster_entry(w, rng) for w in people]
    clock = WarpClock(speed)
    async with device_world(config, settings, clock=clock, tmp=directory, speed=speed, roster=roster,
                            ble_factories=PERSON_SIMS) as world:
        if world.badge_port is None:
            raise ValueError(f"{config_path}: kiosk-world needs a serial badge_reader in [[devices]] "
                             f"(the workforce identifies with badges)")
        workforce = Workforce(world, people, seed=seed, speed=speed, exams_per_minute=exams_per_minute)
        print(f"READY kiosk-world {world.url}", flush=True)
        print(f"kiosk screen: {world.url}  ({len(people)} simulated workers, speed x{speed:g}; "
              f"{config.identity.site}/{config.identity.kiosk})", flush=True)
        task = asyncio.create_task(workforce.run(), name="workforce")
        try:
            if duration:
                done, _ = await asyncio.wait({task}, timeout=duration)
            else:
                await asyncio.wait({task})
            if task.done():
                task.result()  # a crashed workforce says why
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            print(f"kiosk-world stopped: {workforce.visit_count} visits, outcomes {workforce.outcomes}, "
                  f"waiting for a re-test: {len(workforce.waiting)}", flush=True)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="kiosk TOML (edge_agent runtime config; [[devices]] optional)")
    parser.add_argument("--speed", type=float, default=30.0,
                        help="devices and re-test waits run this many times faster than real (default 30)")
    parser.add_argument("--workers", type=int, default=40, help="simulated workers in the roster (default 40)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the workforce (default 1)")
    parser.add_argument("--exams-per-minute", type=float, default=None,
                        help="at most this many workers step up per minute (default: as fast as the kiosk goes)")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")


async def runner(args: argparse.Namespace) -> None:
    if args.speed < 1 or args.workers < 1:
        raise ValueError("--speed must be ≥ 1 and --workers ≥ 1")
    configure_logging(logging.WARNING)
    await run_world(args.config, speed=args.speed, workers=args.workers, seed=args.seed,
                    exams_per_minute=args.exams_per_minute, duration=args.duration)


DEVICES = {
    "kiosk-world": ("a whole kiosk: real runtime, simulated devices, simulated workforce (prints the screen URL)",
                    configure, runner),
}
