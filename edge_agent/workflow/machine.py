"""The exam workflow: an asyncio state machine between the devices, the worker and the journal.

Identify (badge; personnel number + PIN as fallback) → consent on first use → exam type →
complaints survey → measurements (device phases in parallel, live progress) →
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
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from edge_agent.admission import Attempt, Decision, ExamInput, IndividualNorm, RuleSet, decide
from edge_agent.admission.rules import GROUP_FIELDS
from edge_agent.agent import SerialWriter
from edge_agent.exam_state import ExamStateStore, StoredExam
from edge_agent.roster import Roster
from edge_agent.workflow import plan
from edge_agent.workflow.clock import Clock
from edge_agent.workflow.settings import WorkflowSettings
from edge_agent.workflow.slip import build_slip
from firmware_bridges.devices import DeviceError, DeviceNotResponding, kind_names
from firmware_bridges.readings import Reading

log = logging.getLogger("edge_agent.workflow")

CONSENT_TEXT_VERSION = "2026-1"
RETEST_MISSED = {
    "rule": "workflow.retest_missed",
    "source": "835н п.11 / 933н: the prescribed re-test was not taken; the medical worker decides (kiosk workflow design default)",
    "effect": "needs_medic",
    "ru": "Повторное измерение не проведено: работник не вернулся к киоску. Решение принимает медицинский работник.",
    "en": "The re-test was not taken: the worker did not come back to the kiosk. The medical worker decides.",
}
#: The headline of an exam the workflow closes itself (as ``admission.messages.render_summary`` words it).
NEEDS_MEDIC_HEADLINE = {"ru": "Ожидайте медицинского работника: требуется его решение.",
                        "en": "Please wait for the medical worker, who must decide."}


def short_name(full_name: str) -> str:
    """"Иванов Иван Петрович" → "Иванов И. П." (what the idle screen shows of a waiting worker)."""
    parts = full_name.split()
    return " ".join([parts[0], *(p[0] + "." for p in parts[1:3])]) if parts else full_name


@dataclass
class ExamSession:
    """One exam in progress (possibly waiting for its re-test)."""

    exam_id: str
    worker: dict
    exam_type: str
    started_at: datetime
    consent: dict | None = None
    answers: dict[str, bool] = field(default_factory=dict)
    attempts: list = field(default_factory=list)
    measurements: list[dict] = field(default_factory=list)
    decision: Decision | None = None
    timings: plan.Timings = field(default_factory=plan.Timings)
    busy_since: float = 0.0  # perf_counter when the kiosk last started working on it
    busy_s: float = 0.0  # wall time the kiosk spent on this exam (excludes the re-test wait)
    due_at: datetime | None = None
    window_closes_at: datetime | None = None
    retest_kinds: frozenset[str] = frozenset()
    retest_reason: str = "retest"  # what the call-back measures: "retest", or "remeasure" after a restart
    minute_zero: datetime | None = None  # when the first readings were taken: minute 0 of the rules
    stored: StoredExam | None = None  # its row in the exam state store, once written

    def minute(self, now: datetime) -> float:
        """Minutes since the first readings (the admission rules time re-tests from there)."""
        if self.minute_zero is None:
            self.minute_zero = now
        return round((now - self.minute_zero).total_seconds() / 60.0, 3)

    def to_state(self) -> dict:
        """What a restart needs (JSON); the decision is recomputed from the attempts."""
        return {"exam_id": self.exam_id, "exam_type": self.exam_type, "started_at": self.started_at.isoformat(),
                "minute_zero": None if self.minute_zero is None else self.minute_zero.isoformat(),
                "worker": {k: v for k, v in self.worker.items() if not k.startswith("_")},
                "consent": self.consent, "answers": dict(self.answers),
                "attempts": [a.model_dump(mode="json", exclude_unset=True) | {"minute": a.minute}
                             for a in self.attempts],
                "measurements": list(self.measurements), "retest_reason": self.retest_reason,
                "timings": {"worker_s": self.timings.worker_s, "devices_s": self.timings.devices_s,
                            "decide_ms": list(self.timings.decide_ms)}, "busy_s": self.busy_s}

    @classmethod
    def from_stored(cls, row: StoredExam) -> "ExamSession":
        data = row.session
        zero = data.get("minute_zero")
        t = data.get("timings", {})
        return cls(exam_id=row.exam_id, worker=dict(data["worker"]), exam_type=data["exam_type"],
                   started_at=datetime.fromisoformat(data["started_at"]), consent=data.get("consent"),
                   answers=dict(data.get("answers", {})),
                   attempts=[Attempt.model_validate(a) for a in data.get("attempts", [])],
                   measurements=list(data.get("measurements", [])),
                   timings=plan.Timings(worker_s=t.get("worker_s", 0.0), devices_s=t.get("devices_s", 0.0),
                                        decide_ms=list(t.get("decide_ms", []))),
                   busy_s=float(data.get("busy_s", 0.0)), due_at=row.due_at, window_closes_at=row.window_closes_at,
                   retest_kinds=frozenset(row.retest_kinds), retest_reason=data.get("retest_reason", "retest"),
                   minute_zero=None if zero is None else datetime.fromisoformat(zero), stored=row)


class Abandoned(Exception):
    """The worker walked away or cancelled before the exam produced a result."""


class Workflow:
    def __init__(self, *, devices: Any, rules: RuleSet, roster: Roster, record: Callable[[str, dict], Any],
                 clock: Clock, settings: WorkflowSettings | None = None, printer: Any = None,
                 site: str = "site", kiosk: str = "kiosk", slip_width: int = 32, slip_timezone: str = "Europe/Moscow",
                 input_timeout_s: float = 120.0, state: ExamStateStore | None = None,
                 writer: SerialWriter | None = None):
        """``record(kind, body)`` is blocking (``KioskAgent.record``): the workflow calls it on
        ``writer`` (the agent's ``writer``, so appends from the whole kiosk stay in order; a
        writer of its own if none is given). ``state`` keeps exams in progress across
        restarts (none: in memory only, as for the benchmark)."""
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
        self.view: dict[str, Any] = {"screen": "idle"}
        self.version = 0
        self.waiting: dict[str, ExamSession] = {}
        self.notices: list[dict] = []
        self.finished: list[dict] = []  # exam bodies recorded by this workflow (newest last, bounded)
        self.stats: list[dict] = []  # per finished exam: where the time went (for the benchmark)
        self._inputs: asyncio.Queue[tuple[str, dict]] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []
        self._watchers: dict[str, asyncio.Task] = {}
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle

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

    # ------------------------------------------------------------------ screen side

    def _show(self, screen: str, **data: Any) -> None:
        self.view = {"screen": screen, **data}
        self.version += 1
        self._changed.set()

    def _touch(self) -> None:
        self.version += 1
        self._changed.set()

    def snapshot(self) -> dict[str, Any]:
        """What the screen shows now; countdowns are computed from the injected clock."""
        now = self.clock.now()
        view = dict(self.view)
        for key in ("due_at", "window_closes_at", "until"):
            if isinstance(view.get(key), datetime):
                view[key.replace("_at", "") + "_in_s"] = max(0.0, (view[key] - now).total_seconds())
                view.pop(key)
        waiting = []
        for session in sorted(self.waiting.values(), key=lambda s: s.due_at or now):
            due_in = max(0.0, ((session.due_at or now) - now).total_seconds())
            waiting.append({"name": short_name(session.worker["full_name"]), "due_in_s": round(due_in, 1),
                            "called": due_in <= 0,
                            "window_closes_in_s": None if session.window_closes_at is None else
                            round(max(0.0, (session.window_closes_at - now).total_seconds()), 1)})
        notices = [n for n in self.notices if n["until"] > now]
        self.notices = notices
        health = {}
        try:
            health = self.devices.health()
        except Exception:  # the screen must render even if the supervisor cannot report
            log.exception("device health unavailable")
        return {"version": self.version, "now": now.isoformat(), "view": view, "waiting": waiting,
                "notices": [{k: v for k, v in n.items() if k not in ("until", "key")} for n in notices],
                "devices": {name: {k: h.get(k) for k in ("kind", "state", "message_ru", "message_en")}
                            for name, h in health.items()}}

    async def wait_change(self, after_version: int, timeout: float) -> None:
        """Return when the view changes after ``after_version`` (or after ``timeout``)."""
        if self.version != after_version:
            return
        self._changed.clear()
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    def submit(self, action: str, data: dict | None = None) -> None:
        """A tap on the screen (or a badge): queued for the state machine."""
        self._inputs.put_nowait((action, dict(data or {})))

    def notice(self, ru: str, en: str, *, seconds: float = 300.0, kind: str = "info", key: str | None = None) -> None:
        """A line in the screen's footer (call-backs, medic decisions) until it expires or is withdrawn."""
        self.notices.append({"ru": ru, "en": en, "kind": kind, "key": key,
                             "until": self.clock.now() + timedelta(seconds=seconds)})
        self._touch()

    def withdraw(self, key: str) -> None:
        self.notices = [n for n in self.notices if n.get("key") != key]
        self._touch()

    # ------------------------------------------------------------------ inputs

    async def _badges(self) -> None:
        queue = self.devices.badge_reads()
        while True:
            reading: Reading = await queue.get()
            if reading.card_id:
                self.submit("badge", {"card_id": reading.card_id})

    async def _input(self, expected: set[str], timeout: float | None) -> tuple[str, dict]:
        """The next input of an expected kind; others are dropped (a badge mid-exam, a stale tap)."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                raise asyncio.TimeoutError
            async with asyncio.timeout(left):  # (not wait_for: on 3.11 it can swallow a cancellation)
                action, data = await self._inputs.get()
            if action in expected:
                return action, data
            log.debug("input %s ignored on screen %s", action, self.view.get("screen"))

    async def _worker_input(self, session: ExamSession, expected: set[str]) -> tuple[str, dict]:
        """Wait for the worker (time counted as worker time); cancel or walking away abandons."""
        t0 = time.perf_counter()
        try:
            action, data = await self._input(expected | {"cancel"}, self.input_timeout_s)
        except asyncio.TimeoutError:
            raise Abandoned("timeout") from None
        finally:
            session.timings.worker_s += time.perf_counter() - t0
        if action == "cancel":
            raise Abandoned("cancelled")
        return action, data

    async def _message(self, kind: str, seconds: float | None = None, **data: Any) -> None:
        """A message screen that returns to the start after a while or on a tap."""
        self._show("message", kind=kind, **data)
        await self._dismiss(seconds or self.settings.message_screen_s)

    async def _dismiss(self, seconds: float) -> None:
        """Keep the current screen until a tap, a badge (handled next) or ``seconds``."""
        try:
            action, data = await self._input({"ok", "badge"}, seconds)
        except asyncio.TimeoutError:
            return
        if action == "badge":
            self.submit("badge", data)

    # ------------------------------------------------------------------ main loop

    async def _main(self) -> None:
        while True:
            self._show("idle")
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

    async def _identify(self) -> dict | None:
        action, data = await self._input({"badge", "pin_open"}, None)
        t_start = time.perf_counter()
        if action == "badge":
            worker = self.roster.by_badge(data["card_id"])
            if worker is None:
                self.record_event("unknown_badge", "info", ru="Пропуск не найден в списке работников.",
                                  en="Badge not in the roster.", details={"card_id": data["card_id"]})
                await self._message("unknown_badge")
                return None
            worker["_t_identified"] = t_start
            return worker
        failures = 0
        self._show("pin", error=None)
        while True:
            try:
                action, data = await self._input({"pin_submit", "cancel", "badge"}, self.input_timeout_s)
            except asyncio.TimeoutError:
                return None
            if action == "cancel":
                return None
            if action == "badge":
                self.submit("badge", data)
                return None
            worker, status = await asyncio.to_thread(  # PBKDF2 and a durable write: off the loop
                self.roster.check_pin, str(data.get("number", "")), str(data.get("pin", "")),
                max_failures=self.settings.pin_attempts, lock_s=self.settings.pin_lock_min * 60, now=self.clock.now())
            if status == "ok" and worker is not None:
                worker["_t_identified"] = time.perf_counter()
                return worker
            failures += 1
            if status == "locked":
                await self._message("pin_locked")
                return None
            self._show("pin", error=status, attempt=failures)

    # ------------------------------------------------------------------ exam

    async def _new_exam(self, worker: dict) -> None:
        session = ExamSession(exam_id=str(uuid.uuid4()), worker=worker, exam_type=self.settings.default_exam_type,
                              started_at=self.clock.now())
        session.busy_since = worker.pop("_t_identified", time.perf_counter())
        try:
            if not worker.get("consent_given_at"):
                self._show("consent", name=worker["full_name"])
                action, _ = await self._worker_input(session, {"consent_accept", "consent_decline"})
                if action == "consent_decline":
                    self.record_event("consent_declined", "info", ru="Работник отказался от автоматизированного осмотра.",
                                      en="The worker declined the automated exam.",
                                      details={"worker_id": worker["personnel_number"]})
                    await self._message("consent_declined")
                    return
                given = await asyncio.to_thread(self.roster.record_consent, worker["personnel_number"], self.kiosk,
                                                CONSENT_TEXT_VERSION, self.clock.now())
                session.consent = {"given_at": given, "text_version": CONSENT_TEXT_VERSION, "kiosk": self.kiosk}
            else:
                session.consent = {"given_at": worker["consent_given_at"]}
            if len(self.settings.exam_types) > 1:
                self._show("exam_type", name=worker["full_name"], options=self.settings.exam_types,
                           default=self.settings.default_exam_type)
                _, data = await self._worker_input(session, {"exam_type"})
                if data.get("exam_type") in self.settings.exam_types:
                    session.exam_type = data["exam_type"]
            else:
                session.exam_type = self.settings.exam_types[0]
            questions = self.settings.survey
            for i, q in enumerate(questions):
                self._show("survey", name=worker["full_name"], index=i, total=len(questions),
                           question={"id": q.id, "ru": q.ru, "en": q.en})
                _, data = await self._worker_input(session, {"answer"})
                session.answers[q.id] = bool(data.get("value"))
        except Abandoned as why:
            self.record_event("exam_abandoned", "info", ru="Осмотр прерван до измерений.",
                              en="Exam abandoned before the measurements.",
                              details={"worker_id": worker["personnel_number"], "why": str(why)})
            await self._message("abandoned")
            return
        kinds = self._kinds_for_exam(session.exam_type)
        await self._run_rounds(session, kinds, "first")

    def _kinds_for_exam(self, exam_type: str) -> set[str]:
        required = set(self.rules.exam_types[exam_type].required)
        needed = plan.kinds_for_groups(required)
        optional = plan.kinds_for_groups(set(GROUP_FIELDS) - required)
        present = {k for k in optional if self.devices.device_for(k) is not None}
        return needed | present

    async def _resume(self, session: ExamSession, t_identified: float) -> None:
        now = self.clock.now()
        session.busy_since = t_identified
        if session.due_at is not None and now < session.due_at:
            self._show("retest_wait", name=session.worker["full_name"], due_at=session.due_at,
                       window_closes_at=session.window_closes_at, early=True,
                       summary=session.decision.summary if session.decision else {})
            await self._dismiss(self.settings.message_screen_s)
            session.busy_s += time.perf_counter() - session.busy_since
            return
        self.waiting.pop(session.worker["personnel_number"], None)
        self.withdraw(session.exam_id)
        watcher = self._watchers.pop(session.exam_id, None)
        if watcher is not None:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        await self._run_rounds(session, set(session.retest_kinds), session.retest_reason)

    async def _run_rounds(self, session: ExamSession, kinds: set[str], reason: str) -> None:
        """Measure, decide, re-measure now as the rules ask; then finish or schedule the re-test."""
        errors: list[dict] = []
        while True:
            results = await self._measure(session, kinds, reason, errors)
            t_last = time.perf_counter()
            minute = session.minute(self.clock.now())
            if session.attempts and minute < session.attempts[-1].minute:
                minute = session.attempts[-1].minute
            attempt = plan.build_attempt(minute, results)
            session.attempts.append(attempt)
            session.decision = self._decide(session)
            session.timings.decide_ms.append((time.perf_counter() - t_last) * 1000.0)
            step = plan.next_step(session.decision)
            if step.action == "final":
                await self._finish(session, session.decision.outcome)
                return
            if step.action == "remeasure":
                kinds = set(step.kinds) or kinds
                reason = "remeasure"
                await self._persist(session, "measured")  # the readings so far survive a restart
                errors = [{"kind": k, "ru": r.message_ru, "en": r.message_en}
                          for k, r in results.items() if isinstance(r, DeviceError)]
                if not errors:  # an implausible value: say which (the device itself reported nothing)
                    errors = [{"kind": None, "ru": r.ru, "en": r.en} for r in session.decision.reasons
                              if r.rule.startswith("plausibility.")][-2:]
                self._show("remeasure", name=session.worker["full_name"], errors=errors,
                           kinds=sorted(kinds))
                t0 = time.perf_counter()
                await asyncio.sleep(self.settings.remeasure_pause_s)
                session.timings.worker_s += time.perf_counter() - t0
                continue
            await self._schedule_retest(session, step)
            await self._dismiss(self.settings.message_screen_s)
            return

    def _decide(self, session: ExamSession) -> Decision:
        norm = session.worker.get("individual_norm")
        exam = ExamInput(exam_type=session.exam_type, attempts=session.attempts,
                         individual_norm=IndividualNorm.model_validate(norm) if norm else None,
                         complaints=plan.complaints(session.answers, self.settings.survey))
        return decide(exam, self.rules)

    async def _measure(self, session: ExamSession, kinds: set[str], reason: str,
                       errors: list[dict]) -> dict[str, Reading | DeviceError]:
        """One round: each configured phase in turn, the devices of a phase in parallel."""
        attempt_no = len(session.attempts) + 1
        order = [k for phase in self.settings.phases for k in phase if k in kinds]
        order += sorted(k for k in kinds if k not in order)
        cards = {k: {"kind": k, "state": "waiting", "progress": {}, "message_ru": None, "message_en": None}
                 for k in order}
        self._show("measuring", name=session.worker["full_name"], reason=reason, attempt=attempt_no,
                   devices=[cards[k] for k in order])
        results: dict[str, Reading | DeviceError] = {}
        taken_at: dict[str, datetime] = {}
        identities: dict[str, dict] = {}
        phases = [[k for k in phase if k in kinds] for phase in self.settings.phases]
        phases.append([k for k in kinds if not any(k in p for p in self.settings.phases)])
        for phase in [p for p in phases if p]:
            t0 = time.perf_counter()
            outcome = await asyncio.gather(*(self._measure_one(k, cards[k]) for k in phase))
            session.timings.devices_s += time.perf_counter() - t0
            for kind, (result, ident) in zip(phase, outcome):
                results[kind] = result
                taken_at[kind] = self.clock.now()
                identities[kind] = ident
        session.measurements += plan.measurement_entries(attempt_no, results, taken_at, identities)
        return results

    async def _measure_one(self, kind: str, card: dict) -> tuple[Reading | DeviceError, dict]:
        name = self.devices.device_for(kind)
        ident: dict = {}
        if name is not None:
            h = self.devices.health().get(name, {})
            ident = {k: h.get(k) for k in ("model", "serial", "verified_until")}
        card["state"] = "measuring"
        self._touch()

        def progress(p: dict) -> None:
            card["progress"] = dict(p)
            self._touch()

        try:
            if name is None:
                ru, en = kind_names(kind)
                raise DeviceNotResponding(f"{ru} не подключён к киоску. Сообщите дежурному.",
                                          f"{en} is not connected to this kiosk. Tell the attendant.",
                                          code="not_configured", kind=kind)
            result: Reading | DeviceError = await self.devices.measure(
                kind, timeout=self.settings.measure_timeout_s, progress=progress)
            card.update(state="done", values=_shown_values(kind, result))
        except DeviceError as error:
            result = error
            card.update(state="error", message_ru=error.message_ru, message_en=error.message_en)
        except asyncio.TimeoutError:
            result = DeviceNotResponding.for_kind(kind, "no result before the workflow's timeout")
            card.update(state="error", message_ru=result.message_ru, message_en=result.message_en)
        self._touch()
        return result, ident

    # ------------------------------------------------------------------ re-tests

    async def _schedule_retest(self, session: ExamSession, step: plan.Step, *, show: bool = True) -> None:
        """The re-test minutes come from the decision (the rule set's timings and sources)."""
        zero = session.minute_zero or session.started_at
        session.due_at = zero + timedelta(minutes=step.not_before_minute or 0)
        session.window_closes_at = (None if step.not_after_minute is None
                                    else zero + timedelta(minutes=step.not_after_minute))
        session.retest_kinds = step.kinds
        session.retest_reason = "retest"
        if show:
            session.busy_s += time.perf_counter() - session.busy_since
        await self._persist(session, "retest_wait")  # durable before the worker is sent away
        self._wait_for(session)
        if show:
            self._show("retest_wait", name=session.worker["full_name"], due_at=session.due_at,
                       window_closes_at=session.window_closes_at, early=False,
                       summary=session.decision.summary if session.decision else {})

    def _wait_for(self, session: ExamSession) -> None:
        """List the worker as waiting and call them back at ``due_at``."""
        self.waiting[session.worker["personnel_number"]] = session
        self._watchers[session.exam_id] = asyncio.create_task(self._watch_retest(session))

    async def _watch_retest(self, session: ExamSession) -> None:
        """Call the worker back when due; close the exam if they never come."""
        assert session.due_at is not None
        await self.clock.sleep_until(session.due_at)
        self.notice(f"{short_name(session.worker['full_name'])}: подойдите к киоску для повторного измерения.",
                    f"{short_name(session.worker['full_name'])}: please come back to the kiosk for the re-test.",
                    seconds=self.settings.retest_give_up_after_min * 60, kind="call", key=session.exam_id)
        await self.clock.sleep_until(session.due_at + timedelta(minutes=self.settings.retest_give_up_after_min))
        if self.waiting.get(session.worker["personnel_number"]) is session:
            self.waiting.pop(session.worker["personnel_number"])
            self._watchers.pop(session.exam_id, None)
            self.withdraw(session.exam_id)
            await self._finish(session, "needs_medic", extra=[RETEST_MISSED], show=False)

    # ------------------------------------------------------------------ durable state, restarts

    async def _persist(self, session: ExamSession, state: str) -> None:
        """Write the exam's row (``state`` ``measured`` or ``retest_wait``); durable on return."""
        if self.state is None:
            return
        row = StoredExam(exam_id=session.exam_id, worker_id=session.worker["personnel_number"], state=state,
                         session=session.to_state(), due_at=session.due_at, window_closes_at=session.window_closes_at,
                         retest_kinds=sorted(session.retest_kinds),
                         revision=session.stored.revision if session.stored else 0)
        await self.writer.run(self.state.save, row)
        session.stored = row

    async def _restore(self) -> None:
        """Resume every exam a previous run of the kiosk left unfinished."""
        if self.state is None:
            return
        for row in await self.writer.run(self.state.load):
            try:
                await self._restore_one(row)
            except Exception:  # the row stays for the next start; the failure is reported
                log.exception("exam %s could not be resumed", row.exam_id)
                self.record_event("workflow_error", "critical", ru="Незавершённый осмотр не удалось продолжить.",
                                  en="An unfinished exam could not be resumed.",
                                  details={"exam_id": row.exam_id, "worker_id": row.worker_id})

    async def _restore_one(self, row: StoredExam) -> None:
        assert self.state is not None
        if await self.writer.run(self.state.journaled, row.exam_id):
            # the kiosk stopped between the exam record and the deletion of this row
            await self.writer.run(self.state.delete, row.exam_id)
            log.info("exam %s was already recorded; its in-progress row is removed", row.exam_id)
            return
        session = ExamSession.from_stored(row)
        session.busy_since = time.perf_counter()
        session.decision = self._decide(session)
        now = self.clock.now()
        log.info("resuming exam %s of %s (%s, re-test due %s)", row.exam_id, row.worker_id, row.state, row.due_at)
        if session.window_closes_at is not None and now > session.window_closes_at:
            missed = self._window_missed(session, now)
            await self._finish(session, missed["effect"], extra=[missed], show=False)
        elif row.state == "retest_wait":
            self._wait_for(session)  # the countdown continues from the stored due time
        else:  # readings stored, the next step not taken yet (a re-measurement was under way)
            step = plan.next_step(session.decision)
            if step.action == "final":
                await self._finish(session, session.decision.outcome, show=False)
            elif step.action == "retest":
                await self._schedule_retest(session, step, show=False)
            else:  # call the worker back now for what is still to be measured
                session.due_at, session.retest_reason = now, "remeasure"
                session.retest_kinds = step.kinds or frozenset(self._kinds_for_exam(session.exam_type))
                await self._persist(session, "retest_wait")
                self._wait_for(session)

    def _window_missed(self, session: ExamSession, now: datetime) -> dict:
        """The rule set's ``alcohol.window`` for a confirmation (or trace repeat) the kiosk could
        not take within its window because it was not running: not a valid test, the medic decides."""
        rule = self.rules.rules.alcohol_window
        zero = session.minute_zero or session.started_at
        lo = round(((session.due_at or zero) - zero).total_seconds() / 60.0, 3)
        hi = round((session.window_closes_at - zero).total_seconds() / 60.0, 3) if session.window_closes_at else lo
        first = next((f for f in reversed(session.decision.fired if session.decision else [])
                      if f.rule in ("alcohol", "alcohol.trace") and f.effect == "retest"), None)
        ru_window = f"{lo:g}–{hi:g}".replace(".", ",")
        return {
            "rule": rule.id, "source": rule.source, "effect": rule.outcome, "value": None,
            "minute": session.minute(now), "threshold": f"minute {lo:g}–{hi:g}",
            "detail": {"confirmation_taken": False, "kiosk_restarted": True, "window_from": lo, "window_to": hi,
                       "first_value": first.value if first else None, "first_minute": first.minute if first else None},
            "ru": (f"Повторное исследование выдыхаемого воздуха не проведено в интервале {ru_window} мин осмотра: "
                   "киоск не работал. Решение принимает медицинский работник."),
            "en": (f"The second breath test was not taken within minute {lo:g}–{hi:g} of the exam: the kiosk was "
                   "out of service. The medical worker decides."),
        }

    # ------------------------------------------------------------------ finishing

    async def _finish(self, session: ExamSession, outcome: str, extra: list[dict] | None = None,
                      show: bool = True) -> None:
        finished = self.clock.now()
        t_show = time.perf_counter()
        if show:
            session.busy_s += t_show - session.busy_since
        body = plan.exam_body(
            exam_id=session.exam_id, worker=session.worker, exam_type=session.exam_type,
            started_at=session.started_at, finished_at=finished, answers=session.answers,
            measurements=session.measurements, attempts=session.attempts, decision=session.decision,
            outcome=outcome, extra_fired=list(extra or []), consent=session.consent, timings=session.timings,
            kiosk=self.kiosk, rule_set_version=self.rules.rule_set.version)
        body["timings"]["busy_s"] = round(session.busy_s, 3)
        if extra:  # closed by the workflow, not by a decision: the headline says who decides now
            body["summary"] = {lang: " ".join([NEEDS_MEDIC_HEADLINE[lang], *(f[lang] for f in extra)])
                               for lang in ("ru", "en")}
        await self.writer.run(self._record_exam, session, body)  # durable before the result shows
        self.finished = (self.finished + [body])[-50:]
        if not show:
            return
        printed, printer_error = await self._print(body)
        self._show("result", name=session.worker["full_name"], outcome=outcome,
                   summary=(session.decision.summary if session.decision else {}),
                   reasons=body["reasons"], printed=printed, printer_error=printer_error,
                   notify_employer=body.get("notify_employer", False))
        session.busy_s += time.perf_counter() - t_show
        self.stats.append({"exam_id": session.exam_id, "outcome": outcome, "busy_s": session.busy_s,
                           **session.timings.to_dict()})
        await self._dismiss(self.settings.result_screen_s)

    def _record_exam(self, session: ExamSession, body: dict) -> None:
        """On the writer thread: the exam record first, then its in-progress row (a kiosk dying
        between the two leaves a row that :meth:`_restore` finds already journaled)."""
        self.record("exam", body)
        if self.state is not None and session.stored is not None:
            self.state.delete(session.exam_id)

    async def _print(self, body: dict) -> tuple[bool | None, dict | None]:
        if self.printer is None:
            return None, None
        slip = build_slip(body, site=self.site, kiosk=self.kiosk, width=self.slip_width, tz=self.slip_timezone)
        try:
            await asyncio.wait_for(self.printer.print_lines(slip.title, slip.lines, slip.emphasis), 15.0)
            return True, None
        except DeviceError as error:
            message = {"ru": error.message_ru, "en": error.message_en}
        except (asyncio.TimeoutError, OSError) as error:
            message = {"ru": "Принтер не отвечает: талон не напечатан. Сообщите дежурному.",
                       "en": f"The printer does not respond: the slip was not printed ({error!r}). Tell the attendant."}
        self.record_event("device_fault", "warning", ru=message["ru"], en=message["en"], device="printer",
                          details={"exam_id": body["exam_id"]})
        return False, message

    # ------------------------------------------------------------------ events and commands

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
        worker = self.roster.by_number(worker_id) if worker_id else None
        if worker is None or outcome not in ("admitted", "not_admitted"):
            return
        name = short_name(worker["full_name"])
        ru = {"admitted": "допущен к работе", "not_admitted": "не допущен к работе"}[outcome]
        en = {"admitted": "admitted to work", "not_admitted": "not admitted to work"}[outcome]
        self.notice(f"Решение медика: {name} — {ru}.", f"Medic's decision: {name} — {en}.", kind="medic")


def _shown_values(kind: str, reading: Reading) -> dict[str, Any]:
    """The values the worker sees on their card (their own readings)."""
    fields = {"bp_cuff": ("systolic_mmhg", "diastolic_mmhg", "pulse_bpm"), "thermometer": ("temperature_c",),
              "oximeter": ("spo2_percent", "pulse_bpm"), "alcotester": ("brac_mg_l",)}[kind]
    return {f: getattr(reading, f) for f in fields if getattr(reading, f) is not None}
