"""orjson fast paths for the hub's ingest with exactly the results of the json module (issue 11).

The wire contract's decoder (``firmware_bridges.contract.load_json_object``) and the sorted, compact
JSON that the evidence chain and the content hash are computed over (``canonical_json``,
``hub.store.content_hash``) are defined by the standard library. The kiosk has no orjson, and a
signature or a stored content hash must not depend on which library wrote the bytes. So orjson is
used only where it provably gives the same thing, and the json module decides everything else:

* **numbers** are where the two differ. Reading: orjson reads an integer past 64 bits as a float;
  a payload with 19 digits in a row (, in a number or, rarely, inside a string) sends such a
  payload to the json module. Floats: both read the correctly rounded value. Writing: orjson writes
  floats below 1e-4 or from 1e16 up in another notation (``1.5e-7`` / ``0.00001`` where json writes
  ``1.5e-07`` / ``1e-05``) and refuses integers past 64 bits; :func:`_orjson_writes_alike` finds every number
  token of compact output that may be one of those (an exponent, ``0.0000``, 17 digits), and then the
  json module writes the text. Other floats: both write the shortest text that reads back the same
  (tests/reliability/test_wire_json.py holds them equal on random floats);
* **anything orjson refuses** (bad UTF-8, NaN, lone surrogates, 1e400, nesting past 1024) is
  decoded again by the json module, so the error and its reason code are the contract's own;
* **nesting**: a payload with at most ``max_depth`` brackets cannot nest deeper; only a longer one
  is walked (``json_depth``).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from firmware_bridges.contract import ContractError, json_depth, load_json_object


def _table(keep: dict[bytes, bytes]) -> bytes:
    table = bytearray(b" " * 256)
    for chars, into in keep.items():
        for char in chars:
            table[char] = into[0]
    return bytes(table)


#: Digits become ``0``, everything else a space: 19 zeros in a row are 19 digits in a row, a payload that
#: may hold an integer past 64 bits (orjson would read it as a float).
_DIGITS = _table({b"0123456789": b"0"})
_LONG_INTEGER = b"0" * 19
#: Number characters kept (digits as ``0``, the exponent as ``e``), ``:``, ``,``, ``[`` as ``:`` (what a number
#: token of compact JSON follows), everything else a space.
_NUMBERS = _table({b"0123456789": b"0", b"eE": b"e", b".": b".", b"-": b"-", b":,[": b":"})
_DIGIT_OR_POINT = b"0."


def _orjson_writes_alike(text: bytes) -> bool:
    """False when compact ``text`` holds a number token orjson may write otherwise than json: one with an
    exponent, one below 1e-4 (``0.0000…``), or 17 digits before the point. Inside a string such a shape
    gives a false alarm, never a miss (then json writes the text)."""
    t = text.translate(_NUMBERS)
    if b":0.0000" in t or b":-0.0000" in t or b":00000000000000000" in t or b":-00000000000000000" in t:
        return False
    at = t.find(b"0e")
    while at >= 0:  # an exponent: does the run of digits and points before it start a number token?
        start = at
        while start > 0 and t[start - 1] in _DIGIT_OR_POINT:
            start -= 1
        if start > 0 and t[start - 1] == 0x2D:  # "-"
            start -= 1
        if start > 0 and t[start - 1] == 0x3A:  # ":" (from ":", "," or "[")
            return False
        at = t.find(b"0e", at + 2)
    return True


def load_payload(payload: bytes, max_depth: int) -> dict[str, Any]:
    """``load_json_object(payload, max_depth)``, the same dict or the same ContractError, faster."""
    if _LONG_INTEGER in payload.translate(_DIGITS):
        return load_json_object(payload, max_depth)
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:  # the contract's decoder says what is wrong, with its code
        return load_json_object(payload, max_depth)
    if not isinstance(data, dict):
        return load_json_object(payload, max_depth)
    if payload.count(b"{") + payload.count(b"[") > max_depth and json_depth(data, max_depth) > max_depth:
        raise ContractError(f"payload nests deeper than {max_depth} levels", "too_deep")
    return data


def sorted_compact(value: Any, allow_nan: bool = True) -> bytes:
    """``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=allow_nan)``
    as UTF-8, for decoded JSON (dicts, lists, str, int, float, bool, None — never NaN or ±Infinity, which
    the contract refuses and orjson would write as null): the same bytes, faster."""
    try:
        text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # an integer past 64 bits
        text = None
    if text is None or not _orjson_writes_alike(text):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=allow_nan).encode("utf-8")
    return text


def canonical_json(body: dict[str, Any]) -> bytes:
    """``firmware_bridges.evidence.canonical_json``: the body without its seal, sorted and compact."""
    return sorted_compact({k: v for k, v in body.items() if k != "chain"})
