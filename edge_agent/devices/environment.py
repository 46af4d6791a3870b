"""Environmental readings → wire-contract bodies (pure functions).

* :func:`environment_to_telemetry` — ``(device_name, Reading)`` pairs from particulate,
  noise and smoke devices → a ``TelemetryBody``-valid dict (``firmware_bridges/contract.py``).
  Invalid values stay ``null`` with their reason: nothing is dropped, nothing invented.
* :func:`environment_alarm` — one reading → an ``EventBody``-valid dict when it is a smoke
  alarm, a smoke detector whose alarm state is unknown (fail closed, devices.md §5.2), or
  noise over the configured limit; otherwise ``None``. Stateless: one event per reading
  that crosses the limit — the caller decides how often to publish.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from firmware_bridges.contract import EventBody, TelemetryBody
from firmware_bridges.readings import Reading

#: Zone of a reading whose device has no ``zone`` in the kiosk config (kept, not dropped).
UNASSIGNED_ZONE = "unassigned"


class EnvironmentLimits(BaseModel):
    """When an environmental reading becomes an event. Each limit names its source."""

    model_config = ConfigDict(extra="forbid")

    noise_limit_dba: float = Field(
        default=80.0,
        gt=0,
        description="80 dBA: workplace limit = upper edge of class 2 of working conditions "
        "(shared/domain/reference.md §4.2; configs/models/noise.toml [exposure] limit_db). It is an "
        "8-hour equivalent level; a single reading above it is a warning to use hearing protection, "
        "not a class determination (the hub computes L_EX,8h).",
    )
    noise_source: str = "reference.md §4.2: class 2 (permissible) ≤ 80 dBA, СОУТ methodology Table 1 [SOUT-2024]"
    smoke_obscuration_limit_pct_ft: float | None = Field(
        default=None,
        gt=0,
        description="None: the detector's own alarm register decides (devices.md §5.2; configs/devices/smoke.toml "
        "[alarm]). A number adds a kiosk-side alarm on obscuration above it (%/ft).",
    )
    smoke_source: str = "devices.md §5.2: the detector's alarm register (polarity per register map); fail closed"


def _kind_of(reading: Reading) -> str | None:
    if reading.device is not None:
        return reading.device.kind
    fields = reading.model_fields_set
    if "noise_dba" in fields:
        return "noise"
    if "smoke_obscuration_pct_ft" in fields or "alarm" in reading.status:
        return "smoke"
    return None


def environment_to_telemetry(readings: Iterable[tuple[str, Reading]], zone_of: Mapping[str, str]) -> dict:
    """A telemetry batch (``TelemetryBody`` as a JSON-ready dict); ValueError on bad input."""
    items: list[dict[str, Any]] = []
    for name, r in readings:
        ts = r.received_at
        if ts is None or ts.tzinfo is None:
            raise ValueError(f"reading from {name!r} has no timezone-aware received_at; bridges stamp it")
        item: dict[str, Any] = {
            "sensor_id": name,
            "zone": zone_of.get(name) or UNASSIGNED_ZONE,
            "ts": ts.isoformat(),
            "values": {k: v for k, v in r.values().items() if k != "card_id"},
            "invalid": dict(r.invalid),
        }
        if r.status:
            item["status"] = dict(r.status)
        if r.device is not None:
            item["device_model"] = r.device.model
            item["device_serial"] = r.device.serial
        if r.device_time is not None:
            item["device_time"] = r.device_time.isoformat()
        items.append(item)
    if not items:
        raise ValueError("a telemetry batch needs at least one reading")
    return TelemetryBody.model_validate({"readings": items}).model_dump(mode="json")


def environment_alarm(
    device_name: str,
    reading: Reading,
    limits: EnvironmentLimits | Mapping[str, Any],
    *,
    zone: str | None = None,
) -> dict | None:
    """An ``EventBody``-valid dict for a smoke alarm / unknown smoke state / noise over the limit."""
    lim = limits if isinstance(limits, EnvironmentLimits) else EnvironmentLimits.model_validate(dict(limits))
    kind = _kind_of(reading)
    ts = reading.received_at.isoformat() if reading.received_at else None
    event: dict[str, Any] | None = None
    if kind == "noise" and reading.noise_dba is not None and reading.noise_dba > lim.noise_limit_dba:
        level, limit = reading.noise_dba, lim.noise_limit_dba
        event = {
            "type": "noise_over_limit",
            "severity": "warning",
            "message_ru": f"Шум {level:g} дБА выше допустимых {limit:g} дБА: работайте в средствах защиты слуха",
            "message_en": f"Noise {level:g} dBA is above the {limit:g} dBA limit: wear hearing protection",
            "details": {"noise_dba": level, "limit_dba": limit, "source": lim.noise_source},
        }
    elif kind == "smoke":
        obscuration = reading.smoke_obscuration_pct_ft
        over = (
            lim.smoke_obscuration_limit_pct_ft is not None
            and obscuration is not None
            and obscuration > lim.smoke_obscuration_limit_pct_ft
        )
        alarm = reading.status.get("alarm")
        if alarm is True or over:
            event = {
                "type": "smoke_alarm",
                "severity": "critical",
                "message_ru": f"Датчик дыма {device_name}: ТРЕВОГА — обнаружено задымление",
                "message_en": f"Smoke detector {device_name}: ALARM — smoke detected",
                "details": {
                    "smoke_obscuration_pct_ft": obscuration,
                    "by": "alarm_register" if alarm is True else "obscuration_limit",
                    "limit_pct_ft": lim.smoke_obscuration_limit_pct_ft,
                    "source": lim.smoke_source,
                },
            }
        elif "alarm" in reading.status and alarm is None:
            event = {
                "type": "smoke_state_unknown",
                "severity": "alarm",
                "message_ru": f"Датчик дыма {device_name} неисправен: состояние тревоги неизвестно — проверьте зону",
                "message_en": f"Smoke detector {device_name} reports a fault: alarm state unknown — check the area",
                "details": {"fault": reading.status.get("fault"), "source": lim.smoke_source},
            }
    if event is None:
        return None
    event.update(device=device_name, zone=zone)
    event["details"]["ts"] = ts
    return EventBody.model_validate(event).model_dump(mode="json")


__all__ = ["EnvironmentLimits", "UNASSIGNED_ZONE", "environment_alarm", "environment_to_telemetry"]
