"""Builders for the store-scale tests: real SQLite files, records through ``Store.commit_batch`` where
the ingest's path matters, and bulk rows in the production schema where only the volume does."""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timedelta, timezone

from firmware_bridges.contract import TelemetryReading, make_envelope
from hub.db.exam_body import INSERT_EXAM, exam_row
from hub.store import Store

T0 = datetime(2026, 3, 2, 6, tzinfo=timezone.utc)
TOKENS = [{"token": "ss-medic-token-0123456789", "role": "medic", "name": "ss medic"},
          {"token": "ss-ohs-token-0123456789", "role": "ohs", "name": "ss ohs"}]
MEDIC = {"Authorization": f"Bearer {TOKENS[0]['token']}"}
OHS = {"Authorization": f"Bearer {TOKENS[1]['token']}"}


def exam_body(worker: str, at: datetime, outcome: str = "admitted") -> dict:
    return {"exam_id": str(uuid.uuid4()), "worker_id": worker, "exam_type": "pre_shift",
            "started_at": at.isoformat(), "finished_at": (at + timedelta(minutes=3)).isoformat(),
            "measurements": [{"field": "temperature_c", "value": 36.6, "taken_at": at.isoformat()}],
            "outcome": outcome, "fired": [] if outcome == "admitted" else [{"rule": "t", "source": "t"}],
            "rule_set_version": "test"}


def commit_exams(store: Store, seqs, site: str = "plant-1", kiosk: str = "kiosk-01",
                 incarnation: str | None = None, at: datetime = T0) -> None:
    """One exam per sequence, through commit_batch (the ingest's path)."""
    envelopes = []
    for seq in seqs:
        when = at + timedelta(minutes=seq)
        env = make_envelope(site, kiosk, "exam", exam_body(f"W{seq % 7}", when), seq, incarnation=incarnation)
        envelopes.append((env, when.isoformat()))
    result = store.commit_batch(envelopes, [])
    assert len(result.stored) == len(envelopes)


def bulk_exams(store: Store, n: int, sites: int = 4, kiosks_per_site: int = 3, start: datetime = T0,
               seed: int = 7) -> None:
    """``n`` exams (with their ``received`` rows) straight into the production tables, in time order."""
    rng = random.Random(seed)
    seqs: dict[str, int] = {}
    exams, received = [], []
    for i in range(n):
        site = f"plant-{i % sites + 1}"
        kiosk = f"kiosk-{i % sites + 1}-{(i // sites) % kiosks_per_site + 1}"
        seqs[kiosk] = seq = seqs.get(kiosk, 0) + 1
        finished = start + timedelta(minutes=7 * i)
        roll = rng.random()
        outcome = "admitted" if roll < 0.9 else ("needs_medic" if roll < 0.95 else "not_admitted")
        exam_type = "pre_shift" if rng.random() < 0.8 else "post_shift"
        event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        worker = f"W{rng.randrange(300):04d}"
        body = json.dumps({**exam_body(worker, finished - timedelta(minutes=3), outcome), "exam_type": exam_type})
        exams.append(exam_row((event_id, site, kiosk, seq, str(uuid.uuid4()), worker, exam_type,
                               (finished - timedelta(minutes=3)).isoformat(), finished.isoformat(), outcome, "test",
                               0, finished.isoformat(), finished.isoformat(), "unsigned", ""), body))
        received.append((site, kiosk, "", seq, event_id, "exam", finished.isoformat(), "0" * 64))
    with store.lock:
        conn = store.conn
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO received VALUES (?,?,?,?,?,?,?,?)", received)
        conn.executemany(INSERT_EXAM, exams)  # the rows Store.commit_batch writes (hub.db.exam_body)
        conn.execute("COMMIT")


def bulk_noise(store: Store, zones: tuple[str, ...], start: datetime, minutes: int, site: str = "plant-1",
               kiosk: str = "kiosk-01", first_seq: int = 1_000_000) -> int:
    """One noise_dba value per zone and minute, straight into the telemetry chunks through the store's
    telemetry writer (no records in ``received``); returns the values written."""
    readings = [TelemetryReading(sensor_id=f"noise-{zone}", zone=zone, ts=start + timedelta(minutes=m),
                                 values={"noise_dba": 70.0 + (m * 7 + z) % 20})
                for z, zone in enumerate(zones) for m in range(minutes)]
    with store.lock:
        store.telemetry.begin()
        store.telemetry.add(site, kiosk, readings)
        store.conn.execute("BEGIN")
        written = store.telemetry.flush(store.conn)
        store.conn.execute("COMMIT")
        store.telemetry.committed()
    return written


def hub_config(path):
    from hub.config import HubConfig

    return HubConfig.model_validate({"storage": {"path": str(path), "synchronous": "NORMAL"},
                                     "api": {"port": 0, "tokens": TOKENS}})
