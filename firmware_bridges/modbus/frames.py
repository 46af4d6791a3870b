"""Modbus RTU frames and CRC-16/MODBUS (devices.md §7). Pure; :class:`DecodeError` only.

Frame: ``address | function | data | CRC-16 (low byte first)``; ≤ 256 bytes.
CRC-16/MODBUS: init 0xFFFF, reflected poly 0xA001, no final XOR; the CRC over a whole
frame including its CRC is 0 (§7, **V**: ``01 03 00 00 00 01 84 0A``).
Exception reply: ``function | 0x80, code`` — 01 illegal function, 02 illegal data
address, 03 illegal data value, 04 server device failure.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from firmware_bridges.readings import DecodeError

MAX_FRAME = 256

EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


def crc16_modbus(data: bytes) -> int:
    """devices.md §7 reference implementation."""
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def with_crc(pdu: bytes) -> bytes:
    return pdu + struct.pack("<H", crc16_modbus(pdu))


def read_request(unit: int, function: int, address: int, count: int) -> bytes:
    """FC 01/02/03/04 request, e.g. (1, 3, 0, 1) → ``01 03 00 00 00 01 84 0A``."""
    if function not in (1, 2, 3, 4):
        raise ValueError("read functions are 1, 2, 3, 4")
    return with_crc(struct.pack(">BBHH", unit, function, address, count))


@dataclass(frozen=True)
class ReadResponse:
    unit: int
    function: int
    payload: bytes  # the data bytes after the byte count

    def registers(self) -> list[int]:
        return list(struct.unpack(f">{len(self.payload) // 2}H", self.payload))

    def bits(self, count: int) -> list[bool]:
        return [bool(self.payload[i // 8] >> (i % 8) & 1) for i in range(min(count, len(self.payload) * 8))]

    def encode(self) -> bytes:
        return with_crc(bytes([self.unit, self.function, len(self.payload)]) + self.payload)


@dataclass(frozen=True)
class ExceptionResponse:
    unit: int
    function: int  # the original function (without 0x80)
    code: int

    @property
    def name(self) -> str:
        return EXCEPTION_NAMES.get(self.code, f"exception {self.code}")

    def encode(self) -> bytes:
        return with_crc(bytes([self.unit, self.function | 0x80, self.code]))


def decode_response(frame: bytes, expect_unit: int | None = None, expect_function: int | None = None) -> ReadResponse | ExceptionResponse:
    """A read-response or exception frame → dataclass; checks CRC, length and byte count."""
    if not isinstance(frame, (bytes, bytearray)):
        raise DecodeError("Modbus frame must be bytes")
    frame = bytes(frame)
    if len(frame) < 5:
        raise DecodeError(f"Modbus RTU frame too short ({len(frame)} bytes; minimum 5): truncated")
    if len(frame) > MAX_FRAME:
        raise DecodeError(f"Modbus RTU frame longer than {MAX_FRAME} bytes (wrong length)")
    if crc16_modbus(frame) != 0:
        got = struct.unpack("<H", frame[-2:])[0]
        raise DecodeError(f"Modbus CRC mismatch: frame says {got:04X}, computed {crc16_modbus(frame[:-2]):04X}")
    unit, fn = frame[0], frame[1]
    if expect_unit is not None and unit != expect_unit:
        raise DecodeError(f"Modbus reply from unit {unit}, expected {expect_unit}")
    if fn & 0x80:
        if len(frame) != 5:
            raise DecodeError(f"Modbus exception frame must be 5 bytes, got {len(frame)}")
        base = fn & 0x7F
        if expect_function is not None and base != expect_function:
            raise DecodeError(f"Modbus exception for function {base}, expected {expect_function}")
        return ExceptionResponse(unit, base, frame[2])
    if fn not in (1, 2, 3, 4):
        raise DecodeError(f"Modbus function {fn} is not a read response (1–4 supported)")
    if expect_function is not None and fn != expect_function:
        raise DecodeError(f"Modbus reply function {fn}, expected {expect_function}")
    n = frame[2]
    if len(frame) != 5 + n:
        raise DecodeError(f"Modbus byte count says {n} data bytes but the frame has {len(frame) - 5} (wrong length)")
    if fn in (3, 4) and n % 2:
        raise DecodeError(f"Modbus register reply has an odd byte count {n}")
    return ReadResponse(unit, fn, frame[3:-2])
