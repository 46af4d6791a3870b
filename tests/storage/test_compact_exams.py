"""Exams at rest since revision 0002 (issue 11): the body kept once, compressed, read back exactly; the
typed measurement columns the analytics read; rows written by revision 0001 converted in batches on
both back ends, with the indexes (0001's and a module's) made again."""

from __future__ import annotations

import importlib.util
import json

import pytest
import sqlalchemy as sa

from firmware_bridges.contract import make_envelope
from hub.db import make_engine, migrate
from hub.db.baseline import metadata as baseline_metadata
from hub.db.exam_body import (
    DEFLATE_1,
    PLAIN,
    StoredBodyError,
    decode_body,
    decode_body_text,
    encode_body,
    last_values,
)
from hub.store import Store, utc_now
from tests.foundation.helpers import exam_body

SITE, KIOSK = "plant-1", "kiosk-01"
MIGRATION = migrate.SCRIPTS / "versions" / "0002_compact_exams.py"


def _measurement(field: str, value, attempt: int = 1, **extra) -> dict:
    return {"field": field, "value": value, "attempt": attempt, "taken_at": "2026-03-02T07:46:00+00:00", **extra}


def _exam(seq: int, **body):
    return make_envelope(SITE, KIOSK, "exam", {**exam_body(f"W{seq:05d}"), **body}, seq, incarnation="inc-a")


def test_a_body_is_stored_smaller_and_read_back_exactly():
    text = _exam(1).body.model_dump_json()
    stored = encode_body(text)
    assert stored[0] == DEFLATE_1 and len(stored) < len(text) / 2
    assert decode_body_text(stored) == text and decode_body(memoryview(stored)) == json.loads(text)
    incompressible = json.dumps({"x": bytes(range(256)).hex()[::7] + "ЖЁ"}, ensure_ascii=False)
    odd = encode_body(incompressible)
    assert decode_body_text(odd) == incompressible and odd[0] in (PLAIN, DEFLATE_1)
    assert decode_body_text(bytes((PLAIN,)) + "{}".encode()) == "{}"


@pytest.mark.parametrize("stored, why", [(b"", "empty"), (b"\x07abc", "unknown codec 7"),
                                         (lambda: encode_body('{"a": "' + "x" * 500 + '"}')[:-3], "cut short"),
                                         (b"\x01\xff\xff\xff", "cannot be read")])
def test_a_damaged_stored_body_is_a_clear_error(stored, why):
    with pytest.raises(StoredBodyError, match=why):
        decode_body_text(stored() if callable(stored) else stored)


def test_the_measurement_columns_hold_the_last_valid_attempt():
    body = {"measurements": [
        _measurement("temperature_c", 37.6), _measurement("temperature_c", 36.7, attempt=2),  # re-test wins
        _measurement("systolic_mmhg", 150), _measurement("systolic_mmhg", None, attempt=2, invalid_reason="cuff"),
        _measurement("pulse_bpm", 74, attempt=2), _measurement("pulse_bpm", 90),  # ordered by attempt
        _measurement("mean_arterial_mmhg", 93.0)]}
    assert last_values(body) == {"temperature_c": 36.7, "brac_mg_l": None, "systolic_mmhg": 150.0,
                                 "diastolic_mmhg": None, "pulse_bpm": 74.0, "spo2_percent": None}
    assert last_values({}) == dict.fromkeys(last_values(body))


def test_the_store_keeps_the_body_once_and_the_typed_columns(hub_store_url):
    store = Store(hub_store_url)
    try:
        env = _exam(1, measurements=[_measurement("temperature_c", 37.4), _measurement("temperature_c", 36.6, 2),
                                     _measurement("brac_mg_l", 0.0)])
        assert len(store.commit_batch([(env, utc_now())], []).stored) == 1
        (row,) = store.query("SELECT temperature_c, brac_mg_l, pulse_bpm, body_z FROM exams")
        assert decode_body_text(row.pop("body_z")) == env.body.model_dump_json()
        assert row == {"temperature_c": 36.6, "brac_mg_l": 0.0, "pulse_bpm": None}
        columns = {c["name"] for c in sa.inspect(sa.create_engine(store.url)).get_columns("exams")} \
            if store.backend == "postgresql" else {r[1] for r in store.query_rows("PRAGMA table_info(exams)")}
        assert "body" not in columns and "body_z" in columns
    finally:
        store.close()


def _load_migration():
    spec = importlib.util.spec_from_file_location("migration_0002", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows_0001(n: int) -> list[dict]:
    rows = []
    for seq in range(1, n + 1):
        env = _exam(seq, measurements=[_measurement("systolic_mmhg", 120 + seq), _measurement("spo2_percent", 97)])
        body = env.body
        rows.append({"event_id": str(env.event_id), "site": SITE, "kiosk": KIOSK, "seq": seq, "exam_id": body.exam_id,
                     "worker_id": body.worker_id, "exam_type": body.exam_type,
                     "started_at": body.started_at.isoformat(), "finished_at": body.finished_at.isoformat(),
                     "outcome": body.outcome, "rule_set_version": body.rule_set_version, "historical": seq % 2,
                     "kiosk_ts": env.ts.isoformat(), "received_at": utc_now(), "body": body.model_dump_json(),
                     "chain_status": "unsigned", "incarnation": "inc-a"})
    return rows


def test_revision_0002_converts_the_exams_of_0001_in_batches(hub_store_url):
    assert migrate.upgrade(hub_store_url, revision="0001") == "0001"
    rows = _rows_0001(7)
    engine = make_engine(hub_store_url)
    try:
        with engine.begin() as conn:
            conn.execute(baseline_metadata.tables["exams"].insert(), rows)
            conn.exec_driver_sql("CREATE INDEX exams_module_index ON exams (worker_id)")  # a hub module's own
        migration = _load_migration()
        with engine.begin() as conn:  # the copy alone, in batches of 3, into a table of 0002's layout
            scratch = migration._exams_0002("exams_scratch")
            scratch.create(conn)
            assert migration.convert(conn, baseline_metadata.tables["exams"], scratch, batch=3) == 7
            assert conn.execute(sa.select(sa.func.count()).select_from(scratch)).scalar() == 7
            scratch.drop(conn)
    finally:
        engine.dispose()

    assert migrate.upgrade(hub_store_url, revision="0002") == "0002"
    engine = make_engine(hub_store_url)
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            assert "body" not in {c["name"] for c in inspector.get_columns("exams")}
            indexes = {ix["name"] for ix in inspector.get_indexes("exams")}
            assert {ix.name for ix in baseline_metadata.tables["exams"].indexes} | {"exams_module_index"} <= indexes
            assert "exams_scratch" not in inspector.get_table_names()
            stored = conn.exec_driver_sql(
                "SELECT event_id, seq, historical, received_at, systolic_mmhg, spo2_percent, temperature_c, body_z "
                "FROM exams ORDER BY seq").all()
    finally:
        engine.dispose()
    assert [(r.event_id, r.seq, r.historical, r.received_at) for r in stored] == \
        [(r["event_id"], r["seq"], r["historical"], r["received_at"]) for r in rows]
    assert [decode_body_text(r.body_z) for r in stored] == [r["body"] for r in rows]
    assert [(r.systolic_mmhg, r.spo2_percent, r.temperature_c) for r in stored] == \
        [(120.0 + seq, 97.0, None) for seq in range(1, 8)]

    store = Store(hub_store_url)  # the converted rows are served and the next exams stored as usual
    try:
        assert store.scalar("SELECT count(*) FROM exams") == 7
        assert len(store.commit_batch([(_exam(8), utc_now())], []).stored) == 1
        assert store.query_rows("SELECT worker_id FROM exams WHERE seq = 8") == [("W00008",)]
    finally:
        store.close()


def test_a_stored_body_that_is_not_json_is_converted_as_it_is(hub_store_url, caplog):
    assert migrate.upgrade(hub_store_url, revision="0001") == "0001"
    (row,) = _rows_0001(1)
    row["body"] = '{"exam_id": "x", "measurements": [{"field": "temperature_c", "val'  # cut short on disk
    engine = make_engine(hub_store_url)
    try:
        with engine.begin() as conn:
            conn.execute(baseline_metadata.tables["exams"].insert(), [row])
    finally:
        engine.dispose()
    with caplog.at_level("WARNING", logger="hub.db"):
        assert migrate.upgrade(hub_store_url, revision="0002") == "0002"
    assert f"exam {row['event_id']}: its stored body is not JSON" in caplog.text
    engine = make_engine(hub_store_url)
    try:
        with engine.connect() as conn:
            (stored,) = conn.exec_driver_sql("SELECT temperature_c, body_z FROM exams").all()
    finally:
        engine.dispose()
    assert stored.temperature_c is None and decode_body_text(stored.body_z) == row["body"]
