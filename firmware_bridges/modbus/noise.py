"""Modbus RTU noise transmitter codec (devices.md §4.1).

One holding register holds dB×10 (SONBEST SM7901: HR 0, default 9600 8N1, unit 1;
request ``01 03 00 00 00 01 84 0A`` → response ``01 03 02 02 18 B9 2E`` = 536 → 53.6 dB).
Another maker reads register 0x000E [GEMHO]. Address, scale, weighting and baud rate
are configuration (:class:`firmware_bridges.devices.NoiseConfig`). Pure functions.
"""

from __future__ import annotations

from firmware_bridges.devices import NoiseConfig, RegisterSpec
from firmware_bridges.modbus.frames import ExceptionResponse, decode_response
from firmware_bridges.readings import DecodeError, Reading

DEFAULT_LEVEL = RegisterSpec(function=3, address=0, scale=0.1)


def _signed(v: int, datatype: str) -> int:
    return v - 0x10000 if datatype == "int16" and v & 0x8000 else v


def registers_to_reading(raw: int, spec: RegisterSpec = DEFAULT_LEVEL, weighting: str = "A") -> Reading:
    """Raw register value → Reading(noise_dba). Keeps the raw value and scale."""
    if not 0 <= raw <= 0xFFFF:
        raise DecodeError(f"register value {raw} is not 16-bit")
    v = _signed(raw, spec.datatype)
    db = round(v * spec.scale, 3)
    out = Reading(
        noise_dba=db,
        device_values={"register": spec.address, "raw": raw, "scale": spec.scale, "unit": f"dB({weighting})"},
    )
    if weighting != "A":
        # The field is A-weighted by contract; a C/Z-weighted value is not dB(A).
        out = Reading(
            noise_dba=None,
            invalid={"noise_dba": f"device is configured for {weighting}-weighting, not A"},
            device_values=out.device_values | {"value": db},
        )
    return out


def decode_response_frame(frame: bytes, spec: RegisterSpec = DEFAULT_LEVEL, weighting: str = "A") -> Reading:
    """Profile ``modbus-noise``: a read-holding-registers response → Reading.

    The first register of the response is the level (as in SM7901's 1-register reply).
    An exception response is a :class:`DecodeError` naming the Modbus exception.
    """
    resp = decode_response(frame)
    if isinstance(resp, ExceptionResponse):
        raise DecodeError(f"Modbus exception reply from unit {resp.unit}: {resp.code:02d} {resp.name} (no reading)")
    if resp.function not in (3, 4):
        raise DecodeError(f"noise level must be read with FC 03/04, this is FC {resp.function:02d}")
    regs = resp.registers()
    if not regs:
        raise DecodeError("Modbus reply carries no registers")
    r = registers_to_reading(regs[0], spec, weighting)
    return r.model_copy(update={"raw_hex": bytes(frame).hex()})


def decode_for_config(frame: bytes, cfg: NoiseConfig) -> Reading:
    return decode_response_frame(frame, cfg.level, cfg.weighting)
