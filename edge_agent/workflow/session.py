"""One exam in progress (:class:`ExamSession`) and the workflow's fixed texts: pure data that the
exam state store keeps across restarts (``to_state`` / ``from_stored``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from edge_agent.admission import Attempt, Decision
from edge_agent.exam_state import StoredExam
from edge_agent.workflow import plan

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
    ticket: int = 0  # the short number that stands for the worker on the shared screen
    photos: list[dict] = field(default_factory=list)  # IdentityPhoto dicts (contract), oldest first
    fatigue: dict | None = None  # the screening's record (contract FatigueScreen), once answered

    def pass_no(self) -> int:
        """The attempt the worker is at the kiosk for now (1 first pass, 2.. re-tests)."""
        return len(self.attempts) + 1

    def wants_photo(self, stage: str) -> bool:
        return not any(p["stage"] == stage and p["attempt"] == self.pass_no() for p in self.photos)

    def add_photo(self, photo: dict) -> None:
        """Keep the first pass's photos and the latest re-test's (at most 2 per stage: contract)."""
        kept = [p for p in self.photos if p["stage"] != photo["stage"] or p["attempt"] == 1]
        self.photos = kept + [photo]

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
                "ticket": self.ticket, "photos": list(self.photos), "fatigue": self.fatigue,
                "timings": {"worker_s": self.timings.worker_s, "devices_s": self.timings.devices_s,
                            "decide_ms": list(self.timings.decide_ms)}, "busy_s": self.busy_s}

    @classmethod
    def from_stored(cls, row: StoredExam) -> ExamSession:
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
                   minute_zero=None if zero is None else datetime.fromisoformat(zero), stored=row,
                   ticket=int(data.get("ticket", 0)), photos=list(data.get("photos", [])),
                   fatigue=data.get("fatigue"))


class Abandoned(Exception):
    """The worker walked away or cancelled before the exam produced a result."""
