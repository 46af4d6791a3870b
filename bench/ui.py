"""Server time of every OHS-dashboard and medic-tablet request with a year of data for 10,000 workers.

    python bench/ui.py                    # 10 000 workers × 365 days (builds var/bench/ui/ once, then reuses it)
    python bench/ui.py --quick            # 1 000 workers × 90 days
    python bench/ui.py --rebuild          # build the data again

The data goes in through the production write path (``Store.commit_batch``, as the ingest stores a
batch; medic decisions through ``hub.medic.record_decision``; the analytics through one pass of the
runner) into a real SQLite file: each worker takes a pre-shift exam on ~5 days of 7 (about 2.5
million exams a year for 10,000 workers), 1.5 % of them held for the medic and decided, noise
telemetry from four zones every five minutes, a registry of the workers with approved norms and a
risk register. Then every request the two pages make is sent round-robin through the real app
(``create_app`` in-process, the OHS or medic token), ``--requests`` times each, and the p95 of
the server time is checked against the issue's target (< 300 ms per page request).
Exit status 1 when any p95 misses the target.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from firmware_bridges.contract import make_envelope  # noqa: E402
from hub import medic, workers  # noqa: E402
from hub.analytics.runner import AnalyticsRunner  # noqa: E402
from hub.analytics.settings import AnalyticsSettings  # noqa: E402
from hub.api import create_app  # noqa: E402
from hub.config import HubConfig  # noqa: E402
from hub.store import Store  # noqa: E402

TARGET_P95_S = 0.300
OHS, MEDIC = "bench-ohs-token-0123456789", "bench-medic-token-0123456789"
KIOSKS = [f"kiosk-{i:02d}" for i in range(1, 9)]
ZONES = ["press-shop", "assembly", "warehouse", "office"]


def config(db: Path) -> HubConfig:
    return HubConfig.model_validate({
        "storage": {"path": str(db)},
        "api": {"port": 0, "tokens": [{"token": OHS, "role": "ohs", "name": "ОТиПБ"},
                                      {"token": MEDIC, "role": "medic", "name": "Петрова А. В."}]},
    })


def exam_body(rng: random.Random, worker: str, finished: datetime) -> dict:
    held = rng.random() < 0.015
    sys_, dia = (rng.randint(165, 190), rng.randint(100, 115)) if held else (rng.randint(108, 138), rng.randint(68, 88))
    at = finished.isoformat()
    values = {"systolic_mmhg": sys_, "diastolic_mmhg": dia, "pulse_bpm": rng.randint(58, 92),
              "temperature_c": round(rng.uniform(36.1, 36.9), 1), "spo2_percent": rng.randint(95, 99),
              "brac_mg_l": 0.0}
    return {
        "exam_id": str(uuid.uuid4()), "worker_id": worker, "exam_type": "pre_shift",
        "started_at": (finished - timedelta(minutes=3)).isoformat(), "finished_at": at,
        "answers": {"feels_unwell": False, "took_medication": False},
        "measurements": [{"field": f, "value": v, "taken_at": at, "attempt": 1, "device_model": "sim"}
                         for f, v in values.items()],
        "outcome": "needs_medic" if held else "admitted",
        "fired": [{"rule": "bp.severe", "source": "reference.md §1.4"}] if held else [],
        "rule_set_version": "bench",
    }


def build(db: Path, n_workers: int, days: int, seed: int = 7) -> dict:
    """Write the data set through the production paths; returns what was written and how long it took."""
    rng = random.Random(seed)
    started = time.perf_counter()
    store = Store(db)
    numbers = [f"W{i:05d}" for i in range(1, n_workers + 1)]
    workers.upsert_workers(store, [{"personnel_number": n, "site": "plant-1", "full_name": f"Работник {n}",
                                    "birth_date": f"{rng.randint(1965, 2002)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
                                    "sex": rng.choice("MF")} for n in numbers], "bench")
    seqs = dict.fromkeys(KIOSKS, 0)
    today = datetime.now(timezone.utc).replace(hour=6, minute=0, second=0, microsecond=0)
    exams = held = points = 0
    for day in range(days, 0, -1):
        batch = []
        shift_start = today - timedelta(days=day)
        for number in numbers:
            if rng.random() > 5 / 7:
                continue
            kiosk = KIOSKS[int(number[1:]) % len(KIOSKS)]
            seqs[kiosk] += 1
            finished = shift_start + timedelta(seconds=rng.randint(0, 5400))
            body = exam_body(rng, number, finished)
            held += body["outcome"] == "needs_medic"
            batch.append((make_envelope("plant-1", kiosk, "exam", body, seqs[kiosk], ts=finished),
                          finished.isoformat(), body))
        for zone_i, zone in enumerate(ZONES):  # one telemetry message per zone and hour, 12 readings each
            kiosk = KIOSKS[zone_i]
            for hour in range(24):
                seqs[kiosk] += 1
                base = shift_start.replace(hour=0) + timedelta(hours=hour)
                level = (86 if zone == "press-shop" else 72 if zone == "assembly" else 55) if 8 <= hour < 20 else 48
                readings = [{"sensor_id": f"noise-{zone}", "zone": zone, "ts": (base + timedelta(minutes=5 * i)).isoformat(),
                             "values": {"noise_dba": round(level + rng.uniform(-2, 2), 1)}} for i in range(12)]
                points += 12
                batch.append((make_envelope("plant-1", kiosk, "telemetry", {"readings": readings}, seqs[kiosk], ts=base),
                              base.isoformat()))
        for start in range(0, len(batch), 2000):
            store.commit_batch(batch[start:start + 2000], [])
        exams += sum(1 for env, *_ in batch if env.kind == "exam")
    written = time.perf_counter() - started
    decided = 0
    for row in store.query("SELECT event_id FROM exams WHERE outcome = 'needs_medic' ORDER BY finished_at LIMIT ?",
                           [max(0, held - 20)]):  # all but the last 20 decided: the queue stays realistic
        medic.record_decision(store, row["event_id"], medic="Петрова А. В.", role="medic", decision="not_admitted",
                              reason="давление не снизилось")
        decided += 1
    for number in rng.sample(numbers, min(200, len(numbers))):
        try:
            proposal = workers.propose_norm(store, number, "Петрова А. В.", workers.NormSettings())
        except workers.WorkerError:
            continue
        workers.approve_norm(store, number, proposal["id"], "Петрова А. В.")
    analytics = time.perf_counter()
    AnalyticsRunner(store, AnalyticsSettings()).run_once()
    analytics = time.perf_counter() - analytics
    store.close()
    return {"workers": n_workers, "days": days, "exams": exams, "held": held, "decided": decided,
            "telemetry_points": points, "write_s": round(written, 1), "exams_per_s": round(exams / written),
            "analytics_pass_s": round(analytics, 1)}


def pages(store: Store, rng: random.Random) -> list[tuple[str, str, str]]:
    """(page, token, path) of every request the dashboard and the tablet make, with real ids."""
    today = datetime.now(timezone.utc).date()
    month = f"date_from={today - timedelta(days=29)}&date_to={today}"
    since = f"since={today - timedelta(days=29)}T00:00:00Z&until={today + timedelta(days=1)}T00:00:00Z"
    worker = f"W{rng.randint(1, max(1, store.scalar('SELECT count(*) FROM workers'))):05d}"
    held = store.scalar("SELECT event_id FROM exams WHERE outcome = 'needs_medic' ORDER BY finished_at DESC LIMIT 1")
    history = f"worker_id={worker}&since={today - timedelta(days=90)}T00:00:00Z&limit=500&order=asc"
    return [
        ("ohs: page", OHS, "/"),
        ("ohs: overview counts", OHS, f"/api/v1/stats/exams?{month}"),
        ("ohs: kiosks", OHS, "/api/v1/kiosks"),
        ("ohs: open alarms", OHS, "/api/v1/analytics/alarms?state=open&limit=1"),
        ("ohs: journal page 1", OHS, f"/api/v1/exams?{since}&limit=50&offset=0"),
        ("ohs: journal not admitted", OHS, f"/api/v1/exams?{since}&final_outcome=not_admitted&limit=50"),
        ("ohs: journal one worker", OHS, f"/api/v1/exams?{since}&worker_id={worker}&limit=50"),
        ("ohs: noise zones", OHS, "/api/v1/analytics/noise/zones"),
        ("ohs: smoking", OHS, "/api/v1/analytics/smoke/violations"),
        ("ohs: febrile", OHS, "/api/v1/analytics/epi/febrile"),
        ("ohs: alcohol", OHS, "/api/v1/analytics/epi/alcohol"),
        ("ohs: Rt", OHS, "/api/v1/analytics/rt/febrile"),
        ("ohs: risk groups", OHS, "/api/v1/risk-groups/report"),
        ("ohs: risk register", OHS, "/api/v1/risk-register"),
        ("ohs: fleet", OHS, "/api/v1/fleet"),
        ("ohs: alarms", OHS, "/api/v1/analytics/alarms?state=open&limit=200"),
        ("medic: page", MEDIC, "/medic"),
        ("medic: queue", MEDIC, "/api/v1/medic/queue"),
        ("medic: exam", MEDIC, f"/api/v1/medic/exams/{held}"),
        ("medic: worker card", MEDIC, f"/api/v1/workers/{worker}"),
        ("medic: 90-day history", MEDIC, f"/api/v1/exams?{history}"),
        ("medic: worker decisions", MEDIC, f"/api/v1/medic/decisions?worker_id={worker}&order=desc&limit=50"),
        ("medic: risk groups", MEDIC, f"/api/v1/risk-groups/{worker}/assessments"),
        ("medic: signing key", MEDIC, "/api/v1/medic/signing-key"),
    ]


def measure(db: Path, requests: int) -> list[dict]:
    store = Store(db)
    rng = random.Random(11)
    times: dict[str, list[float]] = {}
    with TestClient(create_app(config(db), store)) as client:
        plan = pages(store, rng)
        for _ in range(2):  # warm the page cache and the pools once
            for _, token, path in plan:
                client.get(path, headers={"Authorization": f"Bearer {token}"})
        for _ in range(requests):
            for name, token, path in pages(store, rng):  # a new worker each round
                started = time.perf_counter()
                response = client.get(path, headers={"Authorization": f"Bearer {token}"})
                times.setdefault(name, []).append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise SystemExit(f"{name}: {path} answered {response.status_code}: {response.text[:300]}")
    store.close()
    out = []
    for name, samples in times.items():
        samples.sort()
        p95 = samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))]
        out.append({"page": name, "median_ms": round(1000 * statistics.median(samples), 1),
                    "p95_ms": round(1000 * p95, 1), "ok": p95 < TARGET_P95_S})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--quick", action="store_true", help="1 000 workers × 90 days")
    parser.add_argument("--requests", type=int, default=30, help="requests of each page")
    parser.add_argument("--dir", type=Path, default=ROOT / "var" / "bench" / "ui")
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.workers, args.days = 1000, 90
    db = args.dir / f"hub-{args.workers}w-{args.days}d.db"
    meta_path = db.with_suffix(".json")
    if args.rebuild or not meta_path.exists():
        for stale in db.parent.glob(db.name + "*"):
            stale.unlink()
        db.parent.mkdir(parents=True, exist_ok=True)
        print(f"building {args.workers} workers × {args.days} days into {db} …", flush=True)
        meta = build(db, args.workers, args.days)
        meta_path.write_text(json.dumps(meta))
    meta = json.loads(meta_path.read_text())
    print("data:", ", ".join(f"{k} {v}" for k, v in meta.items()), f"({db.stat().st_size / 1e9:.2f} GB)")
    results = measure(db, args.requests)
    width = max(len(r["page"]) for r in results)
    print(f"{'request':<{width}}  median ms   p95 ms   target < {TARGET_P95_S * 1000:.0f} ms")
    for r in results:
        print(f"{r['page']:<{width}}  {r['median_ms']:>9}  {r['p95_ms']:>7}   {'ok' if r['ok'] else 'FAIL'}")
    failed = [r["page"] for r in results if not r["ok"]]
    print(json.dumps({"bench": "ui", **meta, "pages": results, "failed": failed}, ensure_ascii=False))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
