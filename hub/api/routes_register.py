"""``/api/v1/risk-register``: the plant's register of risks to workers' health (seed 002), kept by OHS.

Rows are workplaces' hazards with their measures (owner, deadline, status) and residual risk;
reading the register evaluates every row with the ``risk-register`` model (scores, matrix cell,
verdicts, ranking, overdue measures). Any role reads; ohs and admin write; each change is kept
with who and when (:mod:`hub.risk_register_store`).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from hub import risk_register_store as register
from hub.api.deps import ERRORS, MAX_OFFSET, Caller, get_caller, get_store, refuse, require
from hub.api.views_base import AS_BUILT
from hub.api.views_risk import RegisterEvaluation, RegisterRow
from hub.store import Store

router = APIRouter(prefix="/api/v1/risk-register", tags=["risk register"], responses=ERRORS)

RowId = Path(ge=1, le=MAX_OFFSET)
SITE_PATTERN = r"^[a-z0-9-]{1,64}$"


class NewRow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site: str = Field(pattern=SITE_PATTERN)
    row: dict[str, Any] = Field(description="one register row: hub.models.risk_register.RegisterRow (fields 1-18)")


class ChangedRow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, description="the version the editor saw; a newer one answers 409")
    row: dict[str, Any]




@router.get("", summary="The register evaluated: rows with scores, matrix cells, residual risk, ranking, overdue "
                        "measures; the matrix for a heat map (any role)", response_model=RegisterEvaluation, **AS_BUILT)
def read_register(site: str | None = Query(None, pattern=SITE_PATTERN),
                  as_of: date | None = Query(None, description="date for overdue checks (default: today, UTC)"),
                  store: Store = Depends(get_store), caller: Caller = Depends(get_caller)) -> dict:
    try:
        return register.evaluate(store, site, as_of)
    except register.RegisterError as error:
        refuse(error)


@router.post("", status_code=201, summary="Add a register row (ohs, admin)", response_model=RegisterRow)
def add_row(body: NewRow, store: Store = Depends(get_store), caller: Caller = Depends(require("ohs", "admin"))) -> dict:
    try:
        return register.create(store, body.site, body.row, caller.name, caller.role)
    except register.RegisterError as error:
        refuse(error)


@router.get("/{row_id}", summary="One register row as stored, with its change history (any role)",
            response_model=RegisterRow)
def get_row(row_id: int = RowId, store: Store = Depends(get_store), caller: Caller = Depends(get_caller)) -> dict:
    try:
        return register.get(store, row_id)
    except register.RegisterError as error:
        refuse(error)


@router.put("/{row_id}", summary="Change a register row: measures, status, residual scores (ohs, admin)",
            response_model=RegisterRow)
def change_row(body: ChangedRow, row_id: int = RowId, store: Store = Depends(get_store),
               caller: Caller = Depends(require("ohs", "admin"))) -> dict:
    try:
        return register.update(store, row_id, body.row, body.version, caller.name, caller.role)
    except register.RegisterError as error:
        refuse(error)


@router.delete("/{row_id}", summary="Retire a register row (the hazard is gone); its history stays (ohs, admin)",
               response_model=RegisterRow)
def retire_row(row_id: int = RowId, store: Store = Depends(get_store),
               caller: Caller = Depends(require("ohs", "admin"))) -> dict:
    try:
        return register.retire(store, row_id, caller.name, caller.role)
    except register.RegisterError as error:
        refuse(error)
