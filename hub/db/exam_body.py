"""How an exam's body is kept at rest (revision 0002, issue 11), and the one place that reads it back.

The body is the exam as the hub serves it (``ExamBody.model_dump_json()``, the text revision 0001 kept
in ``exams.body``), stored once in ``exams.body_z`` as bytes: a one-byte codec mark, then the text.

* codec ``1`` — raw DEFLATE (stdlib :mod:`zlib`) primed with :data:`DICTIONARY_1`, a typical exam
  body: an exam shares almost all its keys, device names and timestamp shapes with that text, so what
  is left to store is mostly what is its own (ids, hashes, signature, values). ~1,900 B of JSON become
  ~260 B; plain zlib without the dictionary gives ~670 B. (``zstandard`` with a trained dictionary
  would add a dependency for a few per cent more.)
* codec ``0`` — the UTF-8 text as it is (used when compressing would not make it smaller).

:data:`DICTIONARY_1` is frozen: stored bodies can only be read with the exact bytes they were written
with. A better dictionary is a new codec number next to this one, never an edit of it.

The analytics read typed columns instead of JSON (:func:`last_values`), so no SQL ever parses a body.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from firmware_bridges.readings import VITAL_FIELDS

#: codec 1's preset dictionary: FROZEN (see the module docstring). zlib gives the end of a dictionary
#: the shortest back-references, so the most common parts (measurement records) come last.
DICTIONARY_1 = (
    '{"worker":{"full_name":"","position":"","department":""},"ticket":null,"survey":[],"reasons":[],'
    '"summary":{},"identity_photos":[{"taken_at":"","content_type":"image/jpeg","sha256":"","data":""}],'
    '"invalid_reason":"device_error","decided_by":"medic","outcome":"not_admitted","fired":[{"rule":"temp_high",'
    '"source":"266n-2022 §9","value":37.8},{"rule":"brac_positive","source":"266n-2022 §9","value":0.3}],'
    '"exam_type":"post_shift","exam_type":"pre_trip","outcome":"needs_medic","fired":[{"rule":"bp_high",'
    '"source":"266n-2022 §9","value":150}]}'
    '{"exam_id":"","worker_id":"W0","exam_type":"pre_shift","started_at":"2026-01-01T06:30:00.000000Z",'
    '"finished_at":"2026-01-01T06:33:00.000000Z","answers":{"feels_well":true,"took_medication":false,'
    '"slept_hours":"7","complaints":null},"measurements":['
    '{"field":"mean_arterial_mmhg","value":93.0,"invalid_reason":null,"attempt":2,'
    '"taken_at":"2026-01-01T06:31:10Z","device_model":null,"device_serial":null,'
    '"device_verified_until":null,"status":{}},'
    '{"field":"temperature_c","value":36.6,"invalid_reason":null,"attempt":1,'
    '"taken_at":"2026-01-01T06:31:10Z","device_model":"CS-T1","device_serial":"T-1029",'
    '"device_verified_until":"2027-01-31","status":{}},'
    '{"field":"brac_mg_l","value":0.0,"invalid_reason":null,"attempt":1,'
    '"taken_at":"2026-01-01T06:31:10Z","device_model":"Alcotest-6820","device_serial":"ARBL-0112",'
    '"device_verified_until":"2027-01-31","status":{}},'
    '{"field":"systolic_mmhg","value":122.0,"invalid_reason":null,"attempt":1,'
    '"taken_at":"2026-01-01T06:31:10Z","device_model":"Omron-M3","device_serial":"OM-20931",'
    '"device_verified_until":"2027-01-31","status":{}},'
    '{"field":"diastolic_mmhg","value":78.0,"invalid_reason":null,"attempt":1,'
    '"taken_at":"2026-01-01T06:31:10Z","device_model":"Omron-M3","device_serial":"OM-20931",'
    '"device_verified_until":"2027-01-31","status":{}},'
    '{"field":"pulse_bpm","value":74.0,"invalid_reason":null,"attempt":1,'
    '"taken_at":"2026-01-01T06:31:10Z","device_model":"Omron-M3","device_serial":"OM-20931",'
    '"device_verified_until":"2027-01-31","status":{}},'
    '{"field":"spo2_percent","value":97.0,"invalid_reason":null,"attempt":1,'
    '"taken_at":"2026-01-01T06:31:10Z","device_model":"Armed-YX301","device_serial":"YX-5521",'
    '"device_verified_until":"2027-01-31","status":{}}],"outcome":"admitted","fired":[],'
    '"rule_set_version":"2026.1","decided_by":"kiosk","chain":{"index":1,"prev":"","hash":"","sig":"",'
    '"key_id":"k1"},"identity_photos":[],"fatigue":null}'
).encode("utf-8")

PLAIN, DEFLATE_1 = 0, 1
_WBITS = -15  # raw DEFLATE: no zlib header or checksum (the codec mark says what it is)

#: The measured fields the analytics read as typed columns of ``exams`` (the last valid attempt of
#: each): the column of a field is its name. ``mean_arterial_mmhg`` is derived, never analysed.
MEASUREMENT_COLUMNS: tuple[str, ...] = VITAL_FIELDS


class StoredBodyError(ValueError):
    """A stored body that cannot be read (unknown codec or damaged bytes): the database is damaged."""


def encode_body(text: str) -> bytes:
    """The bytes kept in ``exams.body_z`` for a body's JSON text."""
    raw = text.encode("utf-8")
    packer = zlib.compressobj(9, zlib.DEFLATED, _WBITS, 9, zlib.Z_DEFAULT_STRATEGY, zdict=DICTIONARY_1)
    packed = packer.compress(raw) + packer.flush()
    if len(packed) < len(raw):
        return bytes((DEFLATE_1,)) + packed
    return bytes((PLAIN,)) + raw


def decode_body_text(stored: bytes | bytearray | memoryview) -> str:
    """The JSON text of a stored body, exactly as it was given to :func:`encode_body`."""
    data = bytes(stored)
    if not data:
        raise StoredBodyError("an empty stored exam body")
    codec, payload = data[0], data[1:]
    try:
        if codec == DEFLATE_1:
            unpacker = zlib.decompressobj(_WBITS, zdict=DICTIONARY_1)
            raw = unpacker.decompress(payload) + unpacker.flush()
            if not unpacker.eof:
                raise StoredBodyError("a stored exam body is cut short")
        elif codec == PLAIN:
            raw = payload
        else:
            raise StoredBodyError(f"a stored exam body has the unknown codec {codec}")
        return raw.decode("utf-8")
    except (zlib.error, UnicodeDecodeError) as error:
        raise StoredBodyError(f"a stored exam body cannot be read: {error}") from error


def decode_body(stored: bytes | bytearray | memoryview) -> dict[str, Any]:
    """The body of a stored exam as a dict (what ``json.loads(body)`` gave under revision 0001)."""
    return json.loads(decode_body_text(stored))


def last_values(body: dict[str, Any]) -> dict[str, float | None]:
    """The typed measurement columns of an exam: per field of MEASUREMENT_COLUMNS the value of its last
    valid attempt (a re-test supersedes the first reading, reference.md §1.4–1.5), None when no
    attempt gave a value (not measured, or the device marked every reading invalid)."""
    found: dict[str, float | None] = dict.fromkeys(MEASUREMENT_COLUMNS)
    readings = [m for m in body.get("measurements") or [] if isinstance(m, dict)]
    for m in sorted(readings, key=lambda m: m.get("attempt") or 1):  # stable: same attempt keeps body order
        field, value = m.get("field"), m.get("value")
        if field in found and isinstance(value, (int, float)) and not isinstance(value, bool):
            found[field] = float(value)
    return found



#: The columns of ``exams`` other than the body and the measurement columns, in INSERT_EXAM's order.
EXAM_COLUMNS = ("event_id", "site", "kiosk", "seq", "exam_id", "worker_id", "exam_type", "started_at",
                "finished_at", "outcome", "rule_set_version", "historical", "kiosk_ts", "received_at",
                "chain_status", "incarnation")

#: ``INSERT`` of one exam row at revision 0002 (Store.commit_batch; bulk writers use the same text)
INSERT_EXAM = (f"INSERT INTO exams ({', '.join(EXAM_COLUMNS + MEASUREMENT_COLUMNS)}, body_z) "
               f"VALUES ({','.join('?' * (len(EXAM_COLUMNS) + len(MEASUREMENT_COLUMNS) + 1))})")


def exam_row(columns: tuple | list, body_text: str, body: dict[str, Any] | None = None) -> tuple:
    """The parameters of INSERT_EXAM: ``columns`` (the values of EXAM_COLUMNS), then the measurement
    columns and the stored body of ``body_text`` (``body``: the same text parsed, when at hand)."""
    if len(columns) != len(EXAM_COLUMNS):
        raise ValueError(f"an exam row has {len(EXAM_COLUMNS)} columns besides its body, not {len(columns)}")
    values = last_values(json.loads(body_text) if body is None else body)
    return (*columns, *(values[field] for field in MEASUREMENT_COLUMNS), encode_body(body_text))
