"""Retention per kind of data, per-minute / per-hour roll-ups and compaction of telemetry
(docs/timeseries.md), on SQLite and PostgreSQL alike.

Roll-ups
    ``telemetry_minute`` and ``telemetry_hour`` (layout: migration 0005) hold, per series
    (``telemetry_series`` id: site, kiosk, sensor, zone, quantity) and UTC period (whole minutes / hours
    since the epoch): ``n`` valid values, ``invalid`` values (null), ``sum``, ``min``, ``max`` and, for
    quantities in decibels (``decibel_quantities``), ``energy_sum`` = Σ 10^(L/10). Read through
    :mod:`hub.telemetry_rollups`, which derives the arithmetic ``mean`` = sum / n and, for decibels instead
    of a mean, ``laeq`` = 10·lg(energy_sum / n): levels are energy-averaged (ISO 9612:2009 / ГОСТ Р ИСО
    9612-2013, equal-energy rule; reference.md §4.1, the same formula as
    :func:`hub.models.noise_exposure.energy_average_db` with equal durations).

    They are computed incrementally from the telemetry chunks (:mod:`hub.db.telemetry_points`) not
    rolled up yet (``state`` without its ROLLED bit): a pass aggregates a batch of them, merges the
    aggregates into their periods and marks the chunks rolled up, in one transaction — so each value
    is counted exactly once, whatever order it arrived in. Every column is mergeable (counts and sums
    add, min/max compare), so a period that receives late values — a kiosk's backlog after days
    offline — is updated exactly, and a period's row equals a direct computation over its raw values.

Compaction
    The ingest writes one raw chunk per series and hour per batch (fast, ~16 bytes a value plus a row
    per chunk). Once rolled up and its hour is over, a series' chunks of that hour are merged into its
    last compacted chunk of the 7-day window (hub.db.telemetry_points.SPAN_US; delta-coded times,
    byte-shuffled values, zlib: a few bytes a value), up to MAX_CHUNK_POINTS a chunk.

Retention
    Raw telemetry is deleted in whole chunks whose last value is older than the cutoff (a compacted
    chunk spans a week at most), and only chunks already rolled up, so nothing is deleted before it
    is summarised. Roll-ups, dead letters
    and the audit log are deleted by age; the audit log never younger than ``audit_log_min_days``
    (and never below :data:`AUDIT_LOG_FLOOR_DAYS`, whatever the configuration says).

Every step is one short transaction of at most ``batch_rows`` values or rows under the store's lock,
with ``pause_s`` between steps, so the ingest and the API wait milliseconds at most. The ingest only
ever inserts chunks; only this task changes or deletes them (one task per hub: the main process).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable

from hub.db.telemetry_points import (
    COMPACTED,
    HOUR_US,
    MAX_CHUNK_POINTS,
    ROLLED,
    SPAN_US,
    chunk_rows,
    to_us,
    unpack,
)

log = logging.getLogger("hub.retention")

#: 5 years (5 × 365 + 2 leap days): the exam journal is kept 5 years (reference.md §1.6, design
#: default D); the audit log of reads of those records is kept at least as long. Not lowered by config.
AUDIT_LOG_FLOOR_DAYS = 1827
ACTOR = "hub-retention"
#: an hour's chunks are compacted once the hour ended this long ago (by the clock): the ingest's
#: batches of the hour are in by then (a later one only makes one more compacted chunk of it)
COMPACT_AFTER = timedelta(minutes=2)
FINAL = ROLLED | COMPACTED

#: the task's own bookkeeping (module DDL). The roll-up tables themselves belong to the migrations
#: (hub/db/migrations/versions/0005_compact_rollups.py): never created here, so never in another layout.
SCHEMA = """
CREATE TABLE IF NOT EXISTS retention_totals (
    kind TEXT PRIMARY KEY, deleted INTEGER NOT NULL, last_at TEXT NOT NULL
);
"""

ROLLUP_TABLES = {"minute": "telemetry_minute", "hour": "telemetry_hour"}
#: seconds of one period of each resolution; a roll-up row's ``period`` is its start in these since the epoch
PERIOD_S = {"minute": 60, "hour": 3600}

#: Merge a batch's aggregate into a period's row: counts and sums add, min/max compare (NULL = none
#: yet). ``{t}.column`` is the row's value before the update (both back ends); ``{least}`` and
#: ``{greatest}`` are the two-argument min/max of the back end. The mean and LAeq are derived from the
#: sums when read (:mod:`hub.telemetry_rollups`), so nothing here depends on the merge order.
MERGE_SQL = """
INSERT INTO {t} (series_id, period, n, invalid, sum, min, max, energy_sum)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(series_id, period) DO UPDATE SET
    n = {t}.n + excluded.n,
    invalid = {t}.invalid + excluded.invalid,
    sum = CASE WHEN {t}.sum IS NULL THEN excluded.sum WHEN excluded.sum IS NULL THEN {t}.sum
               ELSE {t}.sum + excluded.sum END,
    min = CASE WHEN {t}.min IS NULL THEN excluded.min WHEN excluded.min IS NULL THEN {t}.min
               ELSE {least}({t}.min, excluded.min) END,
    max = CASE WHEN {t}.max IS NULL THEN excluded.max WHEN excluded.max IS NULL THEN {t}.max
               ELSE {greatest}({t}.max, excluded.max) END,
    energy_sum = CASE WHEN {t}.energy_sum IS NULL THEN excluded.energy_sum WHEN excluded.energy_sum IS NULL
                      THEN {t}.energy_sum ELSE {t}.energy_sum + excluded.energy_sum END
"""


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def parse_ts(text: str) -> datetime:
    ts = datetime.fromisoformat(text)
    return ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts.astimezone(timezone.utc)


def laeq(energy_sum: float, n: int) -> float:
    """Energy mean of n levels in dB: 10·lg(Σ10^(L/10) / n) (ISO 9612 equal-energy average)."""
    return 10.0 * math.log10(energy_sum / n)


@dataclass
class Aggregate:
    """Statistics of one period and series over one batch of values (merged into the table by
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

    def columns(self) -> tuple:
        """(n, invalid, sum, min, max, energy_sum): energy_sum only for decibels; sums NULL without a value."""
        if not self.n:
            return (0, self.invalid, None, None, None, None)
        return (self.n, self.invalid, self.sum, self.min, self.max, self.energy_sum)


def aggregate_points(points: Iterable[tuple[int, str, int, float | None]], decibel_quantities: set[str]
                     ) -> dict[tuple[str, int, int], Aggregate]:
    """(resolution, series_id, period) → Aggregate of values (series_id, quantity, time µs, value); periods
    are whole UTC minutes and hours since the epoch (:data:`PERIOD_S`)."""
    out: dict[tuple[str, int, int], Aggregate] = {}
    spans = [(resolution, seconds * 1_000_000) for resolution, seconds in PERIOD_S.items()]
    for series_id, quantity, us, value in points:
        decibel = quantity in decibel_quantities
        for resolution, span in spans:
            key = (resolution, series_id, us // span)
            found = out.get(key)
            if found is None:
                found = out[key] = Aggregate()
            found.add(value, decibel)
    return out


class Retention:
    """Roll-ups, compaction and retention on a :class:`hub.store.Store` (SQLite or PostgreSQL);
    :meth:`start` runs them periodically."""

    def __init__(self, store, settings):
        self.store = store
        self.settings = settings
        self.decibel = set(settings.decibel_quantities)
        self.sqlite = getattr(store, "backend", "sqlite") == "sqlite"
        store.ensure_schema("retention", SCHEMA)
        least, greatest = ("min", "max") if self.sqlite else ("LEAST", "GREATEST")
        self._merge_sql = {table: MERGE_SQL.format(t=table, least=least, greatest=greatest)
                           for table in ROLLUP_TABLES.values()}
        self._series: dict[int, tuple[str, str, str, str, str]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_rollup: str | None = None
        self.last_compaction: str | None = None
        self.last_prune: dict | None = None
        self.last_error: dict | None = None

    # ------------------------------------------------------------------ helpers

    def _count_deleted(self, kind: str, deleted: int) -> None:
        if deleted:
            self.store.conn.execute(
                "INSERT INTO retention_totals VALUES (?, ?, ?) ON CONFLICT(kind) DO UPDATE SET "
                "deleted = retention_totals.deleted + excluded.deleted, last_at = excluded.last_at",
                (kind, deleted, utc_now().isoformat()))

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

    def _series_of(self, ids: Iterable[int]) -> dict[int, tuple[str, str, str, str, str]]:
        """(site, kiosk, zone, sensor_id, quantity) of series ids (cached: a series never changes)."""
        missing = sorted({i for i in ids if i not in self._series})
        for start in range(0, len(missing), 500):
            chunk = missing[start:start + 500]
            for row in self.store.query_rows(
                    f"SELECT id, site, kiosk, zone, sensor_id, quantity FROM telemetry_series WHERE id IN "
                    f"({','.join('?' * len(chunk))})", chunk):
                self._series[row[0]] = tuple(row[1:])
        return self._series

    #: chunks not rolled up yet; with ``state != FINAL`` every query of open chunks walks the small partial
    #: index ``telemetry_chunks_open`` (state, series_id, t0, …), in its order: no sort, however many
    UNROLLED = f"state != {FINAL} AND state IN (0, {COMPACTED})"

    def _open_chunks(self, where: str, params: list, order: str, values: int | None = None) -> list[tuple]:
        """(id, series_id, t0, n, state, points) of chunks not final yet matching ``where`` (at most
        ``batch_rows`` chunks, and ``values`` values when given, at least one chunk): picked in the order of
        the partial index, then only their points read, by id."""
        picked = self.store.query_rows(
            f"SELECT id, series_id, t0, n, state FROM telemetry_chunks WHERE state != {FINAL} AND {where} "
            f"ORDER BY {order} LIMIT ?", [*params, self.settings.batch_rows])
        if values is not None:
            taken, total = [], 0
            for row in picked:
                if taken and total + row[3] > values:
                    break
                taken.append(row)
                total += row[3]
            picked = taken
        points: dict[int, bytes] = {}
        for start in range(0, len(picked), 500):
            ids = [row[0] for row in picked[start:start + 500]]
            points.update(self.store.query_rows(
                f"SELECT id, points FROM telemetry_chunks WHERE id IN ({','.join('?' * len(ids))})", ids))
        return [(*row, points[row[0]]) for row in picked if row[0] in points]

    def pending(self) -> int:
        """Telemetry values not rolled up yet."""
        return int(self.store.scalar(f"SELECT coalesce(sum(n), 0) FROM telemetry_chunks WHERE {self.UNROLLED}")
                   or 0)

    # ------------------------------------------------------------------ roll-ups

    def rollup_batch(self) -> int:
        """Roll up the next chunks not rolled up yet, up to ``batch_rows`` values (at least one chunk);
        returns the values read. Read and aggregated without the lock; merged, and the chunks marked,
        in one short transaction."""
        taken = []
        for state in (0, COMPACTED):  # one state at a time: the index's order, no sort
            taken = self._open_chunks(f"state = {state}", [], "series_id, t0", values=self.settings.batch_rows)
            if taken:
                break
        values = sum(row[3] for row in taken)
        if not taken:
            return 0
        series = self._series_of(row[1] for row in taken)

        def points():
            for _, series_id, _, _, _, blob in taken:
                quantity = series[series_id][4]
                times, found = unpack(blob)
                for us, value in zip(times, found, strict=True):
                    yield series_id, quantity, us, value

        fresh = aggregate_points(points(), self.decibel)
        ids = [row[0] for row in taken]

        def work() -> int:
            marked = 0
            conn = self.store.conn
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                marked += conn.execute(
                    f"UPDATE telemetry_chunks SET state = state | {ROLLED} WHERE (state & {ROLLED}) = 0 AND id IN "
                    f"({','.join('?' * len(chunk))})", chunk).rowcount
            if marked != len(ids):
                raise RuntimeError("another roll-up marked some of these chunks meanwhile; this batch is dropped")
            self._merge(fresh)
            return values

        return self._transaction(work)

    def _merge(self, fresh: dict[tuple[str, int, int], Aggregate]) -> None:
        """Merge new aggregates into their roll-up rows: one additive upsert batch per table
        (:data:`MERGE_SQL`), so the rows already there are never read into Python."""
        conn = self.store.conn
        for resolution, table in ROLLUP_TABLES.items():
            rows = [(series_id, period, *agg.columns())
                    for (res, series_id, period), agg in fresh.items() if res == resolution]
            if rows:
                conn.executemany(self._merge_sql[table], rows)

    def rollup(self) -> int:
        """Roll up everything stored when called, batch by batch; returns values read. (Values stored
        meanwhile wait for the next call, so a busy ingest cannot keep this from returning.)"""
        budget = self.pending()
        total = 0
        while total < budget:
            read = self.rollup_batch()
            total += read
            if not read or self._pause():
                break
        self.last_rollup = utc_now().isoformat()
        return total

    # ------------------------------------------------------------------ compaction

    def compact_batch(self, now: datetime | None = None) -> int:
        """Merge the rolled-up raw chunks of hours that ended before ``now`` − COMPACT_AFTER into their
        series' compacted chunk of the window (its last one while it holds fewer than MAX_CHUNK_POINTS);
        returns the raw chunks merged."""
        before = to_us((now or utc_now()) - COMPACT_AFTER)
        closed = before - before % HOUR_US  # hours starting below this one are over
        rows = self._open_chunks(f"state = {ROLLED} AND t0 < ?", [closed], "series_id, t0")
        groups: dict[tuple[int, int], list[tuple]] = {}
        for row in rows:
            groups.setdefault((row[1], row[2] // SPAN_US), []).append(row)
        if len(rows) == self.settings.batch_rows and len(groups) > 1:
            groups.pop(max(groups))  # may continue past the limit: the next batch takes it whole
        if not groups:
            return 0
        new_rows, replaced, merged = [], [], 0
        for (series_id, window), members in groups.items():
            into = self.store.query_rows(
                f"SELECT id, n, points FROM telemetry_chunks WHERE t0 >= ? AND t0 < ? AND series_id = ? "
                f"AND state = {FINAL} AND n < ? ORDER BY t0 DESC LIMIT 1",
                [window * SPAN_US, (window + 1) * SPAN_US, series_id, MAX_CHUNK_POINTS])
            times, values = [], []
            for member in [*members, *((r[0], None, None, None, None, r[2]) for r in into)]:
                t, v = unpack(member[5])
                times += t
                values += [math.nan if x is None else x for x in v]
            new_rows.extend(chunk_rows(series_id, times, values, ROLLED, compact=True))
            replaced += [(r[0], FINAL) for r in into]
            replaced += [(member[0], ROLLED) for member in members]
            merged += len(members)

        def work() -> int:
            conn = self.store.conn
            gone = 0
            for state in (ROLLED, FINAL):
                ids = [i for i, s in replaced if s == state]
                for start in range(0, len(ids), 500):
                    chunk = ids[start:start + 500]
                    gone += conn.execute(f"DELETE FROM telemetry_chunks WHERE state = {state} AND id IN "
                                         f"({','.join('?' * len(chunk))})", chunk).rowcount
            if gone != len(replaced):
                raise RuntimeError("chunks changed while being compacted; this batch is dropped")
            conn.executemany("INSERT INTO telemetry_chunks (series_id, t0, t1, n, state, points) "
                             "VALUES (?,?,?,?,?,?)", new_rows)
            return merged

        return self._transaction(work)

    def compact(self, now: datetime | None = None) -> int:
        """Compact every closed hour's rolled-up chunks, batch by batch; returns the chunks replaced."""
        total = 0
        while not self._stop.is_set():
            done = self.compact_batch(now)
            total += done
            if not done or self._pause():
                break
        self.last_compaction = utc_now().isoformat()
        return total

    # ------------------------------------------------------------------ retention

    def prune(self, now: datetime | None = None) -> dict[str, int]:
        """Delete what is past its retention, in short batches; returns rows (values, for raw
        telemetry) deleted per kind."""
        now = now or utc_now()
        s = self.settings
        deleted = {"raw_telemetry": 0, "telemetry_minute": 0, "telemetry_hour": 0, "dead_letters": 0,
                   "audit_log": 0}
        if s.raw_telemetry_days:
            deleted["raw_telemetry"] = self._prune_raw(now - timedelta(days=s.raw_telemetry_days))
        for resolution, days, length in (("minute", s.telemetry_minute_days, timedelta(minutes=1)),
                                         ("hour", s.telemetry_hour_days, timedelta(hours=1))):
            if days and not self._stop.is_set():
                table = ROLLUP_TABLES[resolution]  # whole periods that ended before the cutoff
                deleted[table] = self._prune_periods(resolution, now - timedelta(days=days) - length)
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
        """Delete the rolled-up chunks whose every value was read before ``cutoff`` (a compacted chunk
        spans up to 7 days, hub.db.telemetry_points.SPAN_US: values up to that much older than the cutoff
        may stay until a later pass), then the invalid-value reasons older than every chunk left.
        Returns the values deleted."""
        limit = to_us(cutoff)
        total = 0

        def step() -> tuple[int, int]:
            conn = self.store.conn
            found = conn.execute(f"SELECT id, n FROM telemetry_chunks WHERE t0 < ? AND t1 < ? AND (state & {ROLLED}) "
                                 f"= {ROLLED} LIMIT ?", (limit, limit, self.settings.batch_rows)).fetchall()
            for start in range(0, len(found), 500):
                chunk = [row[0] for row in found[start:start + 500]]
                conn.execute(f"DELETE FROM telemetry_chunks WHERE id IN ({','.join('?' * len(chunk))})", chunk)
            values = sum(row[1] for row in found)
            self._count_deleted("raw_telemetry", values)
            return len(found), values

        while True:
            chunks, values = self._transaction(step)
            total += values
            if chunks < self.settings.batch_rows or self._pause():
                break

        def reasons() -> int:
            conn = self.store.conn
            oldest = conn.execute("SELECT min(t0) FROM telemetry_chunks").fetchone()[0]
            floor = limit if oldest is None else min(limit, oldest)
            return conn.execute("DELETE FROM telemetry_invalid WHERE ts < ?", (floor,)).rowcount

        self._transaction(reasons)
        return total

    def _prune_periods(self, resolution: str, cutoff: datetime) -> int:
        """Delete roll-up rows of periods that started before ``cutoff`` (whole minutes): series by series,
        each a seek in the (series_id, period) key, at most ``batch_rows`` rows a transaction."""
        table, seconds = ROLLUP_TABLES[resolution], PERIOD_S[resolution]
        start_s = int(cutoff.timestamp()) // 60 * 60
        before = -(-start_s // seconds)  # the first period starting at or after the cutoff's minute
        series = [row[0] for row in self.store.query_rows("SELECT id FROM telemetry_series ORDER BY id")]
        sql = (f"DELETE FROM {table} WHERE series_id = ? AND period IN "
               f"(SELECT period FROM {table} WHERE series_id = ? AND period < ? ORDER BY period LIMIT ?)")
        total, at = 0, 0

        def step() -> tuple[int, int]:
            conn, n, i = self.store.conn, 0, at
            while i < len(series) and n < self.settings.batch_rows:
                budget = self.settings.batch_rows - n
                done = conn.execute(sql, (series[i], series[i], before, budget)).rowcount
                n += done
                if done < budget:
                    i += 1  # this series has nothing older left
            self._count_deleted(table, n)
            return n, i

        while at < len(series):
            n, at = self._transaction(step)
            total += n
            if n and self._pause():
                break
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
        compacted = self.compact(now)
        return {"rolled_up": read, "compacted_chunks": compacted, "deleted": self.prune(now)}

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
                self.compact()
                if time.monotonic() >= next_prune:
                    self.prune()
                    next_prune = time.monotonic() + self.settings.prune_interval_s
                self.last_error = None
            except Exception as error:  # store fault: say so, try again next round
                if not self.last_error or self.last_error["message"] != f"{type(error).__name__}: {error}":
                    log.error("retention failed: %s", error)
                self.last_error = {"message": f"{type(error).__name__}: {error}", "at": utc_now().isoformat()}
            self._stop.wait(self.settings.rollup_interval_s)

    def status(self) -> dict:
        totals = {row["kind"]: row["deleted"] for row in
                  self.store.query("SELECT kind, deleted FROM retention_totals ORDER BY kind")}
        return {"pending_values": self.pending(), "last_rollup": self.last_rollup,
                "last_compaction": self.last_compaction, "last_prune": self.last_prune,
                "last_error": self.last_error, "deleted_total": totals, "audit_log_days": self.audit_log_days()}

