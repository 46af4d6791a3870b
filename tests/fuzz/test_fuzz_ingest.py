"""Property tests one level up from the parser: the hub's ingest and store.

* ``Ingest.process`` on a batch mixing valid envelopes and garbage stores every valid one,
  dead-letters each bad one on its own, and PUBACKs every message.
* Whatever ``parse_uplink_raw`` accepts, ``Store.commit_batch`` stores without raising.

The ingest runs with a real :class:`hub.store.Store` on a SQLite file in a temporary
directory and a stand-in MQTT client object (:class:`RecordingClient`) that only records
the ``ack()`` and ``publish()`` calls the ingest makes after a commit: there is no broker
and no network here; ``Ingest.start()`` (which would connect) is never called.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import tempfile
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from firmware_bridges import evidence
from firmware_bridges.contract import ContractError, parse_uplink_raw
from hub.config import HubConfig
from hub.ingest import Incoming, Ingest
from hub.store import Store, utc_now
from tests.fuzz.strategies import dumps, envelopes, mutated_envelopes, open_field_mutations, own_topic


class RecordingClient:
    """Stands in for the paho client inside ``Ingest.process``: it records ``ack`` (PUBACK to the
    broker) and ``publish`` (the ``ack`` message to a kiosk) and sends nothing anywhere."""

    def __init__(self) -> None:
        self.acks: list[tuple[int, int]] = []
        self.published: list[tuple[str, object, int]] = []

    def ack(self, mid: int, qos: int) -> None:
        self.acks.append((mid, qos))

    def publish(self, topic: str, payload=None, qos: int = 0, retain: bool = False, properties=None):
        self.published.append((topic, payload, qos))


def make_ingest(directory: Path) -> tuple[Ingest, Store, RecordingClient]:
    config = HubConfig.model_validate({"storage": {"path": str(directory / "hub.db")}})
    store = Store(config.storage.path, synchronous="OFF")
    ingest = Ingest(config, store)
    ingest.client = client = RecordingClient()
    return ingest, store, client


def incoming(ingest: Ingest, topic: str, payload: bytes, mid: int) -> Incoming:
    values = {"topic": topic, "payload": payload, "mid": mid, "qos": 1, "generation": ingest._generation,
              "received_at": utc_now()}
    return Incoming(**{f.name: values[f.name] for f in dataclasses.fields(Incoming) if f.name in values})


# --------------------------------------------------------------------------- garbage that is bad by construction


def _splice(envelope: dict, path: tuple, fragment: str) -> bytes:
    """``envelope`` with the value at ``path`` replaced by raw JSON text."""
    sentinel = "\u0000splice\u0000"
    target = envelope
    for step in path[:-1]:
        target = target.setdefault(step, {})
    target[path[-1]] = sentinel
    text = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
    return text.replace(json.dumps(sentinel), fragment, 1).encode("utf-8", "surrogatepass")


@st.composite
def bad_messages(draw) -> tuple[str, bytes]:
    """(topic, payload) that the contract refuses, or should refuse (see test_fuzz_contract)."""
    envelope = draw(envelopes(("exam", "telemetry", "event")))
    # ids apart from the valid messages' (see _unique), so a bad message the contract lets
    # through cannot turn a valid one into a sequence or event-id conflict
    number = draw(st.integers(10**6, 10**9))
    envelope["event_id"] = str(uuid.UUID(int=number, version=4))
    envelope["seq"] = number
    topic = own_topic(envelope)
    how = draw(st.sampled_from([
        "not_json", "not_object", "deep", "huge_int", "nan", "kind_unhashable", "surrogate", "schema",
        "foreign_topic", "topic_newline", "no_seq",
    ]))
    if how == "not_json":
        return topic, b"\xff" + draw(st.binary(max_size=64))
    if how == "not_object":
        return topic, json.dumps(draw(st.lists(st.integers(), max_size=3))).encode()
    if how == "deep":
        depth = draw(st.integers(300, 20_000))
        return topic, _splice(envelope, ("body", "zz"), "[" * depth + "]" * depth)
    if how == "huge_int":
        return topic, _splice(envelope, ("body", "zz"), "9" * draw(st.integers(4301, 9000)))
    if how == "nan":
        token = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999"]))
        return topic, _splice(envelope, ("body", "zz"), token)
    if how == "kind_unhashable":
        return topic, _splice(envelope, ("kind",), draw(st.sampled_from(["[]", "{}", '["event"]'])))
    if how == "surrogate":
        return topic, _splice(envelope, ("body", "zz"), draw(st.sampled_from(['"\\ud800"', '{"a":"\\udfff"}'])))
    if how == "schema":
        return topic, _splice(envelope, ("schema",), draw(st.sampled_from(["2", "0", '"1"', "null", "1.5"])))
    if how == "foreign_topic":
        return f"ohs/v1/{envelope['site']}/{envelope['kiosk']}x/{envelope['kind']}", dumps(envelope)
    if how == "topic_newline":
        return topic + "\n", dumps(envelope)
    return topic, _splice(envelope, ("seq",), draw(st.sampled_from(["null", "0", "-1", str(2**63), '"x"', "[]"])))


def _unique(valid: list[dict]) -> list[dict]:
    """Distinct sequences and event ids, so every valid record must be stored."""
    for number, envelope in enumerate(valid, 1):
        envelope["event_id"] = str(uuid.UUID(int=number, version=4))
        if envelope["kind"] != "status":
            envelope["seq"] = number
    return valid


def _dead_letters_match(rows: list[tuple[str, bytes]], bad: list[tuple[str, bytes]]) -> bool:
    """Each bad message has its own dead-letter row (payload kept whole or truncated)."""
    free = list(rows)
    for topic, payload in bad:
        for i, (row_topic, row_payload) in enumerate(free):
            if row_topic == topic and payload.startswith(row_payload) and (row_payload or not payload):
                del free[i]
                break
        else:
            return False
    return not free


# Each example opens its own store, so shrinking a failure is slow: failures are reported
# unshrunk (the bad messages are listed in the assertion message).
@settings(max_examples=40, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(st.lists(envelopes(), min_size=1, max_size=5).map(_unique), st.lists(bad_messages(), min_size=1, max_size=5),
       st.randoms(use_true_random=False))
def test_batch_of_valid_and_garbage(valid, bad, rnd):
    messages = [(own_topic(e), dumps(e), e) for e in valid] + [(topic, payload, None) for topic, payload in bad]
    rnd.shuffle(messages)
    with tempfile.TemporaryDirectory() as directory:
        ingest, store, client = make_ingest(Path(directory))
        try:
            batch = [incoming(ingest, topic, payload, mid) for mid, (topic, payload, _) in enumerate(messages, 1)]
            ingest.process(batch)

            for envelope in valid:
                if envelope["kind"] == "status":
                    assert store.scalar("SELECT count(*) FROM kiosks WHERE site = ? AND kiosk = ?",
                                        (envelope["site"], envelope["kiosk"])) == 1
                else:
                    assert store.scalar("SELECT count(*) FROM received WHERE event_id = ?",
                                        (envelope["event_id"],)) == 1, f"valid {envelope['kind']} not stored"
            rows = [(r["topic"], bytes(r["payload"])) for r in store.query("SELECT topic, payload FROM dead_letters")]
            assert _dead_letters_match(rows, bad), (
                f"{len(bad)} bad messages, {len(rows)} dead letters: {[(t, p[:60]) for t, p in bad]}"
            )
            assert sorted(mid for mid, _ in client.acks) == list(range(1, len(messages) + 1)), "every message PUBACKed"
        finally:
            store.close()


@pytest.fixture
def store(tmp_path):
    opened = Store(tmp_path / "hub.db", synchronous="OFF")
    yield opened
    opened.close()


def commit(store: Store, topic: str, payload: bytes) -> None:
    """Parse; what the parser accepts must be stored without an exception."""
    try:
        envelope, raw_body = parse_uplink_raw(topic, payload)
    except ContractError:
        return
    store.commit_batch([(envelope, utc_now(), raw_body)], [])


@settings(max_examples=250, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.large_base_example])
@given(st.one_of(mutated_envelopes(), open_field_mutations(), envelopes().map(lambda e: (own_topic(e), dumps(e)))))
def test_whatever_the_parser_accepts_the_store_stores(store, case):
    commit(store, *case)  # one store for all examples: redeliveries and seq conflicts happen too


# --------------------------------------------------------------------------- found by fuzzing

EVENT = ('{{"schema":1,"site":"plant-1","kiosk":"kiosk-01","seq":{seq},"event_id":"{event_id}",'
         '"ts":"2025-03-14T05:58:12+00:00","historical":false,"kind":"{kind}","body":{body}}}')


@pytest.mark.parametrize(
    "kind, body",
    [
        pytest.param("event", '{"type":"x","details":{"a":"\\ud800"}}', id="surrogate-in-event-details"),
        pytest.param("event", '{"type":"x","zz":"\\udfff"}', id="surrogate-in-extra-field"),
        pytest.param("status", '{"state":"online","devices":{"a":{"b":"\\ud800"}}}', id="surrogate-in-status-devices"),
        pytest.param("telemetry", '{"readings":[{"sensor_id":"s","zone":"z","ts":"2025-03-14T05:58:12+00:00",'
                                  '"values":{"\\ud800":1.0}}]}', id="surrogate-key-in-telemetry-values"),
    ],
)
def test_found_accepted_envelopes_the_store_cannot_write(store, kind, body):
    """Lone surrogates (JSON ``\\ud800`` escapes) pass the contract inside ``Any`` fields and
    dict keys; ``Store.commit_batch`` then raises PydanticSerializationError / UnicodeEncodeError."""
    seq = "null" if kind == "status" else "7"
    payload = EVENT.format(seq=seq, event_id="00000000-0000-4000-8000-000000000007", kind=kind, body=body).encode()
    commit(store, f"ohs/v1/plant-1/kiosk-01/{kind}", payload)


def test_found_sealed_exam_with_chain_index_beyond_sqlite_integer(tmp_path):
    """``ChainSeal.index`` has no upper bound: a correctly signed exam with ``chain.index`` =
    2**63 - 1 (the kiosk's key registered, here by trust on first use) makes
    ``Store.commit_batch`` raise OverflowError ("Python int too large to convert to SQLite
    INTEGER") from ``hub.evidence.verify_and_link`` (``index + 1`` / ``index`` bound into SQL)."""
    store = Store(tmp_path / "hub.db", synchronous="OFF", trust_on_first_use=True)
    try:
        key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
        public = base64.b64encode(key.public_key().public_bytes_raw()).decode()
        status = EVENT.format(seq="null", event_id="00000000-0000-4000-8000-000000000001", kind="status",
                              body=json.dumps({"state": "online", "public_key": public}))
        commit(store, "ohs/v1/plant-1/kiosk-01/status", status.encode())
        body = {
            "exam_id": "e-1", "worker_id": "W00001", "exam_type": "pre_shift",
            "started_at": "2025-03-14T05:57:12+00:00", "finished_at": "2025-03-14T05:58:12+00:00",
            "outcome": "admitted", "rule_set_version": "test-1",
        }
        for index in (2**63 - 1, 2**63):
            sealed = evidence.seal(body, index, "0" * 64, key)
            payload = EVENT.format(seq=index % 1000, event_id=str(uuid.UUID(int=index % 1000, version=4)),
                                   kind="exam", body=json.dumps(sealed))
            commit(store, "ohs/v1/plant-1/kiosk-01/exam", payload.encode())
    finally:
        store.close()


@pytest.mark.parametrize("index", [2**63 - 1, 2**63, 2**64])
def test_found_unsigned_exam_with_chain_index_beyond_sqlite_integer(store, index):
    """Found by bench/fuzz_ingest.py: no key needed. An exam whose seal does not verify (here
    ``sig`` "x", no key registered) still has its claimed ``chain.index`` written to the
    chain table, and ``index + 1`` (2**63 for 2**63 - 1) or the index itself does not fit a
    SQLite INTEGER: ``Store.commit_batch`` raises OverflowError."""
    payload = (
        b'{"schema":1,"site":"plant-1","kiosk":"kiosk-01","seq":1,"event_id":"00000000-0000-4000-8000-000000000001",'
        b'"ts":"2025-03-14T05:58:12+00:00","kind":"exam","body":{"exam_id":"e-1","worker_id":"W00001",'
        b'"exam_type":"pre_shift","started_at":"2025-03-14T05:57:12+00:00","finished_at":"2025-03-14T05:58:12+00:00",'
        b'"outcome":"admitted","rule_set_version":"test-1","chain":{"index":%d,'
        b'"prev":"0000000000000000000000000000000000000000000000000000000000000000",'
        b'"hash":"0000000000000000000000000000000000000000000000000000000000000000","sig":"x"}}}' % index
    )
    commit(store, "ohs/v1/plant-1/kiosk-01/exam", payload)


def test_found_surrogate_public_key_with_trust_on_first_use(tmp_path):
    """Found by bench/fuzz_ingest.py: ``StatusBody.public_key`` takes a lone surrogate; with trust on
    first use the store then writes it to ``kiosk_keys`` and raises UnicodeEncodeError."""
    store = Store(tmp_path / "hub.db", synchronous="OFF", trust_on_first_use=True)
    try:
        commit(store, "ohs/v1/plant-1/kiosk-01/status",
               b'{"schema":1,"site":"plant-1","kiosk":"kiosk-01","seq":null,'
               b'"event_id":"00000000-0000-4000-8000-000000000006","ts":"2025-03-14T02:58:18Z","kind":"status",'
               b'"body":{"state":"online","public_key":"\\udfff"}}')
    finally:
        store.close()
