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

**Incarnation** (issue 10, defect 2): a uuid created with the journal file and carried in
every envelope. A re-imaged SD card or an emptied file makes a new journal, hence a new
incarnation, so the hub never mistakes its restarted sequence for records it already holds.
A journal restored from an older copy keeps its incarnation but is behind the hub; the
uplink notices (the hub holds sequences this journal never issued) and calls
:meth:`Journal.rotate_incarnation`, so the records written after the restore get a fresh one.

**Disk full** (issue 10): exams are never dropped for lack of space. A reserve file of
``reserve_bytes`` beside the journal is given up the moment SQLite reports a full disk,
and acknowledged telemetry is pruned, before an exam append is retried; telemetry is shed
(counted in :attr:`Journal.counters` as ``telemetry_shed``) while free space is below
``telemetry_min_free_bytes`` or the reserve is spent, so the room left goes to exams.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

import sqlite_utils

from firmware_bridges.contract import RECORD_KINDS, Ack
from firmware_bridges.evidence import GENESIS
from firmware_bridges.sqlite_tx import immediate_transaction

log = logging.getLogger(__name__)


class JournalFull(OSError):
    """Even after giving up the reserve and pruning acknowledged telemetry, the disk has no room."""


class TelemetryShed(RuntimeError):
    """Telemetry refused to keep the remaining space for exams (counted as ``telemetry_shed``)."""


@dataclass(frozen=True)
class JournalRecord:
    seq: int
    event_id: str
    kind: str
    created_at: str
    body_json: str
    backlog: bool
    incarnation: str | None = None

    @property
    def body(self) -> dict:
        return json.loads(self.body_json)


class Journal:
    """Thread-safe journal + outbox over one SQLite file."""

    def __init__(self, path: str | Path, synchronous: str = "FULL", *, reserve_bytes: int = 0,
                 telemetry_min_free_bytes: int = 0, prune_acked_telemetry_after_s: float | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.reserve_path = self.path.with_name(self.path.name + ".reserve")
        self.reserve_bytes = reserve_bytes
        self.telemetry_min_free_bytes = telemetry_min_free_bytes
        self.prune_acked_telemetry_after_s = prune_acked_telemetry_after_s
        self.counters: Counter = Counter()
        self._next_housekeeping = 0.0
        self._lock = threading.RLock()
        connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self.db = sqlite_utils.Database(connection)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={synchronous}")
        self._create()
        self.incarnation = self._load_incarnation()
        #: the highest sequence when this process opened the journal: records above it were written since
        self.opened_last_seq = self.last_seq()
        self._ensure_reserve()

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
                    acked_at TEXT,
                    incarnation TEXT
                )"""
            )
            columns = {row[1] for row in self.db.conn.execute("PRAGMA table_info(journal)")}
            if "incarnation" not in columns:  # a journal written before incarnations
                self.db.execute("ALTER TABLE journal ADD COLUMN incarnation TEXT")
            self.db.execute(
                "CREATE INDEX IF NOT EXISTS outbox ON journal(backlog, seq) WHERE acked_at IS NULL"
            )
            self.db["meta"].create({"key": str, "value": str}, pk="key", if_not_exists=True)

    def _load_incarnation(self) -> str:
        with self._lock:
            conn = self.db.conn
            with immediate_transaction(conn):
                row = conn.execute("SELECT value FROM meta WHERE key = 'incarnation'").fetchone()
                incarnation = row[0] if row else str(uuid.uuid4())
                if row is None:
                    conn.execute("INSERT INTO meta (key, value) VALUES ('incarnation', ?)", (incarnation,))
                conn.execute("UPDATE journal SET incarnation = ? WHERE incarnation IS NULL", (incarnation,))
            return incarnation

    def rotate_incarnation(self, reason: str) -> str:
        """Start a new incarnation: the journal was found behind the hub (restored from an older copy).

        Records appended from now on, and the unacknowledged ones written since this process
        opened the journal (after the restore), take the new incarnation, so none of them
        clashes with what the hub holds under the old one. Older pending records keep theirs.
        """
        new = str(uuid.uuid4())
        with self._lock:
            conn = self.db.conn
            with immediate_transaction(conn):
                conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('incarnation', ?)", (new,))
                moved = conn.execute(
                    "UPDATE journal SET incarnation = ?, backlog = 1 WHERE acked_at IS NULL AND incarnation = ? "
                    "AND seq > ?", (new, self.incarnation, self.opened_last_seq)).rowcount
            old, self.incarnation = self.incarnation, new
        self.counters["incarnation_rotations"] += 1
        log.warning("journal incarnation %s -> %s (%d pending records moved): %s", old, new, moved, reason)
        return new

    # ------------------------------------------------------------------ disk space

    def free_bytes(self) -> int:
        stat = os.statvfs(self.path.parent)
        return stat.f_bavail * stat.f_frsize

    def _ensure_reserve(self) -> None:
        """(Re)create the reserve file when it is missing and the disk has room for it and more."""
        if self.reserve_bytes <= 0 or self.reserve_path.exists():
            return
        try:
            if self.free_bytes() < 2 * self.reserve_bytes:
                return
            with open(self.reserve_path, "wb") as handle:
                handle.truncate(0)
                block = b"\0" * (1 << 20)
                left = self.reserve_bytes
                while left > 0:  # real blocks (not a sparse file): the space must be held
                    left -= handle.write(block[: min(left, len(block))])
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as error:
            log.warning("could not create the journal's space reserve %s: %s", self.reserve_path, error)
            self.reserve_path.unlink(missing_ok=True)

    @property
    def reserve_spent(self) -> bool:
        return self.reserve_bytes > 0 and not self.reserve_path.exists()

    def _room_for_telemetry(self) -> bool:
        if self.reserve_spent:
            self._ensure_reserve()  # space may have come back
            if self.reserve_spent:
                return False
        return self.free_bytes() >= self.telemetry_min_free_bytes

    def _make_room(self) -> bool:
        """The disk is full: give up the reserve and prune acknowledged telemetry. True if anything was freed."""
        freed = False
        if self.reserve_path.exists():
            self.reserve_path.unlink()
            self.counters["reserve_released"] += 1
            log.error("disk full: the journal's space reserve is given up for exam records")
            freed = True
        with self._lock:
            try:
                pruned = self.db.conn.execute(
                    "DELETE FROM journal WHERE kind = 'telemetry' AND acked_at IS NOT NULL").rowcount
            except sqlite3.OperationalError:
                pruned = 0
        if pruned:
            self.counters["telemetry_pruned"] += pruned
            freed = True
        return freed

    def prune_acked_telemetry(self, older_than_s: float | None = None) -> int:
        """Delete acknowledged telemetry acknowledged more than ``older_than_s`` ago (the hub holds it)."""
        horizon = older_than_s if older_than_s is not None else self.prune_acked_telemetry_after_s
        if horizon is None:
            return 0
        cutoff = datetime.fromtimestamp(time.time() - horizon, timezone.utc).isoformat()
        with self._lock:
            pruned = self.db.conn.execute(
                "DELETE FROM journal WHERE kind = 'telemetry' AND acked_at IS NOT NULL AND acked_at < ?",
                (cutoff,)).rowcount
        self.counters["telemetry_pruned"] += pruned
        return pruned

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if now < self._next_housekeeping:
            return
        self._next_housekeeping = now + 60
        self.prune_acked_telemetry()
        self._ensure_reserve()

    # ------------------------------------------------------------------ writing

    def append(self, kind: str, body: dict, *, created_at: datetime | None = None,
               seal: Callable[[dict, int, str], dict] | None = None) -> JournalRecord:
        """Durably append one record; returns it with its new sequence and event id.

        ``seal(body, index, prev_hash)`` (exam records) adds the evidence-chain seal; the chain
        state is updated in the same transaction as the insert. Telemetry may be refused with
        :class:`TelemetryShed` when space is short; an exam raises :class:`JournalFull` only
        when no room could be made at all.
        """
        if kind not in RECORD_KINDS:
            raise ValueError(f"kind must be one of {RECORD_KINDS}, not {kind!r}")
        if kind == "telemetry" and self.telemetry_min_free_bytes and not self._room_for_telemetry():
            self.counters["telemetry_shed"] += 1
            raise TelemetryShed("telemetry shed: free space is kept for exam records")
        try:
            record = self._append(kind, body, created_at, seal)
        except sqlite3.OperationalError as error:
            if not _is_disk_full(error):
                raise
            if kind == "telemetry":
                self.counters["telemetry_shed"] += 1
                self._make_room()
                raise TelemetryShed(f"telemetry shed: {error}") from error
            self.counters["disk_full"] += 1
            if not self._make_room():
                raise JournalFull(f"the journal's disk is full and nothing could be freed: {error}") from error
            try:
                record = self._append(kind, body, created_at, seal)
            except sqlite3.OperationalError as again:
                if _is_disk_full(again):
                    raise JournalFull(f"the journal's disk is full even after freeing the reserve: {again}") from again
                raise
        self._housekeeping()
        return record

    def _append(self, kind: str, body: dict, created_at: datetime | None,
                seal: Callable[[dict, int, str], dict] | None) -> JournalRecord:
        event_id = str(uuid.uuid4())
        created = (created_at or datetime.now(timezone.utc)).isoformat()
        with self._lock:
            conn = self.db.conn
            incarnation = self.incarnation
            with immediate_transaction(conn):
                if seal is not None:
                    index, prev_hash = self._chain_state(conn)
                    body = seal(body, index + 1, prev_hash)
                    conn.executemany(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                        [("chain_index", str(index + 1)), ("chain_hash", body["chain"]["hash"])],
                    )
                text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
                seq = conn.execute(
                    "INSERT INTO journal (event_id, kind, created_at, body, incarnation) VALUES (?, ?, ?, ?, ?)",
                    (event_id, kind, created, text, incarnation),
                ).lastrowid
        return JournalRecord(seq, event_id, kind, created, text, False, incarnation)

    @staticmethod
    def _chain_state(conn) -> tuple[int, str]:
        rows = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('chain_index', 'chain_hash')").fetchall())
        return int(rows.get("chain_index", 0)), rows.get("chain_hash", GENESIS)

    def mark_all_pending_backlog(self, up_to_seq: int | None = None) -> int:
        """Called when a connection comes up: what was waiting then (up to ``up_to_seq``, by default
        everything) is backlog from now on; a record journaled after that moment stays live."""
        with self._lock:
            cursor = self.db.conn.execute(
                "UPDATE journal SET backlog = 1 WHERE acked_at IS NULL AND backlog = 0 AND seq <= ?",
                (up_to_seq if up_to_seq is not None else 2**63 - 1,))
            return cursor.rowcount

    def apply_ack(self, ack: Ack, published: dict[int, str]) -> int:
        """Remove from the outbox the records the ack confirms; returns how many left it.

        ``published``: seq -> event id of the records sent on this connection; only those are
        considered, only records of the ack's incarnation count (an ack without one comes from a hub
        that predates incarnations and speaks for the current one), and only when the ack confirms
        that exact (seq, event id) — so an ack can never remove a record the hub holds under another
        identity.
        """
        incarnation = ack.incarnation or self.incarnation
        covered = [seq for seq, event_id in published.items() if ack.confirms(seq, event_id)]
        if not covered:
            return 0
        now = datetime.now(timezone.utc).isoformat()
        changed = 0
        with self._lock, immediate_transaction(self.db.conn) as conn:
            for start in range(0, len(covered), 500):
                chunk = covered[start:start + 500]
                changed += conn.execute(
                    f"UPDATE journal SET acked_at = ? WHERE acked_at IS NULL AND incarnation = ? "
                    f"AND seq IN ({','.join('?' * len(chunk))})", (now, incarnation, *chunk)).rowcount
        return changed

    # ------------------------------------------------------------------ reading

    def pending(self, *, backlog: bool, after_seq: int = 0, limit: int = 200) -> list[JournalRecord]:
        """Outbox rows of one class (live or backlog) above ``after_seq``, oldest first."""
        with self._lock:
            rows = self.db.conn.execute(
                "SELECT seq, event_id, kind, created_at, body, backlog, incarnation FROM journal "
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
                f"SELECT seq, event_id, kind, created_at, body, backlog, incarnation FROM journal "
                f"WHERE acked_at IS NULL AND seq IN ({','.join('?' * len(seqs))}) ORDER BY seq",
                seqs,
            ).fetchall()
        return [self._record(row) for row in rows]

    @staticmethod
    def _record(row) -> JournalRecord:
        return JournalRecord(row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6])

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


def _is_disk_full(error: sqlite3.OperationalError) -> bool:
    text = str(error).lower()
    return "full" in text or "no space" in text or getattr(error, "sqlite_errorcode", None) == 13
