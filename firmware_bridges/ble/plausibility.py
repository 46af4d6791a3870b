"""Physiological plausibility limits for BLE readings (design, **D**).

A frame can decode cleanly and still carry nonsense (a glitching sensor, garbage that
happens to parse). Values outside these limits cannot come from a worker standing at a
gate; the driver reports :class:`~firmware_bridges.devices.ImplausibleReading` and does not
pass the reading on. Limits are deliberately wide: the admission rules, not this check,
decide what is "too high".
"""

from __future__ import annotations

from firmware_bridges.devices import ImplausibleReading
from firmware_bridges.readings import Reading

LIMITS: dict[str, tuple[float, float]] = {
    "temperature_c": (30.0, 45.0),
    "systolic_mmhg": (50.0, 280.0),
    "diastolic_mmhg": (25.0, 180.0),
    "mean_arterial_mmhg": (30.0, 220.0),
    "pulse_bpm": (25.0, 250.0),
    "spo2_percent": (50.0, 100.0),
}


def check_plausible(reading: Reading, kind: str | None) -> None:
    """Raise :class:`ImplausibleReading` for the first value outside :data:`LIMITS`."""
    for field, (low, high) in LIMITS.items():
        value = getattr(reading, field)
        if value is not None and not (low <= value <= high):
            err = ImplausibleReading.for_field(kind, field, value, low, high)
            err.details["raw_hex"] = reading.raw_hex
            raise err
    s, d = reading.systolic_mmhg, reading.diastolic_mmhg
    if s is not None and d is not None and d >= s:
        err = ImplausibleReading.for_field(kind, "diastolic_mmhg", d, LIMITS["diastolic_mmhg"][0], s)
        err.details["raw_hex"] = reading.raw_hex
        raise err
