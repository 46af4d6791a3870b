"""The medic's review queue and decisions, and their delivery to the kiosk as ``cmd``.

Why: the kiosk's outcome is a pre-decision; the medical worker makes the conclusion
(ПП 866, reference.md §1.4 and §1.7). Exams the kiosk held (``needs_medic``) or refused
(``not_admitted``: confirmed alcohol, or temperature / SpO2 by local policy — admission
rules "Outcomes", which send every refusal to the medic queue; for alcohol the medic must
also notify the employer, 266н, reference.md §1.3) wait here until a medic decides.

Decisions are immutable (a trigger refuses UPDATE and DELETE): a correction is a new row
that names the decision it supersedes, and both are kept. Each decision is published to
its kiosk as a :class:`~firmware_bridges.contract.Command` of type ``medic_decision`` on
``ohs/v1/{site}/{kiosk}/cmd`` (QoS 1). ``published_at`` is set only after the broker's
PUBACK; until then :class:`DecisionPublisher` retries, so a decision taken while the hub is
offline is sent when it reconnects, and one taken while the kiosk is offline waits in the
kiosk's persistent session at the broker. Delivery is at-least-once: the kiosk recognises
a repeat by ``command_id`` (= ``decision_id``).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone
from typing import Literal

from firmware_bridges.contract import Command
from firmware_bridges.readings import READING_FIELDS
from hub import medic_signing
from hub.command_publisher import CommandPublisher
from hub.db.exam_body import decode_body
from hub.store import RequestRefused, Store, utc_now

log = logging.getLogger(__name__)

Decision = Literal["admitted", "not_admitted"]
#: Kiosk outcomes that put an exam in the medic queue (admission-rules.md, "Outcomes").
QUEUE_OUTCOMES = ("needs_medic", "not_admitted")
#: Rule ids whose finding means signs of intoxication: 266н obliges the medic to notify the
#: employer (reference.md §1.3). ``alcohol`` covers alcohol.trace / .unconfirmed / .window too.
INTOXICATION_RULES = ("alcohol", "psychoactive")
TEXT_MAX = 2000
#: The held exams without a decision, as the partial index ``exams_medic_waiting`` (migration 0004) states
#: them, so both queue reads walk that index: their cost follows the exams that wait, not the year's held
#: exams. ``medic_decision`` is set in the transaction that stores a decision (:func:`record_decision`);
#: the queries still check ``medic_decisions`` itself, so the column only narrows the walk.
WAITING = "e.outcome IN ('needs_medic', 'not_admitted') AND e.medic_decision IS NULL"

SCHEMA = """
CREATE TABLE IF NOT EXISTS medic_decisions (
    id INTEGER PRIMARY KEY,
    decision_id TEXT NOT NULL UNIQUE,
    event_id TEXT NOT NULL,
    site TEXT NOT NULL, kiosk TEXT NOT NULL, exam_id TEXT NOT NULL, worker_id TEXT NOT NULL,
    kiosk_outcome TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('admitted', 'not_admitted')),
    reason TEXT, referral TEXT,
    notify_employer INTEGER NOT NULL CHECK (notify_employer IN (0, 1)),
    medic TEXT NOT NULL, decided_at TEXT NOT NULL,
    supersedes TEXT REFERENCES medic_decisions(decision_id),
    published_at TEXT
);
CREATE INDEX IF NOT EXISTS medic_decisions_by_exam ON medic_decisions(event_id, id);
CREATE INDEX IF NOT EXISTS medic_decisions_unpublished ON medic_decisions(id) WHERE published_at IS NULL;
CREATE INDEX IF NOT EXISTS exams_medic_queue ON exams(finished_at) WHERE outcome IN ('needs_medic', 'not_admitted');
CREATE TRIGGER IF NOT EXISTS medic_decisions_immutable
BEFORE UPDATE OF id, decision_id, event_id, site, kiosk, exam_id, worker_id, kiosk_outcome, decision, reason,
                 referral, notify_employer, medic, decided_at, supersedes ON medic_decisions
BEGIN SELECT RAISE(ABORT, 'medic decisions are immutable: record a new decision that supersedes it'); END;
CREATE TRIGGER IF NOT EXISTS medic_decisions_published_once
BEFORE UPDATE OF published_at ON medic_decisions WHEN OLD.published_at IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'published_at is set once'); END;
CREATE TRIGGER IF NOT EXISTS medic_decisions_kept
BEFORE DELETE ON medic_decisions
BEGIN SELECT RAISE(ABORT, 'medic decisions are never deleted'); END;
"""

def waiting_index(store: Store) -> str:
    """SQLite's planner, left alone, counts the queue along ``exams_by_outcome_time`` (every held exam of
    the year); name the partial index there. PostgreSQL picks it by itself."""
    return "INDEXED BY exams_medic_waiting" if store.backend == "sqlite" else ""


class MedicError(RequestRefused):
    """A request the medic module refuses."""


def ensure_schema(store: Store) -> None:
    """Create the decisions table, its index and triggers on the store's connection (idempotent)."""
    store.ensure_schema("medic", SCHEMA)


# --------------------------------------------------------------------------- reading


def _fired_rules(body: dict) -> list[str]:
    return [f.get("rule", "") for f in body.get("fired", []) if isinstance(f, dict)]


def review_queue(store: Store, limit: int = 200) -> list[dict]:
    """Exams waiting for a medic (no decision yet), oldest first.

    Each item names the rules that fired but carries no measured values: the values are
    read one exam at a time through :func:`exam_record`, and each such read is audited.
    """
    ensure_schema(store)
    rows = store.query(
        "SELECT e.event_id, e.site, e.kiosk, e.exam_id, e.worker_id, e.exam_type, e.finished_at, e.outcome, "
        "e.historical, e.received_at, e.body_z FROM exams e "
        f"{waiting_index(store)} WHERE {WAITING} AND NOT EXISTS (SELECT 1 FROM medic_decisions d WHERE d.event_id = e.event_id) "
        "ORDER BY e.finished_at, e.seq LIMIT ?",
        [limit],
    )
    now = datetime.now(timezone.utc)
    for row in rows:
        body = decode_body(row.pop("body_z"))
        row["historical"] = bool(row["historical"])
        row["fired_rules"] = _fired_rules(body)
        row["intoxication"] = _intoxication(body)
        row["waiting_s"] = max(0, round((now - datetime.fromisoformat(row["finished_at"])).total_seconds()))
    return rows


def queue_size(store: Store) -> int:
    """How many exams wait for a medic (the whole queue, not one page of it)."""
    ensure_schema(store)
    return store.scalar(f"SELECT count(*) FROM exams e {waiting_index(store)} WHERE {WAITING} "
                        "AND NOT EXISTS (SELECT 1 FROM medic_decisions d WHERE d.event_id = e.event_id)")


def exam_record(store: Store, event_id: str) -> dict | None:
    """One exam with its medical values (units attached), the kiosk's reasons and every decision on it.

    The caller audits the read (323-FZ art. 13); this function only reads.
    """
    ensure_schema(store)
    rows = store.query(
        "SELECT event_id, site, kiosk, seq, exam_id, worker_id, exam_type, started_at, finished_at, outcome, "
        "rule_set_version, historical, received_at, body_z FROM exams WHERE event_id = ?",
        [event_id],
    )
    if not rows:
        return None
    row = rows[0]
    body = decode_body(row.pop("body_z"))
    row["historical"] = bool(row["historical"])
    row["measurements"] = [{**m, "unit": READING_FIELDS.get(m.get("field"), "")} for m in body.get("measurements", [])]
    row["answers"] = body.get("answers", {})
    row["survey"] = body.get("survey", [])  # the questions as asked, with the answers (kiosk workflow)
    row["worker"] = body.get("worker") or {}
    row["ticket"] = body.get("ticket")
    row["identity_photos"] = body.get("identity_photos", [])  # medic only (323-FZ art. 13; 152-FZ art. 11)
    row["fatigue"] = body.get("fatigue")  # the fatigue / stress screening, medic only (seed 002 B.3.3.5)
    row["fired"] = body.get("fired", [])
    row["reasons"] = body.get("reasons", [])
    row["summary"] = body.get("summary", {})
    row["decided_by"] = body.get("decided_by")
    row["kiosk_notify_employer"] = bool(body.get("notify_employer", False))
    row["intoxication"] = _intoxication(body)
    row["in_queue"] = row["outcome"] in QUEUE_OUTCOMES
    row["decisions"] = decisions(store, event_id=event_id)
    row["current_decision"] = next((d for d in reversed(row["decisions"]) if d["current"]), None)
    return row


def decisions(
    store: Store,
    *,
    event_id: str | None = None,
    worker_id: str | None = None,
    medic: str | None = None,
    since: str | None = None,
    limit: int = 500,
    offset: int = 0,
    newest_first: bool = False,
) -> list[dict]:
    """Decisions in the order they were taken, each marked ``current`` or ``superseded_by``."""
    ensure_schema(store)
    clause, params = _decision_filter(event_id, worker_id, medic, since)
    rows = store.query(
        "SELECT d.*, (SELECT n.decision_id FROM medic_decisions n WHERE n.supersedes = d.decision_id "
        f"ORDER BY n.id LIMIT 1) AS superseded_by FROM medic_decisions d {clause} "
        f"ORDER BY d.id {'DESC' if newest_first else 'ASC'} LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    for row in rows:
        row.pop("id")
        row["notify_employer"] = bool(row["notify_employer"])
        row["current"] = row["superseded_by"] is None
    return rows


def count_decisions(store: Store, *, event_id: str | None = None, worker_id: str | None = None,
                    medic: str | None = None, since: str | None = None) -> int:
    """How many decisions match the same filters as :func:`decisions`."""
    ensure_schema(store)
    clause, params = _decision_filter(event_id, worker_id, medic, since)
    return store.scalar(f"SELECT count(*) FROM medic_decisions d {clause}", params)


def _decision_filter(event_id, worker_id, medic, since) -> tuple[str, list]:
    where, params = [], []
    for column, value in (("d.event_id", event_id), ("d.worker_id", worker_id), ("d.medic", medic)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if since is not None:
        where.append("d.decided_at >= ?")
        params.append(since)
    return (f"WHERE {' AND '.join(where)}" if where else ""), params


def _intoxication(body: dict) -> bool:
    return any(rule.split(".")[0] in INTOXICATION_RULES for rule in _fired_rules(body))


# --------------------------------------------------------------------------- deciding


def _clean_text(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if len(text) > TEXT_MAX:
        raise MedicError(422, f"{field} is {len(text)} characters; at most {TEXT_MAX}", field)
    return text or None


def record_decision(
    store: Store,
    event_id: str,
    *,
    medic: str,
    role: str,
    decision: Decision,
    reason: str | None = None,
    referral: str | None = None,
    notify_employer: bool | None = None,
    supersedes: str | None = None,
    signer: medic_signing.Signer | None = None,
) -> dict:
    """Store one medic decision on an exam and audit it, in one transaction.

    With a ``signer`` (:mod:`hub.medic_signing`: the medic's key unlocked by their PIN, or a
    qualified-signature backend) the decision is signed and the signature stored in the same
    transaction.

    Rules (each refusal is a :class:`MedicError` naming the field):

    * a reason is required to override the kiosk (its ``admitted`` / ``not_admitted``
      differs from the decision) and for every correction;
    * an exam already decided is corrected only by naming the current decision in
      ``supersedes`` — two medics (or a double tap) cannot silently overwrite each other;
    * ``notify_employer`` defaults to "not admitted with signs of intoxication" (266н,
      reference.md §1.3); notifying about a worker who is admitted is refused.
    """
    ensure_schema(store)
    medic_signing.ensure_schema(store)
    if decision not in ("admitted", "not_admitted"):
        raise MedicError(422, f"decision must be 'admitted' or 'not_admitted', not {decision!r}", "decision")
    reason = _clean_text(reason, "reason")
    referral = _clean_text(referral, "referral")
    with store.lock:
        conn = store.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            # first: the exam's current decision on its row (migration 0004; the queue and the final-outcome
            # counts select by it). On PostgreSQL the row lock makes two decisions on one exam take turns, so
            # the check of the current decision below sees the other's, and the newest id is the value kept.
            conn.execute("UPDATE exams SET medic_decision = ? WHERE event_id = ?", (decision, event_id))
            exam = conn.execute(
                "SELECT site, kiosk, exam_id, worker_id, outcome, body_z FROM exams WHERE event_id = ?", (event_id,)
            ).fetchone()
            if exam is None:
                raise MedicError(404, f"no exam with event id {event_id}")
            site, kiosk, exam_id, worker_id, kiosk_outcome, stored_body = exam
            body = decode_body(stored_body)
            current = conn.execute(
                "SELECT d.decision_id, d.medic, d.decided_at FROM medic_decisions d WHERE d.event_id = ? AND NOT EXISTS "
                "(SELECT 1 FROM medic_decisions n WHERE n.supersedes = d.decision_id) ORDER BY d.id DESC LIMIT 1",
                (event_id,),
            ).fetchone()
            if current is not None and supersedes != current[0]:
                raise MedicError(
                    409,
                    f"exam {event_id} was already decided by {current[1]} at {current[2]} (decision {current[0]}); "
                    "to correct it, send supersedes with that decision id and a reason",
                    "supersedes",
                )
            if current is None and supersedes is not None:
                raise MedicError(409, f"exam {event_id} has no decision to supersede", "supersedes")
            overrides_kiosk = kiosk_outcome in ("admitted", "not_admitted") and decision != kiosk_outcome
            if overrides_kiosk and reason is None:
                raise MedicError(422, f"a reason is required to override the kiosk's '{kiosk_outcome}'", "reason")
            if supersedes is not None and reason is None:
                raise MedicError(422, "a reason is required to correct an earlier decision", "reason")
            if notify_employer is None:
                notify_employer = decision == "not_admitted" and (
                    _intoxication(body) or bool(body.get("notify_employer", False))
                )
            if notify_employer and decision == "admitted":
                raise MedicError(
                    422, "the employer is notified of intoxication (266н), which means not admitted", "notify_employer"
                )
            row = {
                "decision_id": str(uuid.uuid4()),
                "event_id": event_id,
                "site": site,
                "kiosk": kiosk,
                "exam_id": exam_id,
                "worker_id": worker_id,
                "kiosk_outcome": kiosk_outcome,
                "decision": decision,
                "reason": reason,
                "referral": referral,
                "notify_employer": int(bool(notify_employer)),
                "medic": medic,
                "decided_at": utc_now(),
                "supersedes": supersedes,
            }
            conn.execute(
                f"INSERT INTO medic_decisions ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                tuple(row.values()),
            )
            signature = medic_signing.sign_into(conn, row, signer) if signer is not None else None
            store.audit(medic, role, "medic_decision", f"worker {worker_id}",
                        {"event_id": event_id, "decision_id": row["decision_id"], "decision": decision,
                         "supersedes": supersedes})
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLite may have rolled back already (disk full)
                conn.execute("ROLLBACK")
            raise
    row["notify_employer"] = bool(row["notify_employer"])
    row["signature"] = {"status": "valid", **signature} if signature else {"status": "unsigned"}
    row["published_at"] = None
    row["superseded_by"] = None
    row["current"] = True
    return row


# --------------------------------------------------------------------------- publishing


def command_for(decision: dict) -> Command:
    """The ``medic_decision`` command for one stored decision (``command_id`` = ``decision_id``).

    ``args.outcome`` repeats ``args.decision``: it is the name the kiosk workflow reads
    (``edge_agent/workflow``: the medic's outcome replaces the kiosk's pre-decision).
    """
    args = {key: decision[key] for key in (
        "decision_id", "event_id", "site", "kiosk", "exam_id", "worker_id", "kiosk_outcome", "decision", "reason",
        "referral", "medic", "decided_at", "supersedes")}
    args["outcome"] = decision["decision"]
    args["notify_employer"] = bool(decision["notify_employer"])
    signature = decision.get("signature") or {}
    if "signature" in signature:  # the medic's signature travels with the decision (hub.medic_signing)
        args["signature"] = {key: signature[key] for key in ("key_id", "algorithm", "signer", "payload_sha256",
                                                             "signature", "signed_at")}
    return Command.model_validate({
        "schema": 1, "command_id": decision["decision_id"], "type": "medic_decision",
        "ts": utc_now(), "args": args,
    })


class DecisionPublisher(CommandPublisher):
    """Sends unpublished decisions to their kiosks; marks each published after the broker's PUBACK.

    ``flush`` is called right after a decision is stored and, while :meth:`start` runs the
    thread, every ``retry_s`` seconds — so decisions stored while the hub was offline go out
    when it reconnects (:class:`hub.command_publisher.CommandPublisher`).
    """

    thread_name = "medic-publisher"

    def pending(self) -> int:
        ensure_schema(self.store)
        return self.store.scalar("SELECT count(*) FROM medic_decisions WHERE published_at IS NULL")

    def flush(self, limit: int = 100) -> int:
        """Publish what is waiting, oldest first; stop at the first failure. Returns how many went out."""
        ensure_schema(self.store)
        sent = 0
        with self._lock:
            rows = medic_signing.attach(self.store, self.store.query(
                "SELECT * FROM medic_decisions WHERE published_at IS NULL ORDER BY id LIMIT ?", [limit]))
            for row in rows:
                if not self.connected or not self.publish(row["site"], row["kiosk"], command_for(row)):
                    break
                with self.store.lock:
                    self.store.conn.execute(
                        "UPDATE medic_decisions SET published_at = ? WHERE id = ? AND published_at IS NULL",
                        (utc_now(), row["id"]),
                    )
                sent += 1
        return sent
