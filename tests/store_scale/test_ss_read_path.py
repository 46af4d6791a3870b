"""Readers never block the writer: the read helpers use read-only WAL connections, the writer
connection and its lock serve writes only, and a commit is visible to the next read."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from hub.store import Store
from tests.store_scale.ss_helpers import commit_exams


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "hub.db", synchronous="FULL")
    yield s
    s.close()


def test_a_long_read_does_not_block_commit_batch(store):
    """A slow read (an analytics query, simulated: 0.25 s per row inside one statement) holds its read
    transaction for seconds; commits go through meanwhile, and the reader keeps its snapshot."""
    commit_exams(store, range(1, 9))
    started, done = threading.Event(), threading.Event()
    seen: list = []

    def nap(value):
        started.set()
        time.sleep(0.25)
        return value

    def slow_reader():
        with store.read_connection() as conn:
            conn.create_function("nap", 1, nap)
            seen.extend(conn.execute("SELECT nap(seq) FROM exams ORDER BY seq").fetchall())
            conn.create_function("nap", 1, None)
        done.set()

    reader = threading.Thread(target=slow_reader)
    reader.start()
    assert started.wait(5), "the slow read must be running"
    latencies = []
    for seq in range(9, 13):
        began = time.monotonic()
        commit_exams(store, [seq])
        latencies.append(time.monotonic() - began)
        assert store.scalar("SELECT count(*) FROM exams") == seq, "a read right after a commit sees it"
    assert not done.is_set(), "the commits finished while the slow read was still running"
    reader.join(10)
    assert max(latencies) < 0.5, f"commit_batch waited for a reader: {latencies}"
    assert len(seen) == 8, "the reader's statement keeps the snapshot it started with"


def test_a_slow_store_query_does_not_hold_the_store_lock(store):
    """``store.query`` itself (what every API route and analysis calls) runs without the writer lock."""
    commit_exams(store, range(1, 4))
    result: list = []
    slow = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 4000000) "
            "SELECT count(*) AS n FROM c")
    reader = threading.Thread(target=lambda: result.extend(store.query(slow)))
    began = time.monotonic()
    reader.start()
    time.sleep(0.05)
    lock_waits = []
    while reader.is_alive():
        t = time.monotonic()
        assert store.lock.acquire(timeout=5)
        store.lock.release()
        lock_waits.append(time.monotonic() - t)
        commit_exams(store, [len(lock_waits) + 3])
        time.sleep(0.02)
    query_s = time.monotonic() - began
    assert result == [{"n": 4000000}]
    assert lock_waits, f"the query finished too fast ({query_s:.2f} s) to observe"
    assert max(lock_waits) < 0.2, f"the store lock was held by a reader: {max(lock_waits):.2f} s"


def test_read_helpers_are_read_only_and_use_their_own_connections(store):
    commit_exams(store, [1])
    with pytest.raises(sqlite3.OperationalError, match="readonly|read-only|query_only"):
        store.query("DELETE FROM exams")
    with pytest.raises(sqlite3.OperationalError):
        store.scalar("INSERT INTO audit_log (ts, actor, role, action, subject) VALUES ('t','a','r','x','y')")
    assert store.scalar("SELECT count(*) FROM exams") == 1
    with store.readers.connection() as conn:
        assert conn is not store.conn
        assert conn.execute("PRAGMA query_only").fetchone()[0] == 1


def test_a_thread_holding_the_lock_reads_its_own_uncommitted_writes(store):
    """Modules that read-then-write in one transaction under ``store.lock`` keep the writer connection."""
    commit_exams(store, [1])
    other: list = []
    with store.lock:
        store.conn.execute("BEGIN IMMEDIATE")
        store.conn.execute("UPDATE exams SET outcome = 'needs_medic'")
        assert store.scalar("SELECT outcome FROM exams") == "needs_medic"  # inside the transaction
        outsider = threading.Thread(target=lambda: other.append(store.scalar("SELECT outcome FROM exams")))
        outsider.start()
        outsider.join(5)
        assert other == ["admitted"], "another thread reads committed data only, without waiting for the lock"
        store.conn.execute("ROLLBACK")
    assert store.scalar("SELECT outcome FROM exams") == "admitted"


def test_read_connections_are_pooled_and_closed_with_the_store(tmp_path):
    store = Store(tmp_path / "hub.db")
    commit_exams(store, [1, 2])
    threads = [threading.Thread(target=lambda: [store.scalar("SELECT count(*) FROM exams") for _ in range(50)])
               for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.readers.opened <= 6 + 2, "connections are reused, not opened per query"
    store.close()
    with pytest.raises(sqlite3.ProgrammingError):
        store.scalar("SELECT 1")
