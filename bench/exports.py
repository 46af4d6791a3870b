"""Benchmark of the exam journal export (issue 14): a journal of 10,000 exams in under 5 s, CSV and PDF.

Run: ``.venv/bin/python bench/exports.py [--exams N] [--repeat K] [--keep DIR] [--db FILE]``

Builds a real SQLite hub store with N exams (default 10,000) of a population of workers over a
month at one site — stored the way the ingest stores them (``Store.commit_batch``), with the kiosk's
worker block, re-tests, alcohol findings and medic decisions on the exams the kiosk held — then
fetches ``GET /api/v1/journal`` (medic) in-process through the real FastAPI app, as CSV and as PDF,
best of K runs (default 3). The time covers everything the route does: the read, the decisions,
the thirteen columns, rendering and the audit row. Prints the figures, wall and CPU time (the machine
may be shared), and exits 1 when a wall time is over the target.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient  # noqa: E402

from firmware_bridges.contract import make_envelope  # noqa: E402
from hub import medic  # noqa: E402
from hub.api import create_app  # noqa: E402
from hub.config import HubConfig  # noqa: E402
from hub.store import Store, utc_now  # noqa: E402

TARGET_S = 5.0
MEDIC = "bench-medic-token-0123456789"
SURNAMES = ("Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков",
            "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров")
NAMES = ("Александр", "Сергей", "Дмитрий", "Андрей", "Алексей", "Ольга", "Елена", "Наталья", "Татьяна", "Юрий")


def population(n: int, rng: random.Random) -> list[dict]:
    workers = []
    for i in range(n):
        female = NAMES.index(name := rng.choice(NAMES)) >= 5
        surname = rng.choice(SURNAMES) + ("а" if female else "")
        workers.append({"personnel_number": f"T{i:05d}", "full_name": f"{surname} {name} {rng.choice(NAMES[:5])}ович",
                        "birth_date": f"{rng.randint(1962, 2004)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                        "sex": "F" if female else "M"})
    return workers


def exam(worker: dict, finished: datetime, rng: random.Random) -> dict:
    """One exam: mostly normal; some high blood pressure with a re-test (held for the medic), some alcohol."""
    kind = rng.random()
    attempts = [{"systolic_mmhg": rng.randint(105, 139), "diastolic_mmhg": rng.randint(65, 89),
                 "pulse_bpm": rng.randint(58, 92), "temperature_c": round(rng.uniform(35.9, 36.9), 1),
                 "spo2_percent": rng.randint(95, 99), "brac_mg_l": 0.0}]
    outcome, reasons = "admitted", []
    if kind < 0.04:
        attempts[0].update(systolic_mmhg=rng.randint(150, 175), diastolic_mmhg=rng.randint(92, 104))
        attempts.append({"systolic_mmhg": rng.randint(145, 170), "diastolic_mmhg": rng.randint(90, 100)})
        outcome = "needs_medic"
        reasons = [{"rule": "bp.high", "ru": "Повышенное артериальное давление после повторного измерения",
                    "en": "High blood pressure after the re-test"}]
    elif kind < 0.05:
        attempts[0]["brac_mg_l"] = round(rng.uniform(0.17, 0.6), 3)
        attempts.append({"brac_mg_l": round(attempts[0]["brac_mg_l"] * 0.95, 3)})
        outcome = "not_admitted"
        reasons = [{"rule": "alcohol.confirmed", "ru": "Повторное исследование подтвердило алкоголь в выдыхаемом "
                    "воздухе", "en": "The repeat test confirmed alcohol in exhaled air"}]
    start = finished - timedelta(minutes=3 + 20 * (len(attempts) - 1))
    measurements = []
    for n, attempt in enumerate(attempts, start=1):
        taken = (start + timedelta(minutes=20 * (n - 1))).isoformat()
        for field, value in attempt.items():
            measurements.append({"field": field, "value": value, "attempt": n, "taken_at": taken,
                                 "device_model": "Алкотектор Юпитер" if field == "brac_mg_l" else "UA-1200",
                                 "device_serial": "ALC-0042" if field == "brac_mg_l" else "BP-3311"})
    return {"exam_id": str(uuid.uuid4()), "worker_id": worker["personnel_number"], "exam_type": "pre_shift",
            "started_at": start.isoformat(), "finished_at": finished.isoformat(),
            "answers": {"slept_enough": rng.random() > 0.03, "feels_unwell": False, "took_medication": False},
            "measurements": measurements, "outcome": outcome, "fired": [{"rule": r["rule"], "source": "bench"}
                                                                         for r in reasons],
            "reasons": reasons, "rule_set_version": "bench-1", "worker": worker,
            "consent": {"given_at": "2026-01-10T08:00:00+00:00"}, "kiosk": "kiosk-01"}


def build(path: Path, n: int, since: datetime) -> int:
    """Store n exams over 30 days; the medic decides half of the held ones. Returns the decisions taken."""
    rng = random.Random(14)
    workers = population(max(50, n // 25), rng)
    store = Store(path)
    step = timedelta(days=30) / n
    bodies = [exam(rng.choice(workers), since + step * (i + 1), rng) for i in range(n)]
    envelopes = [make_envelope("plant-1", "kiosk-01", "exam", body, i + 1) for i, body in enumerate(bodies)]
    for start in range(0, n, 2000):
        store.commit_batch([(env, utc_now()) for env in envelopes[start:start + 2000]], [])
    decided = 0
    for env, body in zip(envelopes, bodies, strict=True):
        if body["outcome"] != "admitted" and rng.random() < 0.5:
            medic.record_decision(store, str(env.event_id), medic="Петрова А. В., фельдшер", role="medic",
                                  decision="not_admitted", reason=None if body["outcome"] == "not_admitted"
                                  else "АД выше нормы при повторном измерении")
            decided += 1
    store.close()
    return decided


def timed(client: TestClient, params: dict, repeat: int) -> tuple[float, float, bytes]:
    best_wall, best_cpu, content = float("inf"), float("inf"), b""
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        response = client.get("/api/v1/journal", params=params, headers={"Authorization": f"Bearer {MEDIC}"})
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if response.status_code != 200:
            raise SystemExit(f"journal export failed: {response.status_code} {response.text[:500]}")
        best_wall, best_cpu, content = min(best_wall, wall), min(best_cpu, cpu), response.content
    return best_wall, best_cpu, content


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exams", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="write the exported CSV and PDF here")
    parser.add_argument("--db", type=Path, default=None,
                        help="hub database to use; built there when missing (default: a temporary one)")
    args = parser.parse_args(argv)
    since = datetime(2026, 11, 1, tzinfo=timezone.utc)
    with tempfile.TemporaryDirectory(prefix="bench-exports-") as tmp:
        path = args.db or Path(tmp) / "hub.db"
        if not path.exists():
            started = time.perf_counter()
            decided = build(path, args.exams, since)
            print(f"store: {args.exams} exams, {decided} medic decisions, built in "
                  f"{time.perf_counter() - started:.1f} s")
        config = HubConfig.model_validate({"storage": {"path": str(path)},
                                           "api": {"port": 0, "tokens": [{"token": MEDIC, "role": "medic",
                                                                          "name": "Петрова А. В., фельдшер"}]}})
        store = Store(path)
        failed = False
        try:
            with TestClient(create_app(config, store)) as client:
                params = {"since": since.isoformat(), "until": (since + timedelta(days=31)).isoformat(),
                          "exam_type": "pre", "site": "plant-1"}
                print(f"best of {args.repeat} runs; target < {TARGET_S:.0f} s each (wall)")
                for fmt in ("csv", "pdf"):
                    wall, cpu, content = timed(client, {**params, "format": fmt}, args.repeat)
                    if fmt == "csv":
                        extent = f"{len(list(csv.reader(io.StringIO(content.decode('utf-8'))))) - 1} rows"
                    else:
                        extent = f"{content.count(b'/Type /Page') - content.count(b'/Type /Pages')} pages"
                    verdict = "ok" if wall < TARGET_S else "OVER TARGET"
                    failed |= wall >= TARGET_S
                    print(f"journal {fmt.upper()}: {wall:6.2f} s wall, {cpu:6.2f} s CPU, {len(content) / 1e6:6.2f} MB, "
                          f"{extent}  [{verdict}]")
                    if args.keep:
                        args.keep.mkdir(parents=True, exist_ok=True)
                        (args.keep / f"journal-{args.exams}.{fmt}").write_bytes(content)
        finally:
            store.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
