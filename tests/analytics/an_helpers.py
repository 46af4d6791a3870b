"""Builders shared by the analytics tests: a hub with chosen analytics settings, records in a store."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import tomli_w

from firmware_bridges.contract import make_envelope
from hub.analytics.settings import ENV_VAR
from hub.config import HubConfig
from hub.service import HubService

TOKENS = [{"token": "ohs-token-0123456789", "role": "ohs", "name": "ohs user"},
          {"token": "medic-token-0123456789", "role": "medic", "name": "medic user"},
          {"token": "admin-token-0123456789", "role": "admin", "name": "admin user"}]


def start_hub(tmp: Path, broker, settings: dict) -> HubService:
    """An in-process hub whose analytics settings come from a TOML file named by $OHS_ANALYTICS_CONFIG."""
    path = tmp / "analytics.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(settings), encoding="utf-8")
    config = HubConfig.model_validate({
        "name": "an-hub",
        "mqtt": {"host": broker.host, "port": broker.port, "keepalive_s": 5, "reconnect_min_s": 0.2,
                 "reconnect_max_s": 2},
        "storage": {"path": str(tmp / "hub" / "hub.db"), "synchronous": "NORMAL"},
        "api": {"port": 0, "tokens": TOKENS},
    })
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(ENV_VAR, str(path))
        return HubService(config).start(connect_timeout=10)


def auth(role: str = "ohs") -> dict:
    token = next(t["token"] for t in TOKENS if t["role"] == role)
    return {"Authorization": f"Bearer {token}"}


class Records:
    """Stores records through the real Store.commit_batch, as the ingest does."""

    def __init__(self, store, site: str = "plant-1", kiosk: str = "kiosk-01"):
        self.store, self.site, self.kiosk, self.seq = store, site, kiosk, 0

    def put(self, kind: str, body: dict) -> None:
        self.seq += 1
        env = make_envelope(self.site, self.kiosk, kind, body, self.seq)
        result = self.store.commit_batch([(env, datetime.now(timezone.utc).isoformat())], [])
        assert len(result.stored) == 1

    def noise(self, zone: str, start: datetime, levels: list[float], step_min: float = 5, sensor: str | None = None,
              quantity: str = "noise_dba", invalid: dict | None = None) -> None:
        readings = [{"sensor_id": sensor or f"noise-{zone}", "zone": zone,
                     "ts": (start + timedelta(minutes=step_min * i)).isoformat(), "values": {quantity: v},
                     **({"invalid": invalid} if invalid and v is None else {})} for i, v in enumerate(levels)]
        self.put("telemetry", {"readings": readings})

    def pm(self, zone: str, start: datetime, pm25: list[float], ratio: float = 0.6, step_min: float = 5) -> None:
        self.put("telemetry", {"readings": [
            {"sensor_id": f"pm-{zone}", "zone": zone, "ts": (start + timedelta(minutes=step_min * i)).isoformat(),
             "values": {"pm2_5_ugm3": v, "pm1_0_ugm3": round(v * ratio, 1)}} for i, v in enumerate(pm25)]})

    def exam(self, worker: str, at: datetime, outcome: str = "admitted", **values) -> None:
        """One exam; a value may be a list (successive attempts) or None (invalid reading)."""
        measurements = []
        for field, value in values.items():
            attempts = value if isinstance(value, list) else [value]
            for n, v in enumerate(attempts, start=1):
                measurements.append({"field": field, "value": v, "attempt": n,
                                     "taken_at": (at + timedelta(minutes=n)).isoformat(),
                                     **({"invalid_reason": "device error"} if v is None else {})})
        fired = [] if outcome == "admitted" else [{"rule": "test", "source": "test"}]
        self.put("exam", {"exam_id": str(uuid.uuid4()), "worker_id": worker, "exam_type": "pre_shift",
                          "started_at": at.isoformat(), "finished_at": (at + timedelta(minutes=3)).isoformat(),
                          "measurements": measurements, "outcome": outcome, "fired": fired,
                          "rule_set_version": "test"})

    def smoke(self, zone: str | None, at: datetime, device: str = "det-1") -> None:
        self.put("event", {"type": "smoke_alarm", "severity": "alarm", "zone": zone, "device": device,
                           "details": {"detected_at": at.isoformat()}})
