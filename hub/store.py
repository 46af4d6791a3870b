"""The hub's durable store (SQLite, WAL): records, kiosks, dead letters, audit log.

Idempotency (architecture.md, "Delivery"): ``received`` has the primary key
(site, kiosk, seq) and a unique event id, so a redelivered or replayed record is
recognised and never stored twice. Each batch is one transaction; the ingest publishes
``ack`` only after :meth:`Store.commit_batch` returns, i.e. after the data is on disk.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import sqlite_utils

from firmware_bridges.contract import Envelope
from hub import evidence

SCHEMA = """
CREATE TABLE IF NOT EXISTS received (
    site TEXT NOT NULL, kiosk TEXT NOT NULL, seq INTEGER NOT NULL,
    event_id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, received_at TEXT NOT NULL,
    PRIMARY KEY (site, kiosk, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS exams (
    event_id TEXT PRIMARY KEY, site TEXT NOT NULL, kiosk TEXT NOT NULL, seq INTEGER NOT NULL,
    exam_id TEXT NOT NULL, worker_id TEXT NOT NULL, exam_type TEXT NOT NULL,
    started_at TEXT NOT NULL, finished_at TEXT NOT NULL, outcome TEXT NOT NULL,
    rule_set_version TEXT NOT NULL, historical INTEGER NOT NULL, kiosk_ts TEXT NOT NULL,
    received_at TEXT NOT NULL, body TEXT NOT NULL, chain_status TEXT NOT NULL DEFAULT 'unsigned'
);
CREATE INDEX IF NOT EXISTS exams_by_time ON exams(finished_at);
CREATE INDEX IF NOT EXISTS exams_by_worker ON exams(worker_id, finished_at);
CREATE INDEX IF NOT EXISTS exams_by_kiosk ON exams(site, kiosk, seq);
CREATE TABLE IF NOT EXISTS telemetry (
    site TEXT NOT NULL, kiosk TEXT NOT NULL, seq INTEGER NOT NULL,
    sensor_id TEXT NOT NULL, zone TEXT NOT NULL, ts TEXT NOT NULL,
    quantity TEXT NOT NULL, value REAL, invalid_reason TEXT
);
CREATE INDEX IF NOT EXISTS telemetry_by_zone ON telemetry(zone, quantity, ts);
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY, site TEXT NOT NULL, kiosk TEXT NOT NULL, seq INTEGER NOT NULL,
    type TEXT NOT NULL, severity TEXT NOT NULL, zone TEXT, device TEXT,
    kiosk_ts TEXT NOT NULL, received_at TEXT NOT NULL, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_type ON events(type, kiosk_ts);
CREATE TABLE IF NOT EXISTS kiosks (
    site TEXT NOT NULL, kiosk TEXT NOT NULL, state TEXT NOT NULL, status_ts TEXT NOT NULL,
    last_seen TEXT NOT NULL, status TEXT NOT NULL,
    PRIMARY KEY (site, kiosk)
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY, received_at TEXT NOT NULL, topic TEXT NOT NULL,
    payload BLOB NOT NULL, payload_size INTEGER NOT NULL, reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY, ts TEXT NOT NULL, actor TEXT NOT NULL, role TEXT NOT NULL,
    action TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT
);
"""

#: Dead-lettered payloads are kept up to this size; the full size is recorded beside them.
DEAD_LETTER_KEEP_BYTES = 64 * 1024


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat()


class RequestRefused(ValueError):
    """A request a hub module refuses: ``status`` is the HTTP status, ``field`` the input at fault."""

    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field

    def http_detail(self) -> dict | str:
        return {"message": self.message, "field": self.field} if self.field else self.message


@dataclass
class BatchResult:
    stored: list[Envelope] = field(default_factory=list)
    duplicates: int = 0
    dead_lettered: int = 0
    conflicts: list[str] = field(default_factory=list)
    touched: set[tuple[str, str]] = field(default_factory=set)


class Store:
    """One SQLite file; a lock serialises the writer thread and API readers on one connection."""

    def __init__(self, path: str | Path, synchronous: str = "FULL", *, trust_on_first_use: bool = False):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self.db = sqlite_utils.Database(conn)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={synchronous}")
        conn.executescript(SCHEMA)
        conn.executescript(evidence.SCHEMA)
        self.trust_on_first_use = trust_on_first_use
        self._extensions: set[str] = set()

    def ensure_schema(self, name: str, script: str) -> None:
        """Create a module's own tables (``CREATE … IF NOT EXISTS`` script) once per store.

        Modules that keep their own tables on the hub's database (medic decisions, risk-group
        assessments, analytics results) call this before touching them.
        """
        if name in self._extensions:
            return
        with self.lock:
            self.conn.executescript(script)
            self._extensions.add(name)

    def register_key(self, site: str, kiosk: str, public_key: str, source: str = "config") -> None:
        """Register (or, from config, replace) a kiosk's signing key."""
        with self.lock:
            self.conn.execute(
                "INSERT INTO kiosk_keys VALUES (?,?,?,?,?) ON CONFLICT(site, kiosk) DO UPDATE SET "
                "public_key = excluded.public_key, source = excluded.source, added_at = excluded.added_at",
                (site, kiosk, public_key, source, utc_now()),
            )

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    # ------------------------------------------------------------------ writing

    def commit_batch(
        self,
        envelopes: Iterable[tuple[Envelope, str] | tuple[Envelope, str, dict]],
        dead_letters: Iterable[tuple[str, bytes, str]],
    ) -> BatchResult:
        """Store valid records idempotently and dead letters, in one durable transaction.

        ``envelopes``: (envelope, received_at[, body as received]); the body as received is what the
        evidence chain is checked against. ``dead_letters``: (topic, payload, reason).
        A record whose event id was already stored under another (site, kiosk, seq) is a
        conflict and goes to the dead letters instead of overwriting anything.
        """
        result = BatchResult()
        with self.lock:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                for envelope, received_at, *raw in envelopes:
                    if envelope.kind == "status":
                        self._store_status(envelope, received_at)
                        result.touched.add((envelope.site, envelope.kiosk))
                        continue
                    outcome = self._store_record(envelope, received_at, raw[0] if raw else None)
                    if outcome == "stored":
                        result.stored.append(envelope)
                        result.touched.add((envelope.site, envelope.kiosk))
                    elif outcome == "duplicate":
                        result.duplicates += 1
                        result.touched.add((envelope.site, envelope.kiosk))
                    else:
                        self._dead_letter(
                            f"ohs/v1/{envelope.site}/{envelope.kiosk}/{envelope.kind}", envelope.to_json(), outcome
                        )
                        result.dead_lettered += 1
                        result.conflicts.append(outcome)
                for topic_name, payload, reason in dead_letters:
                    self._dead_letter(topic_name, payload, reason)
                    result.dead_lettered += 1
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return result

    def _store_record(self, env: Envelope, received_at: str, raw_body: dict | None) -> str:
        conn = self.conn
        event_id = str(env.event_id)
        inserted = conn.execute(
            "INSERT OR IGNORE INTO received (site, kiosk, seq, event_id, kind, received_at) VALUES (?,?,?,?,?,?)",
            (env.site, env.kiosk, env.seq, event_id, env.kind, received_at),
        ).rowcount
        if not inserted:
            row = conn.execute(
                "SELECT event_id FROM received WHERE site = ? AND kiosk = ? AND seq = ?", (env.site, env.kiosk, env.seq)
            ).fetchone()
            if row is not None and row[0] == event_id:
                return "duplicate"
            if row is not None:
                return f"sequence {env.seq} of {env.site}/{env.kiosk} already holds event {row[0]}, not {event_id}"
            return f"event id {event_id} already stored under another sequence"
        body = env.body
        body_json = body.model_dump_json()
        kiosk_ts = env.ts.isoformat()
        if env.kind == "exam":
            conn.execute(
                "INSERT INTO exams VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,'unsigned')",
                (event_id, env.site, env.kiosk, env.seq, body.exam_id, body.worker_id, body.exam_type,
                 body.started_at.isoformat(), body.finished_at.isoformat(), body.outcome, body.rule_set_version,
                 int(env.historical), kiosk_ts, received_at, body_json),
            )
            chain_status = evidence.verify_and_link(conn, env.site, env.kiosk, event_id,
                                                    raw_body if raw_body is not None else body.model_dump(mode="json"))
            conn.execute("UPDATE exams SET chain_status = ? WHERE event_id = ?", (chain_status, event_id))
        elif env.kind == "telemetry":
            rows = []
            for reading in body.readings:
                ts = reading.ts.isoformat()
                for quantity, value in reading.values.items():
                    rows.append((env.site, env.kiosk, env.seq, reading.sensor_id, reading.zone, ts, quantity,
                                 value, reading.invalid.get(quantity)))
            conn.executemany("INSERT INTO telemetry VALUES (?,?,?,?,?,?,?,?,?)", rows)
        elif env.kind == "event":
            conn.execute(
                "INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (event_id, env.site, env.kiosk, env.seq, body.type, body.severity, body.zone, body.device,
                 kiosk_ts, received_at, body_json),
            )
        return "stored"

    def _store_status(self, env: Envelope, received_at: str) -> None:
        """Keep the newest status per kiosk (by the kiosk's timestamp; retained replays are older)."""
        announced = env.body.public_key
        if self.trust_on_first_use and announced and evidence.key_for(self.conn, env.site, env.kiosk) is None:
            self.conn.execute("INSERT INTO kiosk_keys VALUES (?,?,?,?,?)",
                              (env.site, env.kiosk, announced, "trust_on_first_use", received_at))
        self.conn.execute(
            """INSERT INTO kiosks (site, kiosk, state, status_ts, last_seen, status) VALUES (?,?,?,?,?,?)
               ON CONFLICT(site, kiosk) DO UPDATE SET
                 state = excluded.state, status_ts = excluded.status_ts, status = excluded.status,
                 last_seen = excluded.last_seen
               WHERE excluded.status_ts >= kiosks.status_ts""",
            (env.site, env.kiosk, env.body.state, env.ts.isoformat(), received_at, env.body.model_dump_json()),
        )

    def _dead_letter(self, topic_name: str, payload: bytes, reason: str) -> None:
        self.conn.execute(
            "INSERT INTO dead_letters (received_at, topic, payload, payload_size, reason) VALUES (?,?,?,?,?)",
            (utc_now(), topic_name, bytes(payload[:DEAD_LETTER_KEEP_BYTES]), len(payload), reason),
        )

    def touch_kiosk(self, site: str, kiosk: str, received_at: str) -> None:
        with self.lock:
            self.conn.execute("UPDATE kiosks SET last_seen = ? WHERE site = ? AND kiosk = ?", (received_at, site, kiosk))

    # ------------------------------------------------------------------ sequences

    def stored_sequences(self) -> dict[tuple[str, str], list[tuple[int, int]]]:
        """Every kiosk's stored sequences as sorted, merged ranges (for acks after a restart)."""
        ranges: dict[tuple[str, str], list[tuple[int, int]]] = {}
        with self.lock:
            rows = self.conn.execute("SELECT site, kiosk, seq FROM received ORDER BY site, kiosk, seq")
            for site, kiosk, seq in rows:
                current = ranges.setdefault((site, kiosk), [])
                if current and current[-1][1] == seq - 1:
                    current[-1] = (current[-1][0], seq)
                else:
                    current.append((seq, seq))
        return ranges

    # ------------------------------------------------------------------ reading

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[dict]:
        with self.lock:
            cursor = self.conn.execute(sql, tuple(params))
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]

    def scalar(self, sql: str, params: Iterable[Any] = ()) -> Any:
        with self.lock:
            row = self.conn.execute(sql, tuple(params)).fetchone()
            return row[0] if row else None

    def audit(self, actor: str, role: str, action: str, subject: str, detail: dict | None = None) -> None:
        """Write one audit row (every read of an individual medical record, 323-FZ art. 13)."""
        with self.lock:
            self.conn.execute(
                "INSERT INTO audit_log (ts, actor, role, action, subject, detail) VALUES (?,?,?,?,?,?)",
                (utc_now(), actor, role, action, subject, json.dumps(detail or {}, ensure_ascii=False)),
            )
