"""Hub configuration (TOML), validated with errors that name the file and the key.

Example: ``configs/hub.example.toml``. Defaults are design defaults of this project,
documented in ``docs/ohs.md`` and ``docs/architecture.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from firmware_bridges.configfile import ConfigError, load_toml_model
from firmware_bridges.contract import DEFAULT_MAX_PAYLOAD_BYTES, Identifier
from firmware_bridges.mqtt_settings import MqttSettings
from hub.analytics.settings import AnalyticsSettings

__all__ = ["HubConfig", "load_hub_config", "ConfigError", "Role"]

Role = Literal["medic", "ohs", "admin"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StorageSection(_Section):
    path: Path = Path("var/hub/hub.db")
    synchronous: str = Field(default="FULL", pattern="^(FULL|EXTRA|NORMAL)$")


class IngestSection(_Section):
    max_payload_bytes: int = Field(default=DEFAULT_MAX_PAYLOAD_BYTES, ge=1024)
    batch_max: int = Field(default=500, ge=1, le=100000, description="messages per durable transaction at most")
    batch_wait_ms: float = Field(default=20.0, ge=0, le=5000, description="how long a batch may wait to fill")
    ack_ranges_max: int = Field(default=64, ge=1, description="stored ranges listed in one ack at most")


class ApiToken(_Section):
    token: str = Field(min_length=16)
    role: Role
    name: str = Field(min_length=1, description="who holds the token; written to the audit log")


class ApiSection(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    anonymous_role: Role | None = Field(
        default=None,
        description="role granted without a token; the one-machine demo uses 'ohs' (outcomes only)",
    )
    tokens: list[ApiToken] = Field(default_factory=list)


class KioskKey(_Section):
    site: Identifier
    kiosk: Identifier
    public_key: str = Field(min_length=40, max_length=60, description="Ed25519 public key, base64 (ohs-kiosk public-key)")


class EvidenceSection(_Section):
    trust_on_first_use: bool = Field(
        default=False,
        description="accept the key a kiosk announces in its first status message when none is registered; "
        "the safe default is off (register keys in [[kiosks]])",
    )


class HubConfig(_Section):
    name: Identifier = "hub"
    kiosks: list[KioskKey] = Field(default_factory=list, description="registered kiosks and their signing keys")
    evidence: EvidenceSection = EvidenceSection()
    mqtt: MqttSettings = MqttSettings()
    storage: StorageSection = StorageSection()
    ingest: IngestSection = IngestSection()
    api: ApiSection = ApiSection()
    analytics: AnalyticsSettings | None = Field(
        default=None, description="live analytics; when absent: $OHS_ANALYTICS_CONFIG or the documented defaults"
    )

    @property
    def client_id(self) -> str:
        return f"hub-{self.name}"


def load_hub_config(path: str | Path) -> HubConfig:
    return load_toml_model(path, HubConfig)
