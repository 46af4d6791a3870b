"""``Screen.RESULT``: the exam's one atomic record (durable before the result shows), the
printed slip, and the result screen."""

from __future__ import annotations

import asyncio
import time

from edge_agent.workflow import fatigue, plan
from edge_agent.workflow.session import NEEDS_MEDIC_HEADLINE, ExamSession
from edge_agent.workflow.slip import build_slip
from edge_agent.workflow.states import Screen
from firmware_bridges.devices import DeviceError


class FinishState:
    """Recording, printing and showing the result (a part of the Workflow)."""

    async def _finish(self, session: ExamSession, outcome: str, extra: list[dict] | None = None,
                      show: bool = True) -> None:
        held = fatigue.hold(session.fatigue, outcome)  # only where workflow.fatigue.hold_on_positive says so
        if held:
            outcome, extra = "needs_medic", [*(extra or []), *held]
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
        body["ticket"] = session.ticket
        # the questions as the worker saw them, with the answer: the medic reads these, not the ids
        body["survey"] = [{"id": q.id, "ru": q.ru, "en": q.en, "answer": session.answers[q.id],
                           "complaint": session.answers[q.id] == q.red_flag}
                          for q in self.settings.survey if q.id in session.answers]
        if session.photos:
            body["identity_photos"] = list(session.photos)
        if session.fatigue is not None:
            body["fatigue"] = session.fatigue  # medic only (seed 002 B.3.3.5; 323-FZ art. 13)
        if extra:  # closed by the workflow, not by a decision: the headline says who decides now
            body["summary"] = {lang: " ".join([NEEDS_MEDIC_HEADLINE[lang], *(f[lang] for f in extra)])
                               for lang in ("ru", "en")}
        plan.localise_complaints(body, self.settings.survey)
        await self.writer.run(self._record_exam, session, body)  # durable before the result shows
        self.finished = (self.finished + [body])[-50:]
        if not show:
            return
        printed, printer_error = await self._print(body)
        self._show_exam(Screen.RESULT, session, outcome=outcome, summary=body.get("summary", {}),
                        reasons=body["reasons"], printed=printed, printer_error=printer_error,
                        notify_employer=body.get("notify_employer", False))
        session.busy_s += time.perf_counter() - t_show
        self.stats.append({"exam_id": session.exam_id, "outcome": outcome, "busy_s": session.busy_s,
                           **session.timings.to_dict()})
        # the next worker may badge in while the result shows: the slip carries it; without a slip the
        # owner reads it here first (their tap, or result_screen_s)
        await self._dismiss(self.settings.result_screen_s, hold_badge=printed is not True)

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
        except (TimeoutError, OSError) as error:
            message = {"ru": "Принтер не отвечает: талон не напечатан. Сообщите дежурному.",
                       "en": f"The printer does not respond: the slip was not printed ({error!r}). Tell the attendant."}
        self.record_event("device_fault", "warning", ru=message["ru"], en=message["en"], device="printer",
                          details={"exam_id": body["exam_id"]})
        return False, message
