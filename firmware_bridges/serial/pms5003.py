"""Plantower PMS5003 / PMS7003 codec (devices.md §5.1, [PMS]).

32-byte frame, all words big-endian::

    0-1  42 4D ("BM")
    2-3  frame length = 28 (00 1C)
    4-15 PM1.0, PM2.5, PM10 at CF=1 (standard particle), then PM1.0, PM2.5, PM10 under
         atmospheric environment (µg/m³)
    16-27 particle counts per 0.1 L: >0.3, >0.5, >1.0, >2.5, >5.0, >10 µm
    28-29 reserved
    30-31 checksum = low 16 bits of the sum of bytes 0-29

The shared vocabulary's ``pm*_ugm3`` fields carry the **atmospheric-environment** values
(issue 4); CF=1 values and counts are kept in ``device_values``. Commands are 7 bytes
with a 16-bit sum checksum (§5.1 table). A PM sensor is not a smoke detector (§5.1 D).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from firmware_bridges.readings import DecodeError, Reading

SYNC = b"\x42\x4d"
FRAME_LEN = 32
LENGTH_FIELD = 28

#: Plantower datasheet effective range of PM2.5 is 0–500 µg/m³, maximum 1000 µg/m³;
#: beyond 1000 the frame is implausible (S, PMS5003 datasheet "maximum range").
PLAUSIBLE_UGM3 = (0, 1000)

COUNT_KEYS = ("gt0_3um", "gt0_5um", "gt1_0um", "gt2_5um", "gt5_0um", "gt10um")


@dataclass(frozen=True)
class PmsFrame:
    pm1_0_cf1: int
    pm2_5_cf1: int
    pm10_cf1: int
    pm1_0_atm: int
    pm2_5_atm: int
    pm10_atm: int
    counts: tuple[int, int, int, int, int, int]
    reserved: int = 0

    def encode(self) -> bytes:
        body = SYNC + struct.pack(
            ">H13H",
            LENGTH_FIELD,
            self.pm1_0_cf1,
            self.pm2_5_cf1,
            self.pm10_cf1,
            self.pm1_0_atm,
            self.pm2_5_atm,
            self.pm10_atm,
            *self.counts,
            self.reserved,
        )
        return body + struct.pack(">H", sum(body) & 0xFFFF)


def frame_problem(frame: bytes) -> str | None:
    """Why this is not a valid PMS5003 frame (None when it is). Used by the framer."""
    if len(frame) != FRAME_LEN:
        return f"PMS5003 frame must be {FRAME_LEN} bytes, got {len(frame)} (truncated / wrong length)"
    if frame[:2] != SYNC:
        return "no sync: PMS5003 frame must start with 42 4D ('BM')"
    (length,) = struct.unpack(">H", frame[2:4])
    if length != LENGTH_FIELD:
        return f"PMS5003 length field is {length}, expected 28 (wrong length)"
    want = struct.unpack(">H", frame[30:32])[0]
    got = sum(frame[:30]) & 0xFFFF
    if want != got:
        return f"PMS5003 checksum mismatch: frame says {want:04X}, sum of bytes 0-29 is {got:04X}"
    return None


def decode_frame(frame: bytes) -> PmsFrame:
    if not isinstance(frame, (bytes, bytearray)):
        raise DecodeError("PMS5003 frame must be bytes")
    frame = bytes(frame)
    why = frame_problem(frame)
    if why:
        raise DecodeError(why)
    w = struct.unpack(">13H", frame[4:30])
    return PmsFrame(w[0], w[1], w[2], w[3], w[4], w[5], counts=(w[6], w[7], w[8], w[9], w[10], w[11]), reserved=w[12])


def frame_to_reading(f: PmsFrame, raw: bytes | None = None) -> Reading:
    return Reading(
        pm1_0_ugm3=float(f.pm1_0_atm),
        pm2_5_ugm3=float(f.pm2_5_atm),
        pm10_ugm3=float(f.pm10_atm),
        device_values={
            "pm1_0_cf1": f.pm1_0_cf1,
            "pm2_5_cf1": f.pm2_5_cf1,
            "pm10_cf1": f.pm10_cf1,
            "pm1_0_atm": f.pm1_0_atm,
            "pm2_5_atm": f.pm2_5_atm,
            "pm10_atm": f.pm10_atm,
            "counts_per_0_1l": dict(zip(COUNT_KEYS, f.counts, strict=True)),
        },
        raw_hex=raw.hex() if raw is not None else None,
    )


def decode_reading(frame: bytes) -> Reading:
    """Profile ``pms5003``: one 32-byte frame → Reading (atmospheric PM values)."""
    return frame_to_reading(decode_frame(frame), raw=bytes(frame))


def command(cmd: int, data: int) -> bytes:
    """7-byte command ``42 4D cmd dataH dataL chkH chkL`` (§5.1)."""
    body = SYNC + bytes([cmd]) + struct.pack(">H", data)
    return body + struct.pack(">H", sum(body) & 0xFFFF)


CMD_PASSIVE = command(0xE1, 0)  # 42 4D E1 00 00 01 70
CMD_ACTIVE = command(0xE1, 1)  # 42 4D E1 00 01 01 71
CMD_READ = command(0xE2, 0)  # 42 4D E2 00 00 01 71
CMD_SLEEP = command(0xE4, 0)  # 42 4D E4 00 00 01 73
CMD_WAKE = command(0xE4, 1)  # 42 4D E4 00 01 01 74
