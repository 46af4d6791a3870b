"""``/api/v1/workers``: the worker registry (admin keeps it), the worker card and individual norms (medic).

Names, birth dates and norms are personal and medical data: the admin who keeps the registry
and the medic read them (each medic read audited); OHS gets 403. Every change of a site's
workers or of an approved norm goes to that site's kiosks as a ``roster_update``
(:class:`hub.workers.RosterPublisher`, started with the app).
"""

from __future__ import annotations

import csv
import io
from contextlib import asynccontextmanager
from datetime import date, datetime, timezone
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from hub import health_plans, workers
from hub.api.deps import ERRORS, MAX_OFFSET, Caller, get_store, refuse, require
from hub.api.views_people import (
    AdminWorkerCard,
    HealthPlan,
    Norm,
    NormRecord,
    WorkerCard,
    WorkerList,
    WorkersStored,
)
from hub.store import Store


@asynccontextmanager
async def lifespan(app):
    workers.ensure_schema(app.state.store)
    publisher = workers.RosterPublisher(app.state.store, app.state.ingest, retry_s=10.0)
    app.state.roster_publisher = publisher
    if app.state.ingest is not None:
        publisher.start()
        publisher.wake()
    try:
        yield
    finally:
        publisher.stop()


router = APIRouter(prefix="/api/v1/workers", tags=["workers"], lifespan=lifespan, responses=ERRORS)
Number = Path(min_length=1, max_length=64, pattern=r"^[^\s/]+$")
as_medic = require("medic")


class WorkersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    workers: list[dict[str, Any]] = Field(min_length=1, max_length=20_000,
                                          description="hub.workers.WorkerIn entries; all stored or none")




def card_for(role: str, card: dict) -> WorkerCard | AdminWorkerCard:
    """The worker card as ``role`` may see it: the medic's with the norms' values, the admin's without."""
    if role == "medic":
        return WorkerCard.model_validate(card)
    values = set(Norm.model_fields) - set(NormRecord.model_fields)

    def plain(norm: dict | None) -> dict | None:
        return None if norm is None else {k: v for k, v in norm.items() if k not in values}

    return AdminWorkerCard.model_validate({**card, "norms": [plain(n) for n in card["norms"]],
                                           "norm_in_force": plain(card["norm_in_force"])})


def _wake(request: Request) -> None:
    publisher = getattr(request.app.state, "roster_publisher", None)
    if publisher is not None:
        publisher.wake()


@router.put("", summary="Add or replace workers (admin); their sites' kiosks get the new roster",
            response_model=WorkersStored)
def put_workers(body: WorkersIn, request: Request, store: Store = Depends(get_store),
                caller: Caller = Depends(require("admin"))) -> dict:
    try:
        result = workers.upsert_workers(store, body.workers, caller.name)
    except workers.WorkerError as error:
        refuse(error)
    _wake(request)
    return result


@router.get("", summary="Workers of a site (admin, medic; a medic's read is audited)", response_model=WorkerList)
def list_workers(site: str | None = Query(None, pattern=r"^[a-z0-9-]{1,64}$"),
                 limit: int = Query(200, ge=1, le=5000), offset: int = Query(0, ge=0, le=MAX_OFFSET),
                 store: Store = Depends(get_store), caller: Caller = Depends(require("admin", "medic"))) -> dict:
    workers.ensure_schema(store)
    where, params = ("WHERE site = ?", [site]) if site else ("", [])
    rows = store.query(f"SELECT personnel_number, site, full_name, retired_at FROM workers {where} "
                       "ORDER BY personnel_number LIMIT ? OFFSET ?", [*params, limit, offset])
    if caller.role == "medic" and rows:
        store.audit(caller.name, caller.role, "list_workers", f"{len(rows)} workers", {"site": site})
    return {"items": rows, "limit": limit, "offset": offset}


@router.get("/{personnel_number}", summary="The worker card: name, age, sex, site, norm in force and its history "
                                           "(medic, audited; admin: the norms without their values)",
            response_model=WorkerCard | AdminWorkerCard)
def get_worker(personnel_number: str = Number, store: Store = Depends(get_store),
               caller: Caller = Depends(require("admin", "medic"))) -> WorkerCard | AdminWorkerCard:
    try:
        card = workers.worker(store, personnel_number)
    except workers.WorkerError as error:
        refuse(error)
    if caller.role == "medic":
        store.audit(caller.name, caller.role, "read_worker", f"worker {personnel_number}", {})
    return card_for(caller.role, card)


@router.delete("/{personnel_number}", summary="The worker left: off the roster; records stay (admin)",
               response_model=AdminWorkerCard)
def retire(request: Request, personnel_number: str = Number, store: Store = Depends(get_store),
           caller: Caller = Depends(require("admin"))) -> AdminWorkerCard:
    try:
        card = workers.retire_worker(store, personnel_number, caller.name)
    except workers.WorkerError as error:
        refuse(error)
    _wake(request)
    return card_for(caller.role, card)


@router.post("/{personnel_number}/norms", status_code=201,
             summary="Propose the worker's individual norm from their admitted exams (medic)", response_model=Norm)
def propose(request: Request, personnel_number: str = Number, store: Store = Depends(get_store),
            caller: Caller = Depends(as_medic)) -> dict:
    try:
        proposal = workers.propose_norm(store, personnel_number, caller.name, request.app.state.config.individual_norms)
    except workers.WorkerError as error:
        refuse(error)
    store.audit(caller.name, caller.role, "propose_norm", f"worker {personnel_number}", {"norm_id": proposal["id"]})
    return proposal


@router.post("/{personnel_number}/norms/{norm_id}/approve",
             summary="Approve a proposed norm: it replaces the one in force and goes to the kiosks (medic)",
             response_model=WorkerCard)
def approve(request: Request, personnel_number: str = Number, norm_id: int = Path(ge=1, le=MAX_OFFSET),
            store: Store = Depends(get_store), caller: Caller = Depends(as_medic)) -> dict:
    try:
        card = workers.approve_norm(store, personnel_number, norm_id, caller.name)
    except workers.WorkerError as error:
        refuse(error)
    store.audit(caller.name, caller.role, "approve_norm", f"worker {personnel_number}", {"norm_id": norm_id})
    _wake(request)
    return card


@router.get("/{personnel_number}/health-plan",
            summary="The worker's health plan: exams, risk group and its measures, norm, vaccinations (medic, "
                    "audited); format=csv for the plan's rows",
            response_model=HealthPlan, response_model_exclude_unset=True,
            responses={200: {"content": {"text/csv": {}}, "description": "the plan (JSON) or its rows (format=csv)"}})
def health_plan(personnel_number: str = Number, as_of: date | None = None,
                format: str = Query("json", pattern="^(json|csv)$"), store: Store = Depends(get_store),
                caller: Caller = Depends(as_medic)):
    try:
        plan = health_plans.health_plan(store, personnel_number, as_of or datetime.now(timezone.utc).date())
    except (health_plans.HealthPlanError, workers.WorkerError) as error:
        refuse(error)
    store.audit(caller.name, caller.role, "read_health_plan", f"worker {personnel_number}", {"format": format})
    if format == "json":
        return plan
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=["worker", "area", "measure", "status", "due", "source"])
    writer.writeheader()
    writer.writerows(plan["export_rows"])
    return Response("\ufeff" + text.getvalue(), media_type="text/csv; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="health-plan-{personnel_number}.csv"'})
