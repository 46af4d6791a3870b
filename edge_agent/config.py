"""Kiosk configuration (TOML), validated with errors that name the file and the key.

Example: ``configs/kiosk.example.toml``. Every default below is a design default of this
project (not a regulatory value) and is documented in ``docs/kiosk-operator.md``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from edge_agent.devices.config import DeviceDeclaration
from firmware_bridges.configfile import ConfigError, load_toml_model
from firmware_bridges.contract import Identifier
from firmware_bridges.mqtt_settings import MqttSettings

__all__ = ["KioskConfig", "load_kiosk_config", "ConfigError"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IdentitySection(_Section):
    site: Identifier
    kiosk: Identifier
    signing_key: Path | None = Field(
        default=None,
        description="Ed25519 private key sealing the exam chain; created on first start (keep it on the kiosk). "
        "Default: signing-key.pem beside the journal",
    )


class JournalSection(_Section):
    path: Path = Path("var/kiosk/journal.db")
    synchronous: str = Field(
        default="FULL",
        pattern="^(FULL|EXTRA|NORMAL)$",
        description="SQLite synchronous mode; FULL survives power loss at the gate (design default)",
    )
    reserve_bytes: int = Field(
        default=8 * 1024 * 1024, ge=0,
        description="space held in a reserve file beside the journal and given up only to exam records when the "
        "disk is full (8 MiB ≈ 5,000 exams; design default). 0 turns the reserve off",
    )
    telemetry_min_free_bytes: int = Field(
        default=16 * 1024 * 1024, ge=0,
        description="below this much free space (or while the reserve is spent) telemetry is shed, counted as "
        "telemetry_shed, so exams keep their room (design default)",
    )
    prune_acked_telemetry_after_s: float = Field(
        default=7 * 24 * 3600, gt=0,
        description="acknowledged telemetry is deleted from the journal after this long (exams and events are kept)",
    )

    def journal_options(self) -> dict:
        """Keyword arguments for :class:`edge_agent.journal.Journal`."""
        return {"synchronous": self.synchronous, "reserve_bytes": self.reserve_bytes,
                "telemetry_min_free_bytes": self.telemetry_min_free_bytes,
                "prune_acked_telemetry_after_s": self.prune_acked_telemetry_after_s}


class OutboxSection(_Section):
    backlog_rate_per_s: float = Field(
        default=50.0, ge=0, description="backlog records sent per second at most; 0 = no limit"
    )
    max_unacked: int = Field(default=1000, ge=1, description="records sent but not yet acknowledged by the hub")
    resend_after_s: float = Field(default=30.0, gt=0, description="resend a record the hub has not acked by then")
    batch: int = Field(default=200, ge=1, le=10000, description="records read from the journal per pass")
    sync_wait_s: float = Field(
        default=5.0, ge=0,
        description="after connecting, wait this long at most for the hub's ack to the status before sending "
        "records, so a journal restored from an older copy is noticed before its records clash (design default)",
    )


class WatchdogSection(_Section):
    stuck_after_s: float = Field(
        default=20.0, gt=0, description="a connection that shows no traffic while records wait is restarted"
    )
    offline_restart_after_s: float = Field(
        default=120.0, gt=0, description="recreate the MQTT client when it stays disconnected this long"
    )
    status_every_s: float = Field(default=30.0, gt=0, description="re-publish the retained status this often")


class SimulationSection(_Section):
    workers: int = Field(default=50, ge=1, le=100000)
    exams_per_minute: float = Field(default=6.0, gt=0)
    seed: int = 1
    telemetry_every_s: float = Field(default=10.0, gt=0)


class KioskConfig(_Section):
    identity: IdentitySection
    mqtt: MqttSettings = MqttSettings()
    journal: JournalSection = JournalSection()
    outbox: OutboxSection = OutboxSection()
    watchdog: WatchdogSection = WatchdogSection()
    simulation: SimulationSection = SimulationSection()
    devices: list[DeviceDeclaration] = Field(
        default_factory=list, description="[[devices]]: attached devices (docs/integrator-devices.md §6)"
    )

    @property
    def signing_key_path(self) -> Path:
        """Where the kiosk's signing key lives: as configured, else beside its journal."""
        return self.identity.signing_key or self.journal.path.parent / "signing-key.pem"

    @property
    def client_id(self) -> str:
        return f"kiosk-{self.identity.site}-{self.identity.kiosk}"


def load_kiosk_config(path: str | Path) -> KioskConfig:
    """Load and validate a kiosk TOML file; raises ConfigError naming file and key."""
    return load_toml_model(path, KioskConfig)
