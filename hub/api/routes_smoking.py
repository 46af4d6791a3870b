"""``/api/v1/smoking``: the smoking programme from the live data (seed 000 §2.4.1; hub.smoking).

OHS attributes a violation to the worker an investigation found and reads the programme
(reminders, proposed penalties, incentives); the medic keeps the participants' smoking status
(health information: medic only, each change recorded with who and when). The programme's
per-person lines name workers: the ohs, medic and admin roles read it; it carries no measured
value.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from fastapi import APIRouter, Depends, Path, Query, Request

from hub import smoking
from hub.analytics.settings import settings_for_hub
from hub.api.deps import ERRORS, Caller, get_store, refuse, require
from hub.api.views_people import Attribution, Participant, SmokingProgramme
from hub.store import Store
from hub.workers import WorkerError

router = APIRouter(prefix="/api/v1/smoking", tags=["smoking programme"], responses=ERRORS)




@router.put("/participants/{personnel_number}", summary="A worker's smoking status in the programme (medic)",
            response_model=Participant)
def put_participant(body: smoking.ParticipantIn, personnel_number: str = Path(min_length=1, max_length=64),
                    store: Store = Depends(get_store), caller: Caller = Depends(require("medic"))) -> dict:
    try:
        return smoking.set_participant(store, personnel_number, body, caller.name)
    except (smoking.SmokingError, WorkerError) as error:
        refuse(error)


@router.post("/attributions", status_code=201, response_model=Attribution,
             summary="Name the worker an investigation found for a violation (ohs, admin)")
def attribute(body: smoking.AttributionIn, store: Store = Depends(get_store),
              caller: Caller = Depends(require("ohs", "admin"))) -> dict:
    try:
        return smoking.attribute(store, body, caller.name)
    except (smoking.SmokingError, WorkerError) as error:
        refuse(error)


@router.get("/programme", summary="Reminders, proposed penalties and incentives for the period (ohs, medic, admin)",
            response_model=SmokingProgramme)
def programme(request: Request, site: str | None = Query(None, pattern=r"^[a-z0-9-]{1,64}$"),
              date_from: date | None = None, date_to: date | None = None, store: Store = Depends(get_store),
              caller: Caller = Depends(require("ohs", "medic", "admin"))) -> dict:
    last = date_to or datetime.now(timezone.utc).date()
    first = date_from or last - timedelta(days=29)
    try:
        return smoking.programme(store, settings_for_hub(request.app.state.config), site, first, last)
    except smoking.SmokingError as error:
        refuse(error)
