"""Fault injection shared by the serial and Modbus simulators (selectable per run).

Faults (``--fault a,b``):

- ``disconnect``   the device goes away mid-measurement (port closed after ``after`` frames/steps)
- ``garbage``      random bytes injected between frames / before lines
- ``bad-checksum`` frames/lines sent with a corrupted checksum or CRC
- ``device-error`` the device reports its own error code (alcotester E-codes, Modbus exceptions)
- ``implausible``  values outside what the sensor/physiology can produce
- ``silent``       the device never answers / never sends
- ``clock-drift``  the device clock runs off (alcotester timestamps; stream cadence)

``rate`` is the probability a fault hits a given frame (1.0 = every frame); a seed makes
runs reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FAULTS: dict[str, str] = {
    "disconnect": "device goes away mid-measurement (port/connection closed)",
    "garbage": "random bytes between frames",
    "bad-checksum": "frames with a corrupted checksum/CRC",
    "device-error": "device reports its own error code",
    "implausible": "values outside the physically possible range",
    "silent": "device never answers / never sends",
    "clock-drift": "device clock runs off (timestamps, cadence)",
}


@dataclass
class FaultPlan:
    faults: frozenset[str] = frozenset()
    rate: float = 1.0
    after: int = 2  # frames (or test steps) before a 'disconnect'
    drift_s: float = 120.0  # clock offset per test for clock-drift
    error_code: str | None = None  # device error to report (e.g. E01; Modbus '4')
    seed: int | None = None
    rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        unknown = set(self.faults) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown fault(s) {sorted(unknown)}; known: {', '.join(FAULTS)}")
        self.faults = frozenset(self.faults)
        self.rng = np.random.default_rng(self.seed)

    @classmethod
    def parse(cls, text: str | None, **kw) -> "FaultPlan":
        names = frozenset(f.strip() for f in (text or "").split(",") if f.strip())
        return cls(names, **kw)

    def active(self, name: str) -> bool:
        return name in self.faults

    def hit(self, name: str) -> bool:
        """Does fault ``name`` strike this frame?"""
        return name in self.faults and float(self.rng.random()) < self.rate

    def garbage(self, n: int | None = None) -> bytes:
        n = n if n is not None else int(self.rng.integers(3, 24))
        return bytes(self.rng.integers(0, 256, n, dtype=np.uint8).tolist())
