"""Health Thermometer Service 0x1809 — Temperature Measurement 0x2A1C (and 0x2A1E, same layout).

Layout (devices.md §1.3; Bluetooth SIG HTS 1.0 [BT-HTS], GATT Specification Supplement
§3.216 "Temperature Measurement" as cited by [SPEZI]; Nordic test vectors [NRF-HT]):

====== ==== =====================================================================
offset size field
====== ==== =====================================================================
0      1    flags: bit0 0 = °C / 1 = °F; bit1 Time Stamp present; bit2 Type present;
            bits 3–7 RFU (ignored on receipt, as the spec requires)
1      4    Temperature, IEEE-11073 FLOAT (§1.1)
5      7    Time Stamp, Date Time (§1.2)            — if bit1
…      1    Temperature Type (0x2A1D values)         — if bit2
====== ==== =====================================================================

0x2A1C is indicated (CCCD 0x0002), 0x2A1E notified; the kiosk treats only 0x2A1C as a result.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware_bridges.ble._common import Cursor, ReadingBuilder, fahrenheit_to_celsius
from firmware_bridges.ble.sfloat import DateTime, MderNumber, encode_float
from firmware_bridges.readings import Reading

SERVICE_UUID = 0x1809
TEMPERATURE_MEASUREMENT_UUID = 0x2A1C  # Indicate
TEMPERATURE_TYPE_UUID = 0x2A1D  # Read
INTERMEDIATE_TEMPERATURE_UUID = 0x2A1E  # Notify

FLAG_FAHRENHEIT = 0x01
FLAG_TIMESTAMP = 0x02
FLAG_TYPE = 0x04

#: Temperature Type 0x2A1D (devices.md §1.3)
TEMPERATURE_TYPES: dict[int, str] = {
    1: "armpit",
    2: "body",
    3: "ear",
    4: "finger",
    5: "gastro-intestinal",
    6: "mouth",
    7: "rectum",
    8: "toe",
    9: "tympanum",
}


def temperature_type_name(code: int) -> str:
    return TEMPERATURE_TYPES.get(code, f"reserved-{code}")


@dataclass(frozen=True)
class TemperatureMeasurement:
    """One 0x2A1C value exactly as on air (decoded, not converted)."""

    temperature: MderNumber
    fahrenheit: bool = False
    timestamp: DateTime | None = None
    temperature_type: int | None = None

    def encode(self) -> bytes:
        flags = (
            (FLAG_FAHRENHEIT if self.fahrenheit else 0)
            | (FLAG_TIMESTAMP if self.timestamp is not None else 0)
            | (FLAG_TYPE if self.temperature_type is not None else 0)
        )
        out = bytes([flags]) + encode_float(self.temperature)
        if self.timestamp is not None:
            out += self.timestamp.encode()
        if self.temperature_type is not None:
            out += bytes([self.temperature_type])
        return out


def parse_temperature_measurement(data: bytes) -> TemperatureMeasurement:
    """bytes → :class:`TemperatureMeasurement`; raises only :class:`BleDecodeError`."""
    c = Cursor(data, "Temperature Measurement 0x2A1C")
    flags = c.u8("flags")
    temperature = c.float32("Temperature")
    timestamp = c.date_time("Time Stamp") if flags & FLAG_TIMESTAMP else None
    ttype = c.u8("Temperature Type") if flags & FLAG_TYPE else None
    c.end()
    return TemperatureMeasurement(temperature, bool(flags & FLAG_FAHRENHEIT), timestamp, ttype)


def measurement_to_reading(m: TemperatureMeasurement, raw: bytes) -> Reading:
    b = ReadingBuilder(raw)
    b.device_values["unit"] = "°F" if m.fahrenheit else "°C"
    b.number("temperature_c", m.temperature, "temperature", fahrenheit_to_celsius if m.fahrenheit else None)
    b.timestamp(m.timestamp)
    if m.temperature_type is not None:
        b.device_values["temperature_type_code"] = m.temperature_type
        b.status["temperature_type"] = temperature_type_name(m.temperature_type)
    return b.build()


def decode_temperature(data: bytes) -> Reading:
    """Profile ``ble-temperature``: 0x2A1C bytes → Reading (``temperature_c`` in °C)."""
    return measurement_to_reading(parse_temperature_measurement(data), bytes(data))
