"""Property tests of the hub's wire parser (``parse_uplink_raw``): whatever arrives, the only
exception is :class:`ContractError` with a reason; what it accepts arrived on its own topic
and survives re-serialisation; a valid envelope round-trips.

The literal inputs at the end are what the fuzzers found (see ``bench/fuzz_ingest.py``).
"""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_bridges.contract import ContractError, parse_uplink_raw
from tests.fuzz.strategies import (
    FRAGMENTS,
    HOSTILE_TREES,
    JSON_VALUES,
    TOPICS,
    dumps,
    envelopes,
    mutated_envelopes,
    open_field_mutations,
    own_topic,
)

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


def parse(topic: str, payload: bytes):
    """The parser's answer: (envelope, raw body), or None when it refused with a reason.

    Any exception other than ContractError propagates and fails the test.
    """
    try:
        return parse_uplink_raw(topic, payload)
    except ContractError as error:
        assert isinstance(error.reason, str) and error.reason.strip(), f"empty reason for {payload[:80]!r}"
        return None


def check_accepted(topic: str, result) -> None:
    """What the parser accepts arrived on its own topic and re-serialises to itself."""
    if result is None:
        return
    envelope, raw_body = result
    assert topic == f"ohs/v1/{envelope.site}/{envelope.kiosk}/{envelope.kind}", "accepted on a topic not its own"
    assert isinstance(raw_body, dict)
    again, _ = parse_uplink_raw(topic, envelope.to_json())  # the hub re-serialises envelopes (dead letters, API)
    assert again == envelope


# --------------------------------------------------------------------------- properties


@FUZZ
@given(TOPICS, st.binary(max_size=2000))
def test_arbitrary_bytes_on_any_topic(topic, payload):
    check_accepted(topic, parse(topic, payload))


@FUZZ
@given(TOPICS, st.one_of(HOSTILE_TREES, FRAGMENTS).map(lambda text: text.encode("utf-8", "surrogatepass")))
def test_arbitrary_json_text_on_any_topic(topic, payload):
    check_accepted(topic, parse(topic, payload))


_ENVELOPE_KEYS = ["schema", "site", "kiosk", "seq", "event_id", "ts", "historical", "kind", "body", "incarnation"]


@FUZZ
@given(st.data())
def test_arbitrary_json_object_shaped_like_an_envelope(data):
    """Objects with the envelope's keys and any JSON values (so parsing gets past the schema check)."""
    values = data.draw(st.fixed_dictionaries(
        {"schema": st.just(1) | JSON_VALUES},
        optional={key: JSON_VALUES | st.sampled_from(["exam", "status", "plant-1", 1, None, [], {}])
                  for key in _ENVELOPE_KEYS[1:]},
    ))
    topic = data.draw(TOPICS | st.just("ohs/v1/plant-1/kiosk-01/exam"))
    check_accepted(topic, parse(topic, dumps(values)))


@settings(FUZZ, max_examples=400)
@given(mutated_envelopes())
def test_valid_envelope_with_one_field_mutated(case):
    topic, payload = case
    check_accepted(topic, parse(topic, payload))


@FUZZ
@given(open_field_mutations())
def test_hostile_value_or_key_in_an_open_part_of_the_body(case):
    """Details, status devices, extra fields: the places pydantic takes any JSON."""
    topic, payload = case
    check_accepted(topic, parse(topic, payload))


@FUZZ
@given(envelopes(), TOPICS)
def test_valid_payload_on_arbitrary_topic(envelope, topic):
    check_accepted(topic, parse(topic, dumps(envelope)))


@FUZZ
@given(envelopes())
def test_valid_envelope_round_trips(envelope):
    topic = own_topic(envelope)
    result = parse(topic, dumps(envelope))
    assert result is not None, "a valid envelope was refused"
    parsed, raw_body = result
    assert raw_body == envelope["body"]
    assert (parsed.site, parsed.kiosk, parsed.kind, parsed.seq, parsed.historical) == (
        envelope["site"], envelope["kiosk"], envelope["kind"], envelope["seq"], envelope["historical"],
    )
    assert str(parsed.event_id) == envelope["event_id"]
    assert parsed.ts == datetime.fromisoformat(envelope["ts"])
    check_accepted(topic, result)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 120_000), st.sampled_from(["[", '{"a":']))
def test_deep_nesting_anywhere(depth, opener):
    closer = "]" if opener == "[" else "}"
    nested = (opener * depth + ("0" if opener != "[" else "") + closer * depth).encode()
    base = b'{"schema":1,"site":"plant-1","kiosk":"kiosk-01","seq":1,' \
           b'"event_id":"00000000-0000-4000-8000-000000000001","ts":"2025-03-14T05:58:12+00:00",' \
           b'"kind":"event","body":{"type":"x","details":{"d":%s}}}'
    for payload in (nested, base % nested):
        if len(payload) <= 256 * 1024:
            check_accepted("ohs/v1/plant-1/kiosk-01/event", parse("ohs/v1/plant-1/kiosk-01/event", payload))


# --------------------------------------------------------------------------- found by fuzzing

ENVELOPE = (
    '{{"schema":1,"site":"plant-1","kiosk":"kiosk-01","seq":7,"event_id":"00000000-0000-4000-8000-000000000007",'
    '"ts":"2025-03-14T05:58:12+00:00","historical":false,"kind":"{kind}","body":{body}}}'
)
EVENT_TOPIC = "ohs/v1/plant-1/kiosk-01/event"


def event(body: str) -> bytes:
    return ENVELOPE.format(kind="event", body=body).encode()


FOUND = [
    # RecursionError out of json.loads (refused since the contract's nesting-depth bound)
    pytest.param(EVENT_TOPIC, b"[" * 100_000, id="deep-array"),
    pytest.param(EVENT_TOPIC, b'{"a":' * 50_000, id="deep-object"),
    pytest.param(EVENT_TOPIC, event('{"type":"x","details":{"d":' + "[" * 5000 + "]" * 5000 + "}}"), id="deep-in-body"),
    # ValueError("Exceeds the limit (4300 digits) for integer string conversion") out of json.loads
    # (refused since load_json_object turns that ValueError into a ContractError)
    pytest.param(EVENT_TOPIC, b"9" * 5000, id="int-over-4300-digits"),
    pytest.param(EVENT_TOPIC, b'{"schema":1,"x":' + b"9" * 5000 + b"}", id="int-over-4300-digits-in-object"),
    pytest.param(EVENT_TOPIC, event('{"type":"x","details":{"n":' + "9" * 4301 + "}}"), id="int-over-4300-digits-in-body"),
    # TypeError("unhashable type") out of Envelope._body_by_kind (BODY_MODELS.get(kind))
    pytest.param(EVENT_TOPIC, ENVELOPE.replace('"kind":"{kind}"', '"kind":[]').format(body='{"type":"x"}').encode(),
                 id="kind-is-a-list"),
    pytest.param(EVENT_TOPIC, ENVELOPE.replace('"kind":"{kind}"', '"kind":{{}}').format(body='{"type":"x"}').encode(),
                 id="kind-is-an-object"),
]


@pytest.mark.parametrize("topic, payload", FOUND)
def test_found_inputs_raise_only_contract_error(topic, payload):
    check_accepted(topic, parse(topic, payload))


def test_found_topic_with_trailing_newline_is_refused():
    """``_TOPIC_RE`` ends in ``$``, which also matches before a final newline: the envelope of
    plant-1/kiosk-01 is accepted on the topic ``ohs/v1/plant-1/kiosk-01/event\\n``."""
    assert parse(EVENT_TOPIC + "\n", event('{"type":"x"}')) is None


@pytest.mark.parametrize(
    "body",
    [
        pytest.param('{"type":"x","details":{"a":"\\ud800"}}', id="surrogate-in-details"),
        pytest.param('{"type":"x","zz":"\\udfff"}', id="surrogate-in-extra-field"),
        pytest.param('{"type":"x","details":{"a":NaN}}', id="nan-in-details"),
        pytest.param('{"type":"x","details":{"a":[Infinity]}}', id="infinity-in-details"),
        pytest.param('{"type":"x","details":{"a":1e999}}', id="overflow-to-infinity-in-details"),
    ],
)
def test_found_accepted_bodies_that_do_not_reserialise(body):
    """Accepted, but ``Envelope.to_json()`` then fails (lone surrogate: PydanticSerializationError)
    or writes ``null`` for the value (NaN/Infinity inside ``Any`` fields), and the hub's store
    serialises every body with pydantic. Refusing them at the parser is the contract's call."""
    check_accepted(EVENT_TOPIC, parse(EVENT_TOPIC, event(body)))


def test_found_surrogate_key_in_telemetry_values():
    """A lone surrogate as a ``values`` key passes pydantic (keys are not checked like values) and
    then makes ``Store.commit_batch`` raise UnicodeEncodeError; see test_fuzz_ingest for the store."""
    payload = ENVELOPE.format(
        kind="telemetry",
        body='{"readings":[{"sensor_id":"s","zone":"z","ts":"2025-03-14T05:58:12+00:00","values":{"\\ud800":1.0}}]}',
    ).encode()
    result = parse("ohs/v1/plant-1/kiosk-01/telemetry", payload)
    if result is not None:
        envelope, _ = result
        for reading in envelope.body.readings:
            for key in reading.values:
                key.encode("utf-8")  # UnicodeEncodeError: what SQLite's binding raises later

