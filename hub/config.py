"""Hub configuration (TOML), validated with errors that name the file and the key.

Example: ``configs/hub.example.toml``. Defaults are design defaults of this project,
documented in ``docs/ohs.md`` and ``docs/architecture.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from firmware_bridges.configfile import ConfigError, load_toml_model
from firmware_bridges.contract import DEFAULT_MAX_JSON_DEPTH, DEFAULT_MAX_PAYLOAD_BYTES, Identifier
from firmware_bridges.mqtt_settings import MqttSettings
from hub.analytics.settings import AnalyticsSettings
from hub.fleet import FleetSettings

__all__ = ["HubConfig", "load_hub_config", "ConfigError", "Role"]

Role = Literal["medic", "ohs", "admin"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StorageSection(_Section):
    path: Path = Path("var/hub/hub.db")
    synchronous: str = Field(default="FULL", pattern="^(FULL|EXTRA|NORMAL)$")
    url: str | None = Field(
        default=None, pattern=r"^(postgres|postgresql|postgresql\+psycopg)://",
        description="a PostgreSQL database (postgresql://user:password@host:port/db) instead of the SQLite file "
                    "at `path`; the schema is migrated at start (docs/deploy.md)")

    @property
    def target(self) -> str:
        """Where the store is: ``url`` when set, else the SQLite file ``path``."""
        return self.url or str(self.path)


class IngestSection(_Section):
    max_payload_bytes: int = Field(default=DEFAULT_MAX_PAYLOAD_BYTES, ge=1024)
    shared_group: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="several hub workers on one PostgreSQL share the records through the MQTT v5 shared "
                    "subscription $share/<group>/ohs/v1/+/+/<kind>, and compute acks from the store; "
                    "`ohs-hub run --workers N` sets it (default group 'ohs-hub'); absent: one ingest")
    session_expiry_s: int = Field(
        default=7 * 86400, ge=60, description="MQTT v5 session kept by the broker for a stopped worker (shared mode): "
                                              "the records it held are delivered when it comes back")
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


class TimeseriesSection(_Section):
    """Telemetry copied to an InfluxDB-compatible store (docs/timeseries.md); design defaults."""

    enabled: bool = Field(default=True, description="false keeps the section in the file but sends nothing")
    url: str = Field(min_length=1, pattern=r"^https?://", description="the store's base URL (InfluxDB v2 write API)")
    org: str = Field(default="ohs", description="InfluxDB organisation (VictoriaMetrics ignores it)")
    bucket: str = Field(default="ohs", min_length=1, description="InfluxDB bucket (VictoriaMetrics ignores it)")
    token: str = Field(default="", description="API token; keep real tokens out of the repository")
    measurement: str = Field(default="ohs_telemetry", min_length=1, max_length=200)
    batch_size: int = Field(default=5000, ge=1, le=100_000, description="points in one write at most")
    flush_interval_s: float = Field(default=1.0, gt=0, le=3600,
                                    description="a smaller batch is sent once its oldest point waited this long")
    timeout_s: float = Field(default=10.0, gt=0, le=600, description="one write attempt's HTTP timeout")
    retry_initial_s: float = Field(default=0.5, gt=0, le=600, description="first wait after a failed write")
    retry_max_s: float = Field(default=30.0, gt=0, le=3600, description="longest wait between write attempts")
    max_queue_points: int = Field(default=2_000_000, ge=100,
                                  description="points the durable queue holds at most; beyond it the oldest are "
                                              "dropped and counted (dropped_overflow)")
    max_pending_envelopes: int = Field(default=20_000, ge=10,
                                       description="telemetry messages offered but not yet in the durable queue "
                                                   "(memory) at most; beyond it the oldest are dropped and counted")
    queue_path: Path | None = Field(default=None,
                                    description="the durable queue (SQLite); default timeseries-queue.db beside "
                                                "the hub database")


class MedicSigningSection(_Section):
    """The medics' signatures on their decisions (hub.medic_signing, docs/medic.md); design defaults."""

    min_pin_length: int = Field(default=6, ge=4, le=32, description="digits a signing PIN has at least")
    max_attempts: int = Field(default=5, ge=1, le=100, description="wrong PINs in a row before the key locks")
    lockout_minutes: int = Field(default=15, ge=1, le=1440, description="how long a locked key stays locked")
    require_signature: bool = Field(
        default=False, description="refuse decisions of a medic who has no signing key (set true once medics have "
                                   "enrolled; false lets a new hub work before enrolment)")


class IndividualNormsSection(_Section):
    """How a worker's individual norm is proposed from their history (hub.workers; docs/medic.md)."""

    min_readings: int = Field(default=10, ge=3, le=1000,
                              description="admitted exams with BP a proposal needs at least (no fewer than ten "
                                          "exams: the 2002 recommendations [RU-MR2002])")
    max_readings: int = Field(default=30, ge=3, le=1000, description="the last this many exams are used")
    lookback_days: int = Field(default=180, ge=7, le=3650, description="only exams of this many days back")


class RetentionSection(_Section):
    """How long each kind of data is kept, and the telemetry roll-ups (docs/timeseries.md).

    Days of 0 mean "keep forever". Every value is a design default except the audit-log floor,
    which follows the 5-year keeping of the exam journal (reference.md §1.6; see the docs page).
    """

    raw_telemetry_days: int = Field(default=90, ge=0, le=36_500,
                                    description="raw telemetry values; deleted only after they were rolled up")
    telemetry_minute_days: int = Field(default=400, ge=0, le=36_500, description="per-minute roll-ups")
    telemetry_hour_days: int = Field(default=1830, ge=0, le=36_500, description="per-hour roll-ups")
    dead_letters_days: int = Field(default=90, ge=0, le=36_500,
                                   description="dead letters (the row and byte caps of [dead_letters] apply too)")
    audit_log_days: int = Field(default=1827, ge=0, le=36_500,
                                description="the audit log of medical-record reads; never below audit_log_min_days")
    audit_log_min_days: int = Field(default=1827, ge=1827, le=36_500,
                                    description="floor of audit_log_days (at least 5 years, 1827 days); may be "
                                                "raised, never lowered below 1827")
    rollup_interval_s: float = Field(default=60.0, gt=0, le=86_400, description="how often new telemetry is rolled up")
    prune_interval_s: float = Field(default=3600.0, gt=0, le=604_800, description="how often old data is deleted")
    batch_rows: int = Field(default=1000, ge=10, le=100_000, description="rows per short transaction")
    pause_s: float = Field(default=0.05, ge=0, le=10, description="pause between two batches (the store lock is free)")
    decibel_quantities: list[str] = Field(
        default_factory=lambda: ["noise_dba", "noise_lamax_dba", "noise_peak_dbc"],
        description="quantities in dB: energy mean (LAeq), never an arithmetic mean (ISO 9612)",
    )

    @model_validator(mode="after")
    def _ordered(self) -> "RetentionSection":
        def span(days: int) -> float:
            return float("inf") if days == 0 else float(days)

        if not span(self.raw_telemetry_days) <= span(self.telemetry_minute_days) <= span(self.telemetry_hour_days):
            raise ValueError("roll-ups are kept at least as long as what they summarise: raw_telemetry_days <= "
                             "telemetry_minute_days <= telemetry_hour_days (0 = forever)")
        if self.audit_log_days and self.audit_log_days < self.audit_log_min_days:
            raise ValueError(f"audit_log_days {self.audit_log_days} is below audit_log_min_days "
                             f"{self.audit_log_min_days}: the audit log of medical-record reads is kept at least that "
                             "long")
        return self


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
    medic_signing: MedicSigningSection = MedicSigningSection()
    individual_norms: IndividualNormsSection = IndividualNormsSection()
    fleet: FleetSettings = FleetSettings()  # kiosk credentials, pushed configuration, fleet view (docs/fleet.md)
    timeseries: TimeseriesSection | None = Field(
        default=None, description="telemetry to an InfluxDB-compatible store; absent: not sent (docs/timeseries.md)")
    retention: RetentionSection | None = Field(
        default=None, description="retention and telemetry roll-ups; absent: nothing is deleted or rolled up")

    @property
    def client_id(self) -> str:
        return f"hub-{self.name}"


def load_hub_config(path: str | Path) -> HubConfig:
    return load_toml_model(path, HubConfig)
