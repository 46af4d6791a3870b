"""The exam workflow: an asyncio state machine between the devices, the worker and the journal.

Identify (badge; personnel number + PIN as fallback) → consent on first use → exam type →
complaints survey → optional fatigue screening → measurements (device phases in parallel, live progress) →
pre-decision (``edge_agent.admission.decide``) → re-measure now / re-test later / result
screen, record and printed slip.

I/O is at the edges and injected: ``devices`` (the :class:`DeviceSupervisor` API:
``measure``, ``device_for``, ``health``), ``record`` (``KioskAgent.record``), ``printer``
(``print_lines`` of :class:`~firmware_bridges.serial.printer.ReceiptPrinter`) and the
``clock`` (:mod:`edge_agent.workflow.clock`). The screen reads :meth:`Workflow.snapshot`
and sends the worker's taps to :meth:`Workflow.submit`.

Re-tests (835н п.11; alcohol 933н/262н): the worker is told when to come back, steps aside,
and the kiosk serves others meanwhile; the idle screen shows each waiting worker's
countdown (computed from the injected clock) and calls them back when it is due. Their
next badge resumes the same exam. A worker who does not come back within
``retest_give_up_after_min`` of the due time is recorded as ``needs_medic``
(``workflow.retest_missed``): a started exam is never lost and never admitted unfinished.

Restarts: every exam with a measurement is kept in ``state``
(:class:`edge_agent.exam_state.ExamStateStore`, a table in the journal's file) — written after
each measurement round and when a re-test is scheduled, deleted once the exam record is
journaled — and :meth:`Workflow.start` resumes them: a scheduled re-test keeps its stored due
time (the countdown does not restart), an interrupted re-measurement is called back at once,
an alcohol re-test whose window closed while the kiosk was down is finished by the rule set's
``alcohol.window`` rule (the medic decides), an exam already in the journal is not recorded
again. Durable writes (journal appends and these rows) never run on the event loop: they go,
in order, through one writer thread (:class:`edge_agent.agent.SerialWriter`), and each state
change is durable before the screen moves on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from edge_agent.admission import RuleSet
from edge_agent.agent import SerialWriter
from edge_agent.exam_state import ExamStateStore
from edge_agent.roster import Roster
from edge_agent.workflow.camera import CameraState
from edge_agent.workflow.clock import Clock
from edge_agent.workflow.fatigue import FatigueState
from edge_agent.workflow.finish import FinishState
from edge_agent.workflow.identify import IdentifyState
from edge_agent.workflow.intake import IntakeState
from edge_agent.workflow.measure import MeasureState
from edge_agent.workflow.restore import RestoreState
from edge_agent.workflow.retest import RetestState
from edge_agent.workflow.screen import ScreenIO
from edge_agent.workflow.session import (
    CONSENT_TEXT_VERSION,
    NEEDS_MEDIC_HEADLINE,
    RETEST_MISSED,
    Abandoned,
    ExamSession,
)
from edge_agent.workflow.settings import WorkflowSettings
from edge_agent.workflow.states import Screen
from edge_agent.workflow.taps import TapGuard
from edge_agent.workflow.tickets import Tickets

log = logging.getLogger(__name__)

__all__ = ["CONSENT_TEXT_VERSION", "NEEDS_MEDIC_HEADLINE", "RETEST_MISSED", "Abandoned", "ExamSession", "Workflow"]


class Workflow(ScreenIO, CameraState, IdentifyState, IntakeState, FatigueState, MeasureState, RetestState,
               RestoreState, FinishState):
    """The kiosk's exam state machine. Its states are the :class:`~edge_agent.workflow.states.Screen`
    values the page renders; each state's work is a unit of its own:

    ==========================================  =====================================
    ``IDLE`` → ``PIN``                           :mod:`~edge_agent.workflow.identify`
    ``CONSENT`` → ``EXAM_TYPE`` → ``SURVEY``     :mod:`~edge_agent.workflow.intake`
    ``FATIGUE`` (optional, after the survey)     :mod:`~edge_agent.workflow.fatigue`
    ``MEASURING`` ⇄ ``REMEASURE``                :mod:`~edge_agent.workflow.measure`
    ``RETEST_WAIT`` (and the call-back)          :mod:`~edge_agent.workflow.retest`
    ``RESULT``                                   :mod:`~edge_agent.workflow.finish`
    ``MESSAGE`` (errors), the view and taps      :mod:`~edge_agent.workflow.screen`
    identity photos                              :mod:`~edge_agent.workflow.camera`
    restarts                                     :mod:`~edge_agent.workflow.restore`
    ==========================================  =====================================

    :meth:`_main` runs the transitions: ``IDLE`` → identified → a waiting exam resumes at its
    re-test, or a new exam starts → … → back to ``IDLE``.
    """

    def __init__(self, *, devices: Any, rules: RuleSet, roster: Roster, record: Callable[[str, dict], Any],
                 clock: Clock, settings: WorkflowSettings | None = None, printer: Any = None,
                 site: str = "site", kiosk: str = "kiosk", slip_width: int = 32, slip_timezone: str = "Europe/Moscow",
                 input_timeout_s: float = 120.0, state: ExamStateStore | None = None,
                 writer: SerialWriter | None = None, language: str = "ru"):
        """``record(kind, body)`` is blocking (``KioskAgent.record``): the workflow calls it on
        ``writer`` (the agent's ``writer``, so appends from the whole kiosk stay in order; a
        writer of its own if none is given). ``state`` keeps exams in progress across
        restarts (none: in memory only, as for the benchmark). ``language`` is the screen's
        default; a worker's choice holds until their exam ends (and across a page reload)."""
        self.devices = devices
        self.rules = rules
        self.roster = roster
        self.record = record
        self.state = state
        self._own_writer = writer is None
        self.writer = writer or SerialWriter("workflow-writer")
        self.clock = clock
        self.settings = settings or WorkflowSettings()
        self.printer = printer
        self.site, self.kiosk = site, kiosk
        self.slip_width, self.slip_timezone = slip_width, slip_timezone
        self.input_timeout_s = input_timeout_s
        self.view: dict[str, Any] = {"screen": Screen.IDLE}
        self.version = 0
        self.taps = TapGuard()
        self.tickets = Tickets()
        self.current: ExamSession | None = None  # the exam of the worker at the kiosk now
        self.default_language = self.language = language
        self._tz = ZoneInfo(slip_timezone)
        self.waiting: dict[str, ExamSession] = {}
        self.notices: list[dict] = []
        self.finished: list[dict] = []  # exam bodies recorded by this workflow (newest last, bounded)
        self.stats: list[dict] = []  # per finished exam: where the time went (for the benchmark)
        self._inputs: asyncio.Queue[tuple[str, dict]] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []
        self._watchers: dict[str, asyncio.Task] = {}
        self._changed = asyncio.Event()
        self._camera_reported: str | None = None  # the exam whose camera failure is journaled

    async def start(self) -> None:
        """Resume the exams a previous run left unfinished, then serve the screen and badges."""
        await self._restore()
        self._tasks = [asyncio.create_task(self._main(), name="workflow"),
                       asyncio.create_task(self._badges(), name="workflow-badges")]

    async def stop(self) -> None:
        """Stop serving; writes already handed over are carried out, the exams in progress
        stay in ``state`` for the next start."""
        tasks = self._tasks + list(self._watchers.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks, self._watchers = [], {}
        if self._own_writer:
            await asyncio.to_thread(self.writer.close)

    async def _main(self) -> None:
        while True:
            self.current = None
            self.language = self.default_language  # the next worker starts in the kiosk's language
            self._show(Screen.IDLE)
            try:
                worker = await self._identify()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("identification failed")
                continue
            if worker is None:
                continue
            number = worker["personnel_number"]
            try:
                session = self.waiting.get(number)
                if session is not None:
                    await self._resume(session, worker.get("_t_identified", time.perf_counter()))
                else:
                    await self._new_exam(worker)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("exam of %s failed", number)
                self.record_event("workflow_error", "critical", ru="Сбой программы киоска во время осмотра.",
                                  en="Kiosk software failure during an exam.", details={"worker_id": number})
                await self._message("kiosk_error")

    def record_event(self, type_: str, severity: str, *, ru: str, en: str, device: str | None = None,
                     details: dict | None = None) -> None:
        """Journal an event on the writer thread (in order with the exams); not awaited."""
        body = {"type": type_, "severity": severity, "device": device, "message_ru": ru, "message_en": en,
                "details": dict(details or {})}
        try:
            self.writer.submit(self._record_event_now, body)
        except RuntimeError:  # the writer is closed: the workflow is stopping
            log.error("could not record event %s: the kiosk is stopping", type_)

    def _record_event_now(self, body: dict) -> None:
        try:
            self.record("event", body)
        except Exception:
            log.exception("could not record event %s", body["type"])

    def medic_decision(self, args: dict) -> None:
        """A medic's decision from the hub: recorded as an event, shown if it concerns someone here."""
        outcome = args.get("outcome")
        exam_id = args.get("exam_id")
        worker_id = args.get("worker_id")
        body = next((b for b in reversed(self.finished) if b["exam_id"] == exam_id), None)
        if body is not None:
            worker_id = worker_id or body["worker_id"]
        self.record_event("medic_decision", "info", ru="Получено решение медицинского работника.",
                          en="A medical worker's decision arrived.", details=dict(args))
        if outcome not in ("admitted", "not_admitted") or not exam_id:
            return
        # the shared screen names the exam by its ticket (or the exam number on the slip), never the worker
        ticket = body.get("ticket") if body is not None else None
        ref_ru = f"талон {ticket}" if ticket else f"осмотр № {str(exam_id)[:8]}"
        ref_en = f"ticket {ticket}" if ticket else f"exam no. {str(exam_id)[:8]}"
        ru = {"admitted": "допущен к работе", "not_admitted": "не допущен к работе"}[outcome]
        en = {"admitted": "admitted to work", "not_admitted": "not admitted to work"}[outcome]
        self.notice(f"Решение медика ({ref_ru}): {ru}.", f"Medic's decision ({ref_en}): {en}.", kind="medic")
