"""``Screen.RETEST_WAIT``: the regulated re-test (835н п.11; alcohol 933н/262н) — the worker
steps aside, the kiosk serves others, calls them back by ticket when due, resumes the same
exam on their next badge, and closes it for the medic if they never come back."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from edge_agent.workflow import plan
from edge_agent.workflow.session import RETEST_MISSED, ExamSession
from edge_agent.workflow.states import Screen


class RetestState:
    """Scheduled re-tests and call-backs (a part of the Workflow)."""

    async def _resume(self, session: ExamSession, t_identified: float) -> None:
        now = self.clock.now()
        session.busy_since = t_identified
        if session.due_at is not None and now < session.due_at:
            self._show_exam(Screen.RETEST_WAIT, session, due_at=session.due_at,
                            window_closes_at=session.window_closes_at, early=True,
                            summary=self._summary(session))
            await self._dismiss(self.settings.message_screen_s)
            session.busy_s += time.perf_counter() - session.busy_since
            return
        self.waiting.pop(session.worker["personnel_number"], None)
        self.current = session
        self.withdraw(session.exam_id)
        watcher = self._watchers.pop(session.exam_id, None)
        if watcher is not None:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        await self._run_rounds(session, set(session.retest_kinds), session.retest_reason)

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
            self._show_exam(Screen.RETEST_WAIT, session, due_at=session.due_at,
                            window_closes_at=session.window_closes_at, early=False,
                            summary=self._summary(session))

    def _wait_for(self, session: ExamSession) -> None:
        """List the worker as waiting and call them back at ``due_at``."""
        self.waiting[session.worker["personnel_number"]] = session
        self._watchers[session.exam_id] = asyncio.create_task(self._watch_retest(session))

    async def _watch_retest(self, session: ExamSession) -> None:
        """Call the worker back when due; close the exam if they never come."""
        assert session.due_at is not None
        await self.clock.sleep_until(session.due_at)
        self.notice(f"Талон {session.ticket}: подойдите к киоску для повторного измерения.",
                    f"Ticket {session.ticket}: please come back to the kiosk for the re-test.",
                    seconds=self.settings.retest_give_up_after_min * 60, kind="call", key=session.exam_id)
        await self.clock.sleep_until(session.due_at + timedelta(minutes=self.settings.retest_give_up_after_min))
        if self.waiting.get(session.worker["personnel_number"]) is session:
            self.waiting.pop(session.worker["personnel_number"])
            self._watchers.pop(session.exam_id, None)
            self.withdraw(session.exam_id)
            await self._finish(session, "needs_medic", extra=[RETEST_MISSED], show=False)
