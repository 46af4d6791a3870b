"""BLE bridges: pure decoders for the standard GATT health profiles and BerryMed, and the
bleak-based device drivers (``firmware_bridges.ble.driver``).

``PROFILES`` maps a profile name to a pure function ``bytes -> Reading`` for the decode CLI
(``python -m firmware_bridges decode <profile> <hex>``). Every decoder raises only
:class:`firmware_bridges.ble.sfloat.BleDecodeError` (a ``DecodeError``) on bad bytes.

Importing this package does not import bleak; the driver module does.
"""

from __future__ import annotations

from typing import Callable

from firmware_bridges.ble.berrymed import decode_berrymed
from firmware_bridges.ble.blood_pressure import decode_blood_pressure, decode_cuff_pressure
from firmware_bridges.ble.plx import decode_continuous, decode_spot_check
from firmware_bridges.ble.sfloat import BleDecodeError, Special
from firmware_bridges.ble.thermometer import decode_temperature
from firmware_bridges.readings import Reading

PROFILES: dict[str, Callable[[bytes], Reading]] = {
    "ble-temperature": decode_temperature,  # 0x1809 / 0x2A1C (devices.md §1.3)
    "ble-blood-pressure": decode_blood_pressure,  # 0x1810 / 0x2A35 (§1.4)
    "ble-cuff-pressure": decode_cuff_pressure,  # 0x1810 / 0x2A36 (§1.4)
    "ble-plx-spot": decode_spot_check,  # 0x1822 / 0x2A5E (§1.5)
    "ble-plx-continuous": decode_continuous,  # 0x1822 / 0x2A5F (§1.5)
    "berrymed": decode_berrymed,  # BerryMed BCI 5-byte packet (§2)
}

__all__ = ["PROFILES", "BleDecodeError", "Special"]
