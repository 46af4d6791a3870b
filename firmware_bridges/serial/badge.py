"""Badge reader codecs (devices.md §6): RDM6300-style EM-Marine frames and CDC text lines.

RDM6300 frame, 14 bytes [RDM] (§6.1, vector **V**)::

    02 | 10 ASCII hex chars (2 version/customer + 8 card) | 2 ASCII hex checksum | 03

checksum = XOR of the 5 data bytes. ``02 '13005D1DA5' 'F6' 03`` → version 0x13, card
0x005D1DA5, shown as ``0006102437`` (10-digit decimal of the 32-bit number) or
``093,07589`` (Wiegand-26 style: bits 16–23, low 16 bits).

CDC readers (§6.2) print a line: 10 decimal digits (EM) or a Mifare UID in hex
(4 or 7 bytes, optionally separated by ':' / ' ' / '-').

The same card gives different strings depending on reader settings, so the raw value
is kept in ``device_values`` and ``card_id`` uses the configured display format (§6.2 D).
Pure functions; only :class:`DecodeError` on bad input.
"""

from __future__ import annotations

import re

from firmware_bridges.readings import DecodeError, Reading

STX, ETX = 0x02, 0x03
RDM6300_LEN = 14
CARD_FORMATS = ("em-decimal10", "em-wiegand26", "hex")
_HEX = b"0123456789ABCDEFabcdef"


def _xor(data: bytes) -> int:
    c = 0
    for b in data:
        c ^= b
    return c


def rdm6300_problem(frame: bytes) -> str | None:
    """Why ``frame`` is not an RDM6300 frame (None if it is one). Used by the framer."""
    if len(frame) != RDM6300_LEN:
        return f"RDM6300 frame must be {RDM6300_LEN} bytes, got {len(frame)} (wrong length/truncated)"
    if frame[0] != STX:
        return "no sync: RDM6300 frame must start with 02 (STX)"
    if frame[-1] != ETX:
        return "RDM6300 frame must end with 03 (ETX): truncated or garbage"
    body = frame[1:13]
    if any(b not in _HEX for b in body):
        return "RDM6300 frame body must be 12 ASCII hex characters"
    data = bytes.fromhex(body[:10].decode())
    want = int(body[10:12], 16)
    got = _xor(data)
    if got != want:
        return f"RDM6300 checksum mismatch: frame says {want:02X}, XOR of data is {got:02X}"
    return None


def encode_rdm6300(version: int, card: int) -> bytes:
    """Encoder (for simulators and round-trip tests)."""
    if not (0 <= version <= 0xFF and 0 <= card <= 0xFFFFFFFF):
        raise ValueError("version is 8 bits and card 32 bits")
    data = bytes([version]) + card.to_bytes(4, "big")
    return bytes([STX]) + data.hex().upper().encode() + f"{_xor(data):02X}".encode() + bytes([ETX])


def format_em(card: int, fmt: str) -> str:
    if fmt == "em-decimal10":
        return f"{card:010d}"
    if fmt == "em-wiegand26":
        return f"{(card >> 16) & 0xFF:03d},{card & 0xFFFF:05d}"
    if fmt == "hex":
        return f"{card:08X}"
    raise ValueError(f"unknown card format {fmt!r}; one of {CARD_FORMATS}")


def decode_rdm6300(frame: bytes, card_format: str = "em-decimal10") -> Reading:
    """Profile ``rdm6300``: one 14-byte frame → Reading with ``card_id``."""
    if not isinstance(frame, (bytes, bytearray)):
        raise DecodeError("RDM6300 frame must be bytes")
    frame = bytes(frame)
    why = rdm6300_problem(frame)
    if why:
        raise DecodeError(why)
    data = bytes.fromhex(frame[1:11].decode())
    version, card = data[0], int.from_bytes(data[1:], "big")
    return Reading(
        card_id=format_em(card, card_format),
        device_values={
            "em_hex": data.hex().upper(),  # the raw 40-bit EM value
            "version": version,
            "card32": card,
            "decimal10": format_em(card, "em-decimal10"),
            "wiegand26": format_em(card, "em-wiegand26"),
        },
        status={"format": card_format, "technology": "EM-Marine 125 kHz"},
        raw_hex=frame.hex(),
    )


_DEC_RE = re.compile(r"^\d{10}$")
_UID_RE = re.compile(r"^(?:[0-9A-Fa-f]{2}[:\- ]?){3}[0-9A-Fa-f]{2}$|^(?:[0-9A-Fa-f]{2}[:\- ]?){6}[0-9A-Fa-f]{2}$")


def decode_badge_line(line: bytes) -> Reading:
    """Profile ``badge-line``: a CDC reader's text line → Reading.

    10 decimal digits → EM card (``card_id`` as printed); 4- or 7-byte hex → Mifare UID
    (``card_id`` = upper-case hex without separators).
    """
    if not isinstance(line, (bytes, bytearray)):
        raise DecodeError("badge line must be bytes")
    text_b = bytes(line).strip(b"\r\n")
    try:
        text = text_b.decode("ascii").strip()
    except UnicodeDecodeError:
        raise DecodeError("badge line is not ASCII text") from None
    if not text:
        raise DecodeError("empty badge line")
    if _DEC_RE.match(text):
        card = int(text)
        if card > 0xFFFFFFFF:
            raise DecodeError(f"badge number {text} does not fit 32 bits (EM-Marine)")
        return Reading(
            card_id=text,
            device_values={"decimal10": text, "card32": card, "wiegand26": format_em(card, "em-wiegand26")},
            status={"format": "em-decimal10", "technology": "EM-Marine 125 kHz"},
            raw_hex=bytes(line).hex(),
        )
    if _UID_RE.match(text):
        uid = re.sub(r"[:\- ]", "", text).upper()
        if len(uid) not in (8, 14):
            raise DecodeError(f"Mifare UID must be 4 or 7 bytes, got {len(uid) // 2}")
        return Reading(
            card_id=uid,
            device_values={"uid_hex": uid, "uid_bytes": len(uid) // 2, "as_printed": text},
            status={"format": "hex", "technology": "Mifare 13.56 MHz"},
            raw_hex=bytes(line).hex(),
        )
    raise DecodeError(
        f"badge line {text[:40]!r} is neither 10 decimal digits (EM) nor a 4/7-byte hex UID (Mifare)"
    )


def encode_badge_line(card_id: str) -> bytes:
    return card_id.encode("ascii") + b"\r\n"
