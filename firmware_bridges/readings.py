"""The one reading vocabulary shared by bridges, exam records, MQTT and the API.

Field names are a contract (issue "Every kiosk device, for real"): ``temperature_c``,
``systolic_mmhg``, ``diastolic_mmhg``, ``mean_arterial_mmhg``, ``pulse_bpm``,
``spo2_percent``, ``brac_mg_l``, ``pm1_0_ugm3``, ``pm2_5_ugm3``, ``pm10_ugm3``,
``noise_dba``, ``card_id``. A value the device marks as not valid is ``None`` and its
reason sits in ``invalid`` under the same field name; what the device sent (unit, raw
value, raw bytes) is kept in ``device_values`` / ``raw_hex``.

This module depends on pydantic only, so the hub may import it without the kiosk's
device libraries.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

#: Every measured quantity the system knows, with its canonical unit.
READING_FIELDS: dict[str, str] = {
    "temperature_c": "°C",
    "systolic_mmhg": "mmHg",
    "diastolic_mmhg": "mmHg",
    "mean_arterial_mmhg": "mmHg",
    "pulse_bpm": "1/min",
    "spo2_percent": "%",
    "brac_mg_l": "mg/L",
    "pm1_0_ugm3": "µg/m³",
    "pm2_5_ugm3": "µg/m³",
    "pm10_ugm3": "µg/m³",
    "noise_dba": "dB(A)",
    "smoke_obscuration_pct_ft": "%/ft",
}

#: The vital signs of an admission exam (831н/835н: blood pressure and pulse, temperature, SpO2, breath
#: alcohol): the one list the kiosk's rules and records, the hub's exports and the simulators use.
VitalField = Literal["systolic_mmhg", "diastolic_mmhg", "pulse_bpm", "temperature_c", "spo2_percent", "brac_mg_l"]
VITAL_FIELDS: tuple[str, ...] = get_args(VitalField)
#: What an exam record may hold as a measurement: the vital signs and the cuff's mean arterial pressure.
ExamMeasurementField = Literal[VitalField, "mean_arterial_mmhg"]

DeviceKind = Literal[
    "thermometer",
    "bp_cuff",
    "oximeter",
    "alcotester",
    "badge_reader",
    "particulate",
    "noise",
    "smoke",
    "printer",
]


class DeviceIdentity(BaseModel):
    """Who measured: the model, serial and the metrological verification date (from config)."""

    model_config = ConfigDict(extra="forbid")

    kind: DeviceKind
    model: str
    serial: str | None = None
    verified_until: str | None = Field(
        default=None, description="date the metrological verification (поверка) is valid to, ISO 8601"
    )


class Reading(BaseModel):
    """One decoded measurement (or badge read) in the shared vocabulary.

    Absent fields were not measured; fields present with ``None`` were measured but the
    device marked them invalid, and ``invalid[field]`` says why.
    """

    model_config = ConfigDict(extra="forbid")

    temperature_c: float | None = None
    systolic_mmhg: float | None = None
    diastolic_mmhg: float | None = None
    mean_arterial_mmhg: float | None = None
    pulse_bpm: float | None = None
    spo2_percent: float | None = None
    brac_mg_l: float | None = None
    pm1_0_ugm3: float | None = None
    pm2_5_ugm3: float | None = None
    pm10_ugm3: float | None = None
    noise_dba: float | None = None
    smoke_obscuration_pct_ft: float | None = None
    card_id: str | None = None

    invalid: dict[str, str] = Field(default_factory=dict, description="field -> why it has no valid value")
    status: dict[str, Any] = Field(default_factory=dict, description="device status flags (movement, cuff fit, …)")
    device_values: dict[str, Any] = Field(
        default_factory=dict, description="what the device sent before unit conversion (e.g. unit, value)"
    )
    device_time: datetime | None = None
    received_at: datetime | None = None
    device: DeviceIdentity | None = None
    raw_hex: str | None = None

    def values(self) -> dict[str, float | str | None]:
        """The measured fields only (set explicitly, including invalid ones as ``None``)."""
        keys = [k for k in (*READING_FIELDS, "card_id") if k in self.model_fields_set]
        return {k: getattr(self, k) for k in keys}


class DecodeError(ValueError):
    """A frame that cannot be decoded: checksum, truncation, no sync, wrong length, bad field.

    Every decoder raises only this (or a subclass) on bad bytes, with a message a
    technician can act on.
    """
