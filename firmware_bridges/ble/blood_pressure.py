"""Blood Pressure Service 0x1810 — Measurement 0x2A35 and Intermediate Cuff Pressure 0x2A36.

Layout (devices.md §1.4; Bluetooth SIG BLS 1.0, GATT Specification Supplement
"Blood Pressure Measurement"; Nordic tests [NRF-BPM], [NRF-ICP]; status bits [NRF-BPS]
``BloodPressureTypes.java``; Spezi [SPEZI-ICP]):

====== ==== =====================================================================
offset size field
====== ==== =====================================================================
0      1    flags: bit0 0 = mmHg / 1 = kPa; bit1 Time Stamp; bit2 Pulse Rate;
            bit3 User ID; bit4 Measurement Status; bits 5–7 RFU (ignored)
1      2    Systolic (SFLOAT)   — in 0x2A36: current cuff pressure
3      2    Diastolic (SFLOAT)  — in 0x2A36: unused (NaN per spec, 0 in Nordic's test)
5      2    Mean Arterial Pressure (SFLOAT) — in 0x2A36: unused
7      7    Time Stamp (Date Time §1.2)   — if bit1
…      2    Pulse Rate (SFLOAT, 1/min)      — if bit2
…      1    User ID (0xFF = unknown user)   — if bit3
…      2    Measurement Status (uint16)     — if bit4
====== ==== =====================================================================

Measurement Status bits [NRF-BPS]: 0 body movement; 1 cuff too loose; 2 irregular pulse;
3–4 pulse-rate range (00 within, 01 above upper limit, 10 below lower limit, 11 reserved);
5 improper measurement position; 6–15 RFU.

0x2A35 is indicated (one record per indication, each confirmed); 0x2A36 is notified.
The status flags are quality information: the values stay, the flags go to
``Reading.status`` for the admission rules to weigh.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware_bridges.ble._common import Cursor, ReadingBuilder, kpa_to_mmhg
from firmware_bridges.ble.sfloat import DateTime, MderNumber, Special, encode_sfloat
from firmware_bridges.readings import Reading

SERVICE_UUID = 0x1810
BLOOD_PRESSURE_MEASUREMENT_UUID = 0x2A35  # Indicate
INTERMEDIATE_CUFF_PRESSURE_UUID = 0x2A36  # Notify
BLOOD_PRESSURE_FEATURE_UUID = 0x2A49  # Read

FLAG_KPA = 0x01
FLAG_TIMESTAMP = 0x02
FLAG_PULSE = 0x04
FLAG_USER = 0x08
FLAG_STATUS = 0x10

STATUS_BODY_MOVEMENT = 0x0001
STATUS_CUFF_LOOSE = 0x0002
STATUS_IRREGULAR_PULSE = 0x0004
STATUS_PULSE_RANGE_MASK = 0x0018
STATUS_IMPROPER_POSITION = 0x0020

PULSE_RANGE = {0: "within-range", 1: "exceeds-upper-limit", 2: "below-lower-limit", 3: "reserved"}
USER_UNKNOWN = 0xFF


def decode_status(status: int) -> dict[str, object]:
    """Measurement Status uint16 → named flags (devices.md §1.4 status table)."""
    return {
        "body_movement": bool(status & STATUS_BODY_MOVEMENT),
        "cuff_too_loose": bool(status & STATUS_CUFF_LOOSE),
        "irregular_pulse": bool(status & STATUS_IRREGULAR_PULSE),
        "pulse_rate_range": PULSE_RANGE[(status & STATUS_PULSE_RANGE_MASK) >> 3],
        "improper_position": bool(status & STATUS_IMPROPER_POSITION),
    }


@dataclass(frozen=True)
class BloodPressureMeasurement:
    """One 0x2A35 (or 0x2A36) value exactly as on air."""

    systolic: MderNumber
    diastolic: MderNumber
    mean_arterial: MderNumber
    kpa: bool = False
    timestamp: DateTime | None = None
    pulse_rate: MderNumber | None = None
    user_id: int | None = None
    status: int | None = None

    def encode(self) -> bytes:
        flags = (
            (FLAG_KPA if self.kpa else 0)
            | (FLAG_TIMESTAMP if self.timestamp is not None else 0)
            | (FLAG_PULSE if self.pulse_rate is not None else 0)
            | (FLAG_USER if self.user_id is not None else 0)
            | (FLAG_STATUS if self.status is not None else 0)
        )
        out = bytes([flags]) + encode_sfloat(self.systolic) + encode_sfloat(self.diastolic)
        out += encode_sfloat(self.mean_arterial)
        if self.timestamp is not None:
            out += self.timestamp.encode()
        if self.pulse_rate is not None:
            out += encode_sfloat(self.pulse_rate)
        if self.user_id is not None:
            out += bytes([self.user_id])
        if self.status is not None:
            out += self.status.to_bytes(2, "little")
        return out

    def record_key(self) -> tuple[DateTime | None, bool, str, str, str, str, int | None, int | None]:
        """De-duplication key (timestamp + values + user + status) for records a cuff re-sends."""
        return (
            self.timestamp,
            self.kpa,
            str(self.systolic),
            str(self.diastolic),
            str(self.mean_arterial),
            str(self.pulse_rate),
            self.user_id,
            self.status,
        )


def parse_blood_pressure(data: bytes, what: str = "Blood Pressure Measurement 0x2A35") -> BloodPressureMeasurement:
    """bytes → :class:`BloodPressureMeasurement`; raises only :class:`BleDecodeError`."""
    c = Cursor(data, what)
    flags = c.u8("flags")
    systolic = c.sfloat("Systolic")
    diastolic = c.sfloat("Diastolic")
    mean = c.sfloat("Mean Arterial Pressure")
    timestamp = c.date_time("Time Stamp") if flags & FLAG_TIMESTAMP else None
    pulse = c.sfloat("Pulse Rate") if flags & FLAG_PULSE else None
    user = c.u8("User ID") if flags & FLAG_USER else None
    status = c.u16("Measurement Status") if flags & FLAG_STATUS else None
    c.end()
    return BloodPressureMeasurement(systolic, diastolic, mean, bool(flags & FLAG_KPA), timestamp, pulse, user, status)


def _common(b: ReadingBuilder, m: BloodPressureMeasurement) -> None:
    b.timestamp(m.timestamp)
    if m.pulse_rate is not None:
        b.number("pulse_bpm", m.pulse_rate, "pulse_rate")
    if m.user_id is not None:
        b.device_values["user_id"] = m.user_id
        b.status["user"] = "unknown" if m.user_id == USER_UNKNOWN else m.user_id
    if m.status is not None:
        b.device_values["measurement_status"] = m.status
        b.status.update(decode_status(m.status))


def measurement_to_reading(m: BloodPressureMeasurement, raw: bytes) -> Reading:
    b = ReadingBuilder(raw)
    conv = kpa_to_mmhg if m.kpa else None
    b.device_values["unit"] = "kPa" if m.kpa else "mmHg"
    b.number("systolic_mmhg", m.systolic, "systolic", conv)
    b.number("diastolic_mmhg", m.diastolic, "diastolic", conv)
    b.number("mean_arterial_mmhg", m.mean_arterial, "mean_arterial", conv)
    _common(b, m)
    return b.build()


def decode_blood_pressure(data: bytes) -> Reading:
    """Profile ``ble-blood-pressure``: 0x2A35 bytes → Reading (mmHg; kPa converted, original kept)."""
    return measurement_to_reading(parse_blood_pressure(data), bytes(data))


@dataclass(frozen=True)
class CuffPressure:
    """0x2A36 Intermediate Cuff Pressure: live progress while the cuff inflates/deflates."""

    pressure: MderNumber
    kpa: bool = False

    def mmhg(self) -> float | None:
        if isinstance(self.pressure, Special):
            return None
        return float(kpa_to_mmhg(self.pressure) if self.kpa else self.pressure)

    def encode(self) -> bytes:
        # diastolic / MAP are unused in 0x2A36; the spec fills them with NaN (devices.md §1.4)
        return BloodPressureMeasurement(self.pressure, Special.NAN, Special.NAN, self.kpa).encode()


def parse_cuff_pressure(data: bytes) -> tuple[CuffPressure, BloodPressureMeasurement]:
    m = parse_blood_pressure(data, "Intermediate Cuff Pressure 0x2A36")
    return CuffPressure(m.systolic, m.kpa), m


def decode_cuff_pressure(data: bytes) -> Reading:
    """Profile ``ble-cuff-pressure``: 0x2A36 → a progress Reading with no measured fields.

    The current pressure is in ``device_values['cuff_pressure']`` (as sent) and
    ``device_values['cuff_pressure_mmhg']``; diastolic/MAP are ignored (devices.md §1.4).
    """
    cuff, m = parse_cuff_pressure(data)
    b = ReadingBuilder(bytes(data))
    b.device_values["unit"] = "kPa" if cuff.kpa else "mmHg"
    b.device_values["cuff_pressure"] = str(cuff.pressure.value) if isinstance(cuff.pressure, Special) else format(cuff.pressure, "f")
    b.device_values["cuff_pressure_mmhg"] = cuff.mmhg()
    b.status["intermediate"] = True
    _common(b, m)
    # a pulse in 0x2A36 is a running estimate, not a result: keep it out of the measured fields
    if "pulse_bpm" in b.fields:
        del b.fields["pulse_bpm"]
        b.invalid.pop("pulse_bpm", None)
    return b.build()
