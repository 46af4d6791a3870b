"""Fleet routes: the kiosks at a glance (clock offsets, configuration versions) and the
configuration pushed to each kiosk (``hub.fleet``; docs/fleet.md).

* ``GET /api/v1/fleet`` — any role: state, clock offset (flagged ``clock_skew`` past
  ``[fleet] clock_skew_max_s``), desired and running configuration version, problems.
* ``GET /api/v1/fleet/{site}/{kiosk}/config`` — ohs, admin: the desired version (whole message,
  who, when, whether the broker confirmed it) and the version the kiosk reports running.
* ``PUT /api/v1/fleet/{site}/{kiosk}/config`` — admin: store the next version and publish it
  retained (QoS 1) on ``ohs/v1/{site}/{kiosk}/config``; 200 when the broker confirmed it, 202 when
  stored but not (yet) confirmed.
* ``POST /api/v1/fleet/{site}/{kiosk}/config/republish`` — admin: publish the newest version again.
"""

from __future__ import annotations

import threading

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Request
from fastapi.responses import JSONResponse

from firmware_bridges.contract import ID_PATTERN
from hub.api.deps import ERRORS, Caller, get_caller, get_store, require
from hub.api.views_base import AS_BUILT
from hub.api.views_fleet import ConfigPublished, Fleet, KioskConfig
from hub.fleet import ConfigUpdate, FleetService
from hub.store import RequestRefused, Store

router = APIRouter(prefix="/api/v1")

_create_lock = threading.Lock()

SiteId = Path(pattern=ID_PATTERN, min_length=1, max_length=64, description="site id")
KioskId = Path(pattern=ID_PATTERN, min_length=1, max_length=64, description="kiosk id")


def get_fleet(request: Request, store: Store = Depends(get_store)) -> FleetService:
    """One FleetService per app (it keeps the publish lock and messages awaiting PUBACK)."""
    state = request.app.state
    with _create_lock:
        if getattr(state, "fleet", None) is None:
            state.fleet = FleetService(state.config, store, state.ingest)
    return state.fleet


def _refused(error: RequestRefused) -> HTTPException:
    return HTTPException(error.status, error.http_detail())


@router.get("/fleet", summary="Every kiosk: state, clock offset (clock_skew), configuration versions, problems",
            response_model=Fleet)
def fleet(service: FleetService = Depends(get_fleet), caller: Caller = Depends(get_caller)) -> dict:
    return service.view()


@router.get("/fleet/{site}/{kiosk}/config", responses=ERRORS, response_model=KioskConfig, **AS_BUILT,
            summary="A kiosk's desired configuration (stored, published) and the version it runs")
def get_config(site: str = SiteId, kiosk: str = KioskId, service: FleetService = Depends(get_fleet),
               caller: Caller = Depends(require("ohs", "admin"))) -> dict:
    try:
        return service.get_config(site, kiosk)
    except RequestRefused as error:
        raise _refused(error) from None


@router.put("/fleet/{site}/{kiosk}/config", response_model=ConfigPublished,
            responses={**ERRORS, 202: {"model": ConfigPublished, "description": "stored, not yet confirmed by the broker"}},
            summary="Store the kiosk's next configuration version and publish it retained (QoS 1)")
def put_config(update: ConfigUpdate = Body(...), site: str = SiteId, kiosk: str = KioskId,
               service: FleetService = Depends(get_fleet), caller: Caller = Depends(require("admin"))):
    try:
        result = service.put_config(site, kiosk, update, caller.name)
    except RequestRefused as error:
        raise _refused(error) from None
    return result if result["published"] else JSONResponse(result, status_code=202)


@router.post("/fleet/{site}/{kiosk}/config/republish", response_model=ConfigPublished,
             responses={**ERRORS, 202: {"model": ConfigPublished, "description": "not yet confirmed by the broker"}},
             summary="Publish the newest stored configuration of a kiosk again")
def republish(site: str = SiteId, kiosk: str = KioskId, service: FleetService = Depends(get_fleet),
              caller: Caller = Depends(require("admin"))):
    try:
        result = service.republish(site, kiosk, caller.name)
    except RequestRefused as error:
        raise _refused(error) from None
    return result if result["published"] else JSONResponse(result, status_code=202)
