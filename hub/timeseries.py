"""Telemetry to an InfluxDB-compatible time-series store, through a durable queue of its own.

The hub's SQLite database stays the record of everything; this module *copies* stored telemetry
to a time-series store (InfluxDB 2.x, or anything that speaks its v2 write API, such as
VictoriaMetrics) for dashboards and long queries. docs/timeseries.md describes it for operators.

Flow::

    Ingest._account ──offer(envelopes)──▶ memory (deque, bounded) ──persister──▶ timeseries-queue.db
                                                                                 │ oldest first
                                           store ◀──write (batch, retried)── sender
                                                  accepted → rows deleted from the queue

* :meth:`TimeseriesSink.offer` only appends to an in-memory deque: it never blocks the ingest,
  converts nothing and touches no file.
* The *persister* thread turns envelopes into line-protocol points and appends them to the queue
  file (one transaction per wake-up, milliseconds after the offer).
* The *sender* thread sends the oldest points in batches of ``batch_size`` (or fewer once the
  oldest waited ``flush_interval_s``) with influxdb-client's synchronous v2 write API, and deletes
  them from the queue **only after the store accepted the write**. A failed write is retried with
  exponential backoff (``retry_initial_s`` doubling to ``retry_max_s``) for as long as it takes;
  the points stay on disk meanwhile, across hub restarts.
* A write the store refuses as bad data (HTTP 400/413/422) is split in halves until the one
  point it refuses is found; that point is dropped and counted (``rejected_points``).
* The queue is bounded (``max_queue_points``): beyond it the **oldest** points are dropped and
  counted in ``dropped_overflow``, which survives restarts. The newest are kept because they
  describe the present; the dropped ones are still in the hub's own database and roll-ups.
  Points in flight are never dropped, so the queue may exceed the bound by one batch.

Point layout: measurement ``measurement`` (default ``ohs_telemetry``), tags ``site``, ``kiosk``,
``zone``, ``sensor_id``, ``quantity``, one float field ``value``, timestamp in nanoseconds from
the reading's ``ts``. One point per (reading, quantity): a new quantity needs no schema change, a
reading with one invalid value still writes the others, and VictoriaMetrics shows one metric
``ohs_telemetry_value`` with a ``quantity`` label. Values marked invalid (``null``) are not
written; they are counted (``invalid_skipped``).

Delivery is at least once: a point is sent again only when the hub dies between the store's
acceptance and the deletion from the queue (or a write timed out after the store took it). Such
a repeat has the same series and timestamp, which InfluxDB overwrites and VictoriaMetrics
merges with ``-dedup.minScrapeInterval``. Points offered in the last few milliseconds before a
``kill -9`` of the hub may miss the queue; a clean stop writes everything offered to the queue.
"""

from __future__ import annotations

import collections
import logging
import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterable, Sequence
from urllib.parse import urlsplit, urlunsplit

from influxdb_client import Point, WritePrecision

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
QUEUE_FILE = "timeseries-queue.db"
#: HTTP statuses that mean "this data is refused": split the batch, drop the one point refused
DATA_REFUSED = {400, 413, 422}

QUEUE_SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    id INTEGER PRIMARY KEY AUTOINCREMENT, line TEXT NOT NULL, enqueued_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
COUNTERS = ("written_points", "dropped_overflow", "invalid_skipped", "rejected_points", "offered_points")


def utc_iso(ts: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if ts is None else ts, timezone.utc).isoformat()


def time_ns(ts: datetime) -> int:
    """Nanoseconds since the epoch, exactly (integer arithmetic on microseconds)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)
    return (ts - EPOCH) // timedelta(microseconds=1) * 1000


def _tag(value: str) -> str:
    """A tag value line protocol can carry: backslashes become '/', control characters spaces
    (a trailing backslash would otherwise escape the separator after it)."""
    return "".join(" " if ch < " " or ch == "\x7f" else "/" if ch == "\\" else ch for ch in value)


def telemetry_points(envelopes: Iterable, measurement: str) -> tuple[list[str], int]:
    """Line-protocol points of telemetry envelopes, and how many values were invalid (null)."""
    lines: list[str] = []
    invalid = 0
    for env in envelopes:
        if getattr(env, "kind", None) != "telemetry":
            continue
        for reading in env.body.readings:
            stamp = time_ns(reading.ts)
            for quantity, value in reading.values.items():
                if value is None:
                    invalid += 1
                    continue
                point = (Point(measurement).tag("site", _tag(env.site)).tag("kiosk", _tag(env.kiosk))
                         .tag("zone", _tag(reading.zone)).tag("sensor_id", _tag(reading.sensor_id))
                         .tag("quantity", _tag(quantity)).field("value", float(value))
                         .time(stamp, WritePrecision.NS))
                lines.append(point.to_line_protocol())
    return lines, invalid


def count_values(envelopes: Iterable) -> int:
    return sum(len(r.values) for env in envelopes if getattr(env, "kind", None) == "telemetry"
               for r in env.body.readings)


class DurableQueue:
    """Points waiting for the store, in a small SQLite file (WAL). Thread-safe."""

    def __init__(self, path: str | Path, max_points: int):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_points = max_points
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")  # a queued point survives a power cut, like a stored record
        self._conn.executescript(QUEUE_SCHEMA)
        self.depth = self._conn.execute("SELECT count(*) FROM points").fetchone()[0]
        self.counters = {name: 0 for name in COUNTERS}
        self.counters.update(dict(self._conn.execute("SELECT name, value FROM counters")))
        #: the newest id of the batch being written (0: none); overflow never drops ids up to it
        self.inflight_last = 0

    def _bump(self, deltas: dict[str, int]) -> None:
        for name, delta in deltas.items():
            if delta:
                self._conn.execute("INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET "
                                   "value = value + excluded.value", (name, delta))

    def _commit(self, work: Callable[[], tuple[dict[str, int], int]]) -> dict[str, int]:
        """Run ``work`` in one transaction; it returns (counter deltas, change of depth)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                deltas, depth_change = work()
                self._bump(deltas)
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            for name, delta in deltas.items():
                self.counters[name] = self.counters.get(name, 0) + delta
            self.depth += depth_change
            return deltas

    def put(self, lines: Sequence[str], *, invalid: int = 0, dropped_before: int = 0) -> int:
        """Append points; beyond ``max_points`` drop the oldest (never those of the batch in flight).
        Returns how many were dropped (with ``dropped_before``, values dropped from memory)."""
        now = time.time()

        def work() -> tuple[dict[str, int], int]:
            self._conn.executemany("INSERT INTO points (line, enqueued_at) VALUES (?, ?)",
                                   ((line, now) for line in lines))
            depth = self.depth + len(lines)
            dropped = 0
            if depth > self.max_points:
                dropped = self._conn.execute(
                    "DELETE FROM points WHERE id IN (SELECT id FROM points WHERE id > ? ORDER BY id LIMIT ?)",
                    (self.inflight_last, depth - self.max_points)).rowcount
            return ({"offered_points": len(lines), "invalid_skipped": invalid,
                     "dropped_overflow": dropped + dropped_before}, len(lines) - dropped)

        return self._commit(work)["dropped_overflow"]

    def oldest(self, limit: int) -> list[tuple[int, str]]:
        with self._lock:
            return self._conn.execute("SELECT id, line FROM points ORDER BY id LIMIT ?", (limit,)).fetchall()

    def take(self, limit: int) -> list[tuple[int, str]]:
        """The oldest points, marked in flight (overflow spares them) until :meth:`release`."""
        with self._lock:
            batch = self._conn.execute("SELECT id, line FROM points ORDER BY id LIMIT ?", (limit,)).fetchall()
            self.inflight_last = batch[-1][0] if batch else 0
            return batch

    def release(self) -> None:
        with self._lock:
            self.inflight_last = 0

    def oldest_enqueued_at(self) -> float | None:
        with self._lock:
            row = self._conn.execute("SELECT enqueued_at FROM points ORDER BY id LIMIT 1").fetchone()
        return row[0] if row else None

    def remove(self, ids: Sequence[int], counter: str) -> int:
        """Delete delivered (or refused) points and count them under ``counter``."""

        def work() -> tuple[dict[str, int], int]:
            removed = 0
            for start in range(0, len(ids), 500):
                chunk = list(ids[start:start + 500])
                removed += self._conn.execute(
                    f"DELETE FROM points WHERE id IN ({','.join('?' * len(chunk))})", chunk).rowcount
            return {counter: len(ids)}, -removed

        self._commit(work)
        return len(ids)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class WriteRefused(Exception):
    """The store answered with an HTTP error: ``status`` says which."""

    def __init__(self, status: int | None, message: str):
        super().__init__(message)
        self.status = status


class InfluxWriter:
    """influxdb-client's synchronous v2 write API: one call per batch, no retries of its own."""

    def __init__(self, url: str, token: str, org: str, bucket: str, timeout_s: float):
        from influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        self.bucket, self.org = bucket, org
        self._client = InfluxDBClient(url=url, token=token or "unused", org=org, timeout=int(timeout_s * 1000),
                                      retries=False)
        self._api = self._client.write_api(write_options=SYNCHRONOUS)

    def write(self, lines: list[str]) -> None:
        from influxdb_client.rest import ApiException

        try:
            self._api.write(bucket=self.bucket, org=self.org, record=lines, write_precision=WritePrecision.NS)
        except ApiException as error:
            body = error.body.decode("utf-8", "replace") if isinstance(error.body, bytes) else (error.body or "")
            raise WriteRefused(error.status, f"HTTP {error.status} {error.reason}: {str(body)[:300]}") from error

    def close(self) -> None:
        self._client.close()


class TimeseriesSink:
    """A telemetry sink for :attr:`hub.ingest.Ingest.telemetry_sinks` (``offer`` never blocks)."""

    def __init__(self, settings, queue_path: str | Path, *, writer=None):
        self.settings = settings
        self.queue = DurableQueue(queue_path, settings.max_queue_points)
        self._writer = writer or InfluxWriter(settings.url, settings.token, settings.org, settings.bucket,
                                              settings.timeout_s)
        self._pending: collections.deque = collections.deque()
        self._pending_lock = threading.Lock()
        self._memory_dropped = 0  # values dropped from memory, not yet counted on disk
        self._wake_persister = threading.Event()
        self._wake_sender = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.last_success: str | None = None
        self.last_error: dict | None = None
        self.failing_since: str | None = None
        self.retries = 0
        self.queue_error: dict | None = None

    # ------------------------------------------------------------------ the ingest's side

    def offer(self, envelopes: Sequence) -> None:
        """Take stored telemetry envelopes for the store; returns at once (no I/O, no conversion)."""
        if not envelopes:
            return
        with self._pending_lock:
            self._pending.append(list(envelopes))
            while len(self._pending) > self.settings.max_pending_envelopes:
                self._memory_dropped += count_values(self._pending.popleft())
        self._wake_persister.set()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> "TimeseriesSink":
        for name, target in (("persister", self._persist_loop), ("sender", self._send_loop)):
            thread = threading.Thread(target=target, name=f"timeseries-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Stop sending; everything offered is written to the durable queue first."""
        self._stop.set()
        self._wake_persister.set()
        self._wake_sender.set()
        for thread in self._threads:
            thread.join(timeout=timeout)
        self._threads = []
        try:
            self._persist_pending()  # the persister is gone: whatever is left goes to disk now
        except Exception:
            log.exception("could not write the last offered telemetry to the time-series queue")
        self._writer.close()
        self.queue.close()

    # ------------------------------------------------------------------ health

    def health(self) -> dict:
        with self._pending_lock:
            in_memory = sum(len(batch) for batch in self._pending)
        oldest = self.queue.oldest_enqueued_at() if self.queue.depth else None
        problems = []
        if self.failing_since:
            problems.append(f"writes fail since {self.failing_since}: {self.last_error['message']}")
        if self.queue_error:
            problems.append(f"the queue file refuses writes: {self.queue_error['message']}")
        counters = dict(self.queue.counters)
        counters["dropped_overflow"] += self._memory_dropped
        return {
            "status": "degraded" if problems else "ok",
            "problems": problems,
            "url": _without_credentials(self.settings.url),
            "measurement": self.settings.measurement,
            "queue_depth": self.queue.depth,
            "queue_max_points": self.settings.max_queue_points,
            "oldest_waiting_s": round(max(0.0, time.time() - oldest), 3) if oldest is not None else None,
            "pending_messages": in_memory,
            "last_success": self.last_success,
            "last_error": self.last_error,
            "failing_since": self.failing_since,
            "retries": self.retries,
            **counters,
        }

    def idle(self) -> bool:
        """Nothing offered waits anywhere (for tests and a clean shutdown)."""
        with self._pending_lock:
            pending = bool(self._pending)
        return not pending and self.queue.depth == 0

    # ------------------------------------------------------------------ persister

    def _persist_pending(self) -> int:
        with self._pending_lock:
            batches, self._pending = list(self._pending), collections.deque()
            memory_dropped, self._memory_dropped = self._memory_dropped, 0
        if not batches and not memory_dropped:
            return 0
        lines: list[str] = []
        invalid = 0
        for envelopes in batches:
            more, bad = telemetry_points(envelopes, self.settings.measurement)
            lines += more
            invalid += bad
        try:
            dropped = self.queue.put(lines, invalid=invalid, dropped_before=memory_dropped)
        except Exception:
            with self._pending_lock:  # keep them for the next try, in order
                self._pending.extendleft(reversed(batches))
                self._memory_dropped += memory_dropped
            raise
        if dropped - memory_dropped > 0:
            log.warning("time-series queue full (%d points): dropped the %d oldest", self.settings.max_queue_points,
                        dropped - memory_dropped)
        self._wake_sender.set()
        return len(lines)

    def _persist_loop(self) -> None:
        while not self._stop.is_set():
            self._wake_persister.wait(timeout=1.0)
            self._wake_persister.clear()
            if self._stop.is_set():
                return
            try:
                self._persist_pending()
                self.queue_error = None
            except Exception as error:  # disk full, I/O: keep them in memory and try again
                if self.queue_error is None:
                    log.error("the time-series queue refuses writes (%s); points wait in memory", error)
                self.queue_error = {"message": f"{type(error).__name__}: {error}", "at": utc_iso()}
                self._stop.wait(1.0)

    # ------------------------------------------------------------------ sender

    def _batch_due(self) -> bool:
        if self.queue.depth >= self.settings.batch_size:
            return True
        oldest = self.queue.oldest_enqueued_at() if self.queue.depth else None
        return oldest is not None and time.time() - oldest >= self.settings.flush_interval_s

    def _send_loop(self) -> None:
        delay = self.settings.retry_initial_s
        while not self._stop.is_set():
            if not self._batch_due():
                oldest = self.queue.oldest_enqueued_at() if self.queue.depth else None
                wait = 1.0 if oldest is None else max(0.01, self.settings.flush_interval_s - (time.time() - oldest))
                self._wake_sender.wait(timeout=min(wait, 1.0))
                self._wake_sender.clear()
                continue
            try:
                self.send_once()
            except Exception as error:
                self._failed(error)
                if self._stop.wait(delay):
                    return
                delay = min(delay * 2, self.settings.retry_max_s)
                continue
            delay = self.settings.retry_initial_s

    def send_once(self) -> int:
        """Send the oldest batch; raises if the store did not take it. Returns points delivered."""
        batch = self.queue.take(self.settings.batch_size)
        if not batch:
            return 0
        try:
            delivered = self._deliver(batch)
        finally:
            self.queue.release()
        if self.failing_since:
            log.warning("the time-series store accepts writes again after %d retries", self.retries)
        self.failing_since, self.retries = None, 0
        self.last_success = utc_iso()
        return delivered

    def _deliver(self, batch: list[tuple[int, str]]) -> int:
        try:
            self._writer.write([line for _, line in batch])
        except WriteRefused as error:
            if error.status not in DATA_REFUSED:
                raise
            if len(batch) == 1:
                log.error("the time-series store refuses a point (%s); dropped: %s", error, batch[0][1][:300])
                self.queue.remove([batch[0][0]], "rejected_points")
                return 0
            half = len(batch) // 2
            return self._deliver(batch[:half]) + self._deliver(batch[half:])
        self.queue.remove([point_id for point_id, _ in batch], "written_points")
        return len(batch)

    def _failed(self, error: BaseException) -> None:
        message = f"{type(error).__name__}: {error}"[:500]
        if self.failing_since is None:
            self.failing_since = utc_iso()
            log.warning("writing telemetry to %s failed (%s); the queue keeps it and retries",
                        self.settings.url, message)
        self.retries += 1
        self.last_error = {"message": message, "at": utc_iso()}


def _without_credentials(url: str) -> str:
    """The URL without user:password@ (health is readable by every role)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    netloc += f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def queue_path_for(settings, database_path: str | Path) -> Path:
    """The durable queue's file: configured, or ``timeseries-queue.db`` beside the hub database."""
    return Path(settings.queue_path) if settings.queue_path else Path(database_path).parent / QUEUE_FILE
