"""``/api/v1/vaccination`` and a worker's vaccination records (seed 000 §2.3.1.8; hub.vaccinations).

The medic records doses, exemptions and diagnosed cases and reads the whole picture (status per
worker and vaccine, due and overdue lists, coverage, vaccinated/unvaccinated incidence), each
read audited. OHS and admin get the coverage tables only, with small cells hidden.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request

from hub import vaccinations
from hub.analytics.privacy import Suppressor
from hub.api.deps import ERRORS, Caller, get_caller, get_store, refuse, require
from hub.api.views_people import VaccinationCoverage, VaccinationPicture, VaccinationRecord, VaccinationRecords
from hub.store import Store

router = APIRouter(prefix="/api/v1", tags=["vaccination"], responses=ERRORS)
Number = Path(min_length=1, max_length=64, pattern=r"^[^\s/]+$")
as_medic = require("medic")
COVERAGE_TABLES = ("coverage", "coverage_by_site", "coverage_by_group")
COUNTS = ("covered", "in_series", "due", "overdue", "exempt", "coverage", "coverage_lower", "coverage_upper")




def coverage_only(result: dict[str, Any], k: int) -> dict[str, Any]:
    """The coverage tables for OHS/admin: a cell with 1 to k-1 workers covered, or not covered, is hidden,
    and with it one more cell of the same vaccine so that the hidden one cannot be told from the total."""
    suppressor = Suppressor(k)
    out = {key: [dict(row) for row in result[key]] for key in COVERAGE_TABLES}
    for table in ("coverage_by_site", "coverage_by_group"):
        by_vaccine: dict[str, list[dict]] = {}
        for row in out[table]:
            by_vaccine.setdefault(row["vaccine"], []).append(row)
        for rows in by_vaccine.values():
            hidden = [r for r in rows if suppressor.small(r["applicable"], r["covered"])]
            if len(hidden) == 1 and len(rows) > 1:
                rest = sorted((r for r in rows if r not in hidden), key=lambda r: r["applicable"])
                hidden.append(rest[0])
            for row in hidden:
                suppressor.hide(row, COUNTS)
    for row in out["coverage"]:
        if suppressor.small(row["applicable"], row["covered"]):
            suppressor.hide(row, COUNTS)
    out.update(as_of=result["as_of"], calendar=result["calendar"], source=result["source"],
               privacy={"view": "aggregate", "min_cell_size": k, "suppressed_cells": suppressor.hidden})
    return out


@router.get("/vaccination", summary="Vaccination by the calendar: coverage (any role, small cells hidden for "
                                    "ohs/admin); statuses, due/overdue lists and incidence (medic, audited)",
            response_model=VaccinationPicture | VaccinationCoverage, response_model_exclude_unset=True)
def vaccination_picture(request: Request, site: str | None = Query(None, pattern=r"^[a-z0-9-]{1,64}$"),
                        as_of: date | None = None, period_start: date | None = None, period_end: date | None = None,
                        store: Store = Depends(get_store),
                        caller: Caller = Depends(get_caller)) -> VaccinationPicture | VaccinationCoverage:
    try:
        result = vaccinations.picture(store, site, as_of or datetime.now(timezone.utc).date(), period_start,
                                      period_end)
    except vaccinations.VaccinationError as error:
        refuse(error)
    if caller.role != "medic":  # the role picks the type: coverage tables only, small cells hidden
        return VaccinationCoverage.model_validate(coverage_only(result, request.app.state.config.privacy.min_cell_size))
    store.audit(caller.name, caller.role, "read_vaccination", f"site {site or 'all'}",
                {"workers": len({s["worker"] for s in result["statuses"]})})
    return VaccinationPicture.model_validate(result)


@router.post("/workers/{personnel_number}/vaccinations", status_code=201,
             summary="Record a dose, an exemption (contraindication/refusal) or a diagnosed case (medic)",
             response_model=VaccinationRecord)
def add_record(body: vaccinations.RecordIn, personnel_number: str = Number, store: Store = Depends(get_store),
               caller: Caller = Depends(as_medic)) -> dict:
    try:
        return vaccinations.record(store, personnel_number, body.model_dump(mode="json"), caller.name)
    except (vaccinations.VaccinationError, vaccinations.workers.WorkerError) as error:
        refuse(error)


@router.get("/workers/{personnel_number}/vaccinations", summary="A worker's vaccination records (medic, audited)",
            response_model=VaccinationRecords)
def list_records(personnel_number: str = Number, store: Store = Depends(get_store),
                 caller: Caller = Depends(as_medic)) -> dict:
    items = vaccinations.records(store, personnel_number)
    store.audit(caller.name, caller.role, "read_vaccinations", f"worker {personnel_number}", {})
    return {"worker": personnel_number, "items": items}
