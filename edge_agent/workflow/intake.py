"""``Screen.CONSENT``, ``Screen.EXAM_TYPE``, ``Screen.SURVEY``: a new exam up to its first
measurement — its ticket, consent on first use (ПП 866), the exam type and the complaints
survey (266н), one question per screen, then the optional fatigue screening (``fatigue``).

Once the worker has consented and chosen the exam type, the unattended devices
(``workflow.survey_while_measuring``: the cuff) start measuring, and the survey is answered
while they do (issue 15); their card shows under each question."""

from __future__ import annotations

import asyncio
import time
import uuid

from edge_agent.admission.rules import GROUP_FIELDS
from edge_agent.workflow import plan
from edge_agent.workflow.session import CONSENT_TEXT_VERSION, Abandoned, ExamSession
from edge_agent.workflow.states import Screen


class IntakeState:
    """A new exam up to the measurements (a part of the Workflow)."""

    async def _new_exam(self, worker: dict) -> None:
        session = ExamSession(exam_id=str(uuid.uuid4()), worker=worker, exam_type=self.settings.default_exam_type,
                              started_at=self.clock.now(), ticket=self._new_ticket())
        session.busy_since = worker.pop("_t_identified", time.perf_counter())
        self.current = session
        early = None  # the devices measuring during the survey (measure.EarlyStart)
        try:
            if not worker.get("consent_given_at"):
                # the consent text names the identity photo when the camera is on (152-ФЗ: the worker
                # is told what is collected); its version says which text was agreed to
                version = CONSENT_TEXT_VERSION + ("+photo" if self.settings.photo.enabled else "")
                self._show_exam(Screen.CONSENT, session, photo_notice=self.settings.photo.enabled)
                action, _ = await self._worker_input(session, {"consent_accept", "consent_decline"})
                if action == "consent_decline":
                    self.record_event("consent_declined", "info", ru="Работник отказался от автоматизированного осмотра.",
                                      en="The worker declined the automated exam.",
                                      details={"worker_id": worker["personnel_number"]})
                    await self._message("consent_declined")
                    return
                given = await asyncio.to_thread(self.roster.record_consent, worker["personnel_number"], self.kiosk,
                                                version, self.clock.now())
                session.consent = {"given_at": given, "text_version": version, "kiosk": self.kiosk}
            else:
                session.consent = {"given_at": worker["consent_given_at"]}
            if len(self.settings.exam_types) > 1:
                self._show_exam(Screen.EXAM_TYPE, session, options=self.settings.exam_types,
                                default=self.settings.default_exam_type)
                _, data = await self._worker_input(session, {"exam_type"})
                if data.get("exam_type") in self.settings.exam_types:
                    session.exam_type = data["exam_type"]
            else:
                session.exam_type = self.settings.exam_types[0]
            kinds = self._kinds_for_exam(session.exam_type)
            early = self._start_early(session, kinds)  # consented, type chosen: the cuff may start
            questions = self.settings.survey
            for i, q in enumerate(questions):
                self._show_exam(Screen.SURVEY, session, index=i, total=len(questions),
                                question={"id": q.id, "ru": q.ru, "en": q.en}, devices=early.view())
                data = {}
                while data.get("question") != q.id:  # (the tap guard refuses others before they queue)
                    _, data = await self._worker_input(session, {"answer"})
                session.answers[q.id] = bool(data.get("value"))
            await self._fatigue_screen(session)  # optional (workflow.fatigue), after the complaints
        except Abandoned as why:
            self.record_event("exam_abandoned", "info", ru="Осмотр прерван до измерений.",
                              en="Exam abandoned before the measurements.",
                              details={"worker_id": worker["personnel_number"], "why": str(why)})
            self._show(Screen.MESSAGE, kind="abandoned")
            await self._settle_early(early)  # a cuff cycle under way ends here, its reading dropped
            await self._dismiss(self.settings.message_screen_s)
            return
        except asyncio.CancelledError:
            await self._settle_early(early, cancel=True)
            raise
        except Exception:
            await self._settle_early(early)
            raise
        await self._run_rounds(session, kinds, "first", early)

    def _summary(self, session: ExamSession) -> dict:
        """The decision's headline for the screen, complaint names in the worker's language."""
        summary = dict(session.decision.summary) if session.decision else {}
        if "en" in summary:
            summary["en"] = plan.english_complaints(summary["en"], self.settings.survey)
        return summary

    def _new_ticket(self) -> int:
        return self.tickets.next({s.ticket for s in self.waiting.values()})

    def _kinds_for_exam(self, exam_type: str) -> set[str]:
        required = set(self.rules.exam_types[exam_type].required)
        needed = plan.kinds_for_groups(required)
        optional = plan.kinds_for_groups(set(GROUP_FIELDS) - required)
        present = {k for k in optional if self.devices.device_for(k) is not None}
        return needed | present
