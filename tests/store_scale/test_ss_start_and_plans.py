"""A hub start reads none of ``received`` (sequence ranges load per kiosk incarnation on first use),
and every filter of GET /api/v1/exams is answered through an index, never a scan of ``exams``."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from firmware_bridges.contract import make_envelope
from hub.analytics import sources
from hub.analytics.period import Period
from hub.api import create_app
from hub.ingest import Ingest
from hub.store import SEED_BELOW_ROWS, ReadPool, Store
from tests.store_scale.ss_helpers import OHS, T0, bulk_exams, commit_exams, exam_body, hub_config

FILTERS = [{}, {"site": "plant-2"}, {"kiosk": "kiosk-2-1"}, {"worker_id": "W0042"}, {"outcome": "admitted"},
           {"outcome": "needs_medic"}, {"exam_type": "post_shift"}, {"since": "2026-03-20T00:00:00+00:00"},
           {"since": "2026-03-10T00:00:00+00:00", "until": "2026-03-20T00:00:00+00:00"},
           {"site": "plant-2", "outcome": "not_admitted"}, {"kiosk": "kiosk-2-1", "outcome": "needs_medic"},
           {"site": "plant-3", "since": "2026-03-10T00:00:00+00:00", "until": "2026-03-20T00:00:00+00:00"},
           {"outcome": "needs_medic", "since": "2026-03-10T00:00:00+00:00"},
           {"worker_id": "W0042", "since": "2026-03-10T00:00:00+00:00"}, {"exam_type": "post_shift", "site": "plant-1"},
           {"site": "plant-2", "order": "asc"}, {"site": "plant-2", "offset": 500}]


@pytest.fixture
def traced(monkeypatch):
    """Every SQL statement run on any connection the store opens (bound values expanded)."""
    statements: list[str] = []
    real_connect = sqlite3.connect

    def connect(*args, **kwargs):
        conn = real_connect(*args, **kwargs)
        conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr(sqlite3, "connect", connect)
    return statements


def plans(path, statements: list[str], table: str) -> dict[str, list[str]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    out = {}
    for sql in statements:
        head = sql.lstrip().upper()
        if (head.startswith("SELECT") or head.startswith("WITH")) and f" {table}" in sql.lower():
            out[sql] = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]
    conn.close()
    return out


def table_scans(found: dict[str, list[str]], table: str) -> dict[str, list[str]]:
    return {sql: [p for p in plan if p.startswith(f"SCAN {table}") and "INDEX" not in p]
            for sql, plan in found.items() if any(p.startswith(f"SCAN {table}") and "INDEX" not in p for p in plan)}


def test_start_does_not_read_received(tmp_path, traced, monkeypatch):
    path = tmp_path / "hub.db"
    store = Store(path)
    bulk_exams(store, 4000)
    commit_exams(store, [*range(1, 40), *range(45, 60)], kiosk="kiosk-9", incarnation="inc-a")
    store.close()
    eager = Store(path)
    expected = eager.stored_sequences()
    eager.close()
    assert sum(len(r) for r in expected.values()) > 12

    traced.clear()
    monkeypatch.setattr(Store, "stored_sequences", lambda self: pytest.fail("the start loaded every sequence"))
    store = Store(path)
    ingest = Ingest(hub_config(path), store)
    try:
        at_start = list(traced)
        assert ingest.sequences.loads == 0 and len(ingest.sequences) == 0
        assert not [s for s in at_start if "from received" in s.lower() and "conflicts" not in s.lower()], \
            "nothing but the (small) conflicts join touches received at start"
        scans = table_scans(plans(path, at_start, "received"), "received")
        assert not scans, f"the start scans received: {scans}"
        # the ack for one kiosk incarnation loads its ranges, and only those, with one range query
        traced.clear()
        key = ("plant-1", "kiosk-9", "inc-a")
        assert ingest.sequences[key].ranges == [list(r) for r in expected[key]] == [[1, 39], [45, 59]]
        assert ingest.sequences.loads == 1
        loading = [s for s in traced if "from received" in s.lower()]
        assert len(loading) == 1 and "row_number()" in loading[0].lower()
        assert not table_scans(plans(path, loading, "received"), "received"), "the range query seeks its key"
        for other, ranges in expected.items():
            assert ingest.sequences[other].ranges == [list(r) for r in ranges]
        assert ingest.sequences[("plant-1", "nobody", "")].ranges == []
    finally:
        store.close()


def test_lazy_ranges_leave_out_contested_sequences(tmp_path):
    path = tmp_path / "hub.db"
    store = Store(path)
    commit_exams(store, range(1, 11), kiosk="kiosk-c")
    clash = make_envelope("plant-1", "kiosk-c", "exam", exam_body("W9", T0), 5)  # another record under seq 5
    result = store.commit_batch([(clash, T0.isoformat())], [])
    assert result.contested and not result.stored
    store.close()
    store = Store(path)
    try:
        ingest = Ingest(hub_config(path), store)
        key = ("plant-1", "kiosk-c", "")
        assert 5 in ingest.contested[key]
        assert ingest.sequences[key].ranges == [[1, 4], [6, 10]], "a contested sequence is acked by event id only"
        assert key in ingest.sequences and ("plant-1", "nobody", "") not in ingest.sequences
    finally:
        store.close()


@pytest.mark.parametrize("rows", [3000, SEED_BELOW_ROWS + 5000], ids=["seeded-statistics", "measured-statistics"])
def test_every_exams_filter_uses_an_index(tmp_path, traced, rows):
    path = tmp_path / "hub.db"
    store = Store(path, synchronous="NORMAL")
    bulk_exams(store, rows)
    assert store.refresh_statistics()["exams"] == ("seeded" if rows < SEED_BELOW_ROWS else "measured")
    app = create_app(hub_config(path), store)
    try:
        with TestClient(app) as client:
            for params in FILTERS:
                traced.clear()
                response = client.get("/api/v1/exams", params=params, headers=OHS)
                assert response.status_code == 200, (params, response.text)
                found = plans(path, list(traced), "exams")
                assert len(found) >= 2, f"a page and a count for {params}: {list(found)}"
                assert not table_scans(found, "exams"), (params, table_scans(found, "exams"))
            # the medic queue keeps its partial index under these statistics
            from hub import medic
            medic.ensure_schema(store)
            queue = store.query_rows("EXPLAIN QUERY PLAN SELECT event_id FROM exams e WHERE e.outcome IN "
                                     "('needs_medic', 'not_admitted') ORDER BY e.finished_at")
            assert any("exams_medic_queue" in row[3] for row in queue), queue
            # the analyses' telemetry and exam queries seek their indexes too
            traced.clear()
            period = Period(T0.date(), (T0 + timedelta(days=20)).date(), __import__("zoneinfo").ZoneInfo("UTC"))
            sources.telemetry(store, period, ("noise_dba",))
            sources.exams(store, period, site="plant-1")
            assert not table_scans(plans(path, list(traced), "telemetry"), "telemetry")
            assert not table_scans(plans(path, list(traced), "exams"), "exams")
    finally:
        store.close()


def test_statistics_need_no_write_lock_while_measuring(tmp_path, monkeypatch):
    """The measuring reads run on a read connection; the writer lock is taken only to write them."""
    store = Store(tmp_path / "hub.db")
    try:
        bulk_exams(store, SEED_BELOW_ROWS + 100)
        held_while_reading = []
        real = Store._table_statistics

        def spy(conn, table):
            held_while_reading.append(store._owns_lock())
            return real(conn, table)

        monkeypatch.setattr(Store, "_table_statistics", staticmethod(spy))
        assert store.refresh_statistics() == {"exams": "measured", "events": "seeded"}  # telemetry: chunks need none
        assert held_while_reading == [False, False]
        stat = dict(store.query_rows("SELECT idx, stat FROM sqlite_stat1 WHERE tbl = 'exams'"))
        rows, per_site = (int(n) for n in stat["exams_by_site_time"].split()[:2])
        assert rows == SEED_BELOW_ROWS + 100 and per_site == -(-rows // 4), "4 sites, counted"
        assert int(stat["exams_by_outcome_time"].split()[1]) == -(-rows // 3), "3 outcomes, counted"
    finally:
        store.close()


def test_read_pool_opens_read_only_uri(tmp_path):
    store = Store(tmp_path / "odd name %.db")
    try:
        commit_exams(store, [1])
        pool = ReadPool(store.path)
        with pool.connection() as conn:
            assert conn.execute("SELECT count(*) FROM exams").fetchone()[0] == 1
            with pytest.raises(sqlite3.OperationalError):
                conn.execute("DELETE FROM exams")
        pool.close()
    finally:
        store.close()
