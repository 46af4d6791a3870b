"""Hypothesis strategies for the fuzz tests: valid kiosk -> hub envelopes of every kind,
JSON text a broken or hostile kiosk could send, and ways to splice that text into an
otherwise valid envelope.

Envelopes are built as plain dicts (what a kiosk serialises), not through the pydantic
models, so the parser sees them exactly as a wire payload. Fields the contract may or may
not have yet (``incarnation``) are only generated when the contract knows them.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

from hypothesis import strategies as st

from firmware_bridges.contract import Envelope

#: ``[a-z0-9-]+`` ids as the contract wants them.
IDS = st.from_regex(r"[a-z0-9-]{1,16}", fullmatch=True)
#: Text a UTF-8 wire can carry (no lone surrogates: they cannot be encoded).
_CHARS = st.characters(blacklist_categories=("Cs",))
TEXT = st.text(_CHARS, max_size=16)
NONEMPTY = st.text(_CHARS, min_size=1, max_size=16)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
_TZS = st.sampled_from(
    [timezone.utc, timezone(timedelta(hours=3)), timezone(timedelta(hours=-9, minutes=-30)), timezone(timedelta(hours=14))]
)
AWARE = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=_TZS)
ISO = AWARE.map(lambda t: t.isoformat())

#: Finite JSON values for the open (``Any``) parts of a body: details, status, extra fields.
JSON_SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | FLOATS | TEXT
JSON_VALUES = st.recursive(
    JSON_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=8
)

MEASURED_FIELDS = ["temperature_c", "systolic_mmhg", "diastolic_mmhg", "mean_arterial_mmhg", "pulse_bpm",
                   "spo2_percent", "brac_mg_l"]
HAS_INCARNATION = "incarnation" in Envelope.model_fields


def _extra(prefix: str = "x_"):
    """Additional body fields (bodies are open: newer kiosks may add fields)."""
    return st.dictionaries(TEXT.map(lambda k: prefix + k), JSON_VALUES, max_size=2)


measurements = st.fixed_dictionaries(
    {"field": st.sampled_from(MEASURED_FIELDS), "value": st.none() | FLOATS, "taken_at": ISO},
    optional={
        "attempt": st.integers(1, 5),
        "invalid_reason": st.none() | TEXT,
        "device_model": st.none() | TEXT,
        "device_serial": st.none() | TEXT,
        "status": st.dictionaries(TEXT, JSON_VALUES, max_size=2),
    },
)
fired_rules = st.fixed_dictionaries({"rule": TEXT, "source": TEXT}, optional={"value": JSON_VALUES})
chain_seals = st.fixed_dictionaries(
    {
        "index": st.integers(1, 10**6),
        "prev": st.from_regex(r"[0-9a-f]{64}", fullmatch=True),
        "hash": st.from_regex(r"[0-9a-f]{64}", fullmatch=True),
        "sig": st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=88),
    }
)


@st.composite
def exam_bodies(draw) -> dict:
    started = draw(AWARE)
    finished = started + draw(st.timedeltas(timedelta(0), timedelta(hours=3)))
    outcome = draw(st.sampled_from(["admitted", "not_admitted", "needs_medic"]))
    body = {
        "exam_id": draw(NONEMPTY),
        "worker_id": draw(NONEMPTY),
        "exam_type": draw(st.sampled_from(["pre_shift", "post_shift", "pre_trip", "post_trip", "in_shift"])),
        "started_at": started.isoformat(),
        "finished_at": finished.isoformat(),
        "answers": draw(st.dictionaries(TEXT, st.none() | st.booleans() | TEXT, max_size=3)),
        "measurements": draw(st.lists(measurements, max_size=4)),
        "outcome": outcome,
        "fired": draw(st.lists(fired_rules, min_size=0 if outcome == "admitted" else 1, max_size=3)),
        "rule_set_version": draw(NONEMPTY),
    }
    if draw(st.booleans()):
        body["chain"] = draw(chain_seals)
    body.update(draw(_extra()))
    return body


telemetry_readings = st.fixed_dictionaries(
    {
        "sensor_id": NONEMPTY,
        "zone": NONEMPTY,
        "ts": ISO,
        "values": st.dictionaries(TEXT, st.none() | FLOATS, max_size=4),
    },
    optional={"invalid": st.dictionaries(TEXT, TEXT, max_size=2)},
)
telemetry_bodies = st.builds(
    lambda readings, extra: {"readings": readings, **extra}, st.lists(telemetry_readings, min_size=1, max_size=4), _extra()
)
event_bodies = st.builds(
    lambda fixed, extra: {**fixed, **extra},
    st.fixed_dictionaries(
        {"type": NONEMPTY},
        optional={
            "severity": st.sampled_from(["info", "warning", "alarm", "critical"]),
            "zone": st.none() | TEXT,
            "device": st.none() | TEXT,
            "message_ru": st.none() | TEXT,
            "message_en": st.none() | TEXT,
            "details": st.dictionaries(TEXT, JSON_VALUES, max_size=3),
        },
    ),
    _extra(),
)
status_bodies = st.builds(
    lambda fixed, extra: {**fixed, **extra},
    st.fixed_dictionaries(
        {"state": st.sampled_from(["online", "offline"])},
        optional={
            "versions": st.dictionaries(TEXT, TEXT, max_size=3),
            "outbox_depth": st.none() | st.integers(0, 10**9),
            "last_seq": st.none() | st.integers(0, 2**63 - 1),
            "clock_offset_s": st.none() | FLOATS,
            "devices": st.dictionaries(TEXT, st.dictionaries(TEXT, JSON_VALUES, max_size=2), max_size=2),
        },
    ),
    _extra(),
)
BODIES = {"exam": exam_bodies(), "telemetry": telemetry_bodies, "event": event_bodies, "status": status_bodies}


@st.composite
def envelopes(draw, kinds: tuple[str, ...] = ("exam", "telemetry", "event", "status")) -> dict:
    """A valid envelope as the dict a kiosk would serialise."""
    kind = draw(st.sampled_from(kinds))
    data = {
        "schema": 1,
        "site": draw(IDS),
        "kiosk": draw(IDS),
        "seq": None if kind == "status" else draw(st.integers(1, 2**63 - 1)),
        "event_id": str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)))),
        "ts": draw(ISO),
        "historical": draw(st.booleans()),
        "kind": kind,
        "body": draw(BODIES[kind]),
    }
    if HAS_INCARNATION and draw(st.booleans()):
        data["incarnation"] = draw(st.from_regex(r"[A-Za-z0-9-]{1,24}", fullmatch=True))
    return data


def own_topic(envelope: dict) -> str:
    return f"ohs/v1/{envelope['site']}/{envelope['kiosk']}/{envelope['kind']}"


def dumps(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")


# --------------------------------------------------------------------------- hostile JSON text

#: JSON trees with everything Python's json module will write: NaN/Infinity floats,
#: lone surrogates (as \\ud800 escapes), big integers, nesting.
HOSTILE_TREES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(-(10**400), 10**400) | FLOATS
    | st.sampled_from([float("nan"), float("inf"), float("-inf")]) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10,
).map(json.dumps)


def _deep_arrays(n: int) -> str:
    return "[" * n + "]" * n


def _deep_objects(n: int) -> str:
    return '{"a":' * n + "0" + "}" * n


#: JSON text fragments a hostile or broken kiosk could put where a value belongs.
_TOKENS = st.sampled_from([
    "NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1E400", "0e-99999", "-0", "1.0", "0",
    '"\\ud800"', '"\\udfff"', '"\\udc00\\ud800"', '"a\\u0000b"', '"\\u2028"',
    "[]", "{}", "null", "true", "false", '""', '"x"', "[NaN]", '{"":NaN}', '{"\\ud800":1}',
])
FRAGMENTS = st.one_of(
    _TOKENS,
    _TOKENS,  # twice: the short tokens are where most parsers slip
    st.integers(4290, 20000).map(lambda n: "9" * n),  # beyond Python's 4300-digit int() limit
    st.integers(4290, 20000).map(lambda n: "-" + "1" * n),
    st.integers(300, 5000).map(lambda n: "0." + "3" * n + "e-" + str(n)),
    st.integers(1, 60000).map(_deep_arrays),
    st.integers(1, 20000).map(_deep_objects),
    HOSTILE_TREES,
    st.text(max_size=12),  # mostly not JSON at all
)

_SENTINEL = "\u0000fuzz-sentinel\u0000"
_SENTINEL_JSON = json.dumps(_SENTINEL)


def _paths(value, prefix=()):
    """Every (container path, key) in a JSON tree, for mutation."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield prefix, key
            yield from _paths(child, prefix + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield prefix, index
            yield from _paths(child, prefix + (index,))


def _at(tree, path):
    for step in path:
        tree = tree[step]
    return tree


@st.composite
def mutated_envelopes(draw, kinds: tuple[str, ...] = ("exam", "telemetry", "event", "status")) -> tuple[str, bytes]:
    """(own topic, payload): a valid envelope with one field replaced by hostile text,
    removed, or one field added (text-level splice, so any fragment fits)."""
    envelope = draw(envelopes(kinds))
    topic = own_topic(envelope)
    places = list(_paths(envelope))
    container_path, key = draw(st.sampled_from(places))
    container = _at(envelope, container_path)
    action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
    if action == "delete":
        del container[key]
        return topic, dumps(envelope)
    if action == "add":
        target = container if isinstance(container, dict) else _at(envelope, ())
        new_key = draw(st.sampled_from(["zz", "schema", "seq", "kind", "body", "chain", "value", "ts", "details"]) | TEXT)
        target[new_key] = _SENTINEL
    else:
        container[key] = _SENTINEL
    fragment = draw(FRAGMENTS)
    text = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
    return topic, text.replace(_SENTINEL_JSON, fragment, 1).encode("utf-8", "surrogatepass")


#: Topics: the valid shape, near misses, and anything at all.
TOPICS = st.one_of(
    st.text(max_size=40),
    st.from_regex(r"ohs/v1/[a-z0-9-]{1,8}/[a-z0-9-]{1,8}/(exam|telemetry|event|status|ack|config|cmd|other)",
                  fullmatch=True),
    st.builds(lambda a, b, c, tail: f"ohs/v1/{a}/{b}/{c}{tail}", IDS, IDS,
              st.sampled_from(["exam", "telemetry", "event", "status"]),
              st.sampled_from(["\n", "\r", "/", " ", "\x00", "#", "+", "\u0661"])),
)


#: Where a body takes any JSON (``Any`` fields, extra fields): pydantic checks nothing there.
_OPEN_PLACES = {
    "exam": [("body",), ("body", "fired", 0), ("body", "measurements", 0, "status")],
    "telemetry": [("body",), ("body", "readings", 0)],
    "event": [("body",), ("body", "details")],
    "status": [("body",), ("body", "devices", "d")],
}


_KEY_FRAGMENTS = st.sampled_from(['"\\ud800"', '"\\udfff"', '"a\\u0000b"', '""']) | st.text(max_size=6).map(json.dumps)


@st.composite
def open_field_mutations(draw) -> tuple[str, bytes]:
    """(own topic, payload): a valid envelope with a hostile fragment as a value or key in one
    of the places the body leaves open."""
    envelope = draw(envelopes())
    kind = envelope["kind"]
    body = envelope["body"]
    if kind == "exam":
        body["fired"] = body["fired"] or [{"rule": "r", "source": "s"}]
        body["measurements"] = body["measurements"] or [{"field": "pulse_bpm", "value": 60.0, "taken_at": envelope["ts"]}]
        body["measurements"][0].setdefault("status", {})
    if kind == "event":
        body.setdefault("details", {})
    if kind == "status":
        body.setdefault("devices", {}).setdefault("d", {})
    place = draw(st.sampled_from(_OPEN_PLACES[kind]))
    container = _at(envelope, place)
    if draw(st.booleans()):
        container["x_fuzz"] = _SENTINEL  # as a value
        fragment = draw(FRAGMENTS)
    else:
        container[_SENTINEL] = 1  # as a key
        fragment = draw(_KEY_FRAGMENTS)
    text = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).replace(_SENTINEL_JSON, fragment, 1)
    return own_topic(envelope), text.encode("utf-8", "surrogatepass")
