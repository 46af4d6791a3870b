"""Configuration of one BLE device at a kiosk (``configs/devices/ble-*.toml``).

Connect timing follows what robust BLE integrations do (Home Assistant's
``bleak-retry-connector``: bounded attempts, a connect timeout of at least 10 s because
BlueZ can take that long to complete a connection, backoff between attempts).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from firmware_bridges.configfile import load_toml_model
from firmware_bridges.readings import DeviceIdentity

BleProfileName = Literal["ble-temperature", "ble-blood-pressure", "ble-plx-spot", "ble-plx-continuous", "berrymed"]

PROFILE_KIND = {
    "ble-temperature": "thermometer",
    "ble-blood-pressure": "bp_cuff",
    "ble-plx-spot": "oximeter",
    "ble-plx-continuous": "oximeter",
    "berrymed": "oximeter",
}

#: bleak-retry-connector uses 20 s on BlueZ; the issue asks for >= 10 s
MIN_CONNECT_TIMEOUT_S = 10.0


class BleDeviceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("", description="local name, e.g. 'gate-1-thermometer'")
    profile: BleProfileName
    identity: DeviceIdentity
    address: str | None = Field(None, description="MAC address to pin one device; else first match by service/name")
    advertised_name: str | None = Field(None, description="prefix of the advertised local name to match")
    adapter: str = Field("hci0", description="BlueZ adapter; one connect at a time per adapter")
    connect_timeout_s: float = Field(MIN_CONNECT_TIMEOUT_S, ge=MIN_CONNECT_TIMEOUT_S)
    connect_attempts: int = Field(3, ge=1, le=10)
    retry_backoff_s: float = Field(0.5, ge=0.0, description="sleep before attempt n is n x this")
    scan_timeout_s: float = Field(15.0, gt=0)
    measurement_timeout_s: float = Field(120.0, gt=0, description="connect → result; a cuff needs ~40 s")
    reconnect_backoff_s: float = Field(2.0, ge=0.0)
    scanner_watchdog_s: float = Field(30.0, gt=0, description="restart a scanner silent for this long")
    clock_drift_tolerance_s: float = Field(120.0, ge=0)
    dedup_size: int = Field(1024, ge=16)

    @model_validator(mode="after")
    def _kind_matches(self) -> "BleDeviceConfig":
        want = PROFILE_KIND[self.profile]
        if self.identity.kind != want:
            raise ValueError(f"profile {self.profile!r} is a {want} but identity.kind is {self.identity.kind!r}")
        return self

    @property
    def kind(self) -> str:
        return PROFILE_KIND[self.profile]


def load_config(path: str | Path) -> BleDeviceConfig:
    """Load ``configs/devices/ble-*.toml``; raises ConfigError naming the file, the key and the problem."""
    return load_toml_model(path, BleDeviceConfig)
