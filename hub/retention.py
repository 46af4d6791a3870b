"""Retention per kind of data, and per-minute / per-hour roll-ups of telemetry (docs/timeseries.md).

Roll-ups
    ``telemetry_minute`` and ``telemetry_hour`` hold, per (UTC period, site, kiosk, zone, sensor,
    quantity): ``n`` valid values, ``invalid`` values (null), ``sum``, ``min``, ``max``, ``mean``
    (arithmetic) and, for quantities in decibels (``decibel_quantities``), ``energy_sum`` =
    Σ 10^(L/10) and ``laeq`` = 10·lg(energy_sum / n) instead of an arithmetic mean: levels are
    energy-averaged (ISO 9612:2009 / ГОСТ Р ИСО 9612-2013, equal-energy rule; reference.md §4.1,
    the same formula as :func:`hub.models.noise_exposure.energy_average_db` with equal durations).

    They are computed incrementally: each pass reads the telemetry rows stored since the last
    pass (by SQLite rowid, a watermark kept in ``retention_state``) and merges them into their
    periods. Every column is mergeable (counts and sums add, min/max compare), so a period that
    receives late rows — a kiosk's backlog after days offline — is updated exactly, and a
    period's row equals a direct computation over its raw values once they all arrived.

Retention
    Raw telemetry is deleted only inside rowid ranges already rolled up
    (``telemetry_rolled_ranges``, one row per roll-up batch with the range's oldest and newest
    reading time), so nothing is deleted before it is summarised. The row holding the largest
    rowid is never deleted: SQLite gives a new row max(rowid)+1, and keeping that row means a
    new row can never take a rowid at or below the watermark. Roll-ups, dead letters and the
    audit log are deleted by age; the audit log never younger than ``audit_log_min_days`` (and
    never below :data:`AUDIT_LOG_FLOOR_DAYS`, whatever the configuration says).

Every step is one short transaction of at most ``batch_rows`` rows under the store's lock,
with ``pause_s`` between steps, so the ingest and the API wait milliseconds at most.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable

log = logging.getLogger("hub.retention")

#: 5 years (5 × 365 + 2 leap days): the exam journal is kept 5 years (reference.md §1.6, design
#: default D); the audit log of reads of those records is kept at least as long. Not lowered by config.
AUDIT_LOG_FLOOR_DAYS = 1827
ACTOR = "hub-retention"

SCHEMA = """
CREATE TABLE IF NOT EXISTS telemetry_minute (
    period TEXT NOT NULL, site TEXT NOT NULL, kiosk TEXT NOT NULL, zone TEXT NOT NULL,
    sensor_id TEXT NOT NULL, quantity TEXT NOT NULL, n INTEGER NOT NULL, invalid INTEGER NOT NULL,
    sum REAL, min REAL, max REAL, mean REAL, energy_sum REAL, laeq REAL, updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS telemetry_minute_key
    ON telemetry_minute(period, site, kiosk, zone, sensor_id, quantity);
CREATE INDEX IF NOT EXISTS telemetry_minute_by_zone ON telemetry_minute(zone, quantity, period);
CREATE TABLE IF NOT EXISTS telemetry_hour (
    period TEXT NOT NULL, site TEXT NOT NULL, kiosk TEXT NOT NULL, zone TEXT NOT NULL,
    sensor_id TEXT NOT NULL, quantity TEXT NOT NULL, n INTEGER NOT NULL, invalid INTEGER NOT NULL,
    sum REAL, min REAL, max REAL, mean REAL, energy_sum REAL, laeq REAL, updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS telemetry_hour_key
    ON telemetry_hour(period, site, kiosk, zone, sensor_id, quantity);
CREATE INDEX IF NOT EXISTS telemetry_hour_by_zone ON telemetry_hour(zone, quantity, period);
CREATE TABLE IF NOT EXISTS telemetry_rolled_ranges (
    first_rowid INTEGER PRIMARY KEY, last_rowid INTEGER NOT NULL, rows INTEGER NOT NULL,
    min_ts REAL, max_ts REAL
);
CREATE TABLE IF NOT EXISTS retention_state (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS retention_totals (
    kind TEXT PRIMARY KEY, deleted INTEGER NOT NULL, last_at TEXT NOT NULL
);
"""

ROLLUP_TABLES = {"minute": "telemetry_minute", "hour": "telemetry_hour"}
KEY = ("period", "site", "kiosk", "zone", "sensor_id", "quantity")

#: Merge a batch's aggregate into a period's row: counts and sums add, min/max compare (NULL = none
#: yet), the arithmetic mean (not for decibels: those have an energy sum) and LAeq are recomputed from
#: the merged sums. In DO UPDATE a bare column name is the row's value before the update.
MERGE_SQL = """
INSERT INTO {table} ({key}, n, invalid, sum, min, max, mean, energy_sum, laeq, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT({key}) DO UPDATE SET
    n = n + excluded.n,
    invalid = invalid + excluded.invalid,
    sum = CASE WHEN sum IS NULL THEN excluded.sum WHEN excluded.sum IS NULL THEN sum ELSE sum + excluded.sum END,
    min = CASE WHEN min IS NULL THEN excluded.min WHEN excluded.min IS NULL THEN min
               ELSE min(min, excluded.min) END,
    max = CASE WHEN max IS NULL THEN excluded.max WHEN excluded.max IS NULL THEN max
               ELSE max(max, excluded.max) END,
    mean = CASE WHEN energy_sum IS NULL AND excluded.energy_sum IS NULL AND n + excluded.n > 0
                THEN (coalesce(sum, 0.0) + coalesce(excluded.sum, 0.0)) / (n + excluded.n) END,
    energy_sum = CASE WHEN energy_sum IS NULL THEN excluded.energy_sum WHEN excluded.energy_sum IS NULL
                      THEN energy_sum ELSE energy_sum + excluded.energy_sum END,
    laeq = CASE WHEN (energy_sum IS NOT NULL OR excluded.energy_sum IS NOT NULL) AND n + excluded.n > 0
                THEN 10.0 * log10((coalesce(energy_sum, 0.0) + coalesce(excluded.energy_sum, 0.0))
                                  / (n + excluded.n)) END,
    updated_at = excluded.updated_at
"""


class RollupHalted(RuntimeError):
    """The telemetry rowids no longer match the watermark (the database was VACUUMed or replaced)."""


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def parse_ts(text: str) -> datetime:
    ts = datetime.fromisoformat(text)
    return ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts.astimezone(timezone.utc)


def minute_of(ts: datetime) -> str:
    return ts.replace(second=0, microsecond=0).isoformat()


def hour_of(ts: datetime) -> str:
    return ts.replace(minute=0, second=0, microsecond=0).isoformat()


def laeq(energy_sum: float, n: int) -> float:
    """Energy mean of n levels in dB: 10·lg(Σ10^(L/10) / n) (ISO 9612 equal-energy average)."""
    return 10.0 * math.log10(energy_sum / n)


@dataclass
class Aggregate:
    """Statistics of one period and series over one batch of rows (merged into the table by
    :data:`MERGE_SQL`)."""

    n: int = 0
    invalid: int = 0
    sum: float = 0.0
    min: float | None = None
    max: float | None = None
    energy_sum: float | None = None

    def add(self, value: float | None, decibel: bool) -> None:
        if value is None:
            self.invalid += 1
            return
        self.n += 1
        self.sum += value
        self.min = value if self.min is None else min(self.min, value)
        self.max = value if self.max is None else max(self.max, value)
        if decibel:
            self.energy_sum = (self.energy_sum or 0.0) + 10.0 ** (value / 10.0)

    def columns(self, decibel: bool) -> tuple:
        """(n, invalid, sum, min, max, mean, energy_sum, laeq): for decibels no arithmetic mean."""
        if not self.n:
            return (0, self.invalid, None, None, None, None, None, None)
        if decibel:
            return (self.n, self.invalid, self.sum, self.min, self.max, None, self.energy_sum,
                    laeq(self.energy_sum, self.n))
        return (self.n, self.invalid, self.sum, self.min, self.max, self.sum / self.n, None, None)


def aggregate_rows(rows: Iterable[tuple], decibel_quantities: set[str]) -> dict[tuple[str, tuple], Aggregate]:
    """(resolution, key) → Aggregate of raw telemetry rows (site, kiosk, zone, sensor_id, quantity,
    ts, value); periods are UTC minutes and hours, whatever offset the reading's time was written in."""
    out: dict[tuple[str, tuple], Aggregate] = {}
    for site, kiosk, zone, sensor_id, quantity, ts_text, value in rows:
        ts = parse_ts(ts_text)
        decibel = quantity in decibel_quantities
        for resolution, period in (("minute", minute_of(ts)), ("hour", hour_of(ts))):
            key = (resolution, (period, site, kiosk, zone, sensor_id, quantity))
            out.setdefault(key, Aggregate()).add(value, decibel)
    return out


class Retention:
    """Roll-ups and retention on a :class:`hub.store.Store`; :meth:`start` runs them periodically."""

    def __init__(self, store, settings):
        if getattr(store, "backend", "sqlite") != "sqlite":
            raise ValueError("retention and roll-ups run on SQLite only: they walk the telemetry's SQLite row ids "
                             "(docs/deploy.md, \"The hub's database\")")
        self.store = store
        self.settings = settings
        self.decibel = set(settings.decibel_quantities)
        store.ensure_schema("retention", SCHEMA)
        with store.lock:
            try:
                store.conn.execute("SELECT log10(10.0)").fetchone()
            except Exception:  # an SQLite built without its math functions: the same C log10 from Python
                store.conn.create_function("log10", 1, math.log10, deterministic=True)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_rollup: str | None = None
        self.last_prune: dict | None = None
        self.last_error: dict | None = None
        self.halted: str | None = None

    # ------------------------------------------------------------------ state

    def _state(self, name: str) -> str | None:
        row = self.store.conn.execute("SELECT value FROM retention_state WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def _set_state(self, name: str, value: str) -> None:
        self.store.conn.execute("INSERT INTO retention_state VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET "
                                "value = excluded.value", (name, value))

    def _count_deleted(self, kind: str, deleted: int) -> None:
        if deleted:
            self.store.conn.execute(
                "INSERT INTO retention_totals VALUES (?, ?, ?) ON CONFLICT(kind) DO UPDATE SET "
                "deleted = deleted + excluded.deleted, last_at = excluded.last_at",
                (kind, deleted, utc_now().isoformat()))

    def watermark(self) -> int:
        with self.store.lock:
            return int(self._state("telemetry_rowid") or 0)

    def _transaction(self, work):
        """Run ``work()`` in one write transaction under the store's lock."""
        with self.store.lock:
            conn = self.store.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work()
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return result

    def _pause(self) -> bool:
        """Let the ingest and the API have the lock; True when asked to stop."""
        return self._stop.wait(self.settings.pause_s) if self.settings.pause_s else self._stop.is_set()

    # ------------------------------------------------------------------ roll-ups

    @staticmethod
    def _fingerprint(row: tuple) -> str:
        return json.dumps([str(v) for v in row])

    def _check_rowids(self, mark: int) -> None:
        """Halt when the telemetry rowids were renumbered (VACUUM of a table without an index, a
        replaced file): the row at the watermark is never deleted while it is the newest, so the
        largest rowid below the watermark, or another row at it, means the numbering changed."""
        conn = self.store.conn
        top = conn.execute("SELECT max(rowid) FROM telemetry").fetchone()[0]
        held = self._state("telemetry_fingerprint")
        row = conn.execute("SELECT site, kiosk, seq, zone, sensor_id, quantity, ts FROM telemetry WHERE rowid = ?",
                           (mark,)).fetchone()
        if top is None or top < mark or (row is not None and held is not None and self._fingerprint(row) != held):
            self.halted = (f"telemetry row {mark} is not the row rolled up last (the database was VACUUMed or "
                           "replaced?); roll-ups and raw-telemetry pruning stopped")
            raise RollupHalted(self.halted)

    def rollup_batch(self) -> int:
        """Roll up the next ``batch_rows`` telemetry rows past the watermark; returns rows read.

        The rows are read under the store's lock, aggregated without it, and merged in one short
        transaction that also moves the watermark."""
        if self.halted:
            raise RollupHalted(self.halted)
        with self.store.lock:
            mark = int(self._state("telemetry_rowid") or 0)
            if mark:
                self._check_rowids(mark)
            rows = self.store.conn.execute(
                "SELECT rowid, site, kiosk, zone, sensor_id, quantity, ts, value, seq FROM telemetry "
                "WHERE rowid > ? ORDER BY rowid LIMIT ?", (mark, self.settings.batch_rows)).fetchall()
        if not rows:
            return 0
        times = [parse_ts(r[6]).timestamp() for r in rows]
        fresh = aggregate_rows((r[1:8] for r in rows), self.decibel)
        first, last, tail = rows[0][0], rows[-1][0], rows[-1]

        def work() -> int:
            if int(self._state("telemetry_rowid") or 0) != mark:
                raise RuntimeError("another roll-up moved the watermark meanwhile; this batch is dropped")
            self._merge(fresh)
            self.store.conn.execute("INSERT INTO telemetry_rolled_ranges VALUES (?, ?, ?, ?, ?)",
                                    (first, last, len(rows), min(times), max(times)))
            self._set_state("telemetry_rowid", str(last))
            self._set_state("telemetry_fingerprint", self._fingerprint(
                (tail[1], tail[2], tail[8], tail[3], tail[4], tail[5], tail[6])))
            return len(rows)

        return self._transaction(work)

    def _merge(self, fresh: dict[tuple[str, tuple], Aggregate]) -> None:
        """Merge new aggregates into their roll-up rows: one additive upsert batch per table
        (:data:`MERGE_SQL`), so the rows already there are never read into Python."""
        conn = self.store.conn
        now = utc_now().isoformat()
        for resolution, table in ROLLUP_TABLES.items():
            conn.executemany(MERGE_SQL.format(table=table, key=", ".join(KEY)),
                             [(*key, *agg.columns(key[5] in self.decibel), now)
                              for (res, key), agg in fresh.items() if res == resolution])

    def rollup(self) -> int:
        """Roll up everything stored when called, batch by batch; returns rows read. (Rows stored
        meanwhile wait for the next call, so a busy ingest cannot keep this from returning.)"""
        with self.store.lock:
            target = self.store.conn.execute("SELECT max(rowid) FROM telemetry").fetchone()[0] or 0
        total = 0
        while True:
            read = self.rollup_batch()
            total += read
            if read < self.settings.batch_rows or self.watermark() >= target or self._pause():
                break
        self.last_rollup = utc_now().isoformat()
        return total

    # ------------------------------------------------------------------ retention

    def prune(self, now: datetime | None = None) -> dict[str, int]:
        """Delete what is past its retention, in short batches; returns rows deleted per kind."""
        now = now or utc_now()
        s = self.settings
        deleted = {"raw_telemetry": 0, "telemetry_minute": 0, "telemetry_hour": 0, "dead_letters": 0,
                   "audit_log": 0}
        if s.raw_telemetry_days and not self.halted:
            deleted["raw_telemetry"] = self._prune_raw(now - timedelta(days=s.raw_telemetry_days))
        for resolution, days, length in (("minute", s.telemetry_minute_days, timedelta(minutes=1)),
                                         ("hour", s.telemetry_hour_days, timedelta(hours=1))):
            if days and not self._stop.is_set():
                table = ROLLUP_TABLES[resolution]  # whole periods that ended before the cutoff
                deleted[table] = self._prune_periods(table, now - timedelta(days=days) - length)
        if s.dead_letters_days and not self._stop.is_set():
            deleted["dead_letters"] = self._prune_by_age("dead_letters", "received_at",
                                                         now - timedelta(days=s.dead_letters_days))
        audit_days = self.audit_log_days()
        if audit_days and not self._stop.is_set():
            cutoff = now - timedelta(days=audit_days)
            deleted["audit_log"] = self._prune_by_age("audit_log", "ts", cutoff)
            if deleted["audit_log"]:
                self.store.audit(ACTOR, "system", "retention_prune", "audit_log",
                                 {"deleted": deleted["audit_log"], "older_than": cutoff.isoformat(),
                                  "kept_days": audit_days})
        self.last_prune = {"at": now.isoformat(), "deleted": deleted}
        if any(deleted.values()):
            log.info("retention deleted %s", {k: v for k, v in deleted.items() if v})
        return deleted

    def audit_log_days(self) -> int:
        """Days the audit log is kept (0: forever): never below the configured minimum or the floor."""
        days = self.settings.audit_log_days
        if not days:
            return 0
        return max(days, self.settings.audit_log_min_days, AUDIT_LOG_FLOOR_DAYS)

    def _prune_raw(self, cutoff: datetime) -> int:
        """Delete raw telemetry read before ``cutoff``, only in rolled-up ranges, one range per step."""
        limit = cutoff.timestamp()
        cursor, total = 0, 0

        def step() -> tuple[int | None, int]:
            conn = self.store.conn
            found = conn.execute("SELECT first_rowid, last_rowid FROM telemetry_rolled_ranges "
                                 "WHERE first_rowid > ? AND min_ts < ? ORDER BY first_rowid LIMIT 1",
                                 (cursor, limit)).fetchone()
            if found is None:
                return None, 0
            first, last = found
            top = conn.execute("SELECT max(rowid) FROM telemetry").fetchone()[0]
            rows = conn.execute("SELECT rowid, ts FROM telemetry WHERE rowid BETWEEN ? AND ?", (first, last)).fetchall()
            times = {rowid: parse_ts(ts).timestamp() for rowid, ts in rows}
            old = [rowid for rowid, t in times.items() if t < limit and rowid != top]
            for start in range(0, len(old), 500):
                chunk = old[start:start + 500]
                conn.execute(f"DELETE FROM telemetry WHERE rowid IN ({','.join('?' * len(chunk))})", chunk)
            gone = set(old)
            kept = [t for rowid, t in times.items() if rowid not in gone]
            if kept:
                conn.execute("UPDATE telemetry_rolled_ranges SET rows = ?, min_ts = ?, max_ts = ? "
                             "WHERE first_rowid = ?", (len(kept), min(kept), max(kept), first))
            else:
                conn.execute("DELETE FROM telemetry_rolled_ranges WHERE first_rowid = ?", (first,))
            self._count_deleted("raw_telemetry", len(old))
            return first, len(old)

        while True:
            cursor, deleted = self._transaction(step)
            total += deleted
            if cursor is None or self._pause():
                return total

    def _prune_periods(self, table: str, cutoff: datetime) -> int:
        """Delete roll-up rows of periods that started before ``cutoff``."""
        before = cutoff.astimezone(timezone.utc).replace(second=0, microsecond=0).isoformat()
        total = 0

        def step() -> int:
            n = self.store.conn.execute(
                f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE period < ? LIMIT ?)",
                (before, self.settings.batch_rows)).rowcount
            self._count_deleted(table, n)
            return n

        while True:
            n = self._transaction(step)
            total += n
            if n < self.settings.batch_rows or self._pause():
                return total

    def _prune_by_age(self, table: str, column: str, cutoff: datetime) -> int:
        """Delete the oldest rows (by id, which follows insertion time) whose ``column`` is before
        ``cutoff``; stops at the first batch with nothing old in it."""
        limit = cutoff.timestamp()
        total = 0

        def step() -> int:
            conn = self.store.conn
            rows = conn.execute(f"SELECT id, {column} FROM {table} ORDER BY id LIMIT ?",
                                (self.settings.batch_rows,)).fetchall()
            old = [row_id for row_id, ts in rows if parse_ts(ts).timestamp() < limit]
            for start in range(0, len(old), 500):
                chunk = old[start:start + 500]
                conn.execute(f"DELETE FROM {table} WHERE id IN ({','.join('?' * len(chunk))})", chunk)
            self._count_deleted(table, len(old))
            return len(old)

        while True:
            n = self._transaction(step)
            total += n
            if not n or self._pause():
                return total

    # ------------------------------------------------------------------ background task

    def run_once(self, now: datetime | None = None) -> dict:
        read = self.rollup()
        return {"rolled_up": read, "deleted": self.prune(now)}

    def start(self) -> "Retention":
        self._thread = threading.Thread(target=self._loop, name="hub-retention", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def _loop(self) -> None:
        next_prune = time.monotonic()  # a first pass right after start
        while not self._stop.is_set():
            try:
                self.rollup()
                if time.monotonic() >= next_prune:
                    self.prune()
                    next_prune = time.monotonic() + self.settings.prune_interval_s
                self.last_error = None
            except Exception as error:  # store fault or halted: say so, try again next round
                if not self.last_error or self.last_error["message"] != str(error):
                    log.error("retention failed: %s", error)
                self.last_error = {"message": f"{type(error).__name__}: {error}", "at": utc_now().isoformat()}
            self._stop.wait(self.settings.rollup_interval_s)

    def status(self) -> dict:
        totals = {row["kind"]: row["deleted"] for row in
                  self.store.query("SELECT kind, deleted FROM retention_totals ORDER BY kind")}
        return {"watermark": self.watermark(), "last_rollup": self.last_rollup, "last_prune": self.last_prune,
                "last_error": self.last_error, "halted": self.halted, "deleted_total": totals,
                "audit_log_days": self.audit_log_days()}
