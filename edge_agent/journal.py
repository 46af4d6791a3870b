"""The kiosk's SQLite journal and outbox.

Every record (exam, telemetry batch, event) is written here *before* anything else sees
it (architecture.md, "Delivery"). The journal keeps records for the retention period;
the outbox is the journal's rows the hub has not acknowledged yet (``acked_at IS NULL``).
A row leaves the outbox only when a hub ``ack`` covers its sequence.

The per-kiosk sequence is SQLite's ``INTEGER PRIMARY KEY AUTOINCREMENT``: it survives
restarts and never repeats, even if old rows are purged. WAL mode with
``synchronous=FULL`` (configurable) makes a committed record survive a power cut.

Rows pending when a connection comes up are marked *backlog*; the uplink sends fresh
(*live*) rows first and drains backlog at a bounded rate with ``historical = true``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

import sqlite_utils

from firmware_bridges.contract import RECORD_KINDS, Ack
from firmware_bridges.evidence import GENESIS


@dataclass(frozen=True)
class JournalRecord:
    seq: int
    event_id: str
    kind: str
    created_at: str
    body_json: str
    backlog: bool

    @property
    def body(self) -> dict:
        return json.loads(self.body_json)


class Journal:
    """Thread-safe journal + outbox over one SQLite file."""

    def __init__(self, path: str | Path, synchronous: str = "FULL"):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self.db = sqlite_utils.Database(connection)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={synchronous}")
        self._create()

    def _create(self) -> None:
        with self._lock:
            self.db.execute(
                """CREATE TABLE IF NOT EXISTS journal (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    event_id TEXT NOT NULL UNIQUE,
                    kind TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    body TEXT NOT NULL,
                    backlog INTEGER NOT NULL DEFAULT 0,
                    acked_at TEXT
                )"""
            )
            self.db.execute(
                "CREATE INDEX IF NOT EXISTS outbox ON journal(backlog, seq) WHERE acked_at IS NULL"
            )
            self.db["meta"].create({"key": str, "value": str}, pk="key", if_not_exists=True)

    # ------------------------------------------------------------------ writing

    def append(self, kind: str, body: dict, *, created_at: datetime | None = None,
               seal: Callable[[dict, int, str], dict] | None = None) -> JournalRecord:
        """Durably append one record; returns it with its new sequence and event id.

        ``seal(body, index, prev_hash)`` (exam records) adds the evidence-chain seal; the chain
        state is updated in the same transaction as the insert.
        """
        if kind not in RECORD_KINDS:
            raise ValueError(f"kind must be one of {RECORD_KINDS}, not {kind!r}")
        event_id = str(uuid.uuid4())
        created = (created_at or datetime.now(timezone.utc)).isoformat()
        with self._lock:
            conn = self.db.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                if seal is not None:
                    index, prev_hash = self._chain_state(conn)
                    body = seal(body, index + 1, prev_hash)
                    conn.executemany(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                        [("chain_index", str(index + 1)), ("chain_hash", body["chain"]["hash"])],
                    )
                text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
                seq = conn.execute(
                    "INSERT INTO journal (event_id, kind, created_at, body) VALUES (?, ?, ?, ?)",
                    (event_id, kind, created, text),
                ).lastrowid
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return JournalRecord(seq, event_id, kind, created, text, False)

    @staticmethod
    def _chain_state(conn) -> tuple[int, str]:
        rows = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('chain_index', 'chain_hash')").fetchall())
        return int(rows.get("chain_index", 0)), rows.get("chain_hash", GENESIS)

    def mark_all_pending_backlog(self) -> int:
        """Called when a connection comes up: whatever still waits is backlog from now on."""
        with self._lock:
            cursor = self.db.conn.execute("UPDATE journal SET backlog = 1 WHERE acked_at IS NULL AND backlog = 0")
            return cursor.rowcount

    def apply_ack(self, ack: Ack) -> int:
        """Remove from the outbox every record the ack covers; returns how many left it."""
        now = datetime.now(timezone.utc).isoformat()
        with self._lock:
            conn = self.db.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                changed = conn.execute(
                    "UPDATE journal SET acked_at = ? WHERE acked_at IS NULL AND seq <= ?", (now, ack.through_seq)
                ).rowcount
                for first, last in ack.ranges:
                    changed += conn.execute(
                        "UPDATE journal SET acked_at = ? WHERE acked_at IS NULL AND seq BETWEEN ? AND ?",
                        (now, first, last),
                    ).rowcount
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return changed

    # ------------------------------------------------------------------ reading

    def pending(self, *, backlog: bool, after_seq: int = 0, limit: int = 200) -> list[JournalRecord]:
        """Outbox rows of one class (live or backlog) above ``after_seq``, oldest first."""
        with self._lock:
            rows = self.db.conn.execute(
                "SELECT seq, event_id, kind, created_at, body, backlog FROM journal "
                "WHERE acked_at IS NULL AND backlog = ? AND seq > ? ORDER BY seq LIMIT ?",
                (1 if backlog else 0, after_seq, limit),
            ).fetchall()
        return [self._record(row) for row in rows]

    def get(self, seqs: Iterable[int]) -> list[JournalRecord]:
        """Pending records with these sequences (for resends)."""
        seqs = list(seqs)
        if not seqs:
            return []
        with self._lock:
            rows = self.db.conn.execute(
                f"SELECT seq, event_id, kind, created_at, body, backlog FROM journal "
                f"WHERE acked_at IS NULL AND seq IN ({','.join('?' * len(seqs))}) ORDER BY seq",
                seqs,
            ).fetchall()
        return [self._record(row) for row in rows]

    @staticmethod
    def _record(row) -> JournalRecord:
        return JournalRecord(row[0], row[1], row[2], row[3], row[4], bool(row[5]))

    def outbox_depth(self) -> int:
        with self._lock:
            return self.db.conn.execute("SELECT count(*) FROM journal WHERE acked_at IS NULL").fetchone()[0]

    def last_seq(self) -> int:
        """The highest sequence ever issued (survives purges via sqlite_sequence)."""
        with self._lock:
            row = self.db.conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'journal'").fetchone()
            return row[0] if row else 0

    def count(self, kind: str | None = None) -> int:
        with self._lock:
            if kind is None:
                return self.db.conn.execute("SELECT count(*) FROM journal").fetchone()[0]
            return self.db.conn.execute("SELECT count(*) FROM journal WHERE kind = ?", (kind,)).fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self.db.conn.close()
