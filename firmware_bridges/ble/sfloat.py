"""IEEE-11073-20601 SFLOAT (16-bit) and FLOAT (32-bit) numbers, and the GATT Date Time.

Layout (devices.md §1.1, sources [HL7-PHD] ``MderFLOATsandSFLOATs.md`` and [WS]
wireshark ``ftype-ieee-11073-float.c``):

* SFLOAT = 4-bit two's-complement exponent (top nibble) + 12-bit two's-complement mantissa;
* FLOAT  = 8-bit two's-complement exponent (top byte)   + 24-bit two's-complement mantissa;
* value = mantissa x 10**exponent, little-endian on air.

Special values are exact raw codes with exponent 0 (devices.md §1.1 table).  They decode
to a :class:`Special` member, never to a number.  Normal values decode to a
:class:`decimal.Decimal` whose exponent is the encoded one, so ``37.60`` keeps its two
decimals (``Decimal("37.60")``) and ``38.4`` never becomes ``38.400000000000006``
(devices.md §1.1 implementation notes, §11 #8).

Date Time 0x2A08 (devices.md §1.2, GATT Specification Supplement "Date Time"): 7 bytes
``uint16 year, uint8 month, day, hours, minutes, seconds``; year/month/day 0 = "not known".

Nothing here imports bleak or bumble: pure functions, used by the decoders and by the
simulators' encoders.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum

from firmware_bridges.readings import DecodeError


class BleDecodeError(DecodeError):
    """The only exception the BLE decoders raise on bad bytes (a :class:`DecodeError`)."""


class Special(str, Enum):
    """IEEE-11073 special values; the member value is the reason stored in ``Reading.invalid``.

    FHIR ``dataAbsentReason`` per [HL7-PHD]: NaN → not-a-number, NRes → error,
    +INF → positive-infinity, −INF → negative-infinity, reserved → error
    (see :data:`FHIR_DATA_ABSENT_REASON`). We keep NRes and reserved distinct.
    """

    NAN = "not-a-number"
    NRES = "not-at-this-resolution"
    POSITIVE_INFINITY = "positive-infinity"
    NEGATIVE_INFINITY = "negative-infinity"
    RESERVED = "reserved-value"


FHIR_DATA_ABSENT_REASON: dict[Special, str] = {
    Special.NAN: "not-a-number",
    Special.NRES: "error",
    Special.POSITIVE_INFINITY: "positive-infinity",
    Special.NEGATIVE_INFINITY: "negative-infinity",
    Special.RESERVED: "error",
}

#: a decoded medical number: an exact decimal, or the special value the device sent
MderNumber = Decimal | Special

# raw codes, devices.md §1.1 table ([HL7-PHD], [WS])
_SFLOAT_SPECIAL = {
    0x07FF: Special.NAN,
    0x0800: Special.NRES,
    0x07FE: Special.POSITIVE_INFINITY,
    0x0802: Special.NEGATIVE_INFINITY,
    0x0801: Special.RESERVED,
}
_FLOAT_SPECIAL = {
    0x007FFFFF: Special.NAN,
    0x00800000: Special.NRES,
    0x007FFFFE: Special.POSITIVE_INFINITY,
    0x00800002: Special.NEGATIVE_INFINITY,
    0x00800001: Special.RESERVED,
}
_SFLOAT_SPECIAL_RAW = {v: k for k, v in _SFLOAT_SPECIAL.items()}
_FLOAT_SPECIAL_RAW = {v: k for k, v in _FLOAT_SPECIAL.items()}

#: largest normal mantissa magnitude that cannot collide with a special code (devices.md §1.1 notes)
SFLOAT_MANTISSA_MAX = 2045
FLOAT_MANTISSA_MAX = 8_388_605


def _twos(value: int, bits: int) -> int:
    return value - (1 << bits) if value & (1 << (bits - 1)) else value


def sfloat_from_raw(raw: int) -> MderNumber:
    """Decode a 16-bit SFLOAT raw value (already assembled little-endian)."""
    if raw in _SFLOAT_SPECIAL:
        return _SFLOAT_SPECIAL[raw]
    exponent = _twos(raw >> 12, 4)
    mantissa = _twos(raw & 0x0FFF, 12)
    return Decimal(mantissa).scaleb(exponent)


def float_from_raw(raw: int) -> MderNumber:
    """Decode a 32-bit FLOAT raw value."""
    if raw in _FLOAT_SPECIAL:
        return _FLOAT_SPECIAL[raw]
    exponent = _twos(raw >> 24, 8)
    mantissa = _twos(raw & 0x00FFFFFF, 24)
    return Decimal(mantissa).scaleb(exponent)


def decode_sfloat(data: bytes, offset: int = 0) -> MderNumber:
    if len(data) < offset + 2:
        raise BleDecodeError(f"SFLOAT at offset {offset} needs 2 bytes, only {max(0, len(data) - offset)} left")
    return sfloat_from_raw(int.from_bytes(data[offset : offset + 2], "little"))


def decode_float(data: bytes, offset: int = 0) -> MderNumber:
    if len(data) < offset + 4:
        raise BleDecodeError(f"FLOAT at offset {offset} needs 4 bytes, only {max(0, len(data) - offset)} left")
    return float_from_raw(int.from_bytes(data[offset : offset + 4], "little"))


def _mantissa_exponent(value: Decimal) -> tuple[int, int]:
    if not value.is_finite():
        raise ValueError(f"{value!r} is not a finite decimal; use a Special member")
    sign, digits, exponent = value.as_tuple()
    mantissa = int("".join(map(str, digits)) or "0")
    return (-mantissa if sign else mantissa), int(exponent)


def sfloat_to_raw(value: MderNumber) -> int:
    """Encode (simulators / tests). The decimal's own exponent is kept (2.0 ≠ 2.00 on air)."""
    if isinstance(value, Special):
        return _SFLOAT_SPECIAL_RAW[value]
    mantissa, exponent = _mantissa_exponent(Decimal(value))
    if not -8 <= exponent <= 7 or abs(mantissa) > SFLOAT_MANTISSA_MAX:
        raise ValueError(f"{value} does not fit an SFLOAT (mantissa ±{SFLOAT_MANTISSA_MAX}, exponent -8..7)")
    return ((exponent & 0xF) << 12) | (mantissa & 0x0FFF)


def float_to_raw(value: MderNumber) -> int:
    if isinstance(value, Special):
        return _FLOAT_SPECIAL_RAW[value]
    mantissa, exponent = _mantissa_exponent(Decimal(value))
    if not -128 <= exponent <= 127 or abs(mantissa) > FLOAT_MANTISSA_MAX:
        raise ValueError(f"{value} does not fit a FLOAT (mantissa ±{FLOAT_MANTISSA_MAX}, exponent -128..127)")
    return ((exponent & 0xFF) << 24) | (mantissa & 0x00FFFFFF)


def encode_sfloat(value: MderNumber) -> bytes:
    return sfloat_to_raw(value).to_bytes(2, "little")


def encode_float(value: MderNumber) -> bytes:
    return float_to_raw(value).to_bytes(4, "little")


def quantize_sfloat(value: float | Decimal, decimals: int) -> Decimal:
    """A value rounded to ``decimals`` places as an encodable decimal (for simulators)."""
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-decimals))


# --------------------------------------------------------------------------- Date Time 0x2A08


@dataclass(frozen=True)
class DateTime:
    """GATT Date Time 0x2A08 exactly as sent (devices.md §1.2). 0 in year/month/day = unknown."""

    year: int
    month: int
    day: int
    hours: int
    minutes: int
    seconds: int

    SIZE = 7

    @classmethod
    def from_datetime(cls, value: datetime) -> "DateTime":
        return cls(value.year, value.month, value.day, value.hour, value.minute, value.second)

    def is_known(self) -> bool:
        return self.year != 0 and self.month != 0 and self.day != 0

    def problem(self) -> str | None:
        """Why this timestamp cannot become a datetime (None if it can)."""
        unknown = [n for n, v in (("year", self.year), ("month", self.month), ("day", self.day)) if v == 0]
        if unknown:
            return "device time unknown (" + ", ".join(unknown) + " = 0)"
        if not (1582 <= self.year <= 9999):
            return f"device year {self.year} out of range 1582..9999"
        try:
            datetime(self.year, self.month, self.day, self.hours, self.minutes, self.seconds)
        except ValueError as exc:
            return f"device time invalid: {exc}"
        return None

    def to_datetime(self) -> datetime | None:
        """Naive device-local datetime (the timestamp has no zone, §1.2), or None if unknown/invalid."""
        if self.problem() is not None:
            return None
        return datetime(self.year, self.month, self.day, self.hours, self.minutes, self.seconds)

    def iso(self) -> str:
        """What the device sent, printable even when partly unknown (``0000-04-17T20:41:59``)."""
        return (
            f"{self.year:04d}-{self.month:02d}-{self.day:02d}T"
            f"{self.hours:02d}:{self.minutes:02d}:{self.seconds:02d}"
        )

    def encode(self) -> bytes:
        return struct.pack("<HBBBBB", self.year, self.month, self.day, self.hours, self.minutes, self.seconds)


def decode_date_time(data: bytes, offset: int = 0) -> DateTime:
    if len(data) < offset + DateTime.SIZE:
        raise BleDecodeError(
            f"Date Time at offset {offset} needs 7 bytes, only {max(0, len(data) - offset)} left (truncated PDU)"
        )
    return DateTime(*struct.unpack_from("<HBBBBB", data, offset))


def decimal_text(value: MderNumber | None) -> str | None:
    """How a value is kept in ``device_values``: the exact decimal (``"37.60"``) or the special's name."""
    if value is None:
        return None
    if isinstance(value, Special):
        return value.value
    return format(value, "f")
