"""The hub's durable store (SQLite, WAL): records, kiosks, dead letters, audit log.

Idempotency (architecture.md, "Delivery"): ``received`` has the primary key
(site, kiosk, seq) and a unique event id, so a redelivered or replayed record is
recognised and never stored twice. Each batch is one transaction; the ingest publishes
``ack`` only after :meth:`Store.commit_batch` returns, i.e. after the data is on disk.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

import sqlite_utils

from firmware_bridges.contract import Envelope
from hub import evidence

SCHEMA = """
CREATE TABLE IF NOT EXISTS received (
    site TEXT NOT NULL, kiosk TEXT NOT NULL, incarnation TEXT NOT NULL DEFAULT '', seq INTEGER NOT NULL,
    event_id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, received_at TEXT NOT NULL, content_hash TEXT,
    PRIMARY KEY (site, kiosk, incarnation, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS exams (
    event_id TEXT PRIMARY KEY, site TEXT NOT NULL, kiosk TEXT NOT NULL, seq INTEGER NOT NULL,
    exam_id TEXT NOT NULL, worker_id TEXT NOT NULL, exam_type TEXT NOT NULL,
    started_at TEXT NOT NULL, finished_at TEXT NOT NULL, outcome TEXT NOT NULL,
    rule_set_version TEXT NOT NULL, historical INTEGER NOT NULL, kiosk_ts TEXT NOT NULL,
    received_at TEXT NOT NULL, body TEXT NOT NULL, chain_status TEXT NOT NULL DEFAULT 'unsigned',
    incarnation TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS exams_by_time ON exams(finished_at);
CREATE INDEX IF NOT EXISTS exams_by_worker ON exams(worker_id, finished_at);
CREATE INDEX IF NOT EXISTS exams_by_kiosk ON exams(site, kiosk, seq);
CREATE INDEX IF NOT EXISTS exams_chain_waiting ON exams(received_at) WHERE chain_status = 'pending_link';
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
    payload BLOB NOT NULL, payload_size INTEGER NOT NULL, reason TEXT NOT NULL, code TEXT NOT NULL DEFAULT 'other'
);
CREATE TABLE IF NOT EXISTS dead_letter_totals (
    code TEXT PRIMARY KEY, messages INTEGER NOT NULL, bytes INTEGER NOT NULL, last_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS conflicts (
    id INTEGER PRIMARY KEY, received_at TEXT NOT NULL, site TEXT NOT NULL, kiosk TEXT NOT NULL,
    incarnation TEXT NOT NULL, seq INTEGER NOT NULL, event_id TEXT NOT NULL, kind TEXT NOT NULL,
    code TEXT NOT NULL, reason TEXT NOT NULL, content_hash TEXT NOT NULL, payload BLOB NOT NULL,
    resolved_at TEXT, resolved_by TEXT, resolution TEXT,
    UNIQUE (site, kiosk, incarnation, seq, event_id, content_hash)
);
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY, ts TEXT NOT NULL, actor TEXT NOT NULL, role TEXT NOT NULL,
    action TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT
);
"""


@dataclass(frozen=True)
class DeadLetterPolicy:
    """How much junk the hub keeps (issue 10, defect 5): the newest ``max_rows`` dead letters,
    at most ``max_bytes`` of stored payload, each payload cut to ``keep_payload_bytes``.
    Totals per category survive rotation in ``dead_letter_totals``."""

    max_rows: int = 10_000
    max_bytes: int = 32 * 1024 * 1024
    keep_payload_bytes: int = 4096
    #: conflicting records (same identity, other content or event id) kept whole for an admin,
    #: at most this many; past it they are dead-lettered like junk (a flood must not fill the disk)
    max_conflicts: int = 10_000


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
    #: (code, reason) of every record kept in ``conflicts`` or dead-lettered from this batch
    conflicts: list[tuple[str, str]] = field(default_factory=list)
    #: (site, kiosk, incarnation, seq, event_id) of each record quarantined as a conflict
    contested: list[tuple[str, str, str, int, str]] = field(default_factory=list)
    #: (site, kiosk, incarnation) -> sequences of this batch (acked or not)
    touched: dict[tuple[str, str, str], set[int]] = field(default_factory=dict)

    def touch(self, env: Envelope) -> None:
        seqs = self.touched.setdefault((env.site, env.kiosk, env.incarnation_key), set())
        if env.seq is not None:
            seqs.add(env.seq)


def content_hash(envelope: Envelope, raw_body: dict | None) -> str:
    """SHA-256 over what makes a record itself (kind, kiosk timestamp, body as received);
    not the ``historical`` flag, which differs between a live send and a backlog resend."""
    body = raw_body if raw_body is not None else envelope.body.model_dump(mode="json")
    text = json.dumps([envelope.kind, envelope.ts.isoformat(), body], sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Store:
    """One SQLite file; a lock serialises the writer thread and API readers on one connection."""

    def __init__(self, path: str | Path, synchronous: str = "FULL", *, trust_on_first_use: bool = False,
                 dead_letters: DeadLetterPolicy | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self.db = sqlite_utils.Database(conn)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={synchronous}")
        conn.executescript(SCHEMA)
        conn.executescript(evidence.SCHEMA)
        self._migrate()
        self.trust_on_first_use = trust_on_first_use
        self.dead_letter_policy = dead_letters or DeadLetterPolicy()
        self._extensions: set[str] = set()

    def _columns(self, table: str) -> set[str]:
        return {row[1] for row in self.conn.execute(f"PRAGMA table_info({table})")}

    def _migrate(self) -> None:
        """Bring a database written by an older hub up to this schema (journal incarnations,
        dead-letter codes); idempotent. Old records belong to the legacy incarnation ''."""
        conn = self.conn
        with self.lock:
            if "incarnation" not in self._columns("received"):
                conn.executescript("""
                    BEGIN;
                    ALTER TABLE received RENAME TO received_v1;
                    CREATE TABLE received (
                        site TEXT NOT NULL, kiosk TEXT NOT NULL, incarnation TEXT NOT NULL DEFAULT '',
                        seq INTEGER NOT NULL, event_id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
                        received_at TEXT NOT NULL, content_hash TEXT,
                        PRIMARY KEY (site, kiosk, incarnation, seq)) WITHOUT ROWID;
                    INSERT INTO received (site, kiosk, incarnation, seq, event_id, kind, received_at)
                        SELECT site, kiosk, '', seq, event_id, kind, received_at FROM received_v1;
                    DROP TABLE received_v1;
                    COMMIT;""")
            if "incarnation" not in self._columns("exams"):
                conn.execute("ALTER TABLE exams ADD COLUMN incarnation TEXT NOT NULL DEFAULT ''")
            if "code" not in self._columns("dead_letters"):
                conn.execute("ALTER TABLE dead_letters ADD COLUMN code TEXT NOT NULL DEFAULT 'other'")
            if "incarnation" not in self._columns("exam_chain"):
                conn.executescript("""
                    BEGIN;
                    ALTER TABLE exam_chain RENAME TO exam_chain_v1;
                    CREATE TABLE exam_chain (
                        site TEXT NOT NULL, kiosk TEXT NOT NULL, incarnation TEXT NOT NULL DEFAULT '',
                        idx INTEGER NOT NULL, event_id TEXT NOT NULL, hash TEXT NOT NULL, prev TEXT NOT NULL,
                        status TEXT NOT NULL, PRIMARY KEY (site, kiosk, incarnation, idx)) WITHOUT ROWID;
                    INSERT INTO exam_chain SELECT site, kiosk, '', idx, event_id, hash, prev, status FROM exam_chain_v1;
                    DROP TABLE exam_chain_v1;
                    COMMIT;""")

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
        dead_letters: Iterable[Sequence],
    ) -> BatchResult:
        """Store valid records idempotently and dead letters, in one durable transaction.

        ``envelopes``: (envelope, received_at[, body as received]); the body as received is what the
        evidence chain and the content hash are computed over. ``dead_letters``: (topic, payload,
        reason[, code]). A record whose identity (site, kiosk, incarnation, seq) or event id is
        already stored with other content is a *conflict*: it is kept whole in ``conflicts`` for an
        admin (never stored as, or acknowledged as, the other record).
        """
        result = BatchResult()
        with self.lock:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                for envelope, received_at, *raw in envelopes:
                    result.touch(envelope)
                    if envelope.kind == "status":
                        self._store_status(envelope, received_at)
                        continue
                    outcome = self._store_record(envelope, received_at, raw[0] if raw else None)
                    if outcome == "stored":
                        result.stored.append(envelope)
                    elif outcome == "duplicate":
                        result.duplicates += 1
                    else:
                        code, reason = outcome
                        result.conflicts.append((code, reason))
                        if self._quarantine(envelope, received_at, raw[0] if raw else None, code, reason):
                            result.contested.append((envelope.site, envelope.kiosk, envelope.incarnation_key,
                                                     envelope.seq, str(envelope.event_id)))
                        else:
                            result.dead_lettered += 1
                for topic_name, payload, reason, *code in dead_letters:
                    self._dead_letter(topic_name, payload, reason, code[0] if code else "other")
                    result.dead_lettered += 1
                if result.dead_lettered:
                    self._rotate_dead_letters()
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # SQLite may have rolled back already (disk full)
                    conn.execute("ROLLBACK")
                raise
        return result

    def _store_record(self, env: Envelope, received_at: str, raw_body: dict | None) -> str | tuple[str, str]:
        """Store one record: "stored", "duplicate", or (code, reason) of a conflict."""
        conn = self.conn
        event_id = str(env.event_id)
        incarnation = env.incarnation_key
        digest = content_hash(env, raw_body)
        inserted = conn.execute(
            "INSERT OR IGNORE INTO received (site, kiosk, incarnation, seq, event_id, kind, received_at, content_hash) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (env.site, env.kiosk, incarnation, env.seq, event_id, env.kind, received_at, digest),
        ).rowcount
        if not inserted:
            identity = f"{env.site}/{env.kiosk} incarnation {incarnation or '(legacy)'} sequence {env.seq}"
            row = conn.execute(
                "SELECT event_id, content_hash FROM received WHERE site = ? AND kiosk = ? AND incarnation = ? "
                "AND seq = ?", (env.site, env.kiosk, incarnation, env.seq)).fetchone()
            if row is not None and row[0] == event_id:
                if row[1] is None or row[1] == digest:
                    return "duplicate"
                return ("replay_mismatch", f"{identity} (event {event_id}) replayed with different content")
            if row is not None:
                return ("sequence_conflict", f"{identity} already holds event {row[0]}, not {event_id}")
            return ("event_id_conflict", f"event id {event_id} already stored under another identity, not {identity}")
        body = env.body
        body_json = body.model_dump_json()
        kiosk_ts = env.ts.isoformat()
        if env.kind == "exam":
            chain_status = evidence.verify_and_link(conn, env.site, env.kiosk, event_id,
                                                    raw_body if raw_body is not None else body.model_dump(mode="json"),
                                                    incarnation)
            conn.execute(
                "INSERT INTO exams (event_id, site, kiosk, seq, exam_id, worker_id, exam_type, started_at, "
                "finished_at, outcome, rule_set_version, historical, kiosk_ts, received_at, body, chain_status, "
                "incarnation) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (event_id, env.site, env.kiosk, env.seq, body.exam_id, body.worker_id, body.exam_type,
                 body.started_at.isoformat(), body.finished_at.isoformat(), body.outcome, body.rule_set_version,
                 int(env.historical), kiosk_ts, received_at, body_json, chain_status, incarnation),
            )
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

    def _quarantine(self, env: Envelope, received_at: str, raw_body: dict | None, code: str, reason: str) -> bool:
        """Keep a conflicting record whole for an admin; False when the quarantine is full
        (then it is dead-lettered, truncated, like any junk)."""
        conn = self.conn
        payload = env.to_json() if raw_body is None else json.dumps(
            {**env.model_dump(mode="json", by_alias=True, exclude={"body"}), "body": raw_body},
            ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        digest = content_hash(env, raw_body)
        topic_name = f"ohs/v1/{env.site}/{env.kiosk}/{env.kind}"
        held = conn.execute(
            "SELECT 1 FROM conflicts WHERE site = ? AND kiosk = ? AND incarnation = ? AND seq = ? AND event_id = ? "
            "AND content_hash = ?", (env.site, env.kiosk, env.incarnation_key, env.seq, str(env.event_id), digest),
        ).fetchone()
        if held is not None:
            return True  # the same conflicting record again: already kept
        if conn.execute("SELECT count(*) FROM conflicts").fetchone()[0] >= self.dead_letter_policy.max_conflicts:
            self._dead_letter(topic_name, payload, f"{reason} (conflict quarantine full)", code)
            return False
        conn.execute(
            "INSERT INTO conflicts (received_at, site, kiosk, incarnation, seq, event_id, kind, code, reason, "
            "content_hash, payload) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (received_at, env.site, env.kiosk, env.incarnation_key, env.seq, str(env.event_id), env.kind, code,
             reason, digest, payload),
        )
        return True

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

    def _dead_letter(self, topic_name: str, payload: bytes, reason: str, code: str = "other") -> None:
        now = utc_now()
        keep = bytes(payload[: self.dead_letter_policy.keep_payload_bytes])
        self.conn.execute(
            "INSERT INTO dead_letters (received_at, topic, payload, payload_size, reason, code) VALUES (?,?,?,?,?,?)",
            (now, topic_name[:512], keep, len(payload), reason[:2000], code),
        )
        self.conn.execute(
            "INSERT INTO dead_letter_totals (code, messages, bytes, last_at) VALUES (?, 1, ?, ?) "
            "ON CONFLICT(code) DO UPDATE SET messages = messages + 1, bytes = bytes + excluded.bytes, "
            "last_at = excluded.last_at", (code, len(payload), now))

    def _rotate_dead_letters(self) -> None:
        """Drop the oldest dead letters past the row and byte caps (totals stay counted)."""
        policy = self.dead_letter_policy
        count, size = self.conn.execute(
            "SELECT count(*), coalesce(sum(length(payload)), 0) FROM dead_letters").fetchone()
        if count <= policy.max_rows and size <= policy.max_bytes:
            return
        excess_rows = max(0, count - policy.max_rows)
        cutoff = None
        if excess_rows:
            row = self.conn.execute("SELECT id FROM dead_letters ORDER BY id LIMIT 1 OFFSET ?",
                                    (excess_rows - 1,)).fetchone()
            cutoff = row[0] if row else None
        if size - self._bytes_up_to(cutoff) > policy.max_bytes:  # still too big: walk the newest back
            kept, newest_first = 0, self.conn.execute(
                "SELECT id, length(payload) FROM dead_letters ORDER BY id DESC")
            for row_id, length in newest_first:
                kept += length
                if kept > policy.max_bytes:
                    cutoff = row_id
                    break
        if cutoff is not None:
            self.conn.execute("DELETE FROM dead_letters WHERE id <= ?", (cutoff,))

    def _bytes_up_to(self, row_id: int | None) -> int:
        if row_id is None:
            return 0
        return self.conn.execute("SELECT coalesce(sum(length(payload)), 0) FROM dead_letters WHERE id <= ?",
                                 (row_id,)).fetchone()[0]

    def flag_chain_gaps(self, received_before: str) -> int:
        """Flag exams still waiting for their chain predecessor since before ``received_before``."""
        with self.lock:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                flagged = evidence.flag_gaps(conn, received_before)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # SQLite may have rolled back already (disk full)
                    conn.execute("ROLLBACK")
                raise
        return flagged

    def dead_letter_totals(self) -> dict[str, dict[str, int]]:
        """Every dead letter ever counted, by category (rotation does not reset these)."""
        return {code: {"messages": messages, "bytes": size} for code, messages, size in
                self.query_rows("SELECT code, messages, bytes FROM dead_letter_totals ORDER BY code")}

    def touch_kiosk(self, site: str, kiosk: str, received_at: str) -> None:
        with self.lock:
            self.conn.execute("UPDATE kiosks SET last_seen = ? WHERE site = ? AND kiosk = ?", (received_at, site, kiosk))

    # ------------------------------------------------------------------ sequences

    def stored_sequences(self) -> dict[tuple[str, str, str], list[tuple[int, int]]]:
        """Every kiosk incarnation's stored sequences as sorted, merged ranges (for acks after a restart)."""
        ranges: dict[tuple[str, str, str], list[tuple[int, int]]] = {}
        with self.lock:
            rows = self.conn.execute(
                "SELECT site, kiosk, incarnation, seq FROM received ORDER BY site, kiosk, incarnation, seq")
            for site, kiosk, incarnation, seq in rows:
                current = ranges.setdefault((site, kiosk, incarnation), [])
                if current and current[-1][1] == seq - 1:
                    current[-1] = (current[-1][0], seq)
                else:
                    current.append((seq, seq))
        return ranges

    def contested_sequences(self) -> dict[tuple[str, str, str], dict[int, set[str]]]:
        """Sequences held with more than one record: every event id the hub holds for each."""
        contested: dict[tuple[str, str, str], dict[int, set[str]]] = {}
        rows = self.query_rows(
            "SELECT c.site, c.kiosk, c.incarnation, c.seq, c.event_id, r.event_id FROM conflicts c "
            "LEFT JOIN received r ON r.site = c.site AND r.kiosk = c.kiosk AND r.incarnation = c.incarnation "
            "AND r.seq = c.seq")
        for site, kiosk, incarnation, seq, event_id, canonical in rows:
            held = contested.setdefault((site, kiosk, incarnation), {}).setdefault(seq, set())
            held.add(event_id)
            if canonical:
                held.add(canonical)
        return contested

    def held_event_ids(self, site: str, kiosk: str, incarnation: str, seq: int) -> set[str]:
        """Event ids stored for one identity: the record itself and any kept conflicts."""
        rows = self.query_rows(
            "SELECT event_id FROM received WHERE site = ? AND kiosk = ? AND incarnation = ? AND seq = ? "
            "UNION SELECT event_id FROM conflicts WHERE site = ? AND kiosk = ? AND incarnation = ? AND seq = ?",
            (site, kiosk, incarnation, seq) * 2)
        return {row[0] for row in rows}

    # ------------------------------------------------------------------ reading

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[dict]:
        with self.lock:
            cursor = self.conn.execute(sql, tuple(params))
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]

    def query_rows(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        with self.lock:
            return self.conn.execute(sql, tuple(params)).fetchall()

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
