"""Decode-profile registry: profile name → pure decoder ``bytes -> Reading``.

Used by ``python -m firmware_bridges decode <profile> <hex>``. Serial and Modbus
profiles are ours; BLE profiles come from ``firmware_bridges.ble.PROFILES`` (a dict of
the same shape, owned by the BLE bridge) and are merged in when that package imports.
Every decoder raises only :class:`firmware_bridges.readings.DecodeError` on bad bytes.
"""

from __future__ import annotations

import importlib
import re
from typing import Callable

from firmware_bridges.readings import Reading

Decoder = Callable[[bytes], Reading]

#: name → (module, function, one-line description). Imported lazily.
_LOCAL: dict[str, tuple[str, str, str]] = {
    "alcotester": ("firmware_bridges.serial.alcotester", "decode_reading", "breathalyzer line protocol (devices.md §3.4), one line as hex"),
    "pms5003": ("firmware_bridges.serial.pms5003", "decode_reading", "Plantower PMS5003/7003 32-byte frame (§5.1)"),
    "rdm6300": ("firmware_bridges.serial.badge", "decode_rdm6300", "RDM6300 EM-Marine 14-byte frame (§6.1)"),
    "badge-line": ("firmware_bridges.serial.badge", "decode_badge_line", "CDC badge reader text line: 10-digit EM or Mifare UID hex (§6.2)"),
    "modbus-noise": ("firmware_bridges.modbus.noise", "decode_response_frame", "Modbus RTU noise transmitter response, HR = dB×10 (§4.1)"),
    "modbus-smoke": ("firmware_bridges.modbus.smoke", "decode_response_frame", "Modbus RTU smoke detector response, default map HR0..2 (§5.2)"),
}

BLE_PROFILE_NAMES = ("ble-temperature", "ble-blood-pressure", "ble-plx-spot", "ble-plx-continuous", "berrymed")


def _ble_profiles() -> tuple[dict[str, Decoder], str | None]:
    try:
        mod = importlib.import_module("firmware_bridges.ble")
    except ImportError as e:
        return {}, f"firmware_bridges.ble not importable: {e}"
    profiles = getattr(mod, "PROFILES", None)
    if not isinstance(profiles, dict):
        return {}, "firmware_bridges.ble has no PROFILES dict yet"
    return {str(k): v for k, v in profiles.items() if callable(v)}, None


def descriptions() -> dict[str, str]:
    out = {name: desc for name, (_, _, desc) in _LOCAL.items()}
    ble, why = _ble_profiles()
    for name, fn in ble.items():
        doc = (getattr(fn, "__doc__", None) or "").strip().splitlines()
        line = doc[0] if doc else "BLE profile (firmware_bridges.ble)"
        out[name] = re.sub(r"^Profile ``[^`]+``:\s*", "", line)
    return dict(sorted(out.items()))


def get(name: str) -> Decoder:
    """The decoder for ``name``; KeyError with the known names if unknown."""
    if name in _LOCAL:
        mod, fn, _ = _LOCAL[name]
        decoder: Decoder = getattr(importlib.import_module(mod), fn)
        return decoder
    ble, why = _ble_profiles()
    if name in ble:
        return ble[name]
    known = ", ".join(descriptions())
    hint = f" ({why})" if why and name in BLE_PROFILE_NAMES else ""
    raise KeyError(f"unknown profile {name!r}{hint}; known: {known}")


def registry() -> dict[str, Decoder]:
    return {name: get(name) for name in descriptions()}
