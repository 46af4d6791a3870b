"""A kiosk's workflow on a real journal (KioskAgent, SQLite, seal), a real roster and the real
exam state store, with in-process devices that return scripted values at once — so a test
can start an exam, tear the kiosk down and start a new one on the same files."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, AsyncIterator

from edge_agent.admission import load_rule_set
from edge_agent.agent import KioskAgent
from edge_agent.config import KioskConfig
from edge_agent.exam_state import ExamStateStore
from edge_agent.journal import Journal
from edge_agent.roster import Roster, hash_pin
from edge_agent.workflow import ManualClock, Workflow, WorkflowSettings
from firmware_bridges.devices import DeviceError
from firmware_bridges.readings import DeviceIdentity, Reading

WORKER = {"personnel_number": "T-1001", "full_name": "Иванов Иван Петрович", "birth_date": "1985-04-12",
          "sex": "M", "badges": ["0006102437"], "pin_hash": hash_pin("1234", iterations=1000),
          "consent_given_at": "2026-01-10T08:00:00+00:00"}
CARD = "0006102437"
KINDS = ("bp_cuff", "thermometer", "oximeter", "alcotester")


class ScriptedDevices:
    """The supervisor's API (measure, device_for, health, badge_reads) over scripted values.

    ``script[kind]`` is a list used in order (the last value repeats); a value is a dict of
    reading fields or a :class:`DeviceError` to raise."""

    def __init__(self, script: dict[str, list]):
        self.script = {k: list(v) for k, v in script.items()}
        self.badges: asyncio.Queue = asyncio.Queue()
        self.measured: list[str] = []

    def device_for(self, kind: str) -> str | None:
        return f"dev-{kind}" if kind in KINDS else None

    def health(self) -> dict:
        return {f"dev-{k}": {"kind": k, "model": f"M-{k}", "serial": "S1", "verified_until": "2027-12-31",
                             "state": "ok", "message_ru": "готов", "message_en": "ready"} for k in KINDS}

    def badge_reads(self) -> asyncio.Queue:
        return self.badges

    async def measure(self, kind: str, *, timeout=None, progress=None) -> Reading:
        await asyncio.sleep(0.01)
        values = self.script[kind]
        value = values.pop(0) if len(values) > 1 else values[0]
        self.measured.append(kind)
        if isinstance(value, DeviceError):
            raise value
        return Reading(**value, device=DeviceIdentity(kind=kind, model=f"M-{kind}", serial="S1",
                                                      verified_until="2027-12-31"))


def script(*, brac: list = (0.0,), bp: list = ((124, 80, 70),), temp: float = 36.6) -> dict[str, list]:
    return {"bp_cuff": [{"systolic_mmhg": s, "diastolic_mmhg": d, "pulse_bpm": p} for s, d, p in bp],
            "thermometer": [{"temperature_c": temp}], "oximeter": [{"spo2_percent": 98, "pulse_bpm": 71}],
            "alcotester": [b if isinstance(b, DeviceError) else {"brac_mg_l": b} for b in brac]}


def kiosk_config(tmp: Path) -> KioskConfig:
    return KioskConfig.model_validate({
        "identity": {"site": "plant-1", "kiosk": "gate-1", "signing_key": str(tmp / "key.pem")},
        "journal": {"path": str(tmp / "journal.db")},
    })


class Kiosk:
    """One run of the kiosk (agent + roster + exam state + workflow) on the files in ``tmp``."""

    def __init__(self, tmp: Path, devices: ScriptedDevices, clock: ManualClock, **settings: Any):
        self.config = kiosk_config(tmp)
        self.agent = KioskAgent(self.config)  # the uplink is not started: no broker needed
        self.roster = Roster(tmp / "roster.db")
        self.roster.apply_update({"version": "t", "full": True, "workers": [WORKER]})
        self.state = ExamStateStore(self.config.journal.path)
        self.devices, self.clock = devices, clock
        self.workflow = Workflow(devices=devices, rules=load_rule_set(), roster=self.roster, record=self.agent.record,
                                 writer=self.agent.writer, state=self.state, clock=clock, site="plant-1",
                                 kiosk="gate-1", settings=WorkflowSettings(**{
                                     "exam_types": ["pre_shift"], "remeasure_pause_s": 0.05,
                                     "message_screen_s": 30, "result_screen_s": 30, **settings}))

    async def stop(self) -> None:
        await self.workflow.stop()
        await asyncio.to_thread(self.agent.stop, graceful=False)
        self.state.close()
        self.roster.close()

    async def screen(self, name: str, timeout: float = 10.0) -> dict:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.workflow.view["screen"] != name:
            assert loop.time() < deadline, f"screen {name!r} not reached; now {self.workflow.view}"
            await asyncio.sleep(0.01)
        return self.workflow.view

    async def badge_and_survey(self) -> None:
        """The worker taps the badge and answers the survey (no complaints)."""
        await self.screen("idle")
        self.workflow.submit("badge", {"card_id": CARD})
        for i, value in enumerate((True, False, False)):
            view = await self.screen("survey")
            while view.get("index") != i:
                await asyncio.sleep(0.01)
                view = self.workflow.view
            self.workflow.submit("answer", {"value": value, "question": view["question"]["id"]})


@contextlib.asynccontextmanager
async def kiosk(tmp: Path, devices: ScriptedDevices, clock: ManualClock | None = None,
                **settings: Any) -> AsyncIterator[Kiosk]:
    k = Kiosk(tmp, devices, clock or ManualClock(), **settings)
    await k.workflow.start()
    try:
        yield k
    finally:
        await k.stop()


def clock_at(minutes_from_now: float) -> ManualClock:
    """A kiosk clock that starts ``minutes_from_now`` ahead of the wall clock (the kiosk was down)."""
    return ManualClock(datetime.now(timezone.utc) + timedelta(minutes=minutes_from_now))


def journal_exams(tmp: Path) -> list[dict]:
    """Every exam record in the journal, oldest first (read through a connection of our own)."""
    db = sqlite3.connect(tmp / "journal.db")
    try:
        return [json.loads(r[0]) for r in db.execute("SELECT body FROM journal WHERE kind = 'exam' ORDER BY seq")]
    finally:
        db.close()


def in_progress(tmp: Path) -> list[tuple[str, str]]:
    db = sqlite3.connect(tmp / "journal.db")
    try:
        return db.execute("SELECT exam_id, state FROM exam_in_progress").fetchall()
    finally:
        db.close()


def breaths(exam: dict) -> list[tuple[int, float | None]]:
    return [(m["attempt"], m["value"]) for m in exam["measurements"] if m["field"] == "brac_mg_l"]


class SlowJournal(Journal):
    """A journal whose durable append takes 0.5 s (a stand-in for a slow SD-card fsync) and
    notes how far a ticker on the event loop got while each append ran."""

    ticker: "Ticker | None" = None
    delay_s = 0.5

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.appends: list[dict] = []  # per append: kind, ticks at start and end, thread
        self.started = threading.Event()

    def append(self, kind: str, body: dict, **kwargs: Any):
        ticker = SlowJournal.ticker
        # like a real fsync, the delay is inside the journal's lock (readers such as the
        # outbox depth on the screen's status wait for it)
        lock = getattr(self, "_lock", None) or contextlib.nullcontext()
        with lock:
            entry = {"kind": kind, "start": ticker.count if ticker else None,
                     "thread": threading.current_thread().name}
            self.started.set()
            time.sleep(self.delay_s)
            entry["end"] = ticker.count if ticker else None
            self.appends.append(entry)
            return super().append(kind, body, **kwargs)


class Ticker:
    """Counts while the event loop is free to run it."""

    def __init__(self, period_s: float = 0.01):
        self.count = 0
        self.period_s = period_s
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.period_s)
            self.count += 1

    def start(self) -> "Ticker":
        self._task = asyncio.create_task(self._run(), name="ticker")
        return self

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
