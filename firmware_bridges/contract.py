"""The MQTT wire contract between kiosks and the hub, schema version 1.

One module, imported by both sides (``edge_agent`` and ``hub``), so both validate with
the same pydantic models. It depends on pydantic only. It lives in ``firmware_bridges``
because the top-level layout is fixed by the foundation issue and ``firmware_bridges``
is the one package both sides may import (see ``docs/architecture.md``).

Topics (``shared/design/architecture.md``, "Wire contract"):

====================================  ==============  =========================
``ohs/v1/{site}/{kiosk}/exam``         kiosk -> hub    QoS 1, one exam record
``ohs/v1/{site}/{kiosk}/telemetry``    kiosk -> hub    QoS 1, environmental batch
``ohs/v1/{site}/{kiosk}/event``        kiosk -> hub    QoS 1, alarms, device faults
``ohs/v1/{site}/{kiosk}/status``       kiosk -> hub    QoS 1, retained, MQTT will
``ohs/v1/{site}/{kiosk}/ack``          hub -> kiosk    QoS 1, what is stored durably
``ohs/v1/{site}/{kiosk}/config``       hub -> kiosk    QoS 1, retained
``ohs/v1/{site}/{kiosk}/cmd``          hub -> kiosk    QoS 1
====================================  ==============  =========================

Every kiosk -> hub message is an :class:`Envelope`. Records (exam, telemetry, event) carry
a per-kiosk sequence number that never repeats; ``status`` is state, not a record: it
carries ``seq = null`` and is never acknowledged (the newest retained one wins).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import uuid
from datetime import datetime, timezone
from typing import Annotated, Any, Callable, Iterable, Literal, Union

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from firmware_bridges.readings import ExamMeasurementField

SCHEMA_VERSION = 1
TOPIC_ROOT = "ohs/v1"
RECORD_KINDS = ("exam", "telemetry", "event")
UPLINK_KINDS = (*RECORD_KINDS, "status")
DOWNLINK_KINDS = ("ack", "config", "cmd")
#: Payloads larger than this are rejected by the hub before parsing (configurable there).
DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024
#: JSON nested deeper than this is refused before validation (a real exam is 4 levels deep);
#: it keeps recursive code downstream (validation, canonical JSON, storage) out of reach of
#: hostile nesting such as ``[`` × 5000 (issue 10, defect 1). Configurable at the hub.
DEFAULT_MAX_JSON_DEPTH = 32

ID_PATTERN = r"^[a-z0-9-]+$"
Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN, min_length=1, max_length=64)]
Incarnation = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]+$", min_length=1, max_length=64)]
#: a \uD800–\uDFFF escape: legal in JSON only as half of a surrogate pair
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_TOPIC_RE = re.compile(r"^ohs/v1/([a-z0-9-]+)/([a-z0-9-]+)/([a-z]+)$")

ExamType = Literal["pre_shift", "post_shift", "pre_trip", "post_trip", "in_shift"]
Outcome = Literal["admitted", "not_admitted", "needs_medic"]


#: Dead-letter categories: the ``code`` of a :class:`ContractError` (counted by the hub).
ERROR_CODES = ("oversized", "not_utf8", "bad_json", "too_deep", "not_finite", "unknown_version", "bad_topic",
               "topic_mismatch", "invalid_fields")


class ContractError(ValueError):
    """A message that does not follow the wire contract.

    ``reason`` is the sentence for the dead-letter table; ``code`` its category (one of
    :data:`ERROR_CODES`), so counters never depend on the wording of the reason.
    """

    def __init__(self, reason: str, code: str = "invalid_fields"):
        super().__init__(reason)
        self.reason = reason
        self.code = code


class _Strict(BaseModel):
    # NaN and ±Infinity are not measurements: refused everywhere on the wire (issue 10, defect 6)
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class _Open(BaseModel):
    """Bodies accept additional fields so newer kiosks can add without breaking older hubs."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)


# --------------------------------------------------------------------------- topics


def topic(site: str, kiosk: str, kind: str) -> str:
    """The topic for ``kind`` of one kiosk; raises ContractError on a bad id or kind."""
    if kind not in UPLINK_KINDS + DOWNLINK_KINDS:
        raise ContractError(f"unknown message kind {kind!r}", "bad_topic")
    for name, value in (("site", site), ("kiosk", kiosk)):
        if not re.match(ID_PATTERN, value or ""):
            raise ContractError(f"{name} id {value!r} must match [a-z0-9-]+", "bad_topic")
    return f"{TOPIC_ROOT}/{site}/{kiosk}/{kind}"


def parse_topic(name: str) -> tuple[str, str, str]:
    """``ohs/v1/{site}/{kiosk}/{kind}`` -> (site, kiosk, kind); ContractError otherwise."""
    match = _TOPIC_RE.fullmatch(name)  # fullmatch: "$" would accept a trailing newline
    if not match or match.group(3) not in UPLINK_KINDS + DOWNLINK_KINDS:
        raise ContractError(f"topic {name!r} is not ohs/v1/{{site}}/{{kiosk}}/{{kind}}", "bad_topic")
    return match.group(1), match.group(2), match.group(3)


# --------------------------------------------------------------------------- bodies


class Measurement(_Open):
    """One reading taken during an exam, in the shared reading vocabulary."""

    field: ExamMeasurementField
    value: float | None = Field(description="null when the device marked the value invalid")
    invalid_reason: str | None = None
    attempt: int = Field(default=1, ge=1, description="1 for the first measurement, 2.. for re-tests")
    taken_at: AwareDatetime
    device_model: str | None = None
    device_serial: str | None = None
    device_verified_until: str | None = None
    status: dict[str, Any] = Field(default_factory=dict)


class FiredRule(_Open):
    rule: str
    source: str
    value: Any = None


class ChainSeal(_Strict):
    """The evidence-chain seal of an exam (``firmware_bridges.evidence``)."""

    index: int = Field(ge=1, le=2**62, description="position in the journal's chain (fits a 64-bit integer)")
    prev: str = Field(pattern=r"^[0-9a-f]{64}$")
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    sig: str = Field(min_length=1, max_length=200)
    key_id: str | None = None


#: An identity photo's JPEG, at most (bytes): the four an exam may carry, base64-encoded, keep
#: its record well inside :data:`DEFAULT_MAX_PAYLOAD_BYTES` (ПАК kiosk practice: photo at identification).
MAX_PHOTO_BYTES = 32_000


class IdentityPhoto(_Strict):
    """A kiosk camera photo of the worker (identification, breath test); its hash is sealed
    with the exam record. Medic-only data (323-FZ art. 13): never shown to OHS."""

    stage: Literal["identification", "breath"]
    attempt: int = Field(default=1, ge=1, le=100, description="the exam's attempt (pass) it was taken at")
    taken_at: AwareDatetime
    content_type: Literal["image/jpeg"] = "image/jpeg"
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    jpeg_b64: str = Field(min_length=4, max_length=(MAX_PHOTO_BYTES + 2) // 3 * 4)

    @model_validator(mode="after")
    def _bytes_match_hash(self) -> "IdentityPhoto":
        try:
            data = base64.b64decode(self.jpeg_b64, validate=True)
        except ValueError:
            raise ValueError("jpeg_b64 is not base64") from None
        if not data.startswith(b"\xff\xd8\xff"):
            raise ValueError("the photo is not a JPEG")
        if hashlib.sha256(data).hexdigest() != self.sha256:
            raise ValueError("sha256 does not match the photo's bytes")
        return self


class FatigueAnswer(_Strict):
    """One screening item as the worker saw it, with the answer tapped."""

    item: str = Field(min_length=1, max_length=40)
    instrument: str = Field(min_length=1, max_length=40)
    ru: str = Field(min_length=1, max_length=500)
    en: str = Field(min_length=1, max_length=500)
    value: int = Field(ge=0, le=100)
    answer_ru: str | None = Field(default=None, max_length=200, description="the anchor's label, if the scale has one")
    answer_en: str | None = Field(default=None, max_length=200)


class FatigueScreen(_Open):
    """The optional fatigue / stress screening at admission (seed 002 B.3.3.5; instruments and
    cut-offs in ``configs/models/fatigue_screening.toml``). Medic-only data (323-FZ art. 13):
    never shown to OHS. It changes the outcome only where the kiosk is configured to
    (``affects_outcome``)."""

    instruments: list[str] = Field(min_length=1, max_length=10)
    answers: list[FatigueAnswer] = Field(min_length=1, max_length=40)
    results: dict[str, dict[str, Any]] = Field(description="per instrument: score, band {ru, en}, positive, cut_off, source")
    positive: list[str] = Field(default_factory=list)
    action: Literal["none", "inform_medic", "needs_medic"]
    affects_outcome: bool = Field(default=False, description="a positive screen held the worker for the medic "
                                  "because the kiosk is configured so (default: information only)")
    source: str = Field(min_length=1)


class ExamBody(_Open):
    """One pre-shift (or other) exam: enough for every column of the exam journal
    (``shared/domain/reference.md`` §1.6)."""

    exam_id: str = Field(min_length=1, max_length=64)
    worker_id: str = Field(min_length=1, max_length=64, description="personnel number")
    exam_type: ExamType
    started_at: AwareDatetime
    finished_at: AwareDatetime
    answers: dict[str, bool | str | None] = Field(default_factory=dict)
    measurements: list[Measurement] = Field(default_factory=list, max_length=200)
    outcome: Outcome
    fired: list[FiredRule] = Field(default_factory=list)
    rule_set_version: str = Field(min_length=1)
    decided_by: str = Field(default="kiosk", description="'kiosk' for the automatic pre-decision")
    chain: ChainSeal | None = Field(default=None, description="per-kiosk hash chain, Ed25519-signed")
    identity_photos: list[IdentityPhoto] = Field(default_factory=list, max_length=4,
                                                 description="kiosk camera photos (optional; medic-only)")
    fatigue: FatigueScreen | None = Field(default=None, description="fatigue / stress screening (optional; medic-only)")

    @model_validator(mode="after")
    def _refusal_says_why(self) -> "ExamBody":
        if self.outcome != "admitted" and not self.fired:
            raise ValueError("a non-admitted outcome must list the rules that fired")
        if self.finished_at < self.started_at:
            raise ValueError("finished_at is before started_at")
        return self


class TelemetryReading(_Open):
    sensor_id: str = Field(min_length=1, max_length=64)
    zone: str = Field(min_length=1, max_length=64)
    ts: AwareDatetime
    values: dict[str, float | None]
    invalid: dict[str, str] = Field(default_factory=dict)


class TelemetryBody(_Open):
    readings: list[TelemetryReading] = Field(min_length=1, max_length=5000)


class EventBody(_Open):
    type: str = Field(min_length=1, max_length=64, description="smoke_alarm, noise_over_limit, device_fault, …")
    severity: Literal["info", "warning", "alarm", "critical"] = "warning"
    zone: str | None = None
    device: str | None = None
    message_ru: str | None = None
    message_en: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class StatusBody(_Open):
    state: Literal["online", "offline"]
    versions: dict[str, str] = Field(default_factory=dict)
    outbox_depth: int | None = Field(default=None, ge=0)
    last_seq: int | None = Field(default=None, ge=0)
    clock_offset_s: float | None = None
    devices: dict[str, dict[str, Any]] = Field(default_factory=dict)
    public_key: str | None = Field(default=None, description="the kiosk's Ed25519 key (base64) sealing its exams")


BODY_MODELS: dict[str, type[BaseModel]] = {
    "exam": ExamBody,
    "telemetry": TelemetryBody,
    "event": EventBody,
    "status": StatusBody,
}


# --------------------------------------------------------------------------- envelope


class Envelope(_Strict):
    """What every kiosk -> hub message is wrapped in (architecture.md, "Wire contract")."""

    schema_version: Literal[1] = Field(alias="schema", default=1)
    site: Identifier
    kiosk: Identifier
    seq: int | None = Field(ge=1, le=2**63 - 1, description="per-kiosk record sequence; null for status")
    incarnation: Incarnation | None = Field(
        default=None,
        description="the identity of the kiosk journal that issued seq: created with the journal, new when it is "
        "lost or restored from an older copy; the hub keys records by (site, kiosk, incarnation, seq). "
        "Absent only from kiosks older than the field (they share one legacy incarnation).",
    )
    event_id: uuid.UUID
    ts: AwareDatetime = Field(description="the kiosk's clock when the record was made")
    historical: bool = Field(default=False, description="true when replayed from backlog")
    kind: Literal["exam", "telemetry", "event", "status"]
    body: Union[ExamBody, TelemetryBody, EventBody, StatusBody, dict[Any, Any]]

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _body_by_kind(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("body"), dict):
            kind = data.get("kind")
            model = BODY_MODELS.get(kind) if isinstance(kind, str) else None
            if model is not None:
                data = {**data, "body": model.model_validate(data["body"])}
        return data

    @model_validator(mode="after")
    def _seq_by_kind(self) -> "Envelope":
        if self.kind in RECORD_KINDS and self.seq is None:
            raise ValueError(f"a {self.kind} record needs a sequence number")
        if self.kind == "status" and self.seq is not None:
            raise ValueError("status messages carry seq = null")
        return self

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True, exclude_none=False).encode("utf-8")

    @property
    def incarnation_key(self) -> str:
        """The incarnation as the hub keys it ('' for kiosks that predate the field)."""
        return self.incarnation or ""


def make_envelope(
    site: str,
    kiosk: str,
    kind: str,
    body: dict[str, Any] | BaseModel,
    seq: int | None,
    *,
    event_id: uuid.UUID | str | None = None,
    ts: datetime | None = None,
    historical: bool = False,
    incarnation: str | None = None,
) -> Envelope:
    """Build and validate an envelope (raises pydantic ValidationError on a bad body)."""
    if isinstance(body, BaseModel):
        body = body.model_dump(mode="json")
    return Envelope.model_validate(
        {
            "schema": SCHEMA_VERSION,
            "site": site,
            "kiosk": kiosk,
            "seq": seq,
            "incarnation": incarnation,
            "event_id": str(event_id or uuid.uuid4()),
            "ts": (ts or datetime.now(timezone.utc)).isoformat(),
            "historical": historical,
            "kind": kind,
            "body": body,
        }
    )


def encode_envelope(site: str, kiosk: str, kind: str, seq: int | None, event_id: str, ts: str,
                    historical: bool, body_json: str, incarnation: str | None = None) -> bytes:
    """Serialise an envelope around a body that was already validated and stored as JSON text.

    The kiosk validates each body once, when it journals it (``KioskAgent.record``); publishing
    (and re-publishing) it must not pay for validation again. The output parses to the same
    envelope as :func:`make_envelope` (a test holds them equal).
    """
    head = json.dumps({"schema": SCHEMA_VERSION, "site": site, "kiosk": kiosk, "seq": seq, "incarnation": incarnation,
                       "event_id": event_id, "ts": ts, "historical": historical, "kind": kind},
                      ensure_ascii=False, separators=(",", ":"))
    return (head[:-1] + ',"body":' + body_json + "}").encode("utf-8")


def _describe(error: ValidationError) -> str:
    parts = []
    for problem in error.errors()[:5]:
        path = ".".join(str(p) for p in problem["loc"] if not str(p).startswith("function-after"))
        parts.append(f"{path or '(envelope)'}: {problem['msg']}")
    more = len(error.errors()) - 5
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def parse_uplink(topic_name: str, payload: bytes, max_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES) -> Envelope:
    """Validate one kiosk -> hub message against the contract (see :func:`parse_uplink_raw`)."""
    return parse_uplink_raw(topic_name, payload, max_bytes)[0]


def _refuse_constant(name: str) -> Any:
    raise ContractError(f"payload is not finite JSON: {name} is not a number the contract accepts", "not_finite")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ContractError(f"payload is not finite JSON: {text[:40]} overflows to infinity", "not_finite")
    return value


def json_depth(value: Any, limit: int) -> int:
    """How deeply ``value`` nests lists and objects, counting stops once past ``limit``.

    Iterative, so hostile nesting cannot exhaust the interpreter's stack.
    """
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def load_json_object(payload: bytes, max_depth: int = DEFAULT_MAX_JSON_DEPTH) -> dict[str, Any]:
    """Decode a JSON object from UTF-8 bytes, refusing NaN/±Infinity and nesting past ``max_depth``.

    Raises :class:`ContractError` (never RecursionError or a decoder error) naming the problem.
    """
    try:
        data = json.loads(payload.decode("utf-8"), parse_constant=_refuse_constant, parse_float=_finite_float)
    except UnicodeDecodeError as error:
        raise ContractError(f"payload is not UTF-8: {error.reason} at byte {error.start}", "not_utf8") from None
    except json.JSONDecodeError as error:
        raise ContractError(f"payload is not JSON: {error.msg} at line {error.lineno} column {error.colno}",
                            "bad_json") from None
    except RecursionError:
        raise ContractError(f"payload nests deeper than {max_depth} levels", "too_deep") from None
    except ContractError:
        raise
    except ValueError as error:  # e.g. an integer literal longer than Python's 4300-digit limit
        raise ContractError(f"payload is not JSON the hub can read: {str(error)[:120]}", "bad_json") from None
    if not isinstance(data, dict):
        raise ContractError(f"payload must be a JSON object, got {type(data).__name__}", "bad_json")
    if _SURROGATE_ESCAPE.search(payload):  # rare: check that every \\uD8xx escape is half of a pair
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ContractError("payload holds a lone UTF-16 surrogate escape (not a character)", "not_utf8") from None
    if json_depth(data, max_depth) > max_depth:
        raise ContractError(f"payload nests deeper than {max_depth} levels", "too_deep")
    return data


def parse_uplink_raw(topic_name: str, payload: bytes, max_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
                     max_depth: int = DEFAULT_MAX_JSON_DEPTH,
                     load: Callable[[bytes, int], dict[str, Any]] | None = None) -> tuple[Envelope, dict[str, Any]]:
    """Validate one kiosk -> hub message; returns it with its body exactly as received (for signatures).

    Raises :class:`ContractError` with a reason naming what is wrong: oversized, not UTF-8,
    not JSON, nested too deeply, NaN/Infinity, unknown schema version, a field of the wrong
    type, or a topic that does not match the envelope's site/kiosk/kind (a kiosk may publish
    only its own topics). ``load``: a decoder with :func:`load_json_object`'s exact results and errors
    (the hub passes a faster one, ``hub.ingest.load_payload``); :func:`load_json_object` by default.
    """
    if len(payload) > max_bytes:
        raise ContractError(f"oversized payload: {len(payload)} bytes > limit {max_bytes}", "oversized")
    site, kiosk, kind = parse_topic(topic_name)
    if kind not in UPLINK_KINDS:
        raise ContractError(f"kind {kind!r} is not a kiosk -> hub message", "bad_topic")
    data = (load or load_json_object)(payload, max_depth)
    version = data.get("schema")
    if version != SCHEMA_VERSION:
        raise ContractError(f"unknown schema version {version if isinstance(version, (int, type(None))) else repr(str(version)[:40])}; this hub understands {SCHEMA_VERSION}",
                            "unknown_version")
    try:
        envelope = Envelope.model_validate(data)
    except ValidationError as error:
        reason = f"invalid {kind} message: {_describe(error)}"
        code = "not_finite" if any(p["type"] == "finite_number" for p in error.errors()) else "invalid_fields"
        raise ContractError(reason, code) from None
    if (envelope.site, envelope.kiosk, envelope.kind) != (site, kiosk, kind):
        raise ContractError(
            f"envelope says {envelope.site}/{envelope.kiosk}/{envelope.kind} but arrived on topic {topic_name}",
            "topic_mismatch",
        )
    return envelope, data["body"]


# --------------------------------------------------------------------------- hub -> kiosk


class Ack(_Strict):
    """What the hub has stored durably for one kiosk.

    ``through_seq``: every sequence 1..through_seq is stored. ``ranges``: further stored
    ranges ``[first, last]`` above ``through_seq`` (live records overtake backlog, so the
    hub can hold later records while earlier ones are still on their way). ``gaps``: the
    missing ranges below the highest stored sequence, for diagnostics.

    ``incarnation``: the journal incarnation these sequences belong to; a kiosk applies an
    ack only to records of that incarnation. ``contested``: sequences for which the hub holds
    more than one record (another event id arrived under the same sequence, e.g. from a
    spoofing client or a restored journal), each with the event ids held; a kiosk treats such
    a sequence as stored only when its own event id is listed (an ack never covers a record
    stored under another identity — issue 10, defect 2).
    """

    schema_version: Literal[1] = Field(alias="schema", default=1)
    site: Identifier
    kiosk: Identifier
    incarnation: Incarnation | None = None
    through_seq: int = Field(ge=0)
    ranges: list[tuple[int, int]] = Field(default_factory=list)
    gaps: list[tuple[int, int]] = Field(default_factory=list)
    contested: dict[int, list[str]] = Field(default_factory=dict)
    confirmed: dict[int, str] | None = Field(
        default=None,
        description="seq -> event id of each record of this incarnation that the batch behind this ack "
        "stored (or found already stored, or kept as a conflict): the exact identities a kiosk may remove "
        "from its outbox. Absent from hubs older than the field (then ranges and contested decide)",
    )
    ts: AwareDatetime

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def confirms(self, seq: int, event_id: str) -> bool:
        """May the kiosk remove this record? Only when the hub names this exact identity
        (``confirmed``); an ack of an older hub falls back to :meth:`covers`."""
        if self.confirmed is None:
            return self.covers(seq, event_id)
        return self.confirmed.get(seq) == event_id

    def covers(self, seq: int, event_id: str | None = None) -> bool:
        """Does the ack say this record is stored? With ``event_id``, contested sequences count
        only when the hub lists that event id among those it holds."""
        if seq in self.contested:
            return event_id is not None and event_id in self.contested[seq]
        return seq <= self.through_seq or any(first <= seq <= last for first, last in self.ranges)

    @property
    def highest_seq(self) -> int:
        """The highest sequence the hub holds for this incarnation."""
        return max([self.through_seq, *(last for _, last in self.ranges), *self.contested])


class ConfigMessage(_Open):
    """Retained per-kiosk configuration pushed by the hub."""

    schema_version: Literal[1] = Field(alias="schema", default=1)
    version: str
    admission_rules: dict[str, Any] | None = None
    thresholds: dict[str, Any] = Field(default_factory=dict)
    roster_version: str | None = None

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Command(_Open):
    """A command to one kiosk: roster update, medic decision, re-test order."""

    schema_version: Literal[1] = Field(alias="schema", default=1)
    command_id: uuid.UUID
    type: Literal["roster_update", "medic_decision", "retest_order", "resync"]
    ts: AwareDatetime
    args: dict[str, Any] = Field(default_factory=dict)

    model_config = ConfigDict(extra="allow", populate_by_name=True)


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema of every message, for ``docs/schemas/`` (``ohs-hub export-schemas``)."""
    return {
        "envelope": Envelope.model_json_schema(by_alias=True),
        "exam": ExamBody.model_json_schema(),
        "telemetry": TelemetryBody.model_json_schema(),
        "event": EventBody.model_json_schema(),
        "status": StatusBody.model_json_schema(),
        "ack": Ack.model_json_schema(by_alias=True),
        "config": ConfigMessage.model_json_schema(by_alias=True),
        "cmd": Command.model_json_schema(by_alias=True),
    }
