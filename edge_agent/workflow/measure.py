"""``Screen.MEASURING`` and ``Screen.REMEASURE``: the measurement rounds — the configured phases
of devices in parallel with live progress, the pre-decision after each round
(``edge_agent.admission.decide``), and an immediate re-measurement where the rules ask.

The unattended devices of ``settings.survey_while_measuring`` (the cuff) may be started before
the first round (:meth:`MeasureState._start_early`, while the worker answers the survey); the
round then awaits them in their phase. Their readings belong to the exam that started them and
to no other: an exam that ends before its round lets them finish and drops what they return
(:meth:`MeasureState._settle_early`), so a cuff cycle still running is never read for the next
worker."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

from edge_agent.admission import Decision, ExamInput, IndividualNorm, decide
from edge_agent.workflow import plan
from edge_agent.workflow.session import ExamSession
from edge_agent.workflow.states import Screen
from firmware_bridges.devices import DeviceError, DeviceNotResponding, kind_names
from firmware_bridges.readings import Reading


class MeasureState:
    """Measurement rounds and pre-decisions (a part of the Workflow)."""

    async def _run_rounds(self, session: ExamSession, kinds: set[str], reason: str,
                          early: EarlyStart | None = None) -> None:
        """Measure, decide, re-measure now as the rules ask; then finish or schedule the re-test.
        ``early``: measurements of the first round already under way (:meth:`_start_early`)."""
        errors: list[dict] = []
        while True:
            results = await self._measure(session, kinds, reason, errors, early)
            early = None
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
                if not errors:  # a value the rules want measured again (implausible, low temperature): say which
                    again = {f.rule for f in session.decision.fired if f.effect == "remeasure"}
                    errors = [{"kind": None, "ru": r.ru, "en": r.en} for r in session.decision.reasons
                              if r.rule in again or r.rule.startswith("plausibility.")][-2:]
                self._show_exam(Screen.REMEASURE, session, errors=errors, kinds=sorted(kinds))
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

    def _start_early(self, session: ExamSession, kinds: set[str]) -> EarlyStart:
        """Start the exam's unattended devices (``settings.survey_while_measuring``) now, before
        the first round; their cards (instruction, live progress) go on the survey screens."""
        early = EarlyStart(session.exam_id)
        for kind in self.settings.survey_while_measuring:
            if kind in kinds:
                card = _card(kind)
                early.cards[kind] = card
                early.tasks[kind] = asyncio.create_task(self._measure_one(kind, card), name=f"measure-early-{kind}")
        return early

    async def _settle_early(self, early: EarlyStart | None, *, cancel: bool = False) -> None:
        """An exam ended before its first round: its early measurements run to their end (or
        the device's timeout) and what they return is dropped — the next worker's measurement
        cannot start while this one's cuff cycle is still going. ``cancel``: the kiosk stops."""
        if early is None or not early.tasks:
            return
        tasks = list(early.tasks.values())
        early.tasks.clear()
        if cancel:
            for task in tasks:
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _measure(self, session: ExamSession, kinds: set[str], reason: str,
                       errors: list[dict], early: EarlyStart | None = None) -> dict[str, Reading | DeviceError]:
        """One round: each configured phase in turn, the devices of a phase in parallel (a device
        started early is awaited in its phase, its card keeps its progress)."""
        if early is not None and early.exam_id != session.exam_id:
            raise ValueError(f"early measurements of exam {early.exam_id} offered to exam {session.exam_id}")
        started = dict(early.tasks) if early is not None else {}
        attempt_no = len(session.attempts) + 1
        order = [k for phase in self.settings.phases for k in phase if k in kinds]
        order += sorted(k for k in kinds if k not in order)
        cards = {k: early.cards[k] if k in started else _card(k) for k in order}
        self._show_exam(Screen.MEASURING, session, reason=reason, attempt=attempt_no,
                        devices=[cards[k] for k in order])
        results: dict[str, Reading | DeviceError] = {}
        taken_at: dict[str, datetime] = {}
        identities: dict[str, dict] = {}
        phases = [[k for k in phase if k in kinds] for phase in self.settings.phases]
        phases.append([k for k in kinds if not any(k in p for p in self.settings.phases)])
        try:
            for phase in [p for p in phases if p]:
                t0 = time.perf_counter()
                outcome = await asyncio.gather(*(started.pop(k) if k in started else self._measure_one(k, cards[k])
                                                 for k in phase))
                session.timings.devices_s += time.perf_counter() - t0
                for kind, (result, ident) in zip(phase, outcome, strict=True):
                    results[kind] = result
                    taken_at[kind] = self.clock.now()
                    identities[kind] = ident
        except asyncio.CancelledError:  # the kiosk stops: nothing is measured for anyone any more
            for task in started.values():
                task.cancel()
            raise
        except Exception:  # the round failed: a device started early still ends its cycle, unread
            await asyncio.gather(*started.values(), return_exceptions=True)
            raise
        finally:
            if early is not None:
                early.tasks.clear()
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
        except TimeoutError:
            result = DeviceNotResponding.for_kind(kind, "no result before the workflow's timeout")
            card.update(state="error", message_ru=result.message_ru, message_en=result.message_en)
        self._touch()
        return result, ident


class EarlyStart:
    """Measurements one exam started before its first round: kind → task and screen card."""

    def __init__(self, exam_id: str) -> None:
        self.exam_id = exam_id
        self.tasks: dict[str, asyncio.Task] = {}
        self.cards: dict[str, dict] = {}

    def view(self) -> list[dict]:
        """The cards to show meanwhile (the survey screens)."""
        return list(self.cards.values())


def _card(kind: str) -> dict:
    return {"kind": kind, "state": "waiting", "progress": {}, "message_ru": None, "message_en": None}


def _shown_values(kind: str, reading: Reading) -> dict[str, Any]:
    """The values the worker sees on their card (their own readings)."""
    fields = {"bp_cuff": ("systolic_mmhg", "diastolic_mmhg", "pulse_bpm"), "thermometer": ("temperature_c",),
              "oximeter": ("spo2_percent", "pulse_bpm"), "alcotester": ("brac_mg_l",)}[kind]
    return {f: getattr(reading, f) for f in fields if getattr(reading, f) is not None}
