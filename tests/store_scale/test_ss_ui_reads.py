"""The dashboard's and the tablet's counting reads (migration 0004) give what the plain definitions give.

``/api/v1/stats/exams``, the journal's ``final_outcome`` filter, the medic queue and ``GET /api/v1/kiosks``
read through ``exams.medic_decision`` (the newest medic decision, written with it), its partial indexes and
``received_tally`` (kept by triggers on ``received``). Each test compares them with the definitions they
replace — the newest row of ``medic_decisions`` per exam, ``NOT EXISTS`` a decision, ``count(*)`` of
``received`` — on real stores of both back ends, also while exams arrive during decisions.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import defaultdict
from datetime import date, timedelta

import pytest

from firmware_bridges.contract import make_envelope
from hub import final_outcome, medic
from hub.api.routes_stats import OUTCOMES, count_outcomes
from hub.db import migrate
from hub.db.exam_body import INSERT_EXAM, exam_row
from hub.fleet import stored_records
from hub.store import Store
from tests.store_scale.ss_helpers import T0, bulk_exams, commit_exams, exam_body

#: the final outcome straight from the decisions (what hub.final_outcome reads off exams.medic_decision)
FINAL_FROM_DECISIONS = ("COALESCE((SELECT d.decision FROM medic_decisions d WHERE d.event_id = exams.event_id "
                        "ORDER BY d.id DESC LIMIT 1), exams.outcome)")

def _reference_cells(store: Store, first: date, last: date) -> dict:
    """(day, kiosk) → final outcome → exams, straight from the definition (``FINAL_OUTCOME_SQL``)."""
    cells: dict = defaultdict(lambda: dict.fromkeys(OUTCOMES, 0))
    for row in store.query(
            f"SELECT substr(finished_at, 1, 10) AS day, kiosk, {FINAL_FROM_DECISIONS} AS final FROM exams "
            "WHERE finished_at >= ? AND finished_at < ?", [first.isoformat(), (last + timedelta(days=1)).isoformat()]):
        if row["final"] in OUTCOMES:
            cells[(row["day"], row["kiosk"])][row["final"]] += 1
    return dict(cells)


def _check_reads(store: Store) -> None:
    first, last = (T0 - timedelta(days=1)).date(), (T0 + timedelta(days=8)).date()
    assert dict(count_outcomes(store, first, last)) == _reference_cells(store, first, last)
    for kiosk in ("kiosk-1-1", "kiosk-01"):
        got = dict(count_outcomes(store, first, last, kiosk=kiosk))
        assert got == {k: v for k, v in _reference_cells(store, first, last).items() if k[1] == kiosk}
    for outcome in OUTCOMES:
        by_definition = store.query_rows(
            f"SELECT event_id FROM exams WHERE {FINAL_FROM_DECISIONS} = ? ORDER BY event_id", [outcome])
        filtered = store.query_rows(f"SELECT event_id FROM exams WHERE {final_outcome.FINAL_FILTER_SQL} "
                                    "ORDER BY event_id", final_outcome.filter_params(outcome))
        assert filtered == by_definition, outcome
    waiting = [r[0] for r in store.query_rows(
        "SELECT e.event_id FROM exams e WHERE e.outcome IN ('needs_medic', 'not_admitted') AND NOT EXISTS "
        "(SELECT 1 FROM medic_decisions d WHERE d.event_id = e.event_id) ORDER BY e.finished_at, e.seq")]
    assert [r["event_id"] for r in medic.review_queue(store, limit=10_000)] == waiting
    assert medic.queue_size(store) == len(waiting)
    counted = {(r["site"], r["kiosk"]): r for r in store.query(
        "SELECT site, kiosk, count(*) AS records, max(seq) AS max_seq FROM received GROUP BY site, kiosk")}
    assert stored_records(store) == counted
    assert store.scalar(  # the column is the newest decision of every exam, and NULL where there is none
        "SELECT count(*) FROM exams e WHERE coalesce(e.medic_decision, '-') <> coalesce((SELECT d.decision FROM "
        "medic_decisions d WHERE d.event_id = e.event_id ORDER BY d.id DESC LIMIT 1), '-')") == 0


def _decide(store: Store, event_id: str, decision: str, **kw) -> dict:
    return medic.record_decision(store, event_id, medic="Петрова А. В.", role="medic", decision=decision, **kw)


def test_counts_filters_and_queue_follow_the_decisions(hub_store_url):
    store = Store(hub_store_url)
    try:
        medic.ensure_schema(store)
        bulk_exams(store, 600)
        _check_reads(store)  # nothing decided yet: every held exam waits
        held = [r[0] for r in store.query_rows(
            "SELECT event_id FROM exams WHERE outcome IN ('needs_medic', 'not_admitted') ORDER BY event_id")]
        admitted = store.scalar("SELECT event_id FROM exams WHERE outcome = 'admitted' ORDER BY event_id LIMIT 1")
        assert len(held) > 20
        for i, event_id in enumerate(held[:15]):
            _decide(store, event_id, "admitted" if i % 3 == 0 else "not_admitted",
                    reason="осмотр / examined" if i % 3 == 0 else None)
        first = _decide(store, held[15], "not_admitted")
        _decide(store, held[15], "admitted", supersedes=first["decision_id"], reason="пересмотр / reviewed")
        _decide(store, admitted, "not_admitted", reason="жалобы / complaints")  # a medic overrides an admission
        _check_reads(store)
        with pytest.raises(medic.MedicError):  # a refused decision leaves the exam's column as it was
            _decide(store, held[0], "not_admitted")
        _check_reads(store)
    finally:
        store.close()


def test_a_decision_recorded_while_exams_arrive(hub_store_url):
    store = Store(hub_store_url)
    try:
        medic.ensure_schema(store)
        commit_exams(store, range(1, 41), kiosk="kiosk-01")
        held = []
        for seq in range(41, 61):  # held exams to decide on, through the ingest's path
            when = T0 + timedelta(minutes=seq)
            env = make_envelope("plant-1", "kiosk-01", "exam", exam_body(f"W{seq}", when, "needs_medic"), seq)
            store.commit_batch([(env, when.isoformat())], [])
            held.append(str(env.event_id))
        errors: list[BaseException] = []

        def arrive() -> None:
            try:
                for start in range(100, 400, 20):
                    commit_exams(store, range(start, start + 20), kiosk="kiosk-02")
            except BaseException as error:  # reported by the main thread
                errors.append(error)

        thread = threading.Thread(target=arrive)
        thread.start()
        for i, event_id in enumerate(held):
            _decide(store, event_id, "admitted" if i % 2 else "not_admitted")
        thread.join()
        assert not errors
        assert store.scalar("SELECT count(*) FROM exams WHERE kiosk = 'kiosk-02'") == 300
        _check_reads(store)
    finally:
        store.close()


def test_a_hub_at_0003_gets_its_decisions_and_record_counts_on_upgrade(tmp_path):
    """SQLite (rows written with sqlite3 at 0003); the upgrade's SQL is the same on PostgreSQL."""
    path = tmp_path / "hub.db"
    migrate.upgrade(path, revision="0003")
    conn = sqlite3.connect(path)
    conn.executescript(medic.SCHEMA)
    rows = []
    for seq, outcome in enumerate(("admitted", "needs_medic", "not_admitted", "needs_medic"), start=1):
        body = exam_body(f"W{seq}", T0 + timedelta(minutes=seq), outcome)
        event_id = f"00000000-0000-4000-8000-00000000000{seq}"
        rows.append(event_id)
        conn.execute("INSERT INTO received VALUES (?,?,?,?,?,?,?,?)",
                     ("plant-1", "kiosk-01", "", seq, event_id, "exam", T0.isoformat(), "0" * 64))
        conn.execute(INSERT_EXAM, exam_row((event_id, "plant-1", "kiosk-01", seq, body["exam_id"], body["worker_id"],
                                            "pre_shift", body["started_at"], body["finished_at"], outcome, "test", 0,
                                            T0.isoformat(), T0.isoformat(), "unsigned", ""), json.dumps(body)))
    for i, (event_id, decision) in enumerate(((rows[1], "not_admitted"), (rows[1], "admitted"), (rows[2], "admitted"))):
        conn.execute("INSERT INTO medic_decisions (decision_id, event_id, site, kiosk, exam_id, worker_id, kiosk_outcome, "
                     "decision, notify_employer, medic, decided_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                     (f"d-{i}", event_id, "plant-1", "kiosk-01", "x", "w", "needs_medic", decision, 0, "m",
                      T0.isoformat()))
    conn.commit()
    conn.close()
    store = Store(path)
    try:
        assert store.revision == migrate.head()
        assert store.query_rows("SELECT event_id, medic_decision FROM exams ORDER BY seq") == [
            (rows[0], None), (rows[1], "admitted"), (rows[2], "admitted"), (rows[3], None)]
        assert stored_records(store) == {("plant-1", "kiosk-01"): {"site": "plant-1", "kiosk": "kiosk-01",
                                                                   "records": 4, "max_seq": 4}}
        assert [r["event_id"] for r in medic.review_queue(store)] == [rows[3]]
        _check_reads(store)
    finally:
        store.close()
