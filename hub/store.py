"""The hub's durable store (SQLite in WAL mode, or PostgreSQL): records, kiosks, dead letters, audit log.

Idempotency (architecture.md, "Delivery"): ``received`` has the primary key
(site, kiosk, seq) and a unique event id, so a redelivered or replayed record is
recognised and never stored twice. Each batch is one transaction; the ingest publishes
``ack`` only after :meth:`Store.commit_batch` returns, i.e. after the data is on disk.

The schema and the database's engine belong to :mod:`hub.db` (SQLAlchemy Core, Alembic migrations run
when a Store opens). The queries are one SQL text for both back ends; on PostgreSQL they go through
:class:`hub.db.dbapi.PgConnection` (psycopg 3), on SQLite straight through :mod:`sqlite3`.
"""

from __future__ import annotations

import abc
import hashlib
import json
import logging
import sqlite3
import threading
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence
from urllib.parse import quote

import sqlite_utils

from firmware_bridges.contract import Envelope
from firmware_bridges.sqlite_tx import immediate_transaction
from hub import evidence
from hub.db import database_url, is_postgres, make_engine, migrate
from hub.db.dbapi import PgConnection, PgReadPool
from hub.db.ddl import sqlite_script_to_postgresql
from hub.db.exam_body import INSERT_EXAM, exam_row
from hub.db.telemetry_points import TelemetryWriter
from hub.sequences import SequenceRanges
from hub.wire_json import sorted_compact

log = logging.getLogger("hub.store")

#: The schema (tables, and the indexes every documented filter walks) is owned by :mod:`hub.db`: the
#: baseline in ``hub/db/baseline.py`` and the Alembic revisions after it, applied when a Store opens.


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
    #: (site, kiosk, incarnation) -> {seq: event id} of the records now held under that exact identity
    #: (stored, already stored, or kept whole as a conflict): what the acks confirm
    confirmed: dict[tuple[str, str, str], dict[int, str]] = field(default_factory=dict)

    def confirm(self, env: Envelope) -> None:
        self.confirmed.setdefault((env.site, env.kiosk, env.incarnation_key), {})[env.seq] = str(env.event_id)

    def touch(self, env: Envelope) -> None:
        seqs = self.touched.setdefault((env.site, env.kiosk, env.incarnation_key), set())
        if env.seq is not None:
            seqs.add(env.seq)


def content_hash(envelope: Envelope, raw_body: dict | None) -> str:
    """SHA-256 over what makes a record itself (kind, kiosk timestamp, body as received);
    not the ``historical`` flag, which differs between a live send and a backlog resend."""
    body = raw_body if raw_body is not None else envelope.body.model_dump(mode="json")
    # json.dumps([...], sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False): the same
    # bytes through orjson where it writes them alike (hub.wire_json), so stored hashes keep matching
    text = sorted_compact([envelope.kind, envelope.ts.isoformat(), body], allow_nan=False)
    return hashlib.sha256(text).hexdigest()


#: A page count stops counting here; past it the API returns an estimate (``total_estimated``).
COUNT_CAP = 10_000
#: Rows read from the newest matching end of a time index to estimate a count past COUNT_CAP.
ESTIMATE_SAMPLE = 2000
#: A column with at most this many distinct values gets them counted (skip-scan) for the statistics.
DISTINCT_CAP = 256
#: Stored records after which the statistics are refreshed (Store.refresh_statistics).
ANALYZE_EVERY_RECORDS = 50_000
#: Below this many rows a record table gets SEEDED_STATISTICS as they are instead of measured ones.
SEED_BELOW_ROWS = 20_000
#: The planner's statistics (``sqlite_stat1``: rows, then rows per distinct prefix of the index) of a
#: large hub — a million exams at 5 sites of 10 kiosks, ten million telemetry values, 100 000 events —
#: given to a hub too small to measure its own, so that it plans its queries as it will at scale
#: (e.g. the medic queue walks its partial index rather than sorting one outcome's rows; telemetry,
#: read by time range through its one index, needs none). On a larger table the row counts and the
#: counts of columns with few values are measured and these give the rest (rows per worker, per timestamp).
SEEDED_STATISTICS: dict[str, dict[str, str]] = {
    "exams": {
        "sqlite_autoindex_exams_1": "1000000 1",
        "exams_by_finished": "1000000 2 1",
        "exams_by_site_time": "1000000 200000 2 1 1 1 1",
        "exams_by_outcome_time": "1000000 333334 2 1 1 1 1",
        "exams_by_kiosk_time": "1000000 20000 2 1 1 1 1",
        "exams_by_type_time": "1000000 333334 2 1 1 1 1",
        "exams_by_worker": "1000000 200 1",
        "exams_by_started": "1000000 2",
        "exams_chain_waiting": "100 2",
        "exams_medic_queue": "60000 2",  # hub/medic.py's partial index (outcome needs_medic / not_admitted)
    },
    "events": {"sqlite_autoindex_events_1": "100000 1", "events_by_type": "100000 10000 2"},
}


class ReadPool:
    """Read-only connections to one SQLite file (WAL readers), each lent to one query at a time.

    In WAL mode a reader sees the newest committed transaction when its statement starts and never
    blocks, nor is blocked by, the writer. Connections are opened ``mode=ro`` (falling back to
    ``PRAGMA query_only`` where the URI cannot be opened read-only); up to ``keep`` idle ones are kept
    for reuse, so a burst of API threads opens a few more and closes them when it is over.
    """

    def __init__(self, path: str | Path, *, keep: int = 8, timeout: float = 30.0, cache_kib: int = 32768):
        self.path = Path(path)
        self.keep = keep
        self.timeout = timeout
        self.cache_kib = cache_kib
        self._idle: list[tuple[int, sqlite3.Connection]] = []
        self._lock = threading.Lock()
        self._closed = False
        self._generation = 0
        self.opened = 0  # connections opened so far (tests, diagnostics)

    @property
    def uri(self) -> str:
        return f"file:{quote(str(self.path.resolve()), safe='/')}?mode=ro"

    def _open(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.uri, uri=True, check_same_thread=False, isolation_level=None,
                                   timeout=self.timeout)
            conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        except sqlite3.OperationalError:  # e.g. no -shm yet and a directory we may not write: plain + query_only
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=self.timeout)
        conn.execute("PRAGMA query_only=1")
        conn.execute(f"PRAGMA cache_size=-{int(self.cache_kib)}")
        self.opened += 1
        return conn

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._closed:
                raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
            generation, conn = self._idle.pop() if self._idle else (self._generation, None)
        if conn is None:
            conn = self._open()
        try:
            yield conn
        finally:
            with self._lock:
                keep = not self._closed and generation == self._generation and len(self._idle) < self.keep
                if keep:
                    self._idle.append((generation, conn))
            if not keep:
                conn.close()

    def recycle(self) -> None:
        """Close the idle connections, and the lent ones when they come back (after new statistics:
        a connection loads them when it opens)."""
        with self._lock:
            self._generation += 1
            idle, self._idle = self._idle, []
        for _, conn in idle:
            conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for _, conn in idle:
            conn.close()


class _Reading(abc.ABC):
    """The read helpers (``query``, ``query_rows``, ``scalar``) over :meth:`_read_connection`."""

    #: "sqlite" or "postgresql": the few queries that differ (row estimates, statistics) ask this
    backend: str = "sqlite"

    @abc.abstractmethod
    def _read_connection(self):
        """A context manager lending a connection to read on."""

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[dict]:
        with self._read_connection() as conn:
            cursor = conn.execute(sql, tuple(params))
            try:
                names = [d[0] for d in cursor.description]
                return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            finally:
                cursor.close()

    def query_rows(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        with self._read_connection() as conn:
            cursor = conn.execute(sql, tuple(params))
            try:
                return cursor.fetchall()
            finally:
                cursor.close()

    def scalar(self, sql: str, params: Iterable[Any] = ()) -> Any:
        with self._read_connection() as conn:
            cursor = conn.execute(sql, tuple(params))
            try:
                row = cursor.fetchone()
            finally:
                cursor.close()
            return row[0] if row else None

    def count_capped(self, table: str, where: str = "", params: Iterable[Any] = (),
                     cap: int = COUNT_CAP) -> tuple[int, bool]:
        """``(count, exact)``: rows of ``table`` matching ``where`` (an SQL clause, may be empty), counted
        up to ``cap``; past it ``(cap + 1, False)`` — the caller estimates (:meth:`estimate_count`)."""
        counted = self.scalar(f"SELECT count(*) FROM (SELECT 1 FROM {table} {where} LIMIT ?) AS capped", [*params, cap + 1])
        return (counted, True) if counted <= cap else (cap + 1, False)

    def estimate_count(self, table: str, equal: dict[str, Any] | None = None, time_column: str | None = None,
                       since: str | None = None, until: str | None = None, sample: int = ESTIMATE_SAMPLE) -> int:
        """An estimate of the rows of ``table`` (an append-only rowid table) with ``column = value`` for
        each of ``equal`` and ``since <= time_column < until`` (ISO 8601 text; either may be None):
        the rows in the time range (counted up to COUNT_CAP, else the range's share of the column's
        span times ``max(rowid)``) times the share of matches among the newest ``sample`` of them (read
        along the time index). Milliseconds at any size; a count past COUNT_CAP is a page count's
        order of magnitude, not an exact figure."""
        equal = {k: v for k, v in (equal or {}).items() if v is not None}
        bounds, bound_params = [], []
        if time_column and since is not None:
            bounds.append(f"{time_column} >= ?")
            bound_params.append(since)
        if time_column and until is not None:
            bounds.append(f"{time_column} < ?")
            bound_params.append(until)
        rows = self.approximate_rows(table)
        if not rows:
            return 0
        if bounds:
            in_range, exact = self.count_capped(table, "WHERE " + " AND ".join(bounds), bound_params)
            if not exact:
                in_range = max(in_range, int(rows * self._range_share(table, time_column, since, until)))
        else:
            in_range = rows
        if not equal or not in_range:
            return in_range
        test = " AND ".join(f"{column} = ?" for column in equal)
        inner = f"SELECT {', '.join(equal)} FROM {table}"
        if bounds:
            inner += " WHERE " + " AND ".join(bounds)
        if time_column:
            inner += f" ORDER BY {time_column} DESC"
        seen, matched = self.query_rows(
            f"SELECT count(*), coalesce(sum(CASE WHEN {test} THEN 1 ELSE 0 END), 0) FROM ({inner} LIMIT ?) AS sample",
            [*equal.values(), *bound_params, sample])[0]
        share = (matched if matched else 0.5) / max(seen, 1)
        return int(round(in_range * share))

    def approximate_rows(self, table: str) -> int:
        """Rows of ``table`` in milliseconds: SQLite's ``max(rowid)`` (append-only tables), PostgreSQL's
        planner estimate (``pg_class.reltuples``, kept by ANALYZE), counted when never analysed."""
        if self.backend == "sqlite":
            return self.scalar(f"SELECT max(rowid) FROM {table}") or 0
        estimate = self.scalar("SELECT reltuples FROM pg_class WHERE oid = to_regclass(?)", [table])
        if estimate is None or estimate < 0:
            return self.scalar(f"SELECT count(*) FROM {table}") or 0
        return int(estimate)

    def _range_share(self, table: str, column: str, lo: str | None, hi: str | None) -> float:
        first = self.scalar(f"SELECT min({column}) FROM {table}")
        last = self.scalar(f"SELECT max({column}) FROM {table}")
        if first is None or last is None:
            return 0.0
        try:
            start, end = _instant(first), _instant(last)
            a = max(start, _instant(lo)) if lo else start
            b = min(end, _instant(hi)) if hi else end
        except ValueError:
            return 1.0
        span = (end - start).total_seconds()
        if span <= 0:
            return 1.0 if a <= b else 0.0
        return max(0.0, min(1.0, (b - a).total_seconds() / span))

    def sequence_ranges(self, site: str, kiosk: str, incarnation: str) -> list[tuple[int, int]]:
        """One kiosk incarnation's stored sequences as sorted, merged ranges: one range query over
        ``received``'s primary key (gaps and islands: ``seq - row_number()`` is constant on a run)."""
        return [(first, last) for first, last in self.query_rows(
            "SELECT min(seq), max(seq) FROM (SELECT seq, seq - row_number() OVER (ORDER BY seq) AS island "
            "FROM received WHERE site = ? AND kiosk = ? AND incarnation = ?) AS runs GROUP BY island ORDER BY 1",
            (site, kiosk, incarnation))]


def _count_prefixes(conn: sqlite3.Connection, table: str, columns: list[str], where: str, cap: int) -> int | None:
    """How many distinct values ``columns`` take (None past ``cap``), walking an index from one value
    to the next (``min(c) WHERE c > ?``: a seek each, never a scan)."""
    base = f" AND ({where})" if where else ""

    def walk(fixed: list[tuple[str, Any]], column: str, budget: int) -> int | None:
        prefix = "".join(f" AND {c} = ?" for c, _ in fixed)
        args = [v for _, v in fixed]
        count = 0
        value = conn.execute(f"SELECT min({column}) FROM {table} WHERE 1{prefix}{base}", args).fetchone()[0]
        while value is not None:
            count += 1
            if count > budget:
                return None
            value = conn.execute(f"SELECT min({column}) FROM {table} WHERE {column} > ?{prefix}{base}",
                                 [value, *args]).fetchone()[0]
        return count

    if len(columns) == 1:
        return walk([], columns[0], cap)
    total = 0
    first = conn.execute(f"SELECT min({columns[0]}) FROM {table} WHERE 1{base}").fetchone()[0]
    values = []
    while first is not None:
        values.append(first)
        if len(values) > cap:
            return None
        first = conn.execute(f"SELECT min({columns[0]}) FROM {table} WHERE {columns[0]} > ?{base}",
                             [first]).fetchone()[0]
    if len(columns) > 2:
        return None  # deeper prefixes of the record indexes are timestamps: not worth walking
    for value in values:
        found = walk([(columns[0], value)], columns[1], cap - total)
        if found is None:
            return None
        total += found
    return total


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


class ReadOnlyStore(_Reading):
    """The read side of a hub store for another process (the analytics runner): the same ``query``,
    ``query_rows`` and ``scalar`` over read-only connections; it never writes, and has no ``lock``
    or ``conn``. ``ensure_schema`` only notes the name: the hub's process creates the tables."""

    def __init__(self, path: str | Path):
        self.url = database_url(path)
        self.backend = "postgresql" if is_postgres(self.url) else "sqlite"
        self.path = Path(path) if self.backend == "sqlite" else None
        self.readers = (ReadPool(self.path, keep=2) if self.backend == "sqlite"
                        else PgReadPool(make_engine(self.url, read_only=True, pool_size=2)))
        self._extensions: set[str] = set()

    def _read_connection(self):
        return self.readers.connection()

    def ensure_schema(self, name: str, script: str) -> None:
        self._extensions.add(name)

    def close(self) -> None:
        self.readers.close()


class StoredSequences(MutableMapping):
    """``(site, kiosk, incarnation) -> SequenceRanges`` of stored records, loaded per key on first use.

    The ingest's view of what is stored (for acks): a hub with a million records starts without
    reading them; the first ack to a kiosk incarnation loads its ranges with one range query
    (:meth:`Store.sequence_ranges`), less the sequences in ``contested`` (acknowledged by event id
    only). A key with nothing stored loads as empty ranges.
    """

    def __init__(self, store: "_Reading", contested: dict | None = None):
        self.store = store
        self.contested = contested if contested is not None else {}
        self._loaded: dict[tuple[str, str, str], SequenceRanges] = {}
        self._lock = threading.Lock()
        self.loads = 0

    def __getitem__(self, key: tuple[str, str, str]) -> SequenceRanges:
        found = self._loaded.get(key)
        if found is not None:
            return found
        with self._lock:
            found = self._loaded.get(key)
            if found is None:
                found = SequenceRanges(self.store.sequence_ranges(*key))
                for seq in list(self.contested.get(key, {})):
                    found.discard(seq)
                self.loads += 1
                self._loaded[key] = found
            return found

    def __setitem__(self, key: tuple[str, str, str], value: SequenceRanges) -> None:
        with self._lock:
            self._loaded[key] = value

    def __delitem__(self, key: tuple[str, str, str]) -> None:
        with self._lock:
            del self._loaded[key]

    def __iter__(self):  # the keys loaded so far (iterating never reads the whole table)
        return iter(list(self._loaded))

    def __len__(self) -> int:
        return len(self._loaded)

    def __contains__(self, key: object) -> bool:  # anything stored for this key (loads it)
        return isinstance(key, tuple) and len(key) == 3 and bool(self[key].ranges)

    def loaded(self) -> dict[tuple[str, str, str], SequenceRanges]:
        """The keys loaded so far (what ``dict(...)`` of the old eager mapping held, for these keys)."""
        return dict(self._loaded)


class Store(_Reading):
    """One SQLite file in WAL mode, or one PostgreSQL database. One writer connection, used under
    ``lock`` for writes only (the ingest's batches, module writes that read-then-write in one
    transaction); the read helpers ``query``/``query_rows``/``scalar`` use pooled read-only connections
    (:class:`ReadPool`, or :class:`hub.db.dbapi.PgReadPool`), so a long read never delays a commit and a
    commit never waits for a read. A thread that holds ``lock`` reads on the writer connection (it sees
    its own uncommitted writes). ``lock`` serialises this process only: on PostgreSQL several hub workers
    write at once, each in its own transactions (see hub.evidence for the one place that needs more)."""

    def __init__(self, path: str | Path, synchronous: str = "FULL", *, trust_on_first_use: bool = False,
                 dead_letters: DeadLetterPolicy | None = None):
        """``path``: a SQLite file (the embedded default) or a ``postgresql://`` URL (``storage.url``).
        The schema is brought to the newest revision first (:func:`hub.db.migrate.upgrade`)."""
        self.url = database_url(path)
        self.backend = "postgresql" if is_postgres(self.url) else "sqlite"
        #: what another process opens this store by (ReadOnlyStore): the SQLite path or the URL
        self.target = str(path) if self.backend == "sqlite" else self.url
        self.lock = threading.RLock()
        self.path: Path | None = None
        self.db = None  # sqlite_utils.Database over the writer connection (SQLite only)
        if self.backend == "sqlite":
            self.path = Path(path)
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.revision = migrate.upgrade(path, synchronous=synchronous)
        if self.backend == "sqlite":
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            self.db = sqlite_utils.Database(conn)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute(f"PRAGMA synchronous={synchronous}")
            self.readers = ReadPool(self.path)
        else:
            self._engine = make_engine(self.url, pool_size=1)
            self._writer: PgConnection | None = None
            self.readers = PgReadPool(make_engine(self.url, read_only=True, pool_size=8))
        self.trust_on_first_use = trust_on_first_use
        self.dead_letter_policy = dead_letters or DeadLetterPolicy()
        self._extensions: set[str] = set()
        self._stored_since_analyze = 0
        #: telemetry points of a batch, written as packed chunks at its end (hub.db.telemetry_points)
        self.telemetry = TelemetryWriter()
        #: (site, kiosk) -> signing key, as read by the exams of the batch being committed (commit_batch)
        self._chain_keys: dict[tuple[str, str], str | None] = {}
        self._verdicts: evidence.Verdicts | None = None  # the batch's signatures checked beforehand, if any
        self.statistics = self.refresh_statistics()

    # ------------------------------------------------------------------ indexes and statistics

    def refresh_statistics(self) -> dict[str, str]:
        """Keep the planner's statistics (``sqlite_stat1``) current for the record tables: below
        SEED_BELOW_ROWS rows the shape of a large hub (SEEDED_STATISTICS), above it measured on a read
        connection — row counts by ``max(rowid)``, the values of few-valued index columns (site, kiosk,
        outcome, exam type, zone, quantity) counted by skip-scan — and written in one short
        transaction. Milliseconds at a million exams, and never the write lock while measuring: a
        plain ``ANALYZE`` would scan every index inside a write transaction (seconds of stalled ingest
        at ten million telemetry rows), and a sampled one (``analysis_limit``) mis-measures columns
        like the outcome by the sample size. Runs at start and every ANALYZE_EVERY_RECORDS stored
        records; returns ``{table: "measured" | "seeded"}`` ({} if it failed: statistics are an
        optimisation, never an error)."""
        if self.backend == "postgresql":
            return self._analyze()
        done: dict[str, str] = {}
        try:
            with self.readers.connection() as reader:
                planned = {table: self._table_statistics(reader, table) for table in SEEDED_STATISTICS}
            with self.lock:
                conn = self.conn
                with immediate_transaction(conn):
                    conn.execute("ANALYZE sqlite_schema")  # creates sqlite_stat1 if missing
                    for table, (kind, stats) in planned.items():
                        conn.execute("DELETE FROM sqlite_stat1 WHERE tbl = ?", (table,))
                        conn.executemany("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?,?,?)",
                                         [(table, index, stat) for index, stat in stats.items()])
                        done[table] = kind
                conn.execute("ANALYZE sqlite_schema")  # this connection loads the new statistics
                self._stored_since_analyze = 0
            self.readers.recycle()  # and read connections opened from now on
        except sqlite3.Error as error:
            log.warning("refreshing the query planner's statistics failed: %s", error)
            return {}
        return done

    def _analyze(self) -> dict[str, str]:
        """PostgreSQL: ``ANALYZE`` the record tables (a sample per table, taking no lock that stalls
        inserts); autovacuum keeps them current as well."""
        try:
            with self.lock:
                for table in SEEDED_STATISTICS:
                    self.conn.execute(f"ANALYZE {table}")
                self._stored_since_analyze = 0
        except Exception as error:  # noqa: BLE001 — statistics are an optimisation, never an error
            log.warning("refreshing the query planner's statistics failed: %s", error)
            return {}
        return {table: "measured" for table in SEEDED_STATISTICS}

    @staticmethod
    def _table_statistics(conn: sqlite3.Connection, table: str) -> tuple[str, dict[str, str]]:
        seeds = SEEDED_STATISTICS[table]
        indexes = {name: sql for name, sql in conn.execute(
            "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = ?", (table,))}
        rows = conn.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0] or 0
        if rows < SEED_BELOW_ROWS:
            return "seeded", {name: stat for name, stat in seeds.items() if name in indexes}
        out = {}
        for name, sql in indexes.items():
            columns = [row[0] for row in conn.execute(
                "SELECT name FROM pragma_index_info(?) ORDER BY seqno", (name,))]
            if not columns or None in columns:
                continue
            where = ""
            if sql and " WHERE " in sql.upper():  # a partial index: count its own rows (through it)
                where = sql[sql.upper().rindex(" WHERE ") + 7:]
                size = conn.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0]
            else:
                size = rows
            seeded = [int(n) for n in seeds.get(name, "").split()[1:]]
            per_prefix = []
            for depth in range(1, len(columns) + 1):
                distinct = _count_prefixes(conn, table, columns[:depth], where, DISTINCT_CAP)
                if distinct is None:  # too many values to count: the seeded figure, else "about unique"
                    guess = seeded[depth - 1] if len(seeded) >= depth else 1
                    per_prefix.append(max(1, min(guess, per_prefix[-1] if per_prefix else size)))
                    per_prefix.extend(max(1, min(seeded[d] if len(seeded) > d else 1, per_prefix[-1]))
                                      for d in range(depth, len(columns)))
                    break
                per_prefix.append(max(1, -(-size // max(distinct, 1))))
            out[name] = " ".join(str(n) for n in [max(size, 1), *per_prefix])
        return "measured", out

    def _note_stored(self, count: int) -> None:
        """After a commit: refresh the statistics every ANALYZE_EVERY_RECORDS stored records."""
        self._stored_since_analyze += count
        if self._stored_since_analyze >= ANALYZE_EVERY_RECORDS:
            self.refresh_statistics()

    # ------------------------------------------------------------------ read connections

    def _owns_lock(self) -> bool:
        is_owned = getattr(self.lock, "_is_owned", None)
        return bool(is_owned and is_owned())

    @contextmanager
    def _read_connection(self) -> Iterator[sqlite3.Connection]:
        if self._owns_lock():  # inside a writer's transaction: read what it wrote, on its connection
            yield self.conn
            return
        with self.readers.connection() as conn:
            yield conn

    def read_connection(self):
        """A read-only connection for a longer read (``with store.read_connection() as conn:``);
        the writer is never blocked by it. Hold it no longer than needed: a WAL reader keeps the
        pages of its snapshot from being checkpointed."""
        return self._read_connection()

    def sequence_map(self, contested: dict | None = None) -> StoredSequences:
        """The lazily loaded per-incarnation sequence ranges the ingest acknowledges from."""
        return StoredSequences(self, contested)

    def ensure_schema(self, name: str, script: str) -> None:
        """Create a module's own tables (``CREATE … IF NOT EXISTS`` script) once per store.

        Modules that keep their own tables on the hub's database (medic decisions, risk-group
        assessments, analytics results) call this before touching them.
        """
        if name in self._extensions:
            return
        if self.backend != "sqlite":  # the script mapped to PostgreSQL (hub.db.ddl), one worker at a time
            translated = sqlite_script_to_postgresql(name, script)
            with self.lock:
                conn = self.conn
                with immediate_transaction(conn):
                    conn.execute("SELECT pg_advisory_xact_lock(?)", (migrate.MIGRATION_LOCK,))
                    conn.raw.execute(translated)  # a script of statements, no parameters
            self._extensions.add(name)
            return
        with self.lock:
            before = self._record_indexes()
            self.conn.executescript(script)
            self._extensions.add(name)
            added = self._record_indexes() - before
        if added:  # a module indexed a record table: give its index statistics like the others
            self.refresh_statistics()

    def _record_indexes(self) -> set[str]:
        return {row[0] for row in self.conn.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name IN (%s)"
            % ",".join("?" * len(SEEDED_STATISTICS)), tuple(SEEDED_STATISTICS))}

    def register_key(self, site: str, kiosk: str, public_key: str, source: str = "config") -> None:
        """Register (or, from config, replace) a kiosk's signing key."""
        with self.lock:
            self.conn.execute(
                "INSERT INTO kiosk_keys VALUES (?,?,?,?,?) ON CONFLICT(site, kiosk) DO UPDATE SET "
                "public_key = excluded.public_key, source = excluded.source, added_at = excluded.added_at",
                (site, kiosk, public_key, source, utc_now()),
            )

    @property
    def conn(self):
        """The writer connection (``sqlite3.Connection`` or :class:`PgConnection`); use it under ``lock``.
        On PostgreSQL a connection the server dropped is replaced at the next use."""
        if self.backend == "sqlite":
            return self.db.conn
        writer = self._writer
        if writer is None or writer.closed:
            if writer is not None:
                writer.discard()
            fairy = self._engine.raw_connection()
            writer = self._writer = PgConnection(fairy.driver_connection, release=fairy.close,
                                                 discard=fairy.invalidate)
        return writer

    def close(self) -> None:
        self.readers.close()
        with self.lock:
            if self.backend == "sqlite":
                self.conn.close()
                return
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            self._engine.dispose()

    # ------------------------------------------------------------------ writing

    def commit_batch(
        self,
        envelopes: Iterable[tuple[Envelope, str] | tuple[Envelope, str, dict]],
        dead_letters: Iterable[Sequence],
        verdicts: evidence.Verdicts | None = None,
    ) -> BatchResult:
        """Store valid records idempotently and dead letters, in one durable transaction.

        ``envelopes``: (envelope, received_at[, body as received]); the body as received is what the
        evidence chain and the content hash are computed over. ``dead_letters``: (topic, payload,
        reason[, code]). A record whose identity (site, kiosk, incarnation, seq) or event id is
        already stored with other content is a *conflict*: it is kept whole in ``conflicts`` for an
        admin (never stored as, or acknowledged as, the other record). ``verdicts``: the exams' signatures
        as a :class:`hub.evidence.SignaturePool` checked them (the same results, computed beforehand).
        """
        result = BatchResult()
        with self.lock:
            conn = self.conn
            self.telemetry.begin()
            self._chain_keys = {}  # kiosk keys read by this batch's exams (hub.evidence.verify_and_link)
            self._verdicts = verdicts
            with immediate_transaction(conn):
                for envelope, received_at, *raw in envelopes:
                    result.touch(envelope)
                    if envelope.kind == "status":
                        self._store_status(envelope, received_at)
                        continue
                    outcome = self._store_record(envelope, received_at, raw[0] if raw else None)
                    if outcome == "stored":
                        result.stored.append(envelope)
                        result.confirm(envelope)
                    elif outcome == "duplicate":
                        result.duplicates += 1
                        result.confirm(envelope)
                    else:
                        code, reason = outcome
                        result.conflicts.append((code, reason))
                        if self._quarantine(envelope, received_at, raw[0] if raw else None, code, reason):
                            result.contested.append((envelope.site, envelope.kiosk, envelope.incarnation_key,
                                                     envelope.seq, str(envelope.event_id)))
                            result.confirm(envelope)  # kept whole under its own identity
                        else:
                            result.dead_lettered += 1
                for topic_name, payload, reason, *code in dead_letters:
                    self._dead_letter(topic_name, payload, reason, code[0] if code else "other")
                    result.dead_lettered += 1
                if result.dead_lettered:
                    self._rotate_dead_letters()
                self.telemetry.flush(conn)
            self.telemetry.committed()
            if result.stored:  # committed; statistics are refreshed now and then (never fails the batch)
                self._note_stored(len(result.stored))
        return result

    def _store_record(self, env: Envelope, received_at: str, raw_body: dict | None) -> str | tuple[str, str]:
        """Store one record: "stored", "duplicate", or (code, reason) of a conflict."""
        conn = self.conn
        event_id = str(env.event_id)
        incarnation = env.incarnation_key
        digest = content_hash(env, raw_body)
        inserted = conn.execute(
            "INSERT INTO received (site, kiosk, incarnation, seq, event_id, kind, received_at, content_hash) "
            "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
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
        if env.kind == "telemetry":  # staged; written as packed chunks when the batch ends (Store.telemetry)
            self.telemetry.add(env.site, env.kiosk, body.readings)
            return "stored"
        body_json = body.model_dump_json()
        kiosk_ts = env.ts.isoformat()
        if env.kind == "exam":
            chain_status = evidence.verify_and_link(conn, env.site, env.kiosk, event_id,
                                                    raw_body if raw_body is not None else body.model_dump(mode="json"),
                                                    incarnation, keys=self._chain_keys, verdicts=self._verdicts)
            # the measurements as json.loads(body_json) gives them, for the typed columns (exam_row): read off
            # the model that wrote body_json instead of parsing the text again
            readings = {"measurements": [{"field": m.field, "value": m.value, "attempt": m.attempt}
                                         for m in body.measurements]}
            conn.execute(INSERT_EXAM, exam_row(  # the body kept once, compressed (hub.db.exam_body)
                (event_id, env.site, env.kiosk, env.seq, body.exam_id, body.worker_id, body.exam_type,
                 body.started_at.isoformat(), body.finished_at.isoformat(), body.outcome, body.rule_set_version,
                 int(env.historical), kiosk_ts, received_at, chain_status, incarnation), body_json, readings))
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
            self._chain_keys.pop((env.site, env.kiosk), None)  # the batch's later exams read the new key
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
            "ON CONFLICT(code) DO UPDATE SET messages = dead_letter_totals.messages + 1, "
            "bytes = dead_letter_totals.bytes + excluded.bytes, "
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
            with immediate_transaction(conn):
                flagged = evidence.flag_gaps(conn, received_before)
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
        """Every kiosk incarnation's stored sequences as sorted, merged ranges. Reads all of ``received``
        (seconds at a million records): the ingest loads per key on demand instead (:meth:`sequence_map`)."""
        ranges: dict[tuple[str, str, str], list[tuple[int, int]]] = {}
        with self.read_connection() as conn:
            rows = conn.execute(
                "SELECT site, kiosk, incarnation, seq FROM received ORDER BY site, kiosk, incarnation, seq")
            for site, kiosk, incarnation, seq in rows:
                current = ranges.setdefault((site, kiosk, incarnation), [])
                if current and current[-1][1] == seq - 1:
                    current[-1] = (current[-1][0], seq)
                else:
                    current.append((seq, seq))
        return ranges

    def contested_sequences(self, key: tuple[str, str, str] | None = None
                            ) -> dict[tuple[str, str, str], dict[int, set[str]]]:
        """Sequences held with more than one record: every event id the hub holds for each (of every
        kiosk incarnation, or of the one ``key`` (site, kiosk, incarnation))."""
        contested: dict[tuple[str, str, str], dict[int, set[str]]] = {}
        where = " WHERE c.site = ? AND c.kiosk = ? AND c.incarnation = ?" if key else ""
        rows = self.query_rows(
            "SELECT c.site, c.kiosk, c.incarnation, c.seq, c.event_id, r.event_id FROM conflicts c "
            "LEFT JOIN received r ON r.site = c.site AND r.kiosk = c.kiosk AND r.incarnation = c.incarnation "
            "AND r.seq = c.seq" + where, key or ())
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

    # query, query_rows, scalar, count_capped, estimate_count: see _Reading (read-only connections)

    def audit(self, actor: str, role: str, action: str, subject: str, detail: dict | None = None) -> None:
        """Write one audit row (every read of an individual medical record, 323-FZ art. 13)."""
        with self.lock:
            self.conn.execute(
                "INSERT INTO audit_log (ts, actor, role, action, subject, detail) VALUES (?,?,?,?,?,?)",
                (utc_now(), actor, role, action, subject, json.dumps(detail or {}, ensure_ascii=False)),
            )
