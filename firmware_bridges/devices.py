"""Device configuration models and the typed device-error hierarchy.

Shared by the serial/Modbus bridges and the BLE bridges (``firmware_bridges.ble``): every
driver raises a subclass of :class:`DeviceError`, which carries a stable machine ``code``
and a human message in Russian and English that a gate attendant or technician can act on
(issue 4: "typed errors … with a Russian + English human message").

Configuration is pydantic so that the kiosk can load ``configs/devices/*.toml`` and reject
a bad file with a precise message. Register maps, baud rates and scaling are configuration,
not code (devices.md §4.1, §5.2, §12.5).

This module depends on pydantic only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from firmware_bridges.configfile import ConfigError, describe_validation_error, load_toml
from firmware_bridges.readings import DeviceIdentity

# --------------------------------------------------------------------------- errors

#: Human names of device kinds, used to build messages (ru, en).
KIND_NAMES: dict[str, tuple[str, str]] = {
    "thermometer": ("Термометр", "The thermometer"),
    "bp_cuff": ("Тонометр", "The blood-pressure monitor"),
    "oximeter": ("Пульсоксиметр", "The pulse oximeter"),
    "alcotester": ("Алкотестер", "The breathalyzer"),
    "badge_reader": ("Считыватель пропусков", "The badge reader"),
    "particulate": ("Датчик пыли", "The particulate sensor"),
    "noise": ("Датчик шума", "The noise sensor"),
    "smoke": ("Датчик дыма", "The smoke detector"),
    "printer": ("Принтер", "The printer"),
}


def kind_names(kind: str | None) -> tuple[str, str]:
    """(Russian, English) name of a device kind; a generic name for unknown kinds."""
    return KIND_NAMES.get(kind or "", ("Устройство", "The device"))


class DeviceError(Exception):
    """Base of every error a device driver raises.

    Attributes:
        code: stable machine code (``"not_responding"``, ``"E01"``, ``"modbus_exception_2"`` …).
        message_ru: Russian message for the kiosk screen / attendant.
        message_en: English message for logs and integrators.
        kind: device kind (``DeviceKind``) if known.
        details: extra structured data (raw bytes, device error name, …).
    """

    default_code = "device_error"

    def __init__(
        self,
        message_ru: str,
        message_en: str,
        *,
        code: str | None = None,
        kind: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.code = code or self.default_code
        self.message_ru = message_ru
        self.message_en = message_en
        self.kind = kind
        self.details = dict(details or {})
        super().__init__(f"{message_ru} / {message_en}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": type(self).__name__,
            "code": self.code,
            "kind": self.kind,
            "message_ru": self.message_ru,
            "message_en": self.message_en,
            "details": self.details,
        }


class DeviceNotResponding(DeviceError):
    """The device did not answer within its timeout (or its port could not be opened)."""

    default_code = "not_responding"

    @classmethod
    def for_kind(cls, kind: str | None, detail: str = "", **kw: Any) -> "DeviceNotResponding":
        ru, en = kind_names(kind)
        extra_en = f" ({detail})" if detail else ""
        return cls(
            f"{ru} не отвечает: проверьте, что он включён и подключён",
            f"{en} is not responding: check that it is switched on and connected{extra_en}",
            kind=kind,
            **kw,
        )


class DeviceDisconnected(DeviceError):
    """The link to the device went away (port closed, cable pulled, EOF) mid-operation."""

    default_code = "disconnected"

    @classmethod
    def for_kind(cls, kind: str | None, detail: str = "", **kw: Any) -> "DeviceDisconnected":
        ru, en = kind_names(kind)
        extra_en = f" ({detail})" if detail else ""
        return cls(
            f"{ru} отключился: проверьте кабель и питание",
            f"{en} was disconnected: check the cable and power{extra_en}",
            kind=kind,
            **kw,
        )


class DeviceReportedError(DeviceError):
    """The device answered with an error code of its own (insufficient blow, calibration overdue, …)."""

    default_code = "device_reported_error"


class ImplausibleReading(DeviceError):
    """A frame decoded but its value is outside what the device/physiology can produce."""

    default_code = "implausible"

    @classmethod
    def for_field(cls, kind: str | None, field: str, value: Any, low: Any, high: Any, **kw: Any) -> "ImplausibleReading":
        ru, en = kind_names(kind)
        return cls(
            f"{ru}: недостоверное значение {field}={value} (допустимо {low}…{high}); повторите измерение",
            f"{en}: implausible value {field}={value} (allowed {low}..{high}); repeat the measurement",
            kind=kind,
            details={"field": field, "value": value, "low": low, "high": high},
            **kw,
        )


class DeviceProtocolError(DeviceError):
    """Too many undecodable frames in a row: wrong device, wrong baud rate or a line fault."""

    default_code = "protocol_error"

    @classmethod
    def for_kind(cls, kind: str | None, detail: str = "", **kw: Any) -> "DeviceProtocolError":
        ru, en = kind_names(kind)
        return cls(
            f"{ru}: данные не распознаются — проверьте модель, скорость порта и кабель",
            f"{en}: data cannot be decoded — check the model, baud rate and cable ({detail})",
            kind=kind,
            **kw,
        )


class DeviceConfigError(DeviceError):
    """The device configuration cannot work (unknown profile, missing port …)."""

    default_code = "config_error"


# --------------------------------------------------------------------------- config

Parity = Literal["N", "E", "O"]


class SerialSettings(BaseModel):
    """A serial line. ``port`` is a device path (``/dev/ttyUSB0``, a pty path) or a pyserial
    URL (``socket://127.0.0.1:5020``, ``loop://``)."""

    model_config = ConfigDict(extra="forbid")

    port: str
    baudrate: int = Field(9600, description="devices.md §3.4/§5.1/§6.1: 9600 8N1 is the usual default")
    bytesize: Literal[7, 8] = 8
    parity: Parity = "N"
    stopbits: Literal[1, 2] = 1


class DeviceConfigBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("", description="local name, e.g. 'gate-1-alcotester'")
    identity: DeviceIdentity

    @model_validator(mode="after")
    def _kind_matches(self) -> "DeviceConfigBase":
        want = getattr(self, "kind", None)
        if want is not None and self.identity.kind != want:
            raise ValueError(f"identity.kind is {self.identity.kind!r} but the device kind is {want!r}")
        return self


class AlcotesterConfig(DeviceConfigBase):
    """Breathalyzer speaking the line protocol of devices.md §3.4 (our design)."""

    kind: Literal["alcotester"] = "alcotester"
    transport: Literal["serial"] = "serial"
    serial: SerialSettings
    profile: Literal["ohs-line-v1"] = "ohs-line-v1"
    blood_breath_ratio: Literal[2000, 2100] = Field(
        2000, description="ratio used for the ‰ display value (devices.md §3.2); mg/L is what is stored"
    )
    ack_timeout_s: float = 2.0
    test_timeout_s: float = Field(60.0, description="arm → result, including warm-up and blow")
    idle_timeout_s: float = Field(15.0, description="max silence between device lines during a test")


class BadgeReaderConfig(DeviceConfigBase):
    """RDM6300-style EM-Marine reader or a CDC reader printing lines (devices.md §6)."""

    kind: Literal["badge_reader"] = "badge_reader"
    transport: Literal["serial"] = "serial"
    serial: SerialSettings
    profile: Literal["rdm6300", "lines"] = "rdm6300"
    card_format: Literal["em-decimal10", "em-wiegand26", "hex"] = Field(
        "em-decimal10", description="how card_id is displayed; the raw value is kept (devices.md §6.2)"
    )
    dedup_window_s: float = Field(2.0, description="readers repeat a frame while the card is held (§6.1)")


class ParticulateConfig(DeviceConfigBase):
    """Plantower PMS5003/PMS7003 in active (streaming) mode (devices.md §5.1)."""

    kind: Literal["particulate"] = "particulate"
    transport: Literal["serial"] = "serial"
    serial: SerialSettings
    profile: Literal["pms5003"] = "pms5003"
    frame_timeout_s: float = Field(5.0, description="active mode sends a frame about every 1–2.3 s")
    max_bad_frames: int = 20


class ModbusLink(BaseModel):
    """Where the Modbus RTU bus is: a serial port (RS-485 adapter) or RTU-over-TCP."""

    model_config = ConfigDict(extra="forbid")

    transport: Literal["serial", "rtu-over-tcp"] = "serial"
    port: str | None = Field(None, description="serial path when transport = serial")
    host: str | None = None
    tcp_port: int | None = None
    baudrate: int = Field(9600, description="9600 [SONBEST][YTL] or 4800 on some makes (devices.md §4.1)")
    parity: Parity = "N"
    stopbits: Literal[1, 2] = 1
    unit_id: int = Field(1, ge=0, le=247)
    timeout_s: float = 1.0
    retries: int = 1

    @model_validator(mode="after")
    def _where(self) -> "ModbusLink":
        if self.transport == "serial" and not self.port:
            raise ValueError("modbus serial link needs 'port'")
        if self.transport == "rtu-over-tcp" and not (self.host and self.tcp_port):
            raise ValueError("modbus rtu-over-tcp link needs 'host' and 'tcp_port'")
        return self


class RegisterSpec(BaseModel):
    """One value in a register map (devices.md §5.2 design rule: FC, address, type, scale)."""

    model_config = ConfigDict(extra="forbid")

    function: Literal[1, 2, 3, 4] = 3
    address: int = Field(0, ge=0, le=0xFFFF)
    datatype: Literal["uint16", "int16", "bool"] = "uint16"
    scale: float = 1.0
    #: for bits (FC 1/2 or a register compared to non-zero): which raw value means "alarm"
    alarm_when: Literal[0, 1] = 1


class NoiseConfig(DeviceConfigBase):
    """Modbus RTU noise transmitter: one register holding dB×10 (devices.md §4.1)."""

    kind: Literal["noise"] = "noise"
    link: ModbusLink
    level: RegisterSpec = Field(
        default_factory=lambda: RegisterSpec(function=3, address=0, scale=0.1),
        description="SONBEST SM7901: HR0 = dB×10; GEMHO: 0x000E",
    )
    weighting: Literal["A", "C", "Z"] = "A"
    poll_interval_s: float = 1.0
    plausible_db: tuple[float, float] = Field((20.0, 140.0), description="typical transmitter range 30–130 dB")


class SmokeConfig(DeviceConfigBase):
    """Modbus optical smoke detector described entirely by its register map (devices.md §5.2)."""

    kind: Literal["smoke"] = "smoke"
    link: ModbusLink
    obscuration: RegisterSpec | None = Field(
        default_factory=lambda: RegisterSpec(function=3, address=0, scale=0.01),
        description="obscuration in %/ft × 100 (our default map; no public map exists, §5.2)",
    )
    alarm: RegisterSpec | None = Field(default_factory=lambda: RegisterSpec(function=3, address=1, datatype="bool"))
    fault: RegisterSpec | None = Field(default_factory=lambda: RegisterSpec(function=3, address=2, datatype="bool"))
    poll_interval_s: float = 1.0
    plausible_pct_ft: tuple[float, float] = (0.0, 30.0)


DeviceConfig = AlcotesterConfig | BadgeReaderConfig | ParticulateConfig | NoiseConfig | SmokeConfig

__all__ = [
    "DeviceError",
    "DeviceNotResponding",
    "DeviceDisconnected",
    "DeviceReportedError",
    "ImplausibleReading",
    "DeviceProtocolError",
    "DeviceConfigError",
    "SerialSettings",
    "AlcotesterConfig",
    "BadgeReaderConfig",
    "ParticulateConfig",
    "ModbusLink",
    "RegisterSpec",
    "NoiseConfig",
    "SmokeConfig",
    "DeviceConfig",
    "kind_names",
]


_CONFIG_BY_KIND: dict[str, type[DeviceConfig]] = {
    "alcotester": AlcotesterConfig,
    "badge_reader": BadgeReaderConfig,
    "particulate": ParticulateConfig,
    "noise": NoiseConfig,
    "smoke": SmokeConfig,
}


def parse_device_config(data: dict[str, Any]) -> DeviceConfig:
    """A dict (e.g. one TOML file, or one ``[[device]]`` table) → the config model for its ``kind``."""
    kind = data.get("kind")
    model = _CONFIG_BY_KIND.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise ValueError(f"device 'kind' must be one of {sorted(_CONFIG_BY_KIND)}, got {kind!r}")
    return model.model_validate(data)


def load_device_config(path: str | Path) -> DeviceConfig:
    """Load ``configs/devices/<name>.toml``; raises ConfigError naming the file, the key and the problem."""
    data = load_toml(path)
    try:
        return parse_device_config(data)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(str(path), error)) from None
    except ValueError as error:  # an unknown kind
        raise ConfigError(f"{path}: kind: {error}") from None
