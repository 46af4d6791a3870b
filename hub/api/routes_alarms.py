"""``/api/v1/alarms/{id}/acknowledge|clear``: OHS staff take and close alarms, with who and when.

The alarms themselves are listed at ``GET /api/v1/analytics/alarms`` (with ``state`` and the
action fields); :mod:`hub.alarm_actions` keeps each action as an immutable row.
"""

from __future__ import annotations

from fastapi import APIRouter, Body, Depends, HTTPException, Path

from hub import alarm_actions
from hub.api.deps import ERRORS, MAX_OFFSET, Caller, get_store, require
from hub.api.views_analytics import Alarm
from hub.store import Store

router = APIRouter(prefix="/api/v1/alarms", tags=["alarms"], responses=ERRORS)

AlarmId = Path(ge=1, le=MAX_OFFSET, description="the alarm's id in GET /api/v1/analytics/alarms")
Note = Body(None, embed=True, max_length=alarm_actions.NOTE_MAX, description="what was done (optional)")


def _act(store: Store, alarm_id: int, action: str, caller: Caller, note: str | None) -> dict:
    try:
        return alarm_actions.record(store, alarm_id, action, caller.name, caller.role, note)
    except alarm_actions.AlarmActionError as error:
        raise HTTPException(error.status, str(error)) from None


@router.post("/{alarm_id}/acknowledge", summary="Acknowledge an alarm: someone has seen it and owns it (ohs, admin)",
             response_model=Alarm)
def acknowledge(alarm_id: int = AlarmId, note: str | None = Note, store: Store = Depends(get_store),
                caller: Caller = Depends(require("ohs", "admin"))) -> dict:
    return _act(store, alarm_id, "acknowledged", caller, note)


@router.post("/{alarm_id}/clear", summary="Clear an alarm: it was dealt with (ohs, admin)", response_model=Alarm)
def clear(alarm_id: int = AlarmId, note: str | None = Note, store: Store = Depends(get_store),
          caller: Caller = Depends(require("ohs", "admin"))) -> dict:
    return _act(store, alarm_id, "cleared", caller, note)
