"""``/api/v1/analytics/…``: exposure and epidemiology from the live data (issue 7).

Every answer is an aggregate (zone levels, counts and rates with intervals, Rt) — individual
medical values never leave the hub here. Any role may read them, but the ohs and admin roles get
small counts suppressed (``privacy.min_cell_size``, :mod:`hub.analytics.privacy`); per-worker noise
exposure is for the medic role only. Non-finite numbers are served as null (``non_finite`` says where).
Without query parameters an endpoint returns the result the background runner precomputed
(``precomputed: true`` and its ``computed_at``); with parameters, or ``fresh=true``, it computes
on demand. See ``docs/ohs-analytics.md``.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from hub import alarm_actions
from hub.analytics import alarms as alarm_table
from hub.analytics import privacy
from hub.analytics.period import PeriodError
from hub.analytics.runner import ANALYSES, canonical, compute, read_result, runner_for
from hub.analytics.settings import AnalyticsSettings, settings_for_hub
from hub.api.deps import ERRORS, MAX_OFFSET, Caller, get_caller, get_store, require
from hub.api.safe_json import finite
from hub.api.views_analytics import (
    AlarmPage,
    AnalyticsIndex,
    EpiAlcohol,
    EpiBloodPressure,
    EpiFebrile,
    HypertensionNoise,
    NoiseWorkers,
    NoiseZones,
    RtFebrile,
    SmokeViolations,
)
from hub.api.views_base import AS_BUILT
from hub.models.registry import ModelInputError
from hub.store import Store

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"], responses=ERRORS)

DateFrom = Query(None, description="first local day of the period (default: lookback_days up to the newest data)")
DateTo = Query(None, description="last local day of the period, inclusive (default: the newest data day)")
Fresh = Query(False, description="compute now instead of returning the precomputed result")


def _settings(request: Request, store: Store) -> AnalyticsSettings:
    runner = runner_for(store)
    return runner.settings if runner is not None else settings_for_hub(request.app.state.config)


def _serve(request: Request, store: Store, name: str, params: dict[str, Any], fresh: bool, caller: Caller) -> dict:
    result = _result(request, store, name, params, fresh)
    if caller.role != "medic":  # aggregates for ohs/admin: small cells suppressed
        result = privacy.protect(name, result, request.app.state.config.privacy.min_cell_size)
    return finite(result)


def _result(request: Request, store: Store, name: str, params: dict[str, Any], fresh: bool) -> dict:
    clean = {k: v for k, v in params.items() if v is not None and v is not False}
    if not clean and not fresh:
        stored = read_result(store, name, {})
        if stored is not None:
            return {"analysis": name, "params": {}, "computed_at": stored["computed_at"], "precomputed": True,
                    **stored["result"]}
    try:
        result = compute(store, _settings(request, store), name, clean)
    except PeriodError as error:
        raise HTTPException(422, str(error)) from None
    except ModelInputError as error:  # data the model cannot use: say which field, do not hide it
        raise HTTPException(422, {"analysis": name, "field": error.field, "message": str(error)}) from None
    return {"analysis": name, "params": json.loads(canonical(clean)),
            "computed_at": datetime.now(timezone.utc).isoformat(), "precomputed": False, **result}


@router.get("", summary="The analyses, when each was last precomputed, and the runner's state",
            response_model=AnalyticsIndex)
def index(request: Request, store: Store = Depends(get_store), caller: Caller = Depends(get_caller)) -> dict:
    runner = runner_for(store)
    settings = _settings(request, store)
    items = []
    for name in ANALYSES:
        stored = read_result(store, name, {})
        items.append({"name": name, "computed_at": stored["computed_at"] if stored else None,
                      "duration_s": stored["duration_s"] if stored else None,
                      "error": runner.errors.get(name) if runner else None})
    return {"items": items, "runner": {"running": bool(runner and runner.running), "interval_s": settings.interval_s,
                                       "runs": runner.runs if runner else 0, "last_run": runner.last_run if runner else None},
            "settings": {"timezone": settings.timezone, "lookback_days": settings.lookback_days,
                         "exposed_threshold_db": settings.exposed_threshold_db}}


@router.get("/noise/zones", summary="Per zone and day: LAeq, class, peaks, intervals above the zone limit",
            response_model=NoiseZones, **AS_BUILT)
def noise_zones(request: Request, site: str | None = None, zone: str | None = None,
                detail: bool = Query(False, description="add the per-interval levels of every day"),
                date_from: date | None = DateFrom, date_to: date | None = DateTo, fresh: bool = Fresh,
                store: Store = Depends(get_store), caller: Caller = Depends(get_caller)) -> dict:
    return _serve(request, store, "noise-zones", {"site": site, "zone": zone, "detail": detail,
                                                  "date_from": date_from, "date_to": date_to}, fresh, caller)


@router.get("/noise/workers", summary="L_EX,8h per worker from the roster and the zone telemetry (medic)",
            response_model=NoiseWorkers, **AS_BUILT)
def noise_workers(request: Request, site: str | None = None, worker: str | None = None,
                  detail: bool = Query(False, description="add every worked day (always on for one worker)"),
                  date_from: date | None = DateFrom, date_to: date | None = DateTo, fresh: bool = Fresh,
                  store: Store = Depends(get_store), caller: Caller = Depends(require("medic"))) -> dict:
    # keyed by worker id: the medic's only (docs/ohs.md "Small counts are hidden")
    return _serve(request, store, "noise-workers", {"site": site, "worker": worker, "detail": detail,
                                                    "date_from": date_from, "date_to": date_to}, fresh, caller)


@router.get("/smoke/violations", summary="Smoking in smoke-free locations: alarms, violations, report per period",
            response_model=SmokeViolations, **AS_BUILT)
def smoke(request: Request, site: str | None = None,
          report_period: Literal["day", "week", "month", "all"] | None = Query(None, description="default: day"),
          date_from: date | None = DateFrom, date_to: date | None = DateTo, fresh: bool = Fresh,
          store: Store = Depends(get_store), caller: Caller = Depends(get_caller)) -> dict:
    return _serve(request, store, "smoke-violations", {"site": site, "report_period": report_period,
                                                       "date_from": date_from, "date_to": date_to}, fresh, caller)


_EPI_PARTS = {
    "febrile": ("febrile_by_day_site", "febrile_daily"),
    "alcohol": ("alcohol_by_site_shift", "alcohol_daily"),
    "bp": ("bp_by_site", "bp_daily"),
}


def _epi(request: Request, store: Store, part: str, site, date_from, date_to, fresh, caller: Caller) -> dict:
    period = {"site": site, "date_from": date_from, "date_to": date_to}
    full = _serve(request, store, "epi-kiosk", period, fresh, caller)
    keep = ("analysis", "params", "computed_at", "precomputed", "period", "exams", "unit", "worker_day_reading",
            "thresholds", "note", "privacy", "non_finite", *_EPI_PARTS[part])
    return {k: full[k] for k in keep if k in full}


@router.get("/epi/febrile", summary="Febrile workers per day and site (proportion with its interval)",
            response_model=EpiFebrile, **AS_BUILT)
def epi_febrile(request: Request, site: str | None = None, date_from: date | None = DateFrom,
                date_to: date | None = DateTo, fresh: bool = Fresh, store: Store = Depends(get_store),
                caller: Caller = Depends(get_caller)) -> dict:
    return _epi(request, store, "febrile", site, date_from, date_to, fresh, caller)


@router.get("/epi/alcohol", summary="Alcohol-positive rate per site and shift, overall and per day",
            response_model=EpiAlcohol, **AS_BUILT)
def epi_alcohol(request: Request, site: str | None = None, date_from: date | None = DateFrom,
                date_to: date | None = DateTo, fresh: bool = Fresh, store: Store = Depends(get_store),
                caller: Caller = Depends(get_caller)) -> dict:
    return _epi(request, store, "alcohol", site, date_from, date_to, fresh, caller)


@router.get("/epi/bp", summary="Blood pressure out of range per site, overall and per day",
            response_model=EpiBloodPressure, **AS_BUILT)
def epi_bp(request: Request, site: str | None = None, date_from: date | None = DateFrom,
           date_to: date | None = DateTo, fresh: bool = Fresh, store: Store = Depends(get_store),
           caller: Caller = Depends(get_caller)) -> dict:
    return _epi(request, store, "bp", site, date_from, date_to, fresh, caller)


@router.get("/rt/febrile", summary="Rt of new febrile workers per site with 95 % credible intervals and early warning",
            response_model=RtFebrile, **AS_BUILT)
def rt_febrile(request: Request, site: str | None = None, date_from: date | None = DateFrom,
               date_to: date | None = DateTo, fresh: bool = Fresh, store: Store = Depends(get_store),
               caller: Caller = Depends(get_caller)) -> dict:
    return _serve(request, store, "rt-febrile", {"site": site, "date_from": date_from, "date_to": date_to},
                  fresh, caller)


@router.get("/compare/hypertension-noise", summary="Hypertension prevalence, noise-exposed vs unexposed: RR with 95 % CI",
            response_model=HypertensionNoise, **AS_BUILT)
def compare_hypertension_noise(request: Request, site: str | None = None, date_from: date | None = DateFrom,
                               date_to: date | None = DateTo, fresh: bool = Fresh,
                               store: Store = Depends(get_store), caller: Caller = Depends(get_caller)) -> dict:
    return _serve(request, store, "compare-hypertension-noise",
                  {"site": site, "date_from": date_from, "date_to": date_to}, fresh, caller)


@router.get("/alarms", summary="Noise over limit, Rt warnings and smoke violations (de-duplicated), newest day first, "
                           "with who acknowledged and cleared each", response_model=AlarmPage, **AS_BUILT)
def alarms(kind: Literal["noise_over_limit", "rt_warning", "smoke_violation"] | None = None,
           site: str | None = None, date_from: date | None = None, date_to: date | None = None,
           state: Literal["open", "acknowledged", "cleared"] | None = Query(
               None, description="open: not cleared (acknowledged or not); acknowledged: acknowledged, not cleared"),
           limit: int = Query(200, ge=1, le=1000), offset: int = Query(0, ge=0, le=MAX_OFFSET),
           store: Store = Depends(get_store), caller: Caller = Depends(get_caller)) -> dict:
    alarm_actions.ensure_schema(store)
    result = alarm_table.read(store, kind=kind, site=site, date_from=date_from.isoformat() if date_from else None,
                              date_to=date_to.isoformat() if date_to else None, limit=limit, offset=offset,
                              conditions=(alarm_actions.STATE_SQL[state],) if state else ())
    alarm_actions.annotate(store, result["items"])
    return finite(result)
