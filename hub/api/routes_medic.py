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

from hub import medic
from hub.api.deps import ERRORS, MAX_OFFSET, Caller, get_store, require
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


@router.get("/medic", include_in_schema=False)
def tablet_page() -> FileResponse:
    return FileResponse(WEB / "medic.html")


@router.get("/api/v1/medic/queue", summary="Exams waiting for the medic's decision, oldest first (medic)")
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


@router.get("/api/v1/medic/exams/{event_id}", summary="One exam with all medical values (medic; audited)")
def exam(event_id: str, store: Store = Depends(get_store), caller: Caller = Depends(as_medic)) -> dict:
    record = medic.exam_record(store, event_id)
    if record is None:
        raise HTTPException(404, f"no exam with event id {event_id}")
    store.audit(caller.name, caller.role, "read_exam", f"worker {record['worker_id']}",
                {"event_id": event_id, "via": "medic tablet"})
    return record


@router.post("/api/v1/medic/exams/{event_id}/decision", status_code=201,
             summary="Record the medic's decision and send it to the kiosk (medic)")
def decide(
    event_id: str,
    body: DecisionIn,
    request: Request,
    store: Store = Depends(get_store),
    caller: Caller = Depends(as_medic),
) -> dict:
    try:
        row = medic.record_decision(
            store, event_id, medic=caller.name, role=caller.role, decision=body.decision, reason=body.reason,
            referral=body.referral, notify_employer=body.notify_employer, supersedes=body.supersedes)
    except medic.MedicError as error:
        _raise(error)
    publisher = get_publisher(request)
    publisher.flush()
    published = store.scalar("SELECT published_at FROM medic_decisions WHERE decision_id = ?", [row["decision_id"]])
    return {**row, "published_at": published, "delivery": "sent" if published else "queued"}


@router.get("/api/v1/medic/decisions", summary="Medic decisions, in the order taken (medic; audited)")
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
    rows = medic.decisions(store, **filters, limit=limit, offset=offset, newest_first=order == "desc")
    total = medic.count_decisions(store, **filters)
    if rows:
        store.audit(caller.name, caller.role, "read_medic_decisions", f"{len(rows)} decisions",
                    {"decision_ids": [r["decision_id"] for r in rows]})
    next_offset = offset + len(rows) if offset + len(rows) < total else None
    return {"items": rows, "total": total, "limit": limit, "offset": offset, "next_offset": next_offset}
