"""The store's SQL, written once with ``?`` placeholders, on PostgreSQL (psycopg 3).

The hub's queries are plain SQL that both SQLite and PostgreSQL accept (``INSERT … ON CONFLICT DO
NOTHING``, upserts with ``excluded``, window functions, aliased sub-queries). What differs is the
driver: :class:`PgConnection` gives a psycopg connection the small part of the :mod:`sqlite3`
connection interface the hub uses (``execute``/``executemany`` returning a cursor, ``in_transaction``,
explicit ``BEGIN``/``COMMIT`` in autocommit mode), rewriting ``?`` to ``%s`` once per query text.
Statements are prepared by psycopg after a few uses of the same text.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Iterable

import psycopg
from psycopg.pq import TransactionStatus

#: psycopg's exceptions the ingest treats like sqlite3's (see hub.ingest.is_store_fault)
Error = psycopg.Error


@functools.lru_cache(maxsize=4096)
def translate(sql: str) -> str:
    """``?`` → ``%s`` outside string literals and quoted names, ``%`` → ``%%`` everywhere (psycopg
    reads ``%`` as a placeholder mark); ``BEGIN IMMEDIATE`` (SQLite's write lock) → ``BEGIN``."""
    stripped = sql.strip()
    if stripped.upper() == "BEGIN IMMEDIATE":
        return "BEGIN"
    out, quote = [], None
    for char in sql:
        if quote:
            if char == quote:
                quote = None
            out.append("%%" if char == "%" else char)
        elif char in ("'", '"'):
            quote = char
            out.append(char)
        elif char == "?":
            out.append("%s")
        elif char == "%":
            out.append("%%")
        else:
            out.append(char)
    return "".join(out)


class PgConnection:
    """A psycopg connection in autocommit mode behind the sqlite3-style calls the hub makes.

    ``release`` (give it back to its pool) and ``discard`` (drop it from the pool: the server closed it)
    are the pool's, when the connection came from one."""

    dialect = "postgresql"

    def __init__(self, raw: psycopg.Connection, release=None, discard=None):
        raw.autocommit = True  # transactions are explicit (BEGIN … COMMIT), as with isolation_level=None
        self.raw = raw
        self._release = release
        self._discard = discard

    def execute(self, sql: str, params: Iterable[Any] = ()) -> psycopg.Cursor:
        cursor = self.raw.cursor()
        cursor.execute(translate(sql), tuple(params))
        return cursor

    def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> psycopg.Cursor:
        cursor = self.raw.cursor()
        cursor.executemany(translate(sql), [tuple(row) for row in rows])
        return cursor

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != TransactionStatus.IDLE

    @property
    def closed(self) -> bool:
        return self.raw.closed or self.raw.info.transaction_status == TransactionStatus.UNKNOWN

    def close(self) -> None:
        if self._release is not None:
            self._release()
        else:
            self.raw.close()

    def discard(self) -> None:
        if self._discard is not None:
            self._discard()
        else:
            self.raw.close()


class PgReadPool:
    """Read connections to PostgreSQL (sessions that refuse writes), lent one query at a time from the
    engine's pool: the counterpart of hub.store.ReadPool. Under MVCC a reader never blocks the writer."""

    def __init__(self, engine):
        self.engine = engine
        self._lock = threading.Lock()
        self.opened = 0

    @contextmanager
    def connection(self) -> Iterator[PgConnection]:
        fairy = self.engine.raw_connection()
        with self._lock:
            self.opened += 1
        conn = PgConnection(fairy.driver_connection)
        try:
            yield conn
        except psycopg.OperationalError:
            fairy.invalidate()  # the server dropped it: never lend it again
            raise
        finally:
            if not conn.closed and conn.in_transaction:
                conn.raw.rollback()
            fairy.close()

    def recycle(self) -> None:
        """Nothing to do: PostgreSQL sessions see new planner statistics at once."""

    def close(self) -> None:
        self.engine.dispose()
