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
from hub.db import telemetry_points
from hub.db.exam_body import MEASUREMENT_COLUMNS

#: the measured fields analysed: each is a typed column of ``exams`` (revision 0002)
EXAM_FIELDS = MEASUREMENT_COLUMNS


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
    (a re-test supersedes the first reading, reference.md §1.4–1.5): the typed columns the store keeps
    for it (hub.db.exam_body.last_values), so the same SQL runs on SQLite and PostgreSQL."""
    lo, hi = period.sql_bounds()
    where, params = ["finished_at >= ?", "finished_at < ?"], [lo, hi]
    if site is not None:
        where.append("site = ?")
        params.append(site)
    if exam_type is not None:
        where.append("exam_type = ?")
        params.append(exam_type)
    rows = store.query(
        f"SELECT event_id, site, kiosk, worker_id, exam_type, started_at, outcome, {', '.join(EXAM_FIELDS)} "
        f"FROM exams WHERE {' AND '.join(where)}",
        params,
    )
    out = []
    for r in rows:
        started = parse_ts(r["started_at"]).astimezone(period.tz)
        if period.contains(started):
            out.append(ExamRow(r["event_id"], r["site"], r["kiosk"], r["worker_id"], r["exam_type"], started,
                               r["outcome"], {f: float(r[f]) for f in EXAM_FIELDS if r[f] is not None}))
    return sorted(out, key=lambda e: (e.started_at, e.event_id))  # ties as before: by event id


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
    (invalid by the device, or implausible) counted by reason. Read from the packed chunks of the
    period's series (hub.db.telemetry_points), the same on SQLite and PostgreSQL."""
    rows = telemetry_points.rows(store, telemetry_points.to_us(period.start), telemetry_points.to_us(period.end),
                                 quantities, site, zone)
    readings, invalid = [], Counter()
    for r in rows:
        if r["value"] is None or r["invalid_reason"]:
            invalid[r["invalid_reason"] or "no value"] += 1
            continue
        lo, hi = PLAUSIBLE.get(r["quantity"], (float("-inf"), float("inf")))
        if not lo <= r["value"] <= hi:
            invalid[f"implausible {r['quantity']}"] += 1
            continue
        ts = telemetry_points.from_us(r["ts_us"]).astimezone(period.tz)
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
