"""``[[devices]]`` in the kiosk config: one :class:`DeviceDeclaration` per attached device.

A declaration says *where* a device is (transport and address/path/host+port), *what* it
is (kind, model profile, identity = model, serial, поверка date) and how the supervisor
treats it (enabled, retry backoff, zone, badge de-bounce). Everything protocol-specific
(timeouts, register maps, dedup windows …) goes in ``options`` and is validated by the
bridge's own config model (``firmware_bridges.devices`` / ``firmware_bridges.ble.config``):
:meth:`DeviceDeclaration.bridge_config` builds that model, so nothing is duplicated here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from firmware_bridges.devices import (
    AlcotesterConfig,
    BadgeReaderConfig,
    ModbusLink,
    NoiseConfig,
    ParticulateConfig,
    SerialSettings,
    SmokeConfig,
)
from firmware_bridges.readings import DeviceIdentity, DeviceKind

Transport = Literal["ble", "serial", "modbus-rtu", "modbus-tcp"]

#: kind → (allowed transports, allowed profiles; the first profile is the default).
KIND_RULES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "thermometer": (("ble",), ("ble-temperature",)),
    "bp_cuff": (("ble",), ("ble-blood-pressure",)),
    "oximeter": (("ble",), ("ble-plx-spot", "ble-plx-continuous", "berrymed")),
    "alcotester": (("serial",), ("ohs-line-v1",)),
    "badge_reader": (("serial",), ("rdm6300", "lines")),
    "particulate": (("serial",), ("pms5003",)),
    "noise": (("modbus-rtu", "modbus-tcp"), ("modbus-noise",)),
    "smoke": (("modbus-rtu", "modbus-tcp"), ("modbus-smoke",)),
    # No printer protocol bridge exists yet: the supervisor only watches that the port is there.
    "printer": (("serial",), ("port-presence",)),
}

#: Kinds measured on demand (``DeviceSupervisor.measure``); the rest stream.
ON_DEMAND_KINDS = ("bp_cuff", "thermometer", "oximeter", "alcotester")
ENVIRONMENT_KINDS = ("particulate", "noise", "smoke")

#: Keys a declaration sets itself; ``options`` may not override them.
_RESERVED_OPTIONS = {"name", "kind", "identity", "profile", "serial", "link", "transport", "address", "port"}
_SERIAL_KEYS = {"bytesize", "parity", "stopbits"}
_LINK_KEYS = {"parity", "stopbits", "timeout_s", "retries"}


class DeclaredIdentity(BaseModel):
    """Who the device is; goes into every reading and into ``health()``."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1)
    serial: str | None = None
    verified_until: str | None = Field(
        default=None, description="date the metrological verification (поверка) is valid to, ISO 8601"
    )


class DeviceDeclaration(BaseModel):
    """One ``[[devices]]`` entry of the kiosk config."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    kind: DeviceKind
    transport: Transport
    profile: str | None = Field(default=None, description="model profile; defaults to the kind's usual one")
    identity: DeclaredIdentity
    # where the device is
    path: str | None = Field(default=None, description="serial / modbus-rtu: device path or pyserial URL")
    host: str | None = Field(default=None, description="modbus-tcp: host of the serial device server")
    port: int | None = Field(default=None, ge=1, le=65535, description="modbus-tcp: TCP port")
    address: str | None = Field(default=None, description="ble: MAC address to pin one device (optional)")
    baudrate: int | None = Field(default=None, gt=0, description="serial / modbus-rtu; default 9600 (devices.md §8)")
    unit_id: int | None = Field(default=None, ge=0, le=247, description="modbus: slave address; default 1")
    # how the supervisor treats it
    enabled: bool = True
    zone: str | None = Field(default=None, min_length=1, max_length=64, description="plant zone, for telemetry")
    retry_initial_s: float = Field(default=1.0, gt=0, description="first reconnect delay; doubles per failure")
    retry_max_s: float = Field(default=30.0, gt=0, description="longest reconnect delay")
    check_interval_s: float = Field(
        default=10.0, gt=0, description="alcotester: STAT health check while idle; printer: port check"
    )
    debounce_s: float = Field(default=3.0, ge=0, description="badge_reader: the same card within this counts once")
    options: dict[str, Any] = Field(default_factory=dict, description="passed to the bridge's config model")

    @model_validator(mode="after")
    def _check(self) -> "DeviceDeclaration":
        transports, profiles = KIND_RULES[self.kind]
        if self.transport not in transports:
            raise ValueError(f"a {self.kind} is connected over {' or '.join(transports)}, not {self.transport!r}")
        if self.profile is None:
            self.profile = profiles[0]
        elif self.profile not in profiles:
            raise ValueError(f"profile {self.profile!r} is not a {self.kind} profile; use one of {', '.join(profiles)}")
        if self.transport in ("serial", "modbus-rtu") and not self.path:
            raise ValueError(f"transport {self.transport!r} needs 'path' (e.g. /dev/ttyUSB0)")
        if self.transport == "modbus-tcp" and not (self.host and self.port):
            raise ValueError("transport 'modbus-tcp' needs 'host' and 'port'")
        if self.retry_max_s < self.retry_initial_s:
            raise ValueError("retry_max_s must be >= retry_initial_s")
        bad = sorted(_RESERVED_OPTIONS & set(self.options))
        if bad:
            raise ValueError(f"options may not set {', '.join(bad)}: use the declaration's own keys")
        try:
            self.bridge_config()
        except ValidationError as e:
            problems = "; ".join(
                f"options.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()[:5]
            )
            raise ValueError(f"device {self.name!r}: {problems}") from None
        return self

    # ----------------------------------------------------------------- conversion
    def device_identity(self) -> DeviceIdentity:
        return DeviceIdentity(kind=self.kind, **self.identity.model_dump())

    def _split(self, keys: set[str]) -> tuple[dict[str, Any], dict[str, Any]]:
        inner = {k: v for k, v in self.options.items() if k in keys}
        rest = {k: v for k, v in self.options.items() if k not in keys}
        return inner, rest

    def bridge_config(self):
        """The bridge's own config model for this device (validated by it)."""
        common = {"name": self.name, "identity": self.device_identity()}
        if self.transport == "ble":
            from firmware_bridges.ble.config import BleDeviceConfig

            return BleDeviceConfig(profile=self.profile, address=self.address, **common, **self.options)
        if self.transport == "serial":
            inner, rest = self._split(_SERIAL_KEYS)
            serial = SerialSettings(port=self.path, **({"baudrate": self.baudrate} if self.baudrate else {}), **inner)
            if self.kind == "alcotester":
                return AlcotesterConfig(profile=self.profile, serial=serial, **common, **rest)
            if self.kind == "badge_reader":
                return BadgeReaderConfig(profile=self.profile, serial=serial, **common, **rest)
            if self.kind == "particulate":
                return ParticulateConfig(profile=self.profile, serial=serial, **common, **rest)
            if rest:
                raise ValueError(f"a printer takes no options besides {sorted(_SERIAL_KEYS)}, got {sorted(rest)}")
            return serial  # printer: only the port is watched
        inner, rest = self._split(_LINK_KEYS)
        where: dict[str, Any]
        if self.transport == "modbus-rtu":
            where = {"transport": "serial", "port": self.path, **({"baudrate": self.baudrate} if self.baudrate else {})}
        else:
            where = {"transport": "rtu-over-tcp", "host": self.host, "tcp_port": self.port}
        link = ModbusLink(**where, **({"unit_id": self.unit_id} if self.unit_id is not None else {}), **inner)
        model = NoiseConfig if self.kind == "noise" else SmokeConfig
        return model(link=link, **common, **rest)

    @property
    def on_demand(self) -> bool:
        return self.kind in ON_DEMAND_KINDS


__all__ = ["DeviceDeclaration", "DeclaredIdentity", "KIND_RULES", "ON_DEMAND_KINDS", "ENVIRONMENT_KINDS", "Transport"]
