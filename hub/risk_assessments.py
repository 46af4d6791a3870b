"""Stored risk-group assessments: the model's proposal and the physician's decision, both kept.

Source: seed 004 (risk-group methodology, Ministry of Labour + Ministry of Health, 2026;
``docs/models/risk-group.md``): the algorithm proposes a group, the physician
(occupational pathologist) confirms or overrides it. An assessment row keeps the model's
input, its full output, the proposed group and score; the decision adds the final group,
the physician's name and — for an override — the reason. The proposal is never changed
and a decision is written once (triggers refuse anything else); a re-assessment is a new row.

The report aggregates the latest assessment per worker, year, exam kind and nosology
through the ``risk-group-report`` model and returns counts and averages only.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from typing import Any, Literal

from hub.models.registry import ModelInputError, run_model
from hub.store import RequestRefused, Store, utc_now

SCHEMA = """
CREATE TABLE IF NOT EXISTS risk_group_assessments (
    id INTEGER PRIMARY KEY,
    worker_id TEXT NOT NULL,
    assessed_at TEXT NOT NULL,
    year INTEGER NOT NULL,
    exam TEXT NOT NULL CHECK (exam IN ('periodic', 'preliminary')),
    nosology TEXT,
    input TEXT NOT NULL,
    result TEXT NOT NULL,
    proposed_group INTEGER NOT NULL CHECK (proposed_group BETWEEN 1 AND 5),
    score INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    decision TEXT CHECK (decision IN ('confirmed', 'overridden')),
    final_group INTEGER CHECK (final_group BETWEEN 1 AND 5),
    reason TEXT,
    physician TEXT,
    decided_at TEXT,
    CHECK ((decision IS NULL) = (final_group IS NULL)),
    CHECK (decision IS NOT 'confirmed' OR final_group = proposed_group),
    CHECK (decision IS NOT 'overridden' OR (final_group != proposed_group AND length(trim(reason)) > 0))
);
CREATE INDEX IF NOT EXISTS risk_group_assessments_by_worker ON risk_group_assessments(worker_id, id);
CREATE INDEX IF NOT EXISTS risk_group_assessments_by_year ON risk_group_assessments(year);
CREATE TRIGGER IF NOT EXISTS risk_group_proposal_fixed
BEFORE UPDATE OF id, worker_id, assessed_at, year, exam, nosology, input, result, proposed_group, score,
                 created_by, created_at ON risk_group_assessments
BEGIN SELECT RAISE(ABORT, 'the proposal of a risk-group assessment is never changed; assess again'); END;
CREATE TRIGGER IF NOT EXISTS risk_group_decided_once
BEFORE UPDATE ON risk_group_assessments WHEN OLD.decision IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'the physician''s decision is written once; assess again'); END;
CREATE TRIGGER IF NOT EXISTS risk_group_assessments_kept
BEFORE DELETE ON risk_group_assessments
BEGIN SELECT RAISE(ABORT, 'risk-group assessments are never deleted'); END;
"""

class AssessmentError(RequestRefused):
    """A refused risk-group request."""


def ensure_schema(store: Store) -> None:
    """Create the assessments table, indexes and triggers on the store's connection (idempotent)."""
    store.ensure_schema("risk_group_assessments", SCHEMA)


def _row(row: dict, *, full: bool = True) -> dict:
    out = dict(row)
    out["input"] = json.loads(out["input"])
    result = json.loads(out.pop("result"))
    if full:
        out["result"] = result
    out["criteria_groups"] = result["criteria_groups"]
    out["c7"], out["c8"] = result["c7"], result["c8"]
    out["group"] = out["final_group"] if out["decision"] else out["proposed_group"]
    out["status"] = out["decision"] or "proposed"
    return out


def _as_datetime(value: date | datetime | None) -> datetime:
    if value is None:
        return datetime.now(timezone.utc)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)


def create_assessment(
    store: Store,
    worker_id: str,
    *,
    criteria: dict[str, Any],
    nosology: str | None = None,
    exam: Literal["periodic", "preliminary"] = "periodic",
    assessed_at: date | datetime | None = None,
    created_by: str,
    role: str,
) -> dict:
    """Run ``risk-group`` on the criteria and store its proposal (no physician decision yet)."""
    ensure_schema(store)
    worker_id = worker_id.strip()
    if not worker_id or len(worker_id) > 64:
        raise AssessmentError(422, "worker_id must be 1-64 characters", "worker_id")
    model_input = {"worker_id": worker_id, "nosology": nosology, "criteria": criteria}
    try:
        result = run_model("risk-group", model_input)
    except ModelInputError as error:
        raise AssessmentError(422, error.message, error.field) from None
    when = _as_datetime(assessed_at)
    row = {
        "worker_id": worker_id,
        "assessed_at": when.isoformat(),
        "year": when.year,
        "exam": exam,
        "nosology": nosology,
        "input": json.dumps(model_input, ensure_ascii=False),
        "result": json.dumps(result, ensure_ascii=False),
        "proposed_group": result["proposed_group"],
        "score": result["score"],
        "created_by": created_by,
        "created_at": utc_now(),
    }
    with store.lock:
        conn = store.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            new_id = conn.execute(  # RETURNING: the new id on SQLite and PostgreSQL alike
                f"INSERT INTO risk_group_assessments ({', '.join(row)}) VALUES ({', '.join('?' * len(row))}) "
                "RETURNING id", tuple(row.values()),
            ).fetchone()[0]
            store.audit(created_by, role, "create_risk_assessment", f"worker {worker_id}",
                        {"assessment_id": new_id, "proposed_group": row["proposed_group"]})
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLite may have rolled back already (disk full)
                conn.execute("ROLLBACK")
            raise
    return get_assessment(store, new_id)


def get_assessment(store: Store, assessment_id: int) -> dict | None:
    ensure_schema(store)
    rows = store.query("SELECT * FROM risk_group_assessments WHERE id = ?", [assessment_id])
    return _row(rows[0]) if rows else None


def decide_assessment(
    store: Store,
    assessment_id: int,
    *,
    decision: Literal["confirmed", "overridden"],
    group: int | None = None,
    reason: str | None = None,
    physician: str,
    role: str,
) -> dict:
    """Write the physician's decision once: confirm the proposal or override it with a reason."""
    ensure_schema(store)
    reason = (reason or "").strip() or None
    with store.lock:
        conn = store.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            found = conn.execute(
                "SELECT worker_id, input, proposed_group, decision, physician, decided_at "
                "FROM risk_group_assessments WHERE id = ?", (assessment_id,)).fetchone()
            if found is None:
                raise AssessmentError(404, f"no risk-group assessment {assessment_id}")
            worker_id, input_json, proposed, earlier, earlier_by, earlier_at = found
            if earlier is not None:
                raise AssessmentError(
                    409, f"assessment {assessment_id} was already {earlier} by {earlier_by} at {earlier_at}; "
                    "a new assessment is needed to change the group", "decision")
            if decision == "confirmed":
                if group is not None and group != proposed:
                    raise AssessmentError(
                        422, f"confirming keeps the proposed group {proposed}; to set group {group}, override",
                        "group")
                final = proposed
            elif decision == "overridden":
                if group is None:
                    raise AssessmentError(422, "an override names the physician's group (1-5)", "group")
                if group == proposed:
                    raise AssessmentError(
                        422, f"group {group} is the proposed group; confirm it instead of overriding", "group")
                if reason is None:
                    raise AssessmentError(422, "a reason is required to override the proposed group", "reason")
                final = group
            else:
                raise AssessmentError(422, f"decision must be 'confirmed' or 'overridden', not {decision!r}",
                                      "decision")
            # the model states the same rule (seed 004 step 3); run it so both always agree
            model_input = json.loads(input_json)
            model_input["physician"] = {"group": final, "physician": physician, "reason": reason,
                                        "decided_on": date.today().isoformat()}
            try:
                checked = run_model("risk-group", model_input)
            except ModelInputError as error:
                raise AssessmentError(422, error.message, error.field.removeprefix("physician.")) from None
            if checked["status"] != decision:
                raise AssessmentError(422, f"the model reads this as {checked['status']}, not {decision}", "decision")
            conn.execute(
                "UPDATE risk_group_assessments SET decision = ?, final_group = ?, reason = ?, physician = ?, "
                "decided_at = ? WHERE id = ?",
                (decision, final, reason, physician, utc_now(), assessment_id),
            )
            store.audit(physician, role, "decide_risk_assessment", f"worker {worker_id}",
                        {"assessment_id": assessment_id, "decision": decision, "proposed_group": proposed,
                         "final_group": final})
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLite may have rolled back already (disk full)
                conn.execute("ROLLBACK")
            raise
    return get_assessment(store, assessment_id)


def worker_assessments(store: Store, worker_id: str) -> list[dict]:
    """Every assessment of one worker, oldest first (medical: the caller audits the read)."""
    ensure_schema(store)
    return [_row(r) for r in store.query(
        "SELECT * FROM risk_group_assessments WHERE worker_id = ? ORDER BY id", [worker_id])]


def latest_assessments(store: Store, *, since_year: int | None = None, until_year: int | None = None,
                       full: bool = False) -> list[dict]:
    """The latest assessment per (worker, year, exam, nosology) in the years given, oldest first: the set
    seed 004's final report counts. Medical rows: only aggregates built from them may leave the hub."""
    ensure_schema(store)
    where, params = [], []
    if since_year is not None:
        where.append("year >= ?")
        params.append(since_year)
    if until_year is not None:
        where.append("year <= ?")
        params.append(until_year)
    clause = f"AND {' AND '.join(where)}" if where else ""
    rows = store.query(
        "SELECT a.* FROM risk_group_assessments a WHERE a.id = (SELECT max(b.id) FROM risk_group_assessments b "
        "WHERE b.worker_id = a.worker_id AND b.year = a.year AND b.exam = a.exam "
        f"AND b.nosology IS a.nosology) {clause} ORDER BY a.id",
        params,
    )
    return [_row(r, full=full) for r in rows]


def report(store: Store, *, since_year: int | None = None, until_year: int | None = None) -> dict:
    """Distribution by final group, enterprise average score and dynamics by year — aggregates only.

    The latest assessment per (worker, year, exam, nosology) counts; the group is the
    physician's where decided, else the proposal (as the ``risk-group-report`` model does).
    Worker ids are removed from the model's output: OHS sees counts, never who.
    """
    parsed = latest_assessments(store, since_year=since_year, until_year=until_year)
    if not parsed:
        return {"workers": 0, "assessments": 0, "years": {}, "enterprise_average_score": {}, "dynamics": [],
                "distribution_latest_year": None, "source": "seed 004 (risk-group methodology): final report"}
    columns: dict[str, list] = {name: [] for name in (
        "year", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "worker_id", "exam", "nosology",
        "physician_group", "physician_reason")}
    for item in parsed:
        columns["year"].append(item["year"])
        for name in ("c1", "c2", "c3", "c4", "c5", "c6"):
            columns[name].append(item["criteria_groups"][name])
        columns["c7"].append(bool(item["c7"]))
        columns["c8"].append(bool(item["c8"]))
        columns["worker_id"].append(item["worker_id"])
        columns["exam"].append(item["exam"])
        columns["nosology"].append(item["nosology"])
        columns["physician_group"].append(item["final_group"])
        columns["physician_reason"].append(item["reason"])
    out = run_model("risk-group-report", {"columns": columns})
    agreement = out.get("collective_agreement", {})
    agreement.pop("worker_ids", None)
    out.pop("worker_results", None)
    latest = str(max(item["year"] for item in parsed))
    out["assessments"] = len(parsed)
    out["distribution_latest_year"] = {"year": int(latest), **out["years"][latest]["periodic"]}
    return out
