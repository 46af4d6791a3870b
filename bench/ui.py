"""Server time of every OHS-dashboard and medic-tablet request with a year of data for 10,000 workers.

    python bench/ui.py                    # 10 000 workers × 365 days (builds var/bench/ui/ once, then reuses it)
    python bench/ui.py --quick            # 1 000 workers × 90 days
    python bench/ui.py --rebuild          # build the data again

The data is a real SQLite file in the store's own schema (``Store`` migrates it to head): each
worker takes a pre-shift exam on ~5 days of 7 (about 2.5 million exams a year for 10,000 workers),
1.5 % of them held for the medic. The exams are written in bulk exactly as ``Store.commit_batch``
keeps them (``received``, ``exam_chain`` and ``hub.db.exam_body.exam_row`` / ``INSERT_EXAM`` rows,
sealed bodies from bench/store_scale.py's ``exam_record``) — through the write path a year takes
hours. Everything else goes through the production functions: the worker registry, noise telemetry
from four zones every five minutes and the kiosks' status (``Store.commit_batch``), medic decisions on
all but the last 20 held exams (``hub.medic.record_decision``), approved norms for 200 workers, a
risk register of 120 lines and one pass of the analytics runner. Before timing, a sample is read back
through the production readers (``verify``: stored rows equal ``exam_row`` of their body,
``GET /api/v1/exams/{event_id}`` answers both roles from it, the telemetry count). Then every request
the two pages make is sent round-robin through the real app
(``create_app`` in-process, the OHS or medic token), ``--requests`` times each, and the p95 of
the server time is checked against the issue's target (< 300 ms per page request).
Exit status 1 when any p95 misses the target.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sqlite3
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

from bench.store_scale import check_exam_body, check_stored_exams, exam_record, iso  # noqa: E402
from firmware_bridges.contract import ExamBody, make_envelope  # noqa: E402
from hub import medic, risk_register_store, workers  # noqa: E402
from hub.analytics.runner import AnalyticsRunner  # noqa: E402
from hub.analytics.settings import AnalyticsSettings  # noqa: E402
from hub.api import create_app  # noqa: E402
from hub.config import HubConfig  # noqa: E402
from hub.db import telemetry_points  # noqa: E402
from hub.db.exam_body import INSERT_EXAM, decode_body, exam_row  # noqa: E402
from hub.store import Store  # noqa: E402

TARGET_P95_S = 0.300
OHS, MEDIC = "bench-ohs-token-0123456789", "bench-medic-token-0123456789"
SITE = "plant-1"
KIOSKS = [f"kiosk-{i:02d}" for i in range(1, 9)]
#: each kiosk's journal incarnation (fixed, so a rebuild writes the same journals)
INCARNATION = {kiosk: str(uuid.UUID(int=random.Random(kiosk).getrandbits(128), version=4)) for kiosk in KIOSKS}
SEQS: dict[str, int] = {}  # the last sequence number of each kiosk's journal while building
ZONES = ["press-shop", "assembly", "warehouse", "office"]
HELD_SHARE = 0.015  # exams held for the medic


def config(db: Path) -> HubConfig:
    return HubConfig.model_validate({
        "storage": {"path": str(db)},
        "api": {"port": 0, "tokens": [{"token": OHS, "role": "ohs", "name": "ОТиПБ"},
                                      {"token": MEDIC, "role": "medic", "name": "Петрова А. В."}]},
    })


def bulk_exams(db: Path, numbers: list[str], days: int, today: datetime, rng: random.Random) -> dict:
    """Write the exams as ``Store.commit_batch`` keeps them, with ``executemany`` (hours through the write
    path at full scale): per kiosk journal ``received``, ``exams`` (``hub.db.exam_body.exam_row`` /
    ``INSERT_EXAM``: typed measurement columns, the body compressed once) and ``exam_chain`` rows, in
    time order. Each worker takes a pre-shift exam on ~5 days of 7 between 06:03 and 07:30 at the kiosk
    of their group; 1.5 % are held for the medic. The sealed bodies come from bench/store_scale.py
    (``exam_record``: the contract's ``model_dump_json()``, checked on a sample)."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")  # a bench file: back to WAL when done, as the store keeps it
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-1000000")
    chain = dict.fromkeys(KIOSKS, (0, "0" * 64))
    exams = held = 0
    for day in range(days, 0, -1):
        shift = (today - timedelta(days=day)).timestamp()
        taken = sorted((shift + rng.uniform(180, 5400), i) for i in range(len(numbers)) if rng.random() < 5 / 7)
        received, rows, links = [], [], []
        for ts, i in taken:
            kiosk = KIOSKS[i % len(KIOSKS)]
            SEQS[kiosk] += 1
            event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            received_at = iso(ts + rng.uniform(0.05, 2.0))
            outcome = "needs_medic" if rng.random() < HELD_SHARE else "admitted"
            columns, body, link, chain[kiosk] = exam_record(rng, SITE, kiosk, INCARNATION[kiosk], SEQS[kiosk], event_id,
                                                            received_at, numbers[i], ts, outcome, "pre_shift", chain[kiosk])
            if exams < 20 or rng.random() < 1e-4:
                check_exam_body(body)
            received.append((SITE, kiosk, INCARNATION[kiosk], SEQS[kiosk], event_id, "exam", received_at,
                             hashlib.sha256(body.encode()).hexdigest()))
            rows.append(exam_row(columns, body))
            links.append(link)
            held += outcome == "needs_medic"
            exams += 1
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO received (site, kiosk, incarnation, seq, event_id, kind, received_at, "
                         "content_hash) VALUES (?,?,?,?,?,?,?,?)", received)
        conn.executemany(INSERT_EXAM, rows)
        conn.executemany("INSERT INTO exam_chain (site, kiosk, incarnation, idx, event_id, hash, prev, status) "
                         "VALUES (?,?,?,?,?,?,?,?)", links)
        conn.execute("COMMIT")
        if day % 30 == 0:
            print(f"  {exams:,} exams, {days - day + 1} of {days} days", flush=True)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    return {"exams": exams, "held": held}


def telemetry(store: Store, days: int, today: datetime, rng: random.Random) -> int:
    """Noise of four zones every five minutes, one message per zone and hour (12 readings), and one status
    of each kiosk, through ``Store.commit_batch`` (the telemetry layout is the store's own; few messages)."""
    points = 0
    batch = []
    for day in range(days, 0, -1):
        midnight = today.replace(hour=0) - timedelta(days=day)
        for zone_i, zone in enumerate(ZONES):
            kiosk = KIOSKS[zone_i]
            for hour in range(24):
                SEQS[kiosk] += 1
                base = midnight + timedelta(hours=hour)
                level = (86 if zone == "press-shop" else 72 if zone == "assembly" else 55) if 8 <= hour < 20 else 48
                readings = [{"sensor_id": f"noise-{zone}", "zone": zone, "ts": (base + timedelta(minutes=5 * i)).isoformat(),
                             "values": {"noise_dba": round(level + rng.uniform(-2, 2), 1)}} for i in range(12)]
                points += 12
                batch.append((make_envelope(SITE, kiosk, "telemetry", {"readings": readings}, SEQS[kiosk], ts=base,
                                            incarnation=INCARNATION[kiosk]), base.isoformat()))
    now = datetime.now(timezone.utc)
    for kiosk in KIOSKS:
        status = {"state": "online", "versions": {"agent": "0.1.0"}, "outbox_depth": 0, "last_seq": SEQS[kiosk],
                  "clock_offset_s": 0.1}
        batch.append((make_envelope(SITE, kiosk, "status", status, None, ts=now, incarnation=INCARNATION[kiosk]),
                      now.isoformat()))
    for start in range(0, len(batch), 2000):
        store.commit_batch(batch[start:start + 2000], [])
    return points


def risk_register(store: Store, rows: int) -> None:
    """A plant's register (seed 002 lines: a hazard per workshop and factor) through the OHS write path."""
    factors = [("шум", "шум на рабочем месте", "physical"), ("пыль", "пыль в воздухе рабочей зоны", "chemical"),
               ("вибрация", "локальная вибрация", "physical"), ("микроклимат", "нагревающий микроклимат", "physical"),
               ("тяжесть", "подъём тяжестей", "ergonomic")]
    for i in range(rows):
        factor, hazard, kind = factors[i % len(factors)]
        level = 1 + i % 5
        risk_register_store.create(store, SITE, {
            "code": f"Р{i + 1}", "owner": f"цех {1 + i % 12}", "factor": factor, "hazard": hazard, "factor_kind": kind,
            "hazard_level": level, "exposure_duration": 1 + (i // 5) % 5, "exposure_frequency": 1 + (i // 25) % 5,
            "probability": 1 + (i * 7) % 5,
            "measures": [{"text": "СИЗ", "control": "ppe", "owner": "мастер", "deadline": "2027-03-01"}],
            "residual": {"hazard_level": max(1, level - 1), "exposure_duration": 2, "exposure_frequency": 2,
                         "probability": 2}}, "ОТиПБ", "ohs")


def build(db: Path, n_workers: int, days: int, seed: int = 7) -> dict:
    """Write the data set; returns what was written and how long each part took. The schema is the
    store's own (``Store`` migrates the new file to head); exams are bulk-written (:func:`bulk_exams`);
    everything else goes through the production functions: the worker registry, telemetry and kiosk
    status (``Store.commit_batch``), medic decisions, approved norms, the risk register and one analytics pass."""
    rng = random.Random(seed)
    SEQS.update(dict.fromkeys(KIOSKS, 0))
    today = datetime.now(timezone.utc).replace(hour=6, minute=0, second=0, microsecond=0)
    began = time.perf_counter()
    numbers = [f"W{i:05d}" for i in range(1, n_workers + 1)]
    store = Store(db)
    workers.upsert_workers(store, [{"personnel_number": n, "site": SITE, "full_name": f"Работник {n}",
                                    "birth_date": f"{rng.randint(1965, 2002)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
                                    "sex": rng.choice("MF")} for n in numbers], "bench")
    medic.ensure_schema(store)
    store.close()
    written = bulk_exams(db, numbers, days, today, rng)
    exams_s = time.perf_counter() - began
    store = Store(db)  # opens as the hub does: statistics measured on the data
    points = telemetry(store, days, today, rng)
    decided = 0
    for row in store.query("SELECT event_id FROM exams WHERE outcome = 'needs_medic' ORDER BY finished_at LIMIT ?",
                           [max(0, written["held"] - 20)]):  # all but the last 20 decided: the queue stays realistic
        medic.record_decision(store, row["event_id"], medic="Петрова А. В.", role="medic", decision="not_admitted",
                              reason="давление не снизилось")
        decided += 1
    for number in rng.sample(numbers, min(200, len(numbers))):
        try:
            proposal = workers.propose_norm(store, number, "Петрова А. В.", workers.NormSettings())
        except workers.WorkerError:
            continue
        workers.approve_norm(store, number, proposal["id"], "Петрова А. В.")
    risk_register(store, 120)
    production_s = time.perf_counter() - began - exams_s
    analytics = time.perf_counter()
    AnalyticsRunner(store, AnalyticsSettings()).run_once()
    analytics = time.perf_counter() - analytics
    store.refresh_statistics()
    store.close()
    total = time.perf_counter() - began
    return {"workers": n_workers, "days": days, **written, "decided": decided, "telemetry_points": points,
            "exams_s": round(exams_s, 1), "exams_per_s": round(written["exams"] / exams_s),
            "production_writes_s": round(production_s, 1), "analytics_pass_s": round(analytics, 1),
            "build_s": round(total, 1)}


def verify(db: Path, sample: int = 50) -> dict:
    """The built data read through the production readers, so the bench never times an unrealistic
    database: a sample of exam rows is exactly what ``Store.commit_batch`` writes (bench/store_scale.py
    ``check_stored_exams``), ``GET /api/v1/exams/{event_id}`` answers both roles with a valid view (the
    medic's measurements are the body's; the OHS view has none), the telemetry reads back whole and
    every kiosk is known."""
    rows = check_stored_exams(db, 200)
    store = Store(db)
    ids = [r["event_id"] for r in store.query(
        "SELECT event_id FROM exams WHERE rowid % max(1, (SELECT max(rowid) FROM exams) / ?) = 0 LIMIT ?",
        [sample, sample])]
    with TestClient(create_app(config(db), store)) as client:
        for event_id in ids:
            medical = client.get(f"/api/v1/exams/{event_id}", headers={"Authorization": f"Bearer {MEDIC}"})
            outcome = client.get(f"/api/v1/exams/{event_id}", headers={"Authorization": f"Bearer {OHS}"})
            if medical.status_code != 200 or outcome.status_code != 200:
                raise SystemExit(f"exam {event_id}: {medical.status_code} {medical.text[:300]} / {outcome.text[:300]}")
            stored = decode_body(store.scalar("SELECT body_z FROM exams WHERE event_id = ?", [event_id]))
            ExamBody.model_validate(stored)
            if medical.json()["measurements"] != stored["measurements"] or outcome.json().get("measurements"):
                raise SystemExit(f"exam {event_id}: the API's view differs from the stored body")
        kiosks = {k["kiosk"] for k in client.get("/api/v1/kiosks", headers={"Authorization": f"Bearer {OHS}"}).json()["items"]}
    points = telemetry_points.count(store)
    store.close()
    if not set(KIOSKS) <= kiosks:
        raise SystemExit(f"kiosks missing from GET /api/v1/kiosks: {sorted(set(KIOSKS) - kiosks)}")
    return {**rows, "exams_read_through_api": len(ids), "telemetry_points_stored": points}


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
    meta["file_gb"] = round(db.stat().st_size / 1e9, 2)
    print("data:", ", ".join(f"{k} {v}" for k, v in meta.items()), flush=True)
    checked = verify(db)
    print("read back through the production readers:", ", ".join(f"{k} {v}" for k, v in checked.items()), flush=True)
    results = measure(db, args.requests)
    width = max(len(r["page"]) for r in results)
    print(f"{'request':<{width}}  median ms   p95 ms   target < {TARGET_P95_S * 1000:.0f} ms")
    for r in results:
        print(f"{r['page']:<{width}}  {r['median_ms']:>9}  {r['p95_ms']:>7}   {'ok' if r['ok'] else 'FAIL'}")
    failed = [r["page"] for r in results if not r["ok"]]
    print(json.dumps({"bench": "ui", **meta, "verified": checked, "pages": results, "failed": failed},
                     ensure_ascii=False))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
