"""Builders for the medic tests: tokens, a hub app on a real SQLite file, exams decided by the real rules."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from edge_agent.admission import decide, load_rule_set
from firmware_bridges.contract import make_envelope
from hub.config import HubConfig
from hub.store import Store, utc_now

MEDIC = "medic-token-0123456789"
MEDIC2 = "medic2-token-0123456789"
OHS = "ohs-token-0123456789abc"
ADMIN = "admin-token-0123456789"
TOKENS = [
    {"token": MEDIC, "role": "medic", "name": "Петрова А. В., фельдшер"},
    {"token": MEDIC2, "role": "medic", "name": "Сидоров И. И., врач"},
    {"token": OHS, "role": "ohs", "name": "ОТиПБ"},
    {"token": ADMIN, "role": "admin", "name": "admin"},
]


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def api_section() -> dict:
    return {"port": 0, "tokens": TOKENS}


def store_config(tmp_path, store_url: str | None = None) -> HubConfig:
    """A hub config on a SQLite file in tmp_path, or on ``store_url`` (a PostgreSQL database of the
    ``hub_store_url`` fixture: the test then runs on each storage back end)."""
    storage = {"path": str(tmp_path / "hub" / "hub.db")}
    if store_url and "://" in store_url:
        storage["url"] = store_url
    return HubConfig.model_validate({"storage": storage, "api": api_section()})


#: First attempts (minute 0) of reference.md §1.8 vectors, K1 normals elsewhere.
NORMAL = {"systolic_mmhg": 128, "diastolic_mmhg": 82, "pulse_bpm": 72, "temperature_c": 36.6, "brac_mg_l": 0.0}
RULES = load_rule_set()


def exam_from_rules(worker: str, attempts: list[dict], *, finished: datetime | None = None) -> dict:
    """An exam body whose outcome, fired rules and texts come from the kiosk's real pre-decision."""
    decision = decide({"exam_type": "pre_shift", "attempts": attempts}, RULES).to_json_dict()
    finished = finished or datetime.now(timezone.utc)
    start = finished - timedelta(minutes=max(a["minute"] for a in attempts) + 2)
    measurements = []
    for attempt in attempts:
        taken = (start + timedelta(minutes=attempt["minute"])).isoformat()
        for field in ("systolic_mmhg", "diastolic_mmhg", "pulse_bpm", "temperature_c", "brac_mg_l"):
            if field in attempt:
                measurements.append({"field": field, "value": attempt[field], "taken_at": taken,
                                     "attempt": 1 + sum(1 for m in measurements if m["field"] == field),
                                     "device_model": "sim", "device_serial": "SN-1"})
    return {
        "exam_id": str(uuid.uuid4()), "worker_id": worker, "exam_type": "pre_shift",
        "started_at": start.isoformat(), "finished_at": finished.isoformat(),
        "answers": {"feels_unwell": False, "took_medication": False},
        "measurements": measurements, "outcome": decision["outcome"], "fired": decision["fired"],
        "rule_set_version": decision["rule_set_version"], "reasons": decision["reasons"],
        "summary": decision["summary"], "notify_employer": decision["notify_employer"],
    }


def severe_bp(worker: str = "W00101", **kw) -> dict:
    """K7: 184/112 -> needs_medic at once (bp.severe)."""
    return exam_from_rules(worker, [{"minute": 0, **NORMAL, "systolic_mmhg": 184, "diastolic_mmhg": 112}], **kw)


def alcohol_confirmed(worker: str = "W00102", **kw) -> dict:
    """K5: 0.21 -> (15 min) 0.19 mg/L -> not_admitted, notify the employer."""
    return exam_from_rules(worker, [{"minute": 0, **NORMAL, "brac_mg_l": 0.21}, {"minute": 15, "brac_mg_l": 0.19}], **kw)


def normal(worker: str = "W00103", **kw) -> dict:
    """K1: admitted."""
    return exam_from_rules(worker, [{"minute": 0, **NORMAL}], **kw)


def put_exams(store: Store, bodies: list[dict], kiosk: str = "kiosk-01") -> list[str]:
    """Store exams the way the ingest does (commit_batch); returns their event ids."""
    start = (store.scalar("SELECT max(seq) FROM received WHERE kiosk = ?", [kiosk]) or 0) + 1
    envelopes = [make_envelope("plant-1", kiosk, "exam", body, start + i) for i, body in enumerate(bodies)]
    result = store.commit_batch([(env, utc_now()) for env in envelopes], [])
    assert len(result.stored) == len(bodies)
    return [str(env.event_id) for env in envelopes]
