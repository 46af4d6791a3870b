"""The medic tablet: the review queue, one exam's medical values (audited), decisions, the page.

Every route needs the ``medic`` role (architecture.md "Privacy and roles"): OHS and admin
get 403 and never see a value. Decisions go to the kiosk through
:class:`hub.medic.DecisionPublisher`, started with the app (router lifespan) so that
decisions stored while the hub was offline are sent when it reconnects.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from hub import medic, medic_signing
from hub.api.deps import ERRORS, MAX_OFFSET, Caller, get_store, require
from hub.api.views_base import AS_BUILT
from hub.api.views_medic import DecisionPage, DecisionTaken, MedicExam, Queue, SigningKey
from hub.store import Store

WEB = Path(__file__).resolve().parent.parent / "web" / "static"


@asynccontextmanager
async def lifespan(app):
    """Start the decision publisher with the app and stop it before the ingest goes down."""
    medic.ensure_schema(app.state.store)
    publisher = medic.DecisionPublisher(app.state.store, app.state.ingest)
    app.state.medic_publisher = publisher
    if app.state.ingest is not None:
        publisher.start()
        publisher.wake()  # decisions left unpublished by the previous run
    try:
        yield
    finally:
        publisher.stop()


router = APIRouter(tags=["medic"], lifespan=lifespan, responses=ERRORS)
as_medic = require("medic")


def get_publisher(request: Request) -> medic.DecisionPublisher:
    """The app's publisher; created on first use when the app runs without its lifespan (tests)."""
    publisher = getattr(request.app.state, "medic_publisher", None)
    if publisher is None:
        publisher = medic.DecisionPublisher(request.app.state.store, request.app.state.ingest)
        request.app.state.medic_publisher = publisher
    return publisher


def _raise(error: medic.MedicError) -> None:
    raise HTTPException(error.status, error.http_detail()) from None


class DecisionIn(BaseModel):
    """The medic's conclusion on one exam."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["admitted", "not_admitted"]
    reason: str | None = Field(default=None, description="required to override the kiosk and for a correction")
    referral: str | None = Field(default=None, description="optional referral note (e.g. to a clinic)")
    notify_employer: bool | None = Field(
        default=None, description="266н notice of intoxication; default: not admitted with alcohol/PAS findings")
    supersedes: str | None = Field(default=None, description="the current decision id, to correct it")
    pin: str | None = Field(default=None, min_length=1, max_length=64, repr=False,
                            description="the medic's signing PIN: signs the decision with the medic's key "
                                        "(required once the medic has enrolled one; never stored or logged)")


class SigningKeyIn(BaseModel):
    """Enrol (or replace) the medic's signing key."""

    model_config = ConfigDict(extra="forbid")

    pin: str = Field(min_length=1, max_length=64, repr=False, description="digits; at least [medic_signing] min_pin_length")
    old_pin: str | None = Field(default=None, max_length=64, repr=False, description="to replace an existing key")


def _signing_refused(error: medic_signing.SigningError) -> None:
    detail = {"message": str(error), "field": error.field}
    if error.attempts_left is not None:
        detail["attempts_left"] = error.attempts_left
    raise HTTPException(error.status, detail) from None


def signer_for(request: Request, store: Store, caller: Caller, pin: str | None) -> medic_signing.Signer | None:
    """The caller's signer when the PIN opens their key; None for a medic with no key (unless required)."""
    settings = request.app.state.config.medic_signing
    enrolled = medic_signing.key_status(store, caller.name)["enrolled"]
    if not enrolled:
        if settings.require_signature:
            _signing_refused(medic_signing.SigningError(
                409, "decisions must be signed: enrol a signing key with a PIN first (POST /api/v1/medic/signing-key)"))
        if pin is not None:
            _signing_refused(medic_signing.SigningError(409, "no signing key to unlock: enrol one first"))
        return None
    if pin is None:
        _signing_refused(medic_signing.SigningError(422, "your PIN is needed to sign the decision"))
    try:
        return medic_signing.unlock(store, caller.name, pin, settings)
    except medic_signing.SigningError as error:
        _signing_refused(error)


@router.get("/medic", include_in_schema=False)
def tablet_page() -> FileResponse:
    return FileResponse(WEB / "medic.html")


@router.get("/api/v1/medic/queue", summary="Exams waiting for the medic's decision, oldest first (medic)",
            response_model=Queue)
def queue(
    request: Request,
    limit: int = Query(200, ge=1, le=1000),
    store: Store = Depends(get_store),
    caller: Caller = Depends(as_medic),
) -> dict:
    publisher = get_publisher(request)
    if not publisher.running:  # no background thread (app run without its lifespan): retry here
        publisher.flush()
    items = medic.review_queue(store, limit)
    return {"items": items, "total": medic.queue_size(store), "unpublished_decisions": publisher.pending(),
            "mqtt_connected": publisher.connected, "medic": caller.name}


@router.get("/api/v1/medic/exams/{event_id}", summary="One exam with all medical values (medic; audited)",
            response_model=MedicExam, **AS_BUILT)
def exam(event_id: str, store: Store = Depends(get_store), caller: Caller = Depends(as_medic)) -> dict:
    record = medic.exam_record(store, event_id)
    if record is None:
        raise HTTPException(404, f"no exam with event id {event_id}")
    store.audit(caller.name, caller.role, "read_exam", f"worker {record['worker_id']}",
                {"event_id": event_id, "via": "medic tablet"})
    medic_signing.attach(store, record["decisions"])
    return record


@router.post("/api/v1/medic/exams/{event_id}/decision", status_code=201,
             summary="Record the medic's decision and send it to the kiosk (medic)", response_model=DecisionTaken,
             **AS_BUILT)
def decide(
    event_id: str,
    body: DecisionIn,
    request: Request,
    store: Store = Depends(get_store),
    caller: Caller = Depends(as_medic),
) -> dict:
    signer = signer_for(request, store, caller, body.pin)
    try:
        row = medic.record_decision(
            store, event_id, medic=caller.name, role=caller.role, decision=body.decision, reason=body.reason,
            referral=body.referral, notify_employer=body.notify_employer, supersedes=body.supersedes, signer=signer)
    except medic.MedicError as error:
        _raise(error)
    publisher = get_publisher(request)
    publisher.flush()
    published = store.scalar("SELECT published_at FROM medic_decisions WHERE decision_id = ?", [row["decision_id"]])
    return {**row, "published_at": published, "delivery": "sent" if published else "queued"}


@router.get("/api/v1/medic/decisions", summary="Medic decisions, in the order taken (medic; audited)",
            response_model=DecisionPage, **AS_BUILT)
def list_decisions(
    event_id: str | None = None,
    worker_id: str | None = None,
    medic_name: str | None = Query(None, alias="medic"),
    since: datetime | None = Query(None, description="decided at or after (ISO 8601)"),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
    order: Literal["asc", "desc"] = Query("asc", description="asc: in the order taken; desc: newest first"),
    store: Store = Depends(get_store),
    caller: Caller = Depends(as_medic),
) -> dict:
    filters = {"event_id": event_id, "worker_id": worker_id, "medic": medic_name,
               "since": since.isoformat() if since else None}
    rows = medic_signing.attach(store, medic.decisions(store, **filters, limit=limit, offset=offset,
                                                          newest_first=order == "desc"))
    total = medic.count_decisions(store, **filters)
    if rows:
        store.audit(caller.name, caller.role, "read_medic_decisions", f"{len(rows)} decisions",
                    {"decision_ids": [r["decision_id"] for r in rows]})
    next_offset = offset + len(rows) if offset + len(rows) < total else None
    return {"items": rows, "total": total, "limit": limit, "offset": offset, "next_offset": next_offset}


@router.get("/api/v1/medic/signing-key", summary="Whether the calling medic has a signing key, and its public part (medic)",
            response_model=SigningKey, **AS_BUILT)
def signing_key(store: Store = Depends(get_store), caller: Caller = Depends(as_medic)) -> dict:
    return medic_signing.key_status(store, caller.name)


@router.post("/api/v1/medic/signing-key", status_code=201,
             summary="Enrol the calling medic's signing key under a PIN; replacing one needs the old PIN (medic)",
             response_model=SigningKey, **AS_BUILT)
def enrol_signing_key(body: SigningKeyIn, request: Request, store: Store = Depends(get_store),
                      caller: Caller = Depends(as_medic)) -> dict:
    try:
        status = medic_signing.enrol(store, caller.name, body.pin, request.app.state.config.medic_signing,
                                     old_pin=body.old_pin)
    except medic_signing.SigningError as error:
        _signing_refused(error)
    store.audit(caller.name, caller.role, "enrol_signing_key", f"medic {caller.name}", {"key_id": status["key_id"]})
    return status
