"""One way to write a SQLite transaction, for the kiosk's journal and the hub's store.

``BEGIN IMMEDIATE`` takes the write lock up front (no upgrade deadlock between readers that
become writers); the transaction commits when the block ends and rolls back on any exception
— unless SQLite already rolled it back itself (it does on a full disk, SQLITE_FULL), in which
case a second ROLLBACK would raise and hide the real error (issue 10, fault suite scenario c).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def immediate_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``with immediate_transaction(conn): …`` — commit on success, roll back on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
