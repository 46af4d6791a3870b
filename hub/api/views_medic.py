"""Response models of the medic tablet (hub.api.routes_medic): every one is the medic's only.

The review queue names the rules that fired but carries no measured value (the values are read one
exam at a time, audited): it is :class:`Closed`. The exam record and the decisions are the medic's
own medical views and are :class:`Passed`: their keys are documented and checked, and a field the
medic module adds to them (e.g. a new finding) reaches the medic without a change here.
"""

from __future__ import annotations

from typing import Any, Literal

from hub.api.views import ExamIdentity
from hub.api.views_base import Closed, Json, Passed


class QueueItem(Closed):
    """An exam waiting for the medic: who, when, which rules fired — no value."""

    event_id: str
    site: str
    kiosk: str
    exam_id: str
    worker_id: str
    exam_type: str
    finished_at: str
    outcome: str
    historical: bool
    received_at: str
    fired_rules: list[str]
    intoxication: bool
    waiting_s: int


class Queue(Closed):
    items: list[QueueItem]
    total: int
    unpublished_decisions: int
    mqtt_connected: bool
    medic: str


class Signature(Passed):
    """The medic's signature on a decision and whether it verifies (``valid``, ``invalid``, ``unsigned``)."""

    status: Literal["valid", "invalid", "unsigned"]
    key_id: str | None = None
    algorithm: str | None = None
    signer: str | None = None
    payload_sha256: str | None = None
    signature: str | None = None
    signed_at: str | None = None


class Decision(Passed):
    """One medic decision, immutable; ``current`` until another supersedes it."""

    decision_id: str
    event_id: str
    site: str
    kiosk: str
    exam_id: str
    worker_id: str
    kiosk_outcome: str
    decision: Literal["admitted", "not_admitted"]
    reason: str | None
    referral: str | None
    notify_employer: bool
    medic: str
    decided_at: str
    supersedes: str | None
    published_at: str | None
    superseded_by: str | None
    current: bool
    signature: Signature | None = None


class DecisionTaken(Decision):
    """The decision just recorded and whether the broker confirmed it went to the kiosk."""

    delivery: Literal["sent", "queued"]


class DecisionPage(Closed):
    items: list[Decision]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class MedicExam(ExamIdentity, Passed):
    """One exam with every medical value (units attached), the kiosk's reasons and every decision on it."""

    outcome: str
    rule_set_version: str
    historical: bool
    received_at: str
    measurements: list[Json]
    answers: Json
    survey: list[Any]
    worker: Json
    ticket: Any
    identity_photos: list[Any]
    fired: list[Any]
    reasons: list[Any]
    summary: Json
    decided_by: str | None
    kiosk_notify_employer: bool
    intoxication: bool
    in_queue: bool
    decisions: list[Decision]
    current_decision: Decision | None


class SigningKey(Closed):
    """Whether the medic has a signing key and its public part (never the private key)."""

    medic: str
    enrolled: bool
    key_id: str | None = None
    algorithm: str | None = None
    public_key: str | None = None
    created_at: str | None = None
    failed_attempts: int | None = None
    locked_until: str | None = None
