"""Admin routes for what the ingest flags: conflicting records kept for a person to decide.

A conflict is a record that arrived under an identity (site, kiosk, journal incarnation,
sequence) or event id the hub already holds with other content — a spoofing client, a
restored journal, an altered replay (issue 10, defects 2 and 7). The hub keeps it whole,
never stores or acknowledges it as the other record, and lists it here until an admin
records what was decided. Reads and decisions are audited.
"""

from __future__ import annotations

import json
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, Field

from hub.api.deps import MAX_OFFSET, Caller, get_store, require
from hub.api.views_fleet import Conflict, ConflictList, ConflictResolved
from hub.store import Store, utc_now

router = APIRouter(prefix="/api/v1")


class Resolution(BaseModel):
    resolution: Literal["forged", "kiosk_restored", "duplicate_device", "investigated"] = Field(
        description="what the admin found: a forged record, a kiosk restored from a backup, two devices "
        "sharing one identity, or investigated (see note)")
    note: str = Field(min_length=1, max_length=2000)


@router.get("/conflicts", summary="Conflicting records kept for an admin (newest first)", response_model=ConflictList)
def conflicts(
    unresolved: bool = True,
    limit: int = Query(50, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
    store: Store = Depends(get_store),
    caller: Caller = Depends(require("admin")),
) -> dict:
    where = "WHERE resolved_at IS NULL" if unresolved else ""
    rows = store.query(
        f"SELECT id, received_at, site, kiosk, incarnation, seq, event_id, kind, code, reason, resolved_at, "
        f"resolved_by, resolution FROM conflicts {where} ORDER BY id DESC LIMIT ? OFFSET ?", [limit, offset])
    store.audit(caller.name, caller.role, "list_conflicts", "conflicts", {"count": len(rows)})
    return {"items": rows, "total": store.scalar(f"SELECT count(*) FROM conflicts {where}")}


@router.get("/conflicts/{conflict_id}", summary="One conflicting record, whole, beside the record held",
            response_model=Conflict)
def conflict(conflict_id: int = Path(ge=1, le=MAX_OFFSET), store: Store = Depends(get_store),
             caller: Caller = Depends(require("admin"))) -> dict:
    rows = store.query("SELECT * FROM conflicts WHERE id = ?", [conflict_id])
    if not rows:
        raise HTTPException(404, f"no conflict {conflict_id}")
    row = rows[0]
    row["payload"] = json.loads(row["payload"])
    held = store.query("SELECT event_id, kind, received_at, content_hash FROM received WHERE site = ? AND kiosk = ? "
                       "AND incarnation = ? AND seq = ?", [row["site"], row["kiosk"], row["incarnation"], row["seq"]])
    row["held"] = held[0] if held else None
    store.audit(caller.name, caller.role, "read_conflict", f"conflict {conflict_id}", {"event_id": row["event_id"]})
    return row


@router.post("/conflicts/{conflict_id}/resolve", summary="Record what an admin decided about a conflict",
             response_model=ConflictResolved)
def resolve(body: Resolution, conflict_id: int = Path(ge=1, le=MAX_OFFSET), store: Store = Depends(get_store),
            caller: Caller = Depends(require("admin"))) -> dict:
    with store.lock:
        changed = store.conn.execute(
            "UPDATE conflicts SET resolved_at = ?, resolved_by = ?, resolution = ? WHERE id = ? AND resolved_at IS NULL",
            (utc_now(), caller.name, f"{body.resolution}: {body.note}", conflict_id)).rowcount
    if not changed:
        raise HTTPException(409 if store.scalar("SELECT 1 FROM conflicts WHERE id = ?", [conflict_id]) else 404,
                            f"conflict {conflict_id} is unknown or already resolved")
    store.audit(caller.name, caller.role, "resolve_conflict", f"conflict {conflict_id}", body.model_dump())
    return {"id": conflict_id, "resolved_by": caller.name, "resolution": body.resolution}
