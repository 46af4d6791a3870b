"""Risk-group assessments (seed 004): the model proposes, the physician confirms or overrides.

Individual assessments are medical: creating, deciding and reading them needs the
``medic`` role, and every read is audited. The report is aggregates only (counts, shares,
averages) and is open to ``ohs``, ``medic`` and ``admin``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from hub import risk_assessments as ra
from hub.analytics import privacy
from hub.api.deps import ERRORS, MAX_OFFSET, Caller, get_store, require
from hub.api.views_base import AS_BUILT
from hub.api.views_risk import Assessment, RiskGroupReport, WorkerAssessments
from hub.models.risk_group import measures_for_group
from hub.store import Store

router = APIRouter(prefix="/api/v1/risk-groups", tags=["risk groups"], responses=ERRORS)
as_medic = require("medic")


class AssessmentIn(BaseModel):
    """Criteria 1-8 of seed 004, ready groups or raw data (see docs/models/risk-group.md)."""

    model_config = ConfigDict(extra="forbid")

    criteria: dict[str, Any] = Field(description="c1-c8 as in the risk-group model's input")
    nosology: str | None = Field(default=None, max_length=200)
    exam: Literal["periodic", "preliminary"] = Field(
        default="periodic", description="the examination the assessment follows (the enterprise average counts periodic)")
    assessed_at: datetime | date | None = Field(default=None, description="when assessed; default now")


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["confirmed", "overridden"]
    group: int | None = Field(default=None, ge=1, le=5, description="the physician's group; required to override")
    reason: str | None = Field(default=None, max_length=2000, description="required to override")


def _raise(error: ra.AssessmentError) -> None:
    raise HTTPException(error.status, error.http_detail()) from None


@router.post("/{worker_id}/assessments", status_code=201,
             summary="Run the risk-group model for a worker and store its proposal (medic)",
             response_model=Assessment, **AS_BUILT)
def create(worker_id: str, body: AssessmentIn, store: Store = Depends(get_store),
           caller: Caller = Depends(as_medic)) -> dict:
    try:
        return ra.create_assessment(store, worker_id, criteria=body.criteria, nosology=body.nosology,
                                    exam=body.exam, assessed_at=body.assessed_at, created_by=caller.name,
                                    role=caller.role)
    except ra.AssessmentError as error:
        _raise(error)


@router.post("/assessments/{assessment_id}/decision",
             summary="The physician confirms or overrides the proposed group; both are kept (medic)",
             response_model=Assessment, **AS_BUILT)
def decide(body: DecisionIn, assessment_id: int = Path(ge=1, le=MAX_OFFSET), store: Store = Depends(get_store),
           caller: Caller = Depends(as_medic)) -> dict:
    try:
        return ra.decide_assessment(store, assessment_id, decision=body.decision, group=body.group,
                                    reason=body.reason, physician=caller.name, role=caller.role)
    except ra.AssessmentError as error:
        _raise(error)


@router.get("/report", summary="Distribution by final group, enterprise average score, dynamics by year "
                               "(aggregates only; ohs, medic, admin)", response_model=RiskGroupReport, **AS_BUILT)
def report(
    request: Request,
    since_year: int | None = Query(None, ge=1990, le=2200),
    until_year: int | None = Query(None, ge=1990, le=2200),
    store: Store = Depends(get_store),
    caller: Caller = Depends(require("ohs", "medic", "admin")),
) -> dict:
    result = ra.report(store, since_year=since_year, until_year=until_year)
    if caller.role == "medic":
        return result
    # OHS and admin: small cells hidden (issue 10, defect 11; hub.analytics.privacy)
    return privacy.protect("risk-group-report", result, request.app.state.config.privacy.min_cell_size)


@router.get("/{worker_id}/assessments", summary="A worker's assessments with proposal and decision (medic; audited)",
            response_model=WorkerAssessments, **AS_BUILT)
def worker_assessments(worker_id: str, store: Store = Depends(get_store), caller: Caller = Depends(as_medic)) -> dict:
    items = ra.worker_assessments(store, worker_id)
    for item in items:  # the prevention plan of the group in force (the physician's, once decided): seed 004 Table 3
        item["plan"] = measures_for_group(item["group"])
    store.audit(caller.name, caller.role, "read_risk_assessments", f"worker {worker_id}",
                {"assessment_ids": [item["id"] for item in items]})
    return {"worker_id": worker_id, "items": items, "total": len(items)}
