"""Telemetry messages with known values and times, and what a time-series store must hold for them.

The expected samples are computed here from the chosen epoch milliseconds, not with
``hub.timeseries``: a reading's ``ts`` is built from an integer number of milliseconds (in some
time zone), so the store's timestamp must be exactly that integer.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

from firmware_bridges.contract import make_envelope
from hub.config import HubConfig
from hub.ingest import Ingest
from hub.store import Store
from hub.timeseries import TimeseriesSink
from tests.reliability.helpers import RecordingClient
from tests.storage.backend import store_target

SITE, KIOSK = "plant-1", "kiosk-01"
BASE_MS = 1_717_236_000_123  # 2024-06-01T10:00:00.123Z


def at_ms(ms: int, offset_h: float = 0) -> str:
    """ISO text of an epoch-milliseconds instant, written in a zone ``offset_h`` hours from UTC."""
    zone = timezone(timedelta(hours=offset_h))
    return (datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=ms)).astimezone(zone).isoformat()


def reading(sensor: str, zone: str, ms: int, values: dict, offset_h: float = 0, invalid: dict | None = None) -> dict:
    return {"sensor_id": sensor, "zone": zone, "ts": at_ms(ms, offset_h), "values": values,
            "invalid": invalid or {}, "_ms": ms}


def body(readings: list[dict]) -> dict:
    return {"readings": [{k: v for k, v in r.items() if k != "_ms"} for r in readings]}


def telemetry_wire(seq: int, readings: list[dict], incarnation: str = "inc-ts", kiosk: str = KIOSK):
    envelope = make_envelope(SITE, kiosk, "telemetry", body(readings), seq, incarnation=incarnation)
    return f"ohs/v1/{SITE}/{kiosk}/telemetry", envelope.to_json()


def sample_readings(seq: int, per_message: int = 3) -> list[dict]:
    """Readings of message ``seq``: noise, dust and temperature in three zones, one value invalid,
    times written in UTC, Moscow (+3) and Yekaterinburg (+5)."""
    out = []
    for i in range(per_message):
        ms = BASE_MS + seq * 10_000 + i * 1_001
        out.append(reading(f"noise-{i % 2}", ["press shop", "weld,zone", "yard=1"][i % 3], ms,
                           {"noise_dba": 70.0 + seq + i / 8, "noise_lamax_dba": 88.5 + i},
                           offset_h=[0, 3, 5][i % 3]))
    out.append(reading("dust-1", "yard=1", BASE_MS + seq * 10_000 + 5_555,
                       {"pm2_5_ugm3": 12.25 * seq, "pm10_ugm3": None, "temperature_c": -3.5},
                       invalid={"pm10_ugm3": "sensor_fault"}))
    return out


def expected_samples(messages: list[tuple[int, list[dict]]], kiosk: str = KIOSK) -> Counter:
    """(labels, timestamp ms, value) → 1 for every valid value of the messages."""
    counted: Counter = Counter()
    for _, readings in messages:
        for r in readings:
            for quantity, value in r["values"].items():
                if value is None:
                    continue
                labels = tuple(sorted({"site": SITE, "kiosk": kiosk, "zone": r["zone"], "sensor_id": r["sensor_id"],
                                       "quantity": quantity}.items()))
                counted[(labels, r["_ms"], value)] += 1
    return counted


def invalid_count(messages: list[tuple[int, list[dict]]]) -> int:
    return sum(1 for _, readings in messages for r in readings for v in r["values"].values() if v is None)


def ingest_with_sink(tmp_path, url: str, **settings) -> tuple[Ingest, TimeseriesSink]:
    """An Ingest without a network (stand-in MQTT client) with a started time-series sink."""
    config = HubConfig.model_validate({
        "storage": {"path": str(tmp_path / "hub" / "hub.db")},
        "timeseries": {"url": url, "batch_size": 50, "flush_interval_s": 0.1, "retry_initial_s": 0.05,
                       "retry_max_s": 0.3, "timeout_s": 5, **settings},
    })
    ingest = Ingest(config, Store(store_target(tmp_path / "hub")))
    ingest.client = RecordingClient()
    sink = TimeseriesSink(config.timeseries, tmp_path / "hub" / "timeseries-queue.db").start()
    ingest.telemetry_sinks.append(sink)
    return ingest, sink
