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
from hub.api.views_stats import ExamStats
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

    The kiosks' pre-decisions are counted one day at a time (:func:`_day_counts`); then each exam a
    medic decided in the period moves from its pre-decision's cell to its decision's. The decided exams
    are found through the partial index ``exams_medic_decided`` (migration 0004: the ~1.5 % of exams
    with ``medic_decision`` set, which :func:`hub.medic.record_decision` keeps equal to the newest
    decision), so neither step visits an exam twice or looks a decision up per exam.
    """
    filters, params = [], []
    for column, value in (("site", site), ("kiosk", kiosk), ("exam_type", exam_type)):
        if value is not None:
            filters.append(f"{column} = ?")
            params.append(value)
    cells: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(OUTCOMES, 0))
    day = first
    while day <= last:
        for row in _day_counts(store, day, filters, params):
            if any(row[outcome] for outcome in OUTCOMES):  # a kiosk with only other outcomes has no cell
                cells[(day.isoformat(), row["kiosk"])] = {outcome: row[outcome] for outcome in OUTCOMES}
        day += timedelta(days=1)
    final_outcome.ensure_schema(store)
    hint = "INDEXED BY exams_medic_decided" if store.backend == "sqlite" else ""
    decided = store.query(
        f"SELECT substr(finished_at, 1, 10) AS day, kiosk, outcome, medic_decision AS decision FROM exams {hint} "
        "WHERE medic_decision IS NOT NULL AND finished_at >= ? AND finished_at < ?"
        + "".join(f" AND {f}" for f in filters),
        [first.isoformat(), (last + timedelta(days=1)).isoformat(), *params])
    for row in decided:
        cell = cells[(row["day"], row["kiosk"])]
        if row["outcome"] in OUTCOMES and row["decision"] in OUTCOMES and row["outcome"] != row["decision"]:
            cell[row["outcome"]] -= 1
            cell[row["decision"]] += 1
    return cells


def _day_counts(store: Store, day: date, filters: list[str], params: list) -> list[dict]:
    """Pre-decisions per kiosk on one day (``finished_at`` from the day up to the next: the rows whose
    ``substr(finished_at, 1, 10)`` is that day). One query per day, grouped by kiosk alone with a count
    per outcome, reads a covering index in order with nothing to sort; one grouped query over the whole
    period had to sort every exam of it by (day, kiosk, outcome), most of its time at scale."""
    counts = ", ".join(f"count(CASE WHEN outcome = '{outcome}' THEN 1 END) AS {outcome}" for outcome in OUTCOMES)
    return store.query(
        f"SELECT kiosk, {counts} FROM exams WHERE finished_at >= ? AND finished_at < ?"
        + "".join(f" AND {f}" for f in filters) + " GROUP BY kiosk",
        [day.isoformat(), (day + timedelta(days=1)).isoformat(), *params])


def _rows(totals: dict[str, dict[str, int]], key: str) -> list[dict]:
    return [{key: name, "total": sum(c.values()), **c} for name, c in sorted(totals.items())]


@router.get("/exams", summary="Exams and final outcomes per day and per kiosk (counts; any role)",
            response_model=ExamStats)
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
