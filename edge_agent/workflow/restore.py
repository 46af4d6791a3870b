"""Exams in progress across restarts: each is kept in the exam state store after every
measurement round and when a re-test is scheduled, and resumed by :meth:`_restore` when the
kiosk starts again (see :mod:`edge_agent.workflow.machine`)."""

from __future__ import annotations

import logging
import time
from datetime import datetime

from edge_agent.exam_state import StoredExam
from edge_agent.workflow import plan
from edge_agent.workflow.session import ExamSession

log = logging.getLogger(__name__)


class RestoreState:
    """Durable exam state and resuming it after a restart (a part of the Workflow)."""

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
        if session.ticket:
            self.tickets.seen(session.ticket)
        else:  # a row written before tickets existed
            session.ticket = self._new_ticket()
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
