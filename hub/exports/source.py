"""The reads the exports make of stored records — the only ones, through the store's public methods.

* exams of one period (site, exam types, completion time) with their whole stored bodies —
  the store offers no such read yet, so it is one ``Store.query`` here (the store's public read
  method) over the columns and index that ``GET /api/v1/exams`` uses (``exams_by_site_time`` /
  ``exams_by_type_time``); when the store grows ``Store.exams(...)`` this function becomes a call;
* the medic's current decision on each of them, through :func:`hub.medic.decisions`, with its
  signature verified by :func:`hub.medic_signing.attach`;
* the risk-group assessments seed 004's report counts (the latest per worker, year, exam and
  nosology) — their ids by one ``Store.query`` mirroring :func:`hub.risk_assessments.report`, each
  row through :func:`hub.risk_assessments.get_assessment`.

Nothing here audits: the routes audit each export (323-FZ art. 13).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Sequence

import orjson

from hub import medic, medic_signing, risk_assessments
from hub.db.exam_body import decode_body_text

#: Columns of an exam an export needs (the body holds the measurements, answers, worker, consent).
_COLUMNS = ("event_id, site, kiosk, seq, exam_id, worker_id, exam_type, started_at, finished_at, outcome, "
            "chain_status, received_at, body_z")
#: Decisions are read from this long before the period starts: a kiosk clock ahead of the hub's
#: could put an exam's finished_at after the medic's decided_at (a design margin, not a rule).
DECISION_CLOCK_MARGIN = timedelta(days=2)
_DECISION_PAGE = 1000


@dataclass
class StoredExam:
    """One stored exam: its columns, its body as stored, and the medic's current decision (if any)."""

    row: dict
    body: dict
    decision: dict | None = None

    @property
    def event_id(self) -> str:
        return self.row["event_id"]


def count_exams(store, *, since: datetime, until: datetime, exam_types: Sequence[str], site: str | None) -> int:
    clause, params = _filter(since, until, exam_types, site)
    return store.scalar(f"SELECT count(*) FROM exams WHERE {clause}", params)


def exams_in_period(store, *, since: datetime, until: datetime, exam_types: Sequence[str], site: str | None,
                    limit: int, offset: int = 0) -> list[StoredExam]:
    """Exams finished in [since, until) of the given types (and site), oldest first, with decisions."""
    clause, params = _filter(since, until, exam_types, site)
    rows = store.query(f"SELECT {_COLUMNS} FROM exams WHERE {clause} ORDER BY finished_at, seq LIMIT ? OFFSET ?",
                       [*params, limit, offset])
    exams = [_stored(row) for row in rows]
    _attach_decisions(store, exams, since - DECISION_CLOCK_MARGIN)
    return exams


def exam_by_event_id(store, event_id: str) -> StoredExam | None:
    rows = store.query(f"SELECT {_COLUMNS} FROM exams WHERE event_id = ?", [event_id])
    if not rows:
        return None
    exam = _stored(rows[0])
    current = [d for d in medic.decisions(store, event_id=event_id) if d["current"]]
    exam.decision = current[-1] if current else None
    medic_signing.attach(store, current[-1:])
    return exam


def _stored(row: dict) -> StoredExam:
    body = orjson.loads(decode_body_text(row.pop("body_z")))  # a journal decodes 10,000 bodies: orjson is ~4x the json module here
    return StoredExam(row, body)


def _utc(moment: datetime) -> str:
    """ISO text in UTC, as the stored times are compared as text (like GET /api/v1/exams)."""
    return moment.astimezone(timezone.utc).isoformat()


def _filter(since: datetime, until: datetime, exam_types: Sequence[str], site: str | None) -> tuple[str, list]:
    where = [f"exam_type IN ({', '.join('?' * len(exam_types))})", "finished_at >= ?", "finished_at < ?"]
    params: list = [*exam_types, _utc(since), _utc(until)]
    if site is not None:
        where.insert(0, "site = ?")
        params.insert(0, site)
    return " AND ".join(where), params


def _attach_decisions(store, exams: list[StoredExam], decided_since: datetime) -> None:
    """Each exam's current (not superseded) medic decision, read page by page in the order taken."""
    wanted = {exam.event_id: exam for exam in exams}
    if not wanted:
        return
    offset = 0
    while True:
        page = medic.decisions(store, since=_utc(decided_since), limit=_DECISION_PAGE, offset=offset)
        for decision in page:
            exam = wanted.get(decision["event_id"])
            if exam is not None and decision["current"]:
                exam.decision = decision
        if len(page) < _DECISION_PAGE:
            break
        offset += _DECISION_PAGE
    medic_signing.attach(store, [exam.decision for exam in exams if exam.decision is not None])


def latest_assessments(store, *, since_year: int | None, until_year: int | None) -> list[dict]:
    """The assessments seed 004's report counts (:func:`hub.risk_assessments.latest_assessments`), whole."""
    return risk_assessments.latest_assessments(store, since_year=since_year, until_year=until_year, full=True)
