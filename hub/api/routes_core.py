"""Core REST routes: health, kiosks, exams, dead letters, audit log."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from hub import final_outcome
from hub.api.deps import MAX_OFFSET, Caller, get_caller, get_store, require
from hub.api.views import exam_view
from hub.api.views_base import AS_BUILT
from hub.api.views_core import AuditPage, DeadLetterList, ExamPageMedical, ExamPageOutcome, ExamView, Health, KioskList
from hub.db import telemetry_points
from hub.db.exam_body import decode_body
from hub.fleet import stored_records
from hub.store import COUNT_CAP, Store

router = APIRouter(prefix="/api/v1")

#: What the OHS role may see of an exam: the outcome, never the medical values
#: (323-FZ art. 13 medical secrecy; architecture.md "Privacy and roles").
OUTCOME_COLUMNS = "event_id, site, kiosk, seq, exam_id, worker_id, exam_type, started_at, finished_at, outcome, chain_status, " \
                  "rule_set_version, historical, received_at"


@router.get("/health", summary="Is the hub up, connected and ingesting? 'degraded' lists each lasting problem.",
            response_model=Health, **AS_BUILT)
def health(request: Request, store: Store = Depends(get_store)) -> dict:
    ingest = request.app.state.ingest
    state = ingest.health() if ingest else {"status": "ok", "problems": [], "waiting": None}
    try:
        records = {
            "exams": store.scalar("SELECT count(*) FROM exams"),
            "events": store.scalar("SELECT count(*) FROM events"),
            "telemetry_values": telemetry_points.count(store),
        }
        dead_letters = {"kept": store.scalar("SELECT count(*) FROM dead_letters"),
                        "totals": store.dead_letter_totals()}
        dead_letters["total"] = sum(t["messages"] for t in dead_letters["totals"].values())
        conflicts = store.scalar("SELECT count(*) FROM conflicts WHERE resolved_at IS NULL")
    except Exception as error:  # the store itself is failing: health must still answer, and say so
        state = {**state, "status": "degraded",
                 "problems": [*state["problems"], {"code": "store_unreadable", "message": str(error)}]}
        records, dead_letters, conflicts = None, None, None
    if conflicts:
        state["problems"].append({"code": "conflicts", "message": f"{conflicts} conflicting records wait for an "
                                  "admin (GET /api/v1/conflicts)", "count": conflicts})
    timeseries = next((sink.health() for sink in getattr(ingest, "telemetry_sinks", ()) if hasattr(sink, "health")),
                      None)
    if timeseries and timeseries["status"] != "ok":
        state = {**state, "status": "degraded"}
        state["problems"].append({"code": "timeseries", "message": "; ".join(timeseries["problems"]),
                                  "queue_depth": timeseries["queue_depth"]})
    return {
        "status": state["status"],
        "problems": state["problems"],
        "mqtt_connected": bool(ingest and ingest.connected),
        "queue_depth": state["waiting"],
        "counters": dict(ingest.counters) if ingest else {},
        "dead_letters": {**(dead_letters or {}),
                         "by_reason": dict(ingest.dead_letter_reasons) if ingest else {}},
        "conflicts_unresolved": conflicts,
        "records": records,
        "timeseries": timeseries,
    }


@router.get("/kiosks", summary="Every kiosk the hub has heard of, with its last status", response_model=KioskList)
def kiosks(store: Store = Depends(get_store), caller: Caller = Depends(get_caller)) -> dict:
    rows = store.query("SELECT site, kiosk, state, status_ts, last_seen, status FROM kiosks ORDER BY site, kiosk")
    stored = stored_records(store)
    items = []
    for row in rows:
        status = json.loads(row.pop("status"))
        counts = stored.get((row["site"], row["kiosk"]), {})
        items.append({**row, **{k: status.get(k) for k in ("versions", "outbox_depth", "last_seq", "clock_offset_s",
                                                             "devices", "config_version")},
                      "records_stored": counts.get("records", 0), "max_seq_stored": counts.get("max_seq")})
    return {"items": items, "total": len(items)}


@router.get("/exams", summary="Exams, newest first, paginated and filterable; measured values for the medic role only "
            "(view: medical, audited), outcomes for ohs and admin (view: outcome)",
            response_model=ExamPageMedical | ExamPageOutcome)
def exams(
    request: Request,
    site: str | None = None,
    kiosk: str | None = None,
    worker_id: str | None = None,
    outcome: Literal["admitted", "not_admitted", "needs_medic"] | None = Query(
        None, description="the kiosk's pre-decision"),
    final: Literal["admitted", "not_admitted", "needs_medic"] | None = Query(
        None, alias="final_outcome", description="the medic's decision where there is one, else the pre-decision"),
    exam_type: str | None = None,
    since: datetime | None = Query(None, description="finished at or after (ISO 8601)"),
    until: datetime | None = Query(None, description="finished before (ISO 8601)"),
    limit: int = Query(50, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
    order: Literal["asc", "desc"] = "desc",
    store: Store = Depends(get_store),
    caller: Caller = Depends(get_caller),
) -> ExamPageMedical | ExamPageOutcome:
    where, params = [], []
    for column, value in (("site", site), ("kiosk", kiosk), ("worker_id", worker_id), ("outcome", outcome),
                          ("exam_type", exam_type)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if final is not None:
        final_outcome.ensure_schema(store)
        where.append(final_outcome.FINAL_FILTER_SQL)
        params.extend(final_outcome.filter_params(final))
    if since is not None:
        where.append("finished_at >= ?")
        params.append(since.isoformat())
    if until is not None:
        where.append("finished_at < ?")
        params.append(until.isoformat())
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    medical = caller.role == "medic"
    columns = OUTCOME_COLUMNS + (", body_z" if medical else "")
    # every filter walks an index in (finished_at, seq) order (hub/store.py INDEXES); one row more tells
    # whether another page follows without counting
    rows = store.query(
        f"SELECT {columns} FROM exams {clause} ORDER BY finished_at {order}, seq {order} LIMIT ? OFFSET ?",
        [*params, limit + 1, offset],
    )
    more = len(rows) > limit
    del rows[limit:]
    # counted exactly up to COUNT_CAP; past it an estimate from the planner's statistics, flagged
    total, exact = store.count_capped("exams", clause, params, COUNT_CAP)
    if not exact:
        estimate = store.estimate_count(
            "exams", {"site": site, "kiosk": kiosk, "worker_id": worker_id, "outcome": outcome, "exam_type": exam_type},
            "finished_at", since.isoformat() if since else None, until.isoformat() if until else None)
        total = max(estimate, COUNT_CAP + 1, offset + len(rows) + int(more))
    for row in rows:
        row["historical"] = bool(row["historical"])
        if medical:
            body = decode_body(row.pop("body_z"))
            row.update({k: body.get(k) for k in ("measurements", "answers", "fired", "fatigue")})
    final_outcome.annotate(store, rows)
    if medical and rows:
        store.audit(caller.name, caller.role, "read_exams", f"{len(rows)} exam records",
                    {"event_ids": [r["event_id"] for r in rows], "query": str(request.url.query)})
    next_offset = offset + len(rows) if more else None
    page = ExamPageMedical if medical else ExamPageOutcome  # the caller's role picks the type of the page
    return page(items=[exam_view(row, medical) for row in rows], total=total, total_estimated=not exact,
                total_cap=COUNT_CAP, limit=limit, offset=offset, next_offset=next_offset,
                view="medical" if medical else "outcome")


@router.get("/exams/{event_id}", summary="One exam; medical values for the medic role only (audited)",
            response_model=ExamView)
def exam(event_id: str, store: Store = Depends(get_store), caller: Caller = Depends(get_caller)) -> dict:
    medical = caller.role == "medic"
    rows = store.query(f"SELECT {OUTCOME_COLUMNS}, body_z FROM exams WHERE event_id = ?", [event_id])
    if not rows:
        raise HTTPException(404, f"no exam with event id {event_id}")
    row = rows[0]
    body = decode_body(row.pop("body_z"))
    row["historical"] = bool(row["historical"])
    final_outcome.annotate(store, [row])
    if medical:
        row.update({k: body.get(k) for k in ("measurements", "answers", "fired", "fatigue")})
        store.audit(caller.name, caller.role, "read_exam", f"worker {row['worker_id']}", {"event_id": event_id})
    return exam_view(row, medical)


@router.get("/dead-letters", summary="Rejected messages with their reasons (admin)", response_model=DeadLetterList)
def dead_letters(
    limit: int = Query(50, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
    store: Store = Depends(get_store),
    caller: Caller = Depends(require("admin")),
) -> dict:
    rows = store.query(
        "SELECT id, received_at, topic, payload_size, reason, substr(payload, 1, 512) AS payload_head "
        "FROM dead_letters ORDER BY id DESC LIMIT ? OFFSET ?", [limit, offset])
    for row in rows:
        head = row["payload_head"]
        row["payload_head"] = head.decode("utf-8", "replace") if isinstance(head, bytes) else head
    by_reason = store.query("SELECT reason, count(*) AS n FROM dead_letters GROUP BY reason ORDER BY n DESC LIMIT 50")
    return {"items": rows, "total": store.scalar("SELECT count(*) FROM dead_letters"), "top_reasons": by_reason}


@router.get("/audit", summary="Who read which individual record (admin)", response_model=AuditPage)
def audit(limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0, le=MAX_OFFSET),
          store: Store = Depends(get_store), caller: Caller = Depends(require("admin"))) -> dict:
    rows = store.query("SELECT * FROM audit_log ORDER BY id DESC LIMIT ? OFFSET ?", [limit, offset])
    return {"items": rows, "limit": limit, "offset": offset}
