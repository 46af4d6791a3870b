"""Issue 10, defects 1, 3, 5, 6: one message never stops the others; store faults heal by themselves;
dead letters are capped; NaN and Infinity are refused. Real SQLite files; no broker (see helpers)."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from firmware_bridges.contract import ContractError, parse_uplink_raw
from hub.store import DeadLetterPolicy, Store
from tests.foundation.helpers import exam_body, wait_until
from tests.reliability.helpers import exam_wire, incoming, make_ingest, raw_envelope, store_target

TOPIC = "ohs/v1/plant-1/kiosk-01/exam"


# ---------------------------------------------------------------- defect 1: poison messages


@pytest.mark.parametrize("poison", [
    b"[" * 5000 + b"]" * 5000,
    b'{"a":' * 5000 + b"1" + b"}" * 5000,
    b'{"schema":1,"body":' + b"[" * 100 + b"]" * 100 + b"}",
    b'{"schema": 1, "seq": ' + b"9" * 5000 + b"}",
])
def test_deep_or_huge_json_is_dead_lettered_alone_and_the_batch_is_stored(tmp_path, poison):
    ingest = make_ingest(tmp_path)
    batch = incoming([exam_wire(1), (TOPIC, poison), exam_wire(2)])
    ingest.process(batch)
    assert ingest.store.scalar("SELECT count(*) FROM exams") == 2
    assert ingest.store.scalar("SELECT count(*) FROM dead_letters") == 1
    assert ingest.client.pubacks == [1, 2, 3], "every message of the batch is PUBACKed, the poison too"
    assert ingest.client.acks()[-1].through_seq == 2
    assert ingest.health()["status"] in ("ok", "degraded")  # connected is false here: no broker


def test_parser_raises_only_contract_errors_for_hostile_nesting():
    for payload in (b"[" * 100_000, b'{"a":[' * 20_000, b"{" + b'"x":{' * 3000):
        with pytest.raises(ContractError) as caught:
            parse_uplink_raw(TOPIC, payload)
        assert caught.value.code in ("too_deep", "bad_json")


class _BuggyStore(Store):
    """Fault injection: storing the exam of worker W-BUG raises (a stand-in for any bug that one
    message can trigger deep in the store)."""

    def _store_record(self, env, received_at, raw_body):
        if env.kind == "exam" and env.body.worker_id == "W-BUG":
            raise RecursionError("maximum recursion depth exceeded")
        return super()._store_record(env, received_at, raw_body)


def test_an_exception_while_storing_one_message_dead_letters_that_message_alone(tmp_path):
    ingest = make_ingest(tmp_path, store=_BuggyStore(store_target(tmp_path)))
    ingest.process(incoming([exam_wire(1), exam_wire(2, worker="W-BUG"), exam_wire(3)]))
    assert ingest.store.scalar("SELECT count(*) FROM exams") == 2
    row = ingest.store.query("SELECT code, reason FROM dead_letters")[0]
    assert row["code"] == "internal_error" and "RecursionError" in row["reason"]
    assert ingest.client.pubacks == [1, 2, 3]
    ack = ingest.client.acks()[-1]
    assert ack.covers(1) and ack.covers(3) and not ack.covers(2), "the failed record is never acknowledged"


# ---------------------------------------------------------------- defect 3: store faults


class _FailingStore(Store):
    """Fault injection: the first ``failures`` commits fail as SQLite does on a full disk."""

    def __init__(self, *args, failures: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.failures = failures

    def commit_batch(self, envelopes, dead_letters):
        if self.failures > 0:
            self.failures -= 1
            raise sqlite3.OperationalError("database or disk is full")
        return super().commit_batch(envelopes, dead_letters)


def test_store_faults_are_retried_and_health_reports_them_while_they_last(tmp_path):
    store = _FailingStore(store_target(tmp_path), failures=6)
    ingest = make_ingest(tmp_path, store=store, store_retry_initial_s=0.05, store_retry_max_s=0.2,
                         stall_after_s=0.1)
    ingest._connected.set()
    seen: list[dict] = []
    worker = threading.Thread(target=ingest.process, args=(incoming([exam_wire(1), exam_wire(2)]),))
    worker.start()
    wait_until(lambda: ingest.fault is not None, timeout=5, message="the fault to be reported")
    time.sleep(0.15)
    seen.append(ingest.health())
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert seen[0]["status"] == "degraded"
    codes = {p["code"] for p in seen[0]["problems"]}
    assert "store_fault" in codes and "stalled" in codes
    assert "disk is full" in next(p for p in seen[0]["problems"] if p["code"] == "store_fault")["message"]
    assert ingest.health()["status"] == "ok", "health says ok again once the store accepts commits"
    assert store.scalar("SELECT count(*) FROM exams") == 2
    assert ingest.client.pubacks == [1, 2]
    assert ingest.counters["store_failures"] == 6


# ---------------------------------------------------------------- defect 5: dead letters capped


def test_dead_letters_are_capped_by_rows_and_bytes_and_counted_in_totals(tmp_path):
    store = Store(store_target(tmp_path), dead_letters=DeadLetterPolicy(max_rows=100, max_bytes=200_000,
                                                                    keep_payload_bytes=1000))
    ingest = make_ingest(tmp_path, store=store)
    junk = [(TOPIC, b"{not json " + b"x" * 5000) for _ in range(1000)]
    for start in range(0, 1000, 100):
        ingest.process(incoming(junk[start:start + 100], first_mid=start + 1))
    assert store.scalar("SELECT count(*) FROM dead_letters") <= 100
    assert store.scalar("SELECT max(length(payload)) FROM dead_letters") == 1000
    assert store.scalar("SELECT sum(length(payload)) FROM dead_letters") <= 200_000
    assert store.dead_letter_totals()["bad_json"] == {"messages": 1000, "bytes": 1000 * 5010}
    # the newest are the ones kept
    assert store.scalar("SELECT max(id) FROM dead_letters") == 1000


# ---------------------------------------------------------------- defect 6: NaN and Infinity


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_measurements_are_refused_with_a_reason(tmp_path, value):
    body = exam_body()
    payload = raw_envelope(1, body).replace(b'"value": 36.6', b'"value": ' + value.encode())
    assert value.encode() in payload
    with pytest.raises(ContractError) as caught:
        parse_uplink_raw(TOPIC, payload)
    assert caught.value.code == "not_finite"
    ingest = make_ingest(tmp_path)
    ingest.process(incoming([(TOPIC, payload)]))
    assert ingest.store.scalar("SELECT count(*) FROM exams") == 0
    assert ingest.store.scalar("SELECT code FROM dead_letters") == "not_finite"


def test_non_finite_telemetry_is_refused():
    import json
    import uuid
    from datetime import datetime, timezone
    now = datetime.now(timezone.utc).isoformat()
    envelope = {"schema": 1, "site": "plant-1", "kiosk": "kiosk-01", "seq": 5, "event_id": str(uuid.uuid4()),
                "ts": now, "kind": "telemetry",
                "body": {"readings": [{"sensor_id": "n1", "zone": "press", "ts": now, "values": {"laeq_db": 1.0}}]}}
    payload = json.dumps(envelope).replace('"laeq_db": 1.0', '"laeq_db": NaN').encode()
    with pytest.raises(ContractError) as caught:
        parse_uplink_raw("ohs/v1/plant-1/kiosk-01/telemetry", payload)
    assert caught.value.code == "not_finite"
