"""``/api/v1/telemetry/rollups``: per-minute / per-hour aggregates of one quantity in one zone, from the
roll-ups (:mod:`hub.telemetry_rollups`; docs/timeseries.md).

Environmental telemetry (noise, dust, microclimate) aggregated over a zone's sensors: not an
individual's medical values, so the medic and OHS roles both read it (architecture.md "Privacy and
roles"). A bad resolution, a reversed or too long range or a time without a UTC offset is refused
with 422 and says why.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query

from hub.api.deps import ERRORS, Caller, get_store, require
from hub.api.views_base import Closed
from hub.store import Store
from hub.telemetry_rollups import MAX_PERIODS, zone_rollups

router = APIRouter(prefix="/api/v1/telemetry", tags=["telemetry"], responses=ERRORS)


class RollupPeriod(Closed):
    """One period: ``mean`` for ordinary quantities, ``laeq`` (energy average, ISO 9612) for decibels."""

    start: str
    series: int
    n: int
    invalid: int
    min: float | None
    max: float | None
    mean: float | None
    laeq: float | None


class TelemetryRollups(Closed):
    """Aggregates of ``quantity`` in ``zone`` per period starting in [since, until)."""

    zone: str
    quantity: str
    site: str | None
    resolution: str
    since: str
    until: str
    periods: list[RollupPeriod]


@router.get("/rollups", summary="Telemetry aggregates of a zone per minute or hour (medic, OHS)",
            response_model=TelemetryRollups)
def telemetry_rollups(
    zone: str = Query(..., min_length=1, max_length=200, description="zone of the sensors"),
    quantity: str = Query(..., min_length=1, max_length=200, description="quantity, e.g. noise_dba"),
    resolution: Literal["minute", "hour"] = Query("hour", description="period of the aggregates"),
    since: datetime = Query(..., description="first period start, ISO 8601 with a UTC offset"),
    until: datetime = Query(..., description=f"end (exclusive); at most {MAX_PERIODS} periods after since"),
    site: str | None = Query(None, max_length=200, description="only this site's sensors"),
    store: Store = Depends(get_store),
    caller: Caller = Depends(require("medic", "ohs")),
) -> dict:
    try:
        periods = zone_rollups(store, zone, quantity, resolution, since, until, site)
    except ValueError as error:
        raise HTTPException(422, str(error)) from None
    return {"zone": zone, "quantity": quantity, "site": site, "resolution": resolution,
            "since": since.isoformat(), "until": until.isoformat(),
            "periods": [{"start": p.start.isoformat(), "series": p.series, "n": p.n, "invalid": p.invalid,
                         "min": p.min, "max": p.max, "mean": p.mean, "laeq": p.laeq} for p in periods]}
