"""Exams in progress, kept durably so that a kiosk restart loses none of them.

Why: an exam can span 15–40 minutes of wall time — a positive first breath waits for its
confirmation test 15–20 minutes later (933н / 262н), a blood pressure out of range for its
re-test at least 20 minutes later (835н п.11); the timings and their sources are in the
admission rule set (``configs/admission/rules-default.toml``). If this lived only in the
workflow's memory, a power cut or a crash during the wait would lose the first
measurements — the positive first breath among them — and the worker's exam would never
reach the medic. The kiosk's records are durable only once the exam is finished
(``KioskAgent.record("exam", …)``); this module covers the time before.

What: one table, ``exam_in_progress``, in the kiosk's journal file (the same SQLite file as
``[journal] path``, through a connection of its own, WAL, ``synchronous=FULL`` by default,
one transaction per state change). One row per unfinished exam::

    exam_id           the exam's id (it becomes the exam record's exam_id)
    worker_id         personnel number
    state             'measured'    readings stored, the next step not yet scheduled
                                    (a re-measurement was asked for)
                      'retest_wait' a re-test is scheduled: due_at (not before),
                                    window_closes_at (not after; alcohol only) and retest_kinds
    due_at, window_closes_at   ISO 8601 on the kiosk's clock; the countdown continues from
                      these after a restart, not from the restart
    retest_kinds      JSON list of the device kinds to measure at the re-test
    session           JSON: worker, exam type, consent, answers, the attempts as the rules
                      saw them, every measurement with its device identity, timings
    revision          how many times the row was written (diagnostics)
    updated_at        when it was last written (wall clock)

The workflow (``edge_agent.workflow.machine``) writes a row after each measurement round and
when it schedules a re-test, and deletes it after the exam record is journaled: in that
order, so a kiosk dying between the two leaves a row whose exam is already in the journal —
:meth:`ExamStateStore.journaled` finds it there, and the restarted workflow only deletes the
row instead of recording the exam a second time. The writes are blocking (fsync); the
workflow runs them on the agent's writer thread (``edge_agent.agent.SerialWriter``), in
order with the journal's appends.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

STATES = ("measured", "retest_wait")

SCHEMA = """
CREATE TABLE IF NOT EXISTS exam_in_progress (
    exam_id TEXT PRIMARY KEY,
    worker_id TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('measured', 'retest_wait')),
    due_at TEXT,
    window_closes_at TEXT,
    retest_kinds TEXT NOT NULL DEFAULT '[]',
    session TEXT NOT NULL,
    revision INTEGER NOT NULL DEFAULT 1,
    updated_at TEXT NOT NULL
)
"""


@dataclass
class StoredExam:
    """One row of ``exam_in_progress``; ``session`` is the workflow's own JSON."""

    exam_id: str
    worker_id: str
    state: str
    session: dict
    due_at: datetime | None = None
    window_closes_at: datetime | None = None
    retest_kinds: list[str] = field(default_factory=list)
    revision: int = 0

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"state must be one of {STATES}, not {self.state!r}")


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class ExamStateStore:
    """The ``exam_in_progress`` table; thread-safe, blocking (call it off the event loop)."""

    def __init__(self, path: str | Path, synchronous: str = "FULL"):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        with self._lock:
            self._db.execute(SCHEMA)

    def _transaction(self, sql: str, params: tuple) -> int:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                changed = self._db.execute(sql, params).rowcount
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # SQLite may have rolled back already (disk full)
                    self._db.execute("ROLLBACK")
                raise
        return changed

    def save(self, exam: StoredExam) -> None:
        """Insert or replace the exam's row; durable when this returns."""
        exam.revision += 1
        self._transaction(
            "INSERT OR REPLACE INTO exam_in_progress (exam_id, worker_id, state, due_at, window_closes_at, "
            "retest_kinds, session, revision, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (exam.exam_id, exam.worker_id, exam.state, _iso(exam.due_at), _iso(exam.window_closes_at),
             json.dumps(sorted(exam.retest_kinds)), json.dumps(exam.session, ensure_ascii=False),
             exam.revision, datetime.now(timezone.utc).isoformat()))

    def delete(self, exam_id: str) -> bool:
        """The exam is finished (its record is in the journal); True if a row was there."""
        return self._transaction("DELETE FROM exam_in_progress WHERE exam_id = ?", (exam_id,)) > 0

    def load(self) -> list[StoredExam]:
        """Every unfinished exam, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT exam_id, worker_id, state, due_at, window_closes_at, retest_kinds, session, revision "
                "FROM exam_in_progress ORDER BY rowid").fetchall()
        return [StoredExam(exam_id=r[0], worker_id=r[1], state=r[2], due_at=_dt(r[3]), window_closes_at=_dt(r[4]),
                           retest_kinds=json.loads(r[5]), session=json.loads(r[6]), revision=r[7]) for r in rows]

    def journaled(self, exam_id: str) -> bool:
        """Is there already an exam record with this exam id in the journal (same file)?"""
        with self._lock:
            try:
                row = self._db.execute(
                    "SELECT 1 FROM journal WHERE kind = 'exam' AND json_extract(body, '$.exam_id') = ? LIMIT 1",
                    (exam_id,)).fetchone()
            except sqlite3.OperationalError as error:
                if "no such table" in str(error):  # no journal yet: nothing was ever recorded
                    return False
                raise  # anything else: better no resume (the row stays) than a second record
        return row is not None

    def close(self) -> None:
        with self._lock:
            self._db.close()
