"""``/api/v1/stats/exams``: exams and their final outcomes per day and per kiosk, for the OHS charts.

Counts only. The outcome of each exam is already what the OHS role sees row by row (the employer
learns "admitted / not admitted", architecture.md "Privacy and roles"), so outcome counts carry
no medical value and need no small-cell suppression; findings (fever, alcohol, BP) are counted by
``/api/v1/analytics/epi/*`` with suppression.

The outcome counted is the *final* one (:mod:`hub.final_outcome`): the kiosk's pre-decision,
replaced by the medic's decision where there is one. Days are the kiosks' own calendar days, as
their ``finished_at`` timestamps state them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta, timezone

from fastapi import APIRouter, Depends, HTTPException, Query

from hub import final_outcome
from hub.api.deps import ERRORS, Caller, get_caller, get_store
from hub.store import Store

router = APIRouter(prefix="/api/v1/stats", tags=["stats"], responses=ERRORS)

OUTCOMES = ("admitted", "not_admitted", "needs_medic")
#: The longest period one request may count (a year and a day: a leap year fits).
MAX_DAYS = 367
DEFAULT_DAYS = 30


def _period(date_from: date | None, date_to: date | None) -> tuple[date, date]:
    last = date_to or datetime.now(timezone.utc).date()
    first = date_from or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise HTTPException(422, f"date_from {first} is after date_to {last}")
    if (last - first).days + 1 > MAX_DAYS:
        raise HTTPException(422, f"a period of at most {MAX_DAYS} days, not {(last - first).days + 1}")
    return first, last


def count_outcomes(store: Store, first: date, last: date, site: str | None = None, kiosk: str | None = None,
                   exam_type: str | None = None) -> dict[tuple[str, str], dict[str, int]]:
    """(day, kiosk) → final outcome → number of exams in the period.

    The kiosks' pre-decisions are counted with one grouped scan of the ``exams`` index on
    ``finished_at``; then each exam a medic decided in the period moves from its pre-decision's
    cell to its decision's (medic decisions are few, exams many).
    """
    where, params = ["finished_at >= ?", "finished_at < ?"], [first.isoformat(), (last + timedelta(days=1)).isoformat()]
    for column, value in (("site", site), ("kiosk", kiosk), ("exam_type", exam_type)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    clause = " AND ".join(where)
    cells: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(OUTCOMES, 0))
    for row in store.query(f"SELECT substr(finished_at, 1, 10) AS day, kiosk, outcome, count(*) AS n FROM exams "
                           f"WHERE {clause} GROUP BY day, kiosk, outcome", params):
        if row["outcome"] in OUTCOMES:
            cells[(row["day"], row["kiosk"])][row["outcome"]] += row["n"]
    final_outcome.ensure_schema(store)
    decided = store.query(
        "SELECT substr(exams.finished_at, 1, 10) AS day, exams.kiosk, exams.outcome, d.decision "
        "FROM medic_decisions d JOIN exams ON exams.event_id = d.event_id "
        "WHERE d.id = (SELECT max(id) FROM medic_decisions m WHERE m.event_id = d.event_id) "
        f"AND {' AND '.join('exams.' + w for w in where)}", params)
    for row in decided:
        cell = cells[(row["day"], row["kiosk"])]
        if row["outcome"] in OUTCOMES and row["decision"] in OUTCOMES and row["outcome"] != row["decision"]:
            cell[row["outcome"]] -= 1
            cell[row["decision"]] += 1
    return cells


def _rows(totals: dict[str, dict[str, int]], key: str) -> list[dict]:
    return [{key: name, "total": sum(c.values()), **c} for name, c in sorted(totals.items())]


@router.get("/exams", summary="Exams and final outcomes per day and per kiosk (counts; any role)")
def exam_stats(
    site: str | None = None,
    kiosk: str | None = None,
    exam_type: str | None = None,
    date_from: date | None = Query(None, description=f"first day (default: {DEFAULT_DAYS} days up to date_to)"),
    date_to: date | None = Query(None, description="last day, inclusive (default: today, UTC)"),
    store: Store = Depends(get_store),
    caller: Caller = Depends(get_caller),
) -> dict:
    first, last = _period(date_from, date_to)
    cells = count_outcomes(store, first, last, site, kiosk, exam_type)
    by_day: dict[str, dict[str, int]] = {}
    by_kiosk: dict[str, dict[str, int]] = {}
    for (day, kiosk_id), counts in cells.items():
        for table, key in ((by_day, day), (by_kiosk, kiosk_id)):
            target = table.setdefault(key, dict.fromkeys(OUTCOMES, 0))
            for outcome, n in counts.items():
                target[outcome] += n
    every_day = [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
    for day in every_day:  # a day without exams is a zero, not a gap in the chart
        by_day.setdefault(day, dict.fromkeys(OUTCOMES, 0))
    total = dict.fromkeys(OUTCOMES, 0)
    for counts in by_kiosk.values():
        for outcome, n in counts.items():
            total[outcome] += n
    return {"period": {"date_from": first.isoformat(), "date_to": last.isoformat()},
            "filters": {"site": site, "kiosk": kiosk, "exam_type": exam_type},
            "outcome_basis": "final: the medic's decision where there is one, else the kiosk's pre-decision",
            "total": {"total": sum(total.values()), **total},
            "by_day": _rows(by_day, "date"), "by_kiosk": _rows(by_kiosk, "kiosk")}
