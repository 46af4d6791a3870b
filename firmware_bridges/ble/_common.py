"""Small helpers shared by the BLE decoders: cursor over a PDU and Reading assembly."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import TYPE_CHECKING, Any, Callable

from firmware_bridges.ble.sfloat import (
    BleDecodeError,
    DateTime,
    MderNumber,
    Special,
    decimal_text,
    decode_date_time,
    decode_float,
    decode_sfloat,
)

if TYPE_CHECKING:
    from firmware_bridges.readings import Reading


class Cursor:
    """Reads fields in flag order and insists the PDU is consumed exactly (devices.md §1 common rules)."""

    def __init__(self, data: bytes | bytearray | memoryview, what: str) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise BleDecodeError(f"{what}: expected bytes, got {type(data).__name__}")
        self.data = bytes(data)
        self.what = what
        self.pos = 0

    def need(self, n: int, field: str) -> None:
        if len(self.data) < self.pos + n:
            raise BleDecodeError(
                f"{self.what}: truncated PDU — field '{field}' needs {n} byte(s) at offset {self.pos}, "
                f"PDU has {len(self.data)} byte(s) ({self.data.hex(' ')}); check the device profile"
            )

    def u8(self, field: str) -> int:
        self.need(1, field)
        v = self.data[self.pos]
        self.pos += 1
        return v

    def u16(self, field: str) -> int:
        self.need(2, field)
        v = int.from_bytes(self.data[self.pos : self.pos + 2], "little")
        self.pos += 2
        return v

    def u24(self, field: str) -> int:
        self.need(3, field)
        v = int.from_bytes(self.data[self.pos : self.pos + 3], "little")
        self.pos += 3
        return v

    def sfloat(self, field: str) -> MderNumber:
        self.need(2, field)
        v = decode_sfloat(self.data, self.pos)
        self.pos += 2
        return v

    def float32(self, field: str) -> MderNumber:
        self.need(4, field)
        v = decode_float(self.data, self.pos)
        self.pos += 4
        return v

    def date_time(self, field: str) -> DateTime:
        self.need(DateTime.SIZE, field)
        v = decode_date_time(self.data, self.pos)
        self.pos += DateTime.SIZE
        return v

    def end(self) -> None:
        if self.pos != len(self.data):
            extra = self.data[self.pos :]
            raise BleDecodeError(
                f"{self.what}: {len(extra)} unexpected trailing byte(s) ({extra.hex(' ')}) after a "
                f"{self.pos}-byte PDU; the flags do not match the payload (wrong profile or corrupt data)"
            )


# Unit conversions. 1 mmHg = 133.322387415 Pa (exact, ISO 80000-4 / BIPM); °C = (°F − 32) × 5/9.
PA_PER_MMHG = Decimal("133.322387415")


def kpa_to_mmhg(value: Decimal) -> Decimal:
    """kPa → mmHg, rounded to 0.1 mmHg (a kPa device with 0.1 kPa resolution ≈ 0.75 mmHg steps)."""
    with localcontext() as ctx:  # FLOAT/SFLOAT exponents reach ±128: enough digits for any of them
        ctx.prec = 400
        return (value * 1000 / PA_PER_MMHG).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def fahrenheit_to_celsius(value: Decimal) -> Decimal:
    """°F → °C, rounded to 0.01 °C (finer than any clinical thermometer's 0.1 °F step)."""
    with localcontext() as ctx:
        ctx.prec = 400
        return ((value - 32) * 5 / 9).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


class ReadingBuilder:
    """Collects fields for a :class:`Reading`; invalid values become None + reason, never numbers."""

    def __init__(self, raw: bytes) -> None:
        self.fields: dict[str, Any] = {}
        self.invalid: dict[str, str] = {}
        self.status: dict[str, Any] = {}
        self.device_values: dict[str, Any] = {}
        self.device_time: datetime | None = None
        self.raw = raw

    def number(
        self,
        field: str,
        value: MderNumber,
        device_key: str,
        convert: Callable[[Decimal], Decimal] | None = None,
    ) -> None:
        self.device_values[device_key] = decimal_text(value)
        if isinstance(value, Special):
            self.fields[field] = None
            self.invalid[field] = value.value
        else:
            self.fields[field] = float(convert(value) if convert else value)

    def mark_invalid(self, field: str, reason: str) -> None:
        """The device flagged the value unusable: drop the number (kept in device_values) and say why."""
        if field in self.fields:
            self.fields[field] = None
            self.invalid.setdefault(field, reason)

    def timestamp(self, ts: DateTime | None, *, clock_not_set: bool = False) -> None:
        if ts is None:
            return
        self.device_values["device_time"] = ts.iso()
        problem = ts.problem()
        if clock_not_set:
            problem = "device clock is not set (PLX flag bit 4)"
        if problem:
            self.device_values["device_time_problem"] = problem
        else:
            self.device_time = ts.to_datetime()

    def build(self) -> Reading:
        from firmware_bridges.readings import Reading

        return Reading(
            **self.fields,
            invalid=self.invalid,
            status=self.status,
            device_values=self.device_values,
            device_time=self.device_time,
            raw_hex=self.raw.hex(),
        )
