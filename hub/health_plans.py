"""The worker's health plan from what the hub holds (seed 000: one confidential record per worker).

Joins, for one worker of the registry: the pre-shift exams of the last year with their final
outcome (:mod:`hub.final_outcome`), the latest risk-group assessment (the physician's group once
decided, :mod:`hub.risk_assessments`), the individual norm in force (:mod:`hub.workers`) and the
recorded vaccinations (:mod:`hub.vaccinations`), and runs the ``health-plan`` model
(:mod:`hub.models.health_plan`) over them. Medic only; the route audits each read.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from hub import final_outcome, risk_assessments, vaccinations, workers
from hub.models.registry import ModelInputError, run_model
from hub.store import RequestRefused


class HealthPlanError(RequestRefused):
    """A request this module refuses (``status``: the HTTP status, ``field``: the input at fault)."""


def plan_input(store, personnel_number: str, as_of: date) -> dict[str, Any]:
    person = workers.worker(store, personnel_number)
    if not person.get("birth_date"):
        raise HealthPlanError(422, f"worker {personnel_number} has no birth date in the registry: the plan needs "
                                   "the age", "birth_date")
    final_outcome.ensure_schema(store)
    since = (as_of - timedelta(days=365)).isoformat()
    exams = store.query(
        f"SELECT substr(finished_at, 1, 10) AS day, exam_type, {final_outcome.FINAL_OUTCOME_SQL} AS final FROM exams "
        "WHERE worker_id = ? AND finished_at >= ? ORDER BY finished_at", [personnel_number, since])
    data: dict[str, Any] = {
        "as_of": as_of.isoformat(), "worker": personnel_number, "full_name": person["full_name"],
        "birth_date": person["birth_date"], "sex": person.get("sex"),
        "exams": [{"date": e["day"], "kind": e["exam_type"], "conclusion": e["final"]} for e in exams
                  if e["exam_type"] in ("pre_shift", "post_shift", "pre_trip", "post_trip", "in_shift")],
    }
    assessments = risk_assessments.worker_assessments(store, personnel_number)
    if assessments:
        latest = assessments[-1]
        data["risk_group"] = {"group": latest["group"],
                              "status": "confirmed" if latest["status"] in ("confirmed", "overridden") else "proposed",
                              "confirmed_by": latest.get("physician"), "nosology": latest.get("nosology"),
                              "confirmed_on": (latest.get("decided_at") or "")[:10] or None}
    norm = person.get("norm_in_force")
    if norm:
        data["individual_norm"] = {"systolic_mmhg": norm["systolic_mmhg"], "diastolic_mmhg": norm["diastolic_mmhg"],
                                   "pulse_bpm": norm["pulse_bpm"], "n_readings": norm["n_readings"],
                                   "approved_by": norm["approved_by"], "approved_on": norm["approved_at"][:10]}
    rows = vaccinations.records(store, personnel_number)
    entry = vaccinations.model_worker({**person, "groups": person.get("groups") or []}, rows)
    if entry is not None:
        data["vaccination"] = {"site": entry["site"], "groups": entry["groups"], "doses": entry["doses"],
                               "exemptions": entry["exemptions"]}
    return data


def health_plan(store, personnel_number: str, as_of: date) -> dict[str, Any]:
    data = plan_input(store, personnel_number, as_of)
    try:
        return run_model("health-plan", json.loads(json.dumps(data)))
    except ModelInputError as error:
        raise HealthPlanError(422, str(error), error.field) from None
