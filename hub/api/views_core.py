"""Response models of the core routes (hub.api.routes_core): health, kiosks, exam pages, dead
letters, the audit log. The exam rows themselves are :mod:`hub.api.views` (one model per role);
here the page around them is typed per role too, told apart by its ``view`` key.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Discriminator, Tag

from hub.api.views import ExamMedical, ExamOutcome
from hub.api.views_base import Closed, Json


class HealthRecords(Closed):
    exams: int
    events: int
    telemetry_values: int


class HealthDeadLetters(Closed):
    """Counts of rejected messages; without ``kept``/``totals``/``total`` when the store cannot be read."""

    kept: int | None = None
    totals: dict[str, Json] | None = None
    total: int | None = None
    by_reason: dict[str, int]


class Health(Closed):
    """Is the hub up, connected and ingesting; ``problems`` names each lasting problem (no personal data)."""

    status: Literal["ok", "degraded"]
    problems: list[Json]
    mqtt_connected: bool
    queue_depth: int | None
    counters: dict[str, int]
    dead_letters: HealthDeadLetters
    conflicts_unresolved: int | None
    records: HealthRecords | None
    timeseries: Json | None


class Kiosk(Closed):
    """A kiosk's last status as stored (versions, queue, devices) and what the hub holds from it."""

    site: str
    kiosk: str
    state: str
    status_ts: str
    last_seen: str
    versions: Any
    outbox_depth: Any
    last_seq: Any
    clock_offset_s: Any
    devices: Any
    config_version: Any
    records_stored: int
    max_seq_stored: int | None


class KioskList(Closed):
    items: list[Kiosk]
    total: int


class _ExamPage(Closed):
    total: int
    total_estimated: bool
    total_cap: int
    limit: int
    offset: int
    next_offset: int | None


class ExamPageOutcome(_ExamPage):
    """A page of exams as OHS and admin see them: outcomes only (``view: outcome``)."""

    items: list[ExamOutcome]
    view: Literal["outcome"]


class ExamPageMedical(_ExamPage):
    """A page of exams as the medic sees them, with the measured values (``view: medical``; audited)."""

    items: list[ExamMedical]
    view: Literal["medical"]


class DeadLetter(Closed):
    id: int
    received_at: str
    topic: str
    payload_size: int
    reason: str
    payload_head: str


class ReasonCount(Closed):
    reason: str
    n: int


class DeadLetterList(Closed):
    items: list[DeadLetter]
    total: int
    top_reasons: list[ReasonCount]


class AuditEntry(Closed):
    """One audited read or change: who, in which role, did what to which record."""

    id: int
    ts: str
    actor: str
    role: str
    action: str
    subject: str
    detail: str | None


class AuditPage(Closed):
    items: list[AuditEntry]
    limit: int
    offset: int


def _exam_kind(value: Any) -> str:
    """Which of the two exam views ``value`` is. The handler has already built the caller's view with
    :func:`hub.api.views.exam_view`, which leaves an OHS answer without the medical keys."""
    if isinstance(value, BaseModel):
        return "medical" if isinstance(value, ExamMedical) else "outcome"
    return "medical" if isinstance(value, dict) and "measurements" in value else "outcome"


#: One exam: the medic's view with the measured values, or the outcome view of OHS and admin.
ExamView = Annotated[Annotated[ExamMedical, Tag("medical")] | Annotated[ExamOutcome, Tag("outcome")],
                     Discriminator(_exam_kind)]
