"""Pulse Oximeter Service 0x1822 (PLXS) — Spot-check 0x2A5E and Continuous 0x2A5F.

Layouts and bit names (devices.md §1.5, following Stanford Spezi [SPEZI-PLX] and the
Bluetooth SIG PLXS 1.0 specification it links):

0x2A5E Spot-check (Indicate): flags (bit0 Timestamp; bit1 Measurement Status; bit2 Device
& Sensor Status; bit3 Pulse Amplitude Index; bit4 Device Clock is Not Set), SpO2 SFLOAT %,
PR SFLOAT 1/min, [Timestamp 7], [Measurement Status u16], [Device & Sensor Status u24],
[PAI SFLOAT %].

0x2A5F Continuous (Notify): flags (bit0 SpO2PR-Fast; bit1 SpO2PR-Slow; bit2 Measurement
Status; bit3 Device & Sensor Status; bit4 PAI), SpO2PR-Normal (SpO2, PR), [Fast (SpO2,
PR)], [Slow (SpO2, PR)], [Measurement Status u16], [Device & Sensor Status u24], [PAI].

Usability (devices.md §1.5, design note **D**): measurement-status bits 10, 11, 13, 14, 15
and device-status bits 1, 3, 11, 13, 14, 15 mean "reading not usable": the SpO2 and PR
numbers then go to ``device_values`` only and ``Reading.invalid`` carries the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware_bridges.ble._common import Cursor, ReadingBuilder
from firmware_bridges.ble.sfloat import DateTime, MderNumber, encode_sfloat
from firmware_bridges.readings import Reading

SERVICE_UUID = 0x1822
SPOT_CHECK_UUID = 0x2A5E  # Indicate
CONTINUOUS_UUID = 0x2A5F  # Notify
FEATURES_UUID = 0x2A60  # Read
RACP_UUID = 0x2A52

MEASUREMENT_STATUS_BITS: dict[int, str] = {
    5: "measurement_ongoing",
    6: "early_estimated_data",
    7: "validated_data",
    8: "fully_qualified_data",
    9: "data_from_measurement_storage",
    10: "data_for_demonstration",
    11: "data_for_testing",
    12: "calibration_ongoing",
    13: "measurement_unavailable",
    14: "questionable_measurement_detected",
    15: "invalid_measurement_detected",
}
DEVICE_STATUS_BITS: dict[int, str] = {
    0: "extended_display_update_ongoing",
    1: "equipment_malfunction_detected",
    2: "signal_processing_irregularity_detected",
    3: "inadequate_signal_detected",
    4: "poor_signal_detected",
    5: "low_perfusion_detected",
    6: "erratic_signal_detected",
    7: "nonpulsatile_signal_detected",
    8: "questionable_pulse_detected",
    9: "signal_analysis_ongoing",
    10: "sensor_interference_detected",
    11: "sensor_unconnected_to_user",
    12: "unknown_sensor_connected",
    13: "sensor_displaced",
    14: "sensor_malfunctioning",
    15: "sensor_disconnected",
}
UNUSABLE_MEASUREMENT_BITS = (10, 11, 13, 14, 15)
UNUSABLE_DEVICE_BITS = (1, 3, 11, 13, 14, 15)


def _bits(value: int, names: dict[int, str]) -> list[str]:
    return [name for bit, name in names.items() if value & (1 << bit)]


@dataclass(frozen=True)
class SpotCheck:
    spo2: MderNumber
    pulse_rate: MderNumber
    timestamp: DateTime | None = None
    measurement_status: int | None = None
    device_status: int | None = None
    pulse_amplitude_index: MderNumber | None = None
    clock_not_set: bool = False

    def encode(self) -> bytes:
        flags = (
            (0x01 if self.timestamp is not None else 0)
            | (0x02 if self.measurement_status is not None else 0)
            | (0x04 if self.device_status is not None else 0)
            | (0x08 if self.pulse_amplitude_index is not None else 0)
            | (0x10 if self.clock_not_set else 0)
        )
        out = bytes([flags]) + encode_sfloat(self.spo2) + encode_sfloat(self.pulse_rate)
        if self.timestamp is not None:
            out += self.timestamp.encode()
        if self.measurement_status is not None:
            out += self.measurement_status.to_bytes(2, "little")
        if self.device_status is not None:
            out += self.device_status.to_bytes(3, "little")
        if self.pulse_amplitude_index is not None:
            out += encode_sfloat(self.pulse_amplitude_index)
        return out

    def record_key(self) -> tuple[DateTime | None, str, str, int | None, int | None]:
        return (self.timestamp, str(self.spo2), str(self.pulse_rate), self.measurement_status, self.device_status)


@dataclass(frozen=True)
class Continuous:
    spo2: MderNumber
    pulse_rate: MderNumber
    fast: tuple[MderNumber, MderNumber] | None = None
    slow: tuple[MderNumber, MderNumber] | None = None
    measurement_status: int | None = None
    device_status: int | None = None
    pulse_amplitude_index: MderNumber | None = None

    def encode(self) -> bytes:
        flags = (
            (0x01 if self.fast is not None else 0)
            | (0x02 if self.slow is not None else 0)
            | (0x04 if self.measurement_status is not None else 0)
            | (0x08 if self.device_status is not None else 0)
            | (0x10 if self.pulse_amplitude_index is not None else 0)
        )
        out = bytes([flags]) + encode_sfloat(self.spo2) + encode_sfloat(self.pulse_rate)
        for pair in (self.fast, self.slow):
            if pair is not None:
                out += encode_sfloat(pair[0]) + encode_sfloat(pair[1])
        if self.measurement_status is not None:
            out += self.measurement_status.to_bytes(2, "little")
        if self.device_status is not None:
            out += self.device_status.to_bytes(3, "little")
        if self.pulse_amplitude_index is not None:
            out += encode_sfloat(self.pulse_amplitude_index)
        return out


def parse_spot_check(data: bytes) -> SpotCheck:
    c = Cursor(data, "PLX Spot-check Measurement 0x2A5E")
    flags = c.u8("flags")
    spo2 = c.sfloat("SpO2")
    pr = c.sfloat("PR")
    ts = c.date_time("Timestamp") if flags & 0x01 else None
    ms = c.u16("Measurement Status") if flags & 0x02 else None
    ds = c.u24("Device and Sensor Status") if flags & 0x04 else None
    pai = c.sfloat("Pulse Amplitude Index") if flags & 0x08 else None
    c.end()
    return SpotCheck(spo2, pr, ts, ms, ds, pai, bool(flags & 0x10))


def parse_continuous(data: bytes) -> Continuous:
    c = Cursor(data, "PLX Continuous Measurement 0x2A5F")
    flags = c.u8("flags")
    spo2 = c.sfloat("SpO2PR-Normal SpO2")
    pr = c.sfloat("SpO2PR-Normal PR")
    fast = (c.sfloat("SpO2PR-Fast SpO2"), c.sfloat("SpO2PR-Fast PR")) if flags & 0x01 else None
    slow = (c.sfloat("SpO2PR-Slow SpO2"), c.sfloat("SpO2PR-Slow PR")) if flags & 0x02 else None
    ms = c.u16("Measurement Status") if flags & 0x04 else None
    ds = c.u24("Device and Sensor Status") if flags & 0x08 else None
    pai = c.sfloat("Pulse Amplitude Index") if flags & 0x10 else None
    c.end()
    return Continuous(spo2, pr, fast, slow, ms, ds, pai)


def _status(b: ReadingBuilder, ms: int | None, ds: int | None, pai: MderNumber | None) -> None:
    reasons: list[str] = []
    if ms is not None:
        b.device_values["measurement_status"] = ms
        b.status["measurement_status"] = _bits(ms, MEASUREMENT_STATUS_BITS)
        reasons += [MEASUREMENT_STATUS_BITS[i] for i in UNUSABLE_MEASUREMENT_BITS if ms & (1 << i)]
    if ds is not None:
        b.device_values["device_and_sensor_status"] = ds
        b.status["device_and_sensor_status"] = _bits(ds, DEVICE_STATUS_BITS)
        reasons += [DEVICE_STATUS_BITS[i] for i in UNUSABLE_DEVICE_BITS if ds & (1 << i)]
    if pai is not None:
        from firmware_bridges.ble.sfloat import decimal_text

        b.device_values["pulse_amplitude_index_percent"] = decimal_text(pai)
    if reasons:
        reason = "device-status: " + ", ".join(reasons)
        b.mark_invalid("spo2_percent", reason)
        b.mark_invalid("pulse_bpm", reason)


def spot_check_to_reading(m: SpotCheck, raw: bytes) -> Reading:
    b = ReadingBuilder(raw)
    b.number("spo2_percent", m.spo2, "spo2")
    b.number("pulse_bpm", m.pulse_rate, "pulse_rate")
    b.timestamp(m.timestamp, clock_not_set=m.clock_not_set)
    if m.clock_not_set:
        b.status["device_clock_not_set"] = True
    _status(b, m.measurement_status, m.device_status, m.pulse_amplitude_index)
    b.status["mode"] = "spot-check"
    return b.build()


def continuous_to_reading(m: Continuous, raw: bytes) -> Reading:
    from firmware_bridges.ble.sfloat import decimal_text

    b = ReadingBuilder(raw)
    b.number("spo2_percent", m.spo2, "spo2")
    b.number("pulse_bpm", m.pulse_rate, "pulse_rate")
    for name, pair in (("fast", m.fast), ("slow", m.slow)):
        if pair is not None:
            b.device_values[f"spo2_{name}"] = decimal_text(pair[0])
            b.device_values[f"pulse_rate_{name}"] = decimal_text(pair[1])
    _status(b, m.measurement_status, m.device_status, m.pulse_amplitude_index)
    b.status["mode"] = "continuous"
    return b.build()


def decode_spot_check(data: bytes) -> Reading:
    """Profile ``ble-plx-spot``: 0x2A5E → Reading (``spo2_percent``, ``pulse_bpm``)."""
    return spot_check_to_reading(parse_spot_check(data), bytes(data))


def decode_continuous(data: bytes) -> Reading:
    """Profile ``ble-plx-continuous``: 0x2A5F → Reading (SpO2PR-Normal as the values)."""
    return continuous_to_reading(parse_continuous(data), bytes(data))
