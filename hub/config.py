"""Hub configuration (TOML), validated with errors that name the file and the key.

Example: ``configs/hub.example.toml``. Defaults are design defaults of this project,
documented in ``docs/ohs.md`` and ``docs/architecture.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from firmware_bridges.configfile import ConfigError, load_toml_model
from firmware_bridges.contract import DEFAULT_MAX_JSON_DEPTH, DEFAULT_MAX_PAYLOAD_BYTES, Identifier
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
    max_json_depth: int = Field(default=DEFAULT_MAX_JSON_DEPTH, ge=4, le=256,
                                description="JSON nesting refused past this depth, before validation")
    store_retry_initial_s: float = Field(default=0.2, gt=0, le=60,
                                         description="first wait before retrying a batch the store refused")
    store_retry_max_s: float = Field(default=10.0, gt=0, le=600, description="longest wait between store retries")
    stall_after_s: float = Field(default=30.0, gt=0,
                                 description="health reports a stall when messages wait and nothing was stored "
                                             "for this long")


class DeadLetterSection(_Section):
    """Caps on kept junk (issue 10, defect 5); totals per category are kept regardless."""

    max_rows: int = Field(default=10_000, ge=10)
    max_bytes: int = Field(default=32 * 1024 * 1024, ge=64 * 1024)
    keep_payload_bytes: int = Field(default=4096, ge=64, le=DEFAULT_MAX_PAYLOAD_BYTES,
                                    description="stored prefix of each dead-lettered payload")
    max_conflicts: int = Field(default=10_000, ge=10,
                               description="conflicting records kept whole for an admin; past it, dead-lettered")


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
    gap_after_s: float = Field(
        default=3600.0, gt=0,
        description="an exam whose chain predecessor has not arrived this long after it is flagged 'gap' "
        "(design default: one hour; backlog of a long-offline kiosk drains in minutes)",
    )
    gap_check_every_s: float = Field(default=30.0, gt=0, description="how often waiting links are checked")


class ModelsApiSection(_Section):
    """Limits of ``POST /api/v1/models/*`` (design defaults, docs/ohs.md "Limits of the model API")."""

    max_body_bytes: int = Field(default=2_097_152, ge=1024, le=1_073_741_824,
                                description="largest request body, for model runs and every other API request (2 MiB)")
    max_items: int = Field(default=20_000, ge=1, description="most items in any one list of a model's input")
    timeout_s: float = Field(default=30.0, gt=0, le=3600, description="a model run not done by then is stopped: 504")
    startup_timeout_s: float = Field(default=60.0, gt=0, le=3600,
                                     description="starting the worker processes (not counted in timeout_s): 504")
    workers: int = Field(default=2, ge=1, le=64, description="worker processes that run models, off the API's threads")
    queue: int = Field(default=8, ge=0, le=1000,
                       description="model runs that may wait for a worker; beyond workers + queue the API answers 503")


class PrivacySection(_Section):
    """Small-cell suppression of aggregates for the non-medic roles (152-FZ, 323-FZ art. 13; docs/ohs.md)."""

    min_cell_size: int = Field(default=5, ge=1, le=1000,
                               description="k: a count of fewer than k workers (and rates from it) is hidden from ohs "
                                           "and admin; k = 5 is a design default")


class HubConfig(_Section):
    name: Identifier = "hub"
    kiosks: list[KioskKey] = Field(default_factory=list, description="registered kiosks and their signing keys")
    evidence: EvidenceSection = EvidenceSection()
    mqtt: MqttSettings = MqttSettings()
    storage: StorageSection = StorageSection()
    ingest: IngestSection = IngestSection()
    dead_letters: DeadLetterSection = DeadLetterSection()
    api: ApiSection = ApiSection()
    analytics: AnalyticsSettings | None = Field(
        default=None, description="live analytics; when absent: $OHS_ANALYTICS_CONFIG or the documented defaults"
    )
    models_api: ModelsApiSection = ModelsApiSection()
    privacy: PrivacySection = PrivacySection()

    @property
    def client_id(self) -> str:
        return f"hub-{self.name}"


def load_hub_config(path: str | Path) -> HubConfig:
    return load_toml_model(path, HubConfig)
