"""Modbus optical smoke detector codec: everything comes from a register map (devices.md §5.2).

No public register map exists for an optical smoke detector (§5.2 **?**), so the map is
configuration (:class:`firmware_bridges.devices.SmokeConfig`): obscuration register and
scale, an alarm bit/register with its polarity (one module reports 1 = OK [SQR2]) and a
fault bit. Design rule (§5.2 D): **fail closed** — a fault, timeout or exception is
"alarm unknown", never "normal".

Our default map (used by the simulator and the ``modbus-smoke`` decode profile):
HR0 = obscuration %/ft × 100, HR1 = alarm (1 = alarm), HR2 = fault (1 = fault).
"""

from __future__ import annotations

from typing import Any

from firmware_bridges.devices import RegisterSpec, SmokeConfig
from firmware_bridges.modbus.frames import ExceptionResponse, decode_response
from firmware_bridges.readings import DecodeError, Reading


def _value(raw: int, spec: RegisterSpec) -> float | bool:
    if spec.datatype == "bool":
        return bool(raw) == bool(spec.alarm_when)
    v = raw - 0x10000 if spec.datatype == "int16" and raw & 0x8000 else raw
    return round(v * spec.scale, 4)


def values_to_reading(values: dict[str, int], cfg: SmokeConfig) -> Reading:
    """``{"obscuration": raw, "alarm": raw, "fault": raw}`` (raw register/bit values) → Reading.

    ``status["alarm"]`` is True/False, or None (unknown) when the detector reports a fault.
    """
    status: dict[str, Any] = {}
    invalid: dict[str, str] = {}
    fields: dict[str, Any] = {}
    fault = None
    if cfg.fault is not None and "fault" in values:
        fault = bool(_value(values["fault"], cfg.fault))
        status["fault"] = fault
    if cfg.obscuration is not None and "obscuration" in values:
        if fault:
            fields["smoke_obscuration_pct_ft"] = None
            invalid["smoke_obscuration_pct_ft"] = "detector reports a fault"
        else:
            fields["smoke_obscuration_pct_ft"] = float(_value(values["obscuration"], cfg.obscuration))
    if cfg.alarm is not None and "alarm" in values:
        status["alarm"] = None if fault else bool(_value(values["alarm"], cfg.alarm))
        if fault:
            status["alarm_state"] = "unknown"  # fail closed (§5.2)
    return Reading(**fields, invalid=invalid, status=status, device_values={k: v for k, v in values.items()})


def decode_response_frame(frame: bytes, cfg: SmokeConfig | None = None) -> Reading:
    """Profile ``modbus-smoke``: one FC 03/04 response covering the mapped registers
    (read from the lowest mapped address) → Reading."""
    if cfg is None:
        from firmware_bridges.devices import ModbusLink
        from firmware_bridges.readings import DeviceIdentity

        cfg = SmokeConfig(identity=DeviceIdentity(kind="smoke", model="generic"), link=ModbusLink(port="-"))
    resp = decode_response(frame)
    if isinstance(resp, ExceptionResponse):
        raise DecodeError(f"Modbus exception reply from unit {resp.unit}: {resp.code:02d} {resp.name} (alarm state unknown)")
    if resp.function not in (3, 4):
        raise DecodeError("the modbus-smoke profile decodes register replies (FC 03/04)")
    regs = resp.registers()
    specs = {k: getattr(cfg, k) for k in ("obscuration", "alarm", "fault") if getattr(cfg, k) is not None}
    if not specs:  # min() of nothing below would be a ValueError, not a DecodeError
        raise DecodeError("the smoke detector's register map maps no register (obscuration, alarm and fault all unset)")
    base = min(s.address for s in specs.values())
    values = {}
    for k, s in specs.items():
        i = s.address - base
        if i >= len(regs):
            raise DecodeError(f"reply has {len(regs)} registers from {base}; register {s.address} ({k}) is missing (truncated)")
        values[k] = regs[i]
    return values_to_reading(values, cfg).model_copy(update={"raw_hex": bytes(frame).hex()})
