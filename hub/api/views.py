"""What each role may receive about one exam, as types: the privacy boundary by construction.

The OHS and admin roles see an exam's identity, timing and outcomes (the employer learns
"admitted / not admitted", architecture.md "Privacy and roles"); the medic also sees the measured
values, the survey answers, the fatigue screening and the rules that fired (323-FZ art. 13). Handlers build the role's
model from whatever row they hold: :class:`ExamOutcome` ignores every other key, so an OHS
response cannot carry a measured value even if a query selected one.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Outcome = Literal["admitted", "not_admitted", "needs_medic"]


class ExamIdentity(BaseModel):
    """Which exam: its ids, kiosk, worker, type and times (every role's view of an exam starts so)."""

    event_id: str
    site: str
    kiosk: str
    seq: int
    exam_id: str
    worker_id: str
    exam_type: str
    started_at: str
    finished_at: str


class ExamOutcome(ExamIdentity):
    """An exam as OHS and admin see it: no measured value, answer or fired rule."""

    model_config = ConfigDict(extra="ignore")

    outcome: Outcome
    final_outcome: Outcome
    outcome_source: Literal["medic", "kiosk"]
    decided_by: str
    decided_at: str | None
    chain_status: str
    rule_set_version: str
    historical: bool
    received_at: str


class ExamMedical(ExamOutcome):
    """An exam as the medic sees it (each read audited by the handler)."""

    measurements: list[dict[str, Any]] | None = None
    answers: dict[str, Any] | None = None
    fired: list[dict[str, Any]] | None = None
    fatigue: dict[str, Any] | None = None  # the fatigue / stress screening (seed 002 B.3.3.5), medic only


def exam_view(row: dict[str, Any], medical: bool) -> dict[str, Any]:
    """The row as the caller's role may receive it."""
    return (ExamMedical if medical else ExamOutcome).model_validate(row).model_dump()
