"""Read-only SQL over the hub store (``Store.query``), shaped for the models.

Only these functions touch the store's record tables. Individual medical values read here stay
inside the hub: the analyses turn them into aggregates before anything is returned. Values a
device marked invalid (``value`` null) are skipped and counted, never replaced.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from hub.analytics.period import Period, parse_ts

EXAM_FIELDS = ("temperature_c", "brac_mg_l", "systolic_mmhg", "diastolic_mmhg", "pulse_bpm", "spo2_percent")


@dataclass
class ExamRow:
    """One exam: outcome-level columns and the last valid value of each measured field."""

    event_id: str
    site: str
    kiosk: str
    worker_id: str
    exam_type: str
    started_at: datetime  # in the analytics time zone
    outcome: str
    values: dict[str, float] = field(default_factory=dict)


def exams(store, period: Period, site: str | None = None, exam_type: str | None = None) -> list[ExamRow]:
    """Exams started inside the period, with the last valid attempt of every measured field
    (a re-test supersedes the first reading, reference.md §1.4–1.5)."""
    lo, hi = period.sql_bounds()
    where, params = ["e.finished_at >= ?", "e.finished_at < ?"], [lo, hi]
    if site is not None:
        where.append("e.site = ?")
        params.append(site)
    if exam_type is not None:
        where.append("e.exam_type = ?")
        params.append(exam_type)
    rows = store.query(
        "SELECT e.event_id, e.site, e.kiosk, e.worker_id, e.exam_type, e.started_at, e.outcome, "
        "json_extract(m.value, '$.field') AS field, json_extract(m.value, '$.value') AS value, "
        "coalesce(json_extract(m.value, '$.attempt'), 1) AS attempt "
        "FROM exams e LEFT JOIN json_each(e.body, '$.measurements') m "
        f"WHERE {' AND '.join(where)} ORDER BY e.event_id, attempt",
        params,
    )
    out: dict[str, ExamRow] = {}
    for r in rows:
        row = out.get(r["event_id"])
        if row is None:
            started = parse_ts(r["started_at"]).astimezone(period.tz)
            row = out[r["event_id"]] = ExamRow(r["event_id"], r["site"], r["kiosk"], r["worker_id"],
                                               r["exam_type"], started, r["outcome"])
        if r["field"] in EXAM_FIELDS and r["value"] is not None:
            row.values[r["field"]] = float(r["value"])  # ordered by attempt: the last valid one wins
    return sorted((e for e in out.values() if period.contains(e.started_at)), key=lambda e: e.started_at)


@dataclass
class Reading:
    site: str
    kiosk: str
    sensor_id: str
    zone: str
    ts: datetime
    quantity: str
    value: float


#: Values outside these bounds cannot be a reading of the quantity (the models' input bounds);
#: they are skipped and counted as "implausible", never passed on.
PLAUSIBLE = {"noise_dba": (0.0, 200.0), "noise_lamax_dba": (0.0, 200.0), "noise_peak_dbc": (0.0, 200.0),
             "pm1_0_ugm3": (0.0, 100000.0), "pm2_5_ugm3": (0.0, 100000.0), "pm10_ugm3": (0.0, 100000.0)}


def telemetry(store, period: Period, quantities: tuple[str, ...], site: str | None = None,
              zone: str | None = None) -> tuple[list[Reading], Counter]:
    """Valid telemetry values of ``quantities`` in the period, oldest first, and the skipped ones
    (invalid by the device, or implausible) counted by reason."""
    lo, hi = period.sql_bounds()
    where = [f"quantity IN ({','.join('?' * len(quantities))})", "ts >= ?", "ts < ?"]
    params: list = [*quantities, lo, hi]
    if site is not None:
        where.append("site = ?")
        params.append(site)
    if zone is not None:
        where.append("zone = ?")
        params.append(zone)
    rows = store.query(
        "SELECT site, kiosk, sensor_id, zone, ts, quantity, value, invalid_reason FROM telemetry "
        f"WHERE {' AND '.join(where)}", params)
    readings, invalid = [], Counter()
    for r in rows:
        if r["value"] is None or r["invalid_reason"]:
            invalid[r["invalid_reason"] or "no value"] += 1
            continue
        lo, hi = PLAUSIBLE.get(r["quantity"], (float("-inf"), float("inf")))
        if not lo <= r["value"] <= hi:
            invalid[f"implausible {r['quantity']}"] += 1
            continue
        ts = parse_ts(r["ts"]).astimezone(period.tz)
        if period.contains(ts):
            readings.append(Reading(r["site"], r["kiosk"], r["sensor_id"], r["zone"], ts, r["quantity"],
                                    float(r["value"])))
    readings.sort(key=lambda x: x.ts)
    return readings, invalid


@dataclass
class EventRow:
    event_id: str
    site: str
    kiosk: str
    type: str
    zone: str | None
    device: str | None
    time: datetime
    body: dict


def event_time(body: dict, kiosk_ts: str) -> datetime:
    """When the event happened: ``details.detected_at`` if the kiosk gave it (a replayed or simulated
    event keeps its own time), else the kiosk's timestamp of the record."""
    detected = (body.get("details") or {}).get("detected_at")
    if isinstance(detected, str):
        try:
            return parse_ts(detected)
        except ValueError:
            pass
    return parse_ts(kiosk_ts)


def events(store, period: Period, types: tuple[str, ...], site: str | None = None) -> list[EventRow]:
    """Events of ``types`` that happened inside the period."""
    where, params = [f"type IN ({','.join('?' * len(types))})"], list(types)
    if site is not None:
        where.append("site = ?")
        params.append(site)
    rows = store.query(
        f"SELECT event_id, site, kiosk, type, zone, device, kiosk_ts, body FROM events WHERE {' AND '.join(where)}",
        params)
    out = []
    for r in rows:
        body = json.loads(r["body"])
        when = event_time(body, r["kiosk_ts"]).astimezone(period.tz)
        if period.contains(when):
            out.append(EventRow(r["event_id"], r["site"], r["kiosk"], r["type"], r["zone"], r["device"], when, body))
    return sorted(out, key=lambda e: e.time)
