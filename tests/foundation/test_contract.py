"""The wire contract: what is accepted, and the reason given for what is not."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridges.contract import (
    Ack,
    ContractError,
    encode_envelope,
    make_envelope,
    parse_topic,
    parse_uplink,
    topic,
)
from tests.foundation.helpers import exam_body

TOPIC = "ohs/v1/plant-1/kiosk-01/exam"


def envelope_dict(**changes):
    data = json.loads(make_envelope("plant-1", "kiosk-01", "exam", exam_body(), 7).to_json())
    data.update(changes)
    return data


def test_round_trip_keeps_every_field():
    env = make_envelope("plant-1", "kiosk-01", "exam", exam_body(), 7, historical=True)
    back = parse_uplink(TOPIC, env.to_json())
    assert back.model_dump() == env.model_dump()
    assert back.seq == 7 and back.historical is True and back.body.outcome == "admitted"


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b"{", "payload is not JSON"),
        (b"\xff\xfe", "payload is not UTF-8"),
        (b"[]", "payload must be a JSON object"),
        (json.dumps(envelope_dict(schema=2)).encode(), "unknown schema version 2"),
        (json.dumps(envelope_dict(seq="seven")).encode(), "invalid exam message: seq"),
        (json.dumps(envelope_dict(seq=0)).encode(), "invalid exam message: seq"),
        (json.dumps(envelope_dict(event_id="not-a-uuid")).encode(), "event_id"),
        (json.dumps(envelope_dict(ts="2026-01-01T00:00:00")).encode(), "ts"),
        (json.dumps(envelope_dict(kiosk="kiosk-02")).encode(), "envelope says plant-1/kiosk-02/exam"),
        (json.dumps(envelope_dict(surprise=1)).encode(), "surprise"),
    ],
)
def test_rejections_name_the_problem(payload, reason):
    with pytest.raises(ContractError) as caught:
        parse_uplink(TOPIC, payload)
    assert reason in caught.value.reason


def test_refusal_without_reasons_is_rejected():
    body = exam_body(outcome="not_admitted")
    body["fired"] = []
    with pytest.raises(ContractError, match="must list the rules that fired"):
        parse_uplink(TOPIC, json.dumps(envelope_dict(body=body)).encode())


def test_oversized_is_rejected_before_parsing():
    with pytest.raises(ContractError, match="oversized payload: 300001 bytes"):
        parse_uplink(TOPIC, b" " * 300_001)


def test_status_has_no_sequence_and_records_need_one():
    status = make_envelope("plant-1", "kiosk-01", "status", {"state": "online"}, None)
    assert parse_uplink("ohs/v1/plant-1/kiosk-01/status", status.to_json()).seq is None
    with pytest.raises(ContractError, match="needs a sequence number"):
        parse_uplink(TOPIC, json.dumps(envelope_dict(seq=None)).encode())


def test_topics():
    assert topic("plant-1", "kiosk-01", "ack") == "ohs/v1/plant-1/kiosk-01/ack"
    assert parse_topic("ohs/v1/a/b/telemetry") == ("a", "b", "telemetry")
    for bad in ("ohs/v1/A/b/exam", "ohs/v2/a/b/exam", "ohs/v1/a/b/other", "ohs/v1/a/exam"):
        with pytest.raises(ContractError):
            parse_topic(bad)
    with pytest.raises(ContractError):
        topic("Plant 1", "k", "exam")


def test_ack_covers():
    ack = Ack(site="s", kiosk="k", through_seq=10, ranges=[(15, 20)], ts="2026-01-01T00:00:00Z")
    assert ack.covers(1) and ack.covers(10) and ack.covers(15) and ack.covers(20)
    assert not ack.covers(11) and not ack.covers(21)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_only_ever_raise_contract_error(data):
    try:
        parse_uplink(TOPIC, data)
    except ContractError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
                    max_leaves=20))
def test_arbitrary_json_bodies_only_ever_raise_contract_error(body):
    payload = json.dumps(envelope_dict(body=body, event_id=str(uuid.uuid4()))).encode()
    try:
        parse_uplink(TOPIC, payload)
    except ContractError:
        pass


def test_encode_envelope_matches_make_envelope():
    """The kiosk's fast path (body already validated and stored as JSON) parses to the same envelope."""
    body = make_envelope("plant-1", "kiosk-01", "exam", exam_body(), 3).body.model_dump(mode="json")
    event_id = str(uuid.uuid4())
    reference = make_envelope("plant-1", "kiosk-01", "exam", body, 3, event_id=event_id,
                              ts=datetime.fromisoformat("2026-11-24T05:00:00+00:00"), historical=True)
    fast = encode_envelope("plant-1", "kiosk-01", "exam", 3, event_id, "2026-11-24T05:00:00+00:00", True,
                           json.dumps(body, ensure_ascii=False, separators=(",", ":")))
    assert parse_uplink(TOPIC, fast).model_dump() == reference.model_dump()
