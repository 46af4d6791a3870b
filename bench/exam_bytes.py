"""Bytes per exam at rest on SQLite and on PostgreSQL, before and after revision 0002 (issue 11).

    python bench/exam_bytes.py                       # 50 000 exams, SQLite and a throwaway PostgreSQL
    python bench/exam_bytes.py --exams 200000 --backends sqlite
    python bench/exam_bytes.py --postgres-url postgresql://ohs@db/ohs_bench   # an existing, empty database

For each back end: a new database is migrated to revision 0001, filled (``executemany``, in time order)
with exams as the hub stored them at 0001 — ``received``, ``exams`` with contract-exact bodies
(bench/store_scale.py's generator), ``exam_chain`` — measured, then upgraded to 0002 (the conversion
timed) and measured again; then the hub's start on it and the p95 of every GET /api/v1/exams filter. Bytes per exam are the sizes of ``exams``, ``exam_chain`` and ``received``
with their indexes (SQLite: ``dbstat`` pages; PostgreSQL: ``pg_total_relation_size`` after ``VACUUM
ANALYZE``, the table's TOAST included) over the exams. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sqlite3
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for entry in (ROOT, ROOT / "bench"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

import sqlalchemy as sa  # noqa: E402
from store_scale import (  # noqa: E402
    EXAM_TYPES,
    TARGET_P95_MS,
    TARGET_START_S,
    TOKENS,
    Fleet,
    check_exam_body,
    exam_body,
    exam_filters,
    iso,
    time_endpoints,
)

from hub.db import make_engine, migrate  # noqa: E402
from hub.db.baseline import metadata  # noqa: E402

TABLES = ("exams", "exam_chain", "received")
TARGET_BYTES_PER_EXAM = 1024.0


def rows_0001(exams: int, fleet: Fleet, days: int = 365, seed: int = 1):
    """Batches of (received, exams, exam_chain) rows as revision 0001's Store.commit_batch wrote them."""
    rng = random.Random(seed)
    end = 1_780_250_400.0  # 2026-05-31T18:00Z
    start = end - days * 86400
    times = sorted(start + rng.randrange(days) * 86400 + rng.choice((6.5 * 3600, 18.5 * 3600)) + rng.uniform(0, 5400)
                   for _ in range(exams))
    seqs = {kiosk: 0 for _, kiosk in fleet.kiosks}
    chain = {kiosk: (0, "0" * 64) for _, kiosk in fleet.kiosks}
    batch: tuple[list, list, list] = ([], [], [])
    for n, ts in enumerate(times):
        worker = rng.choice(fleet.workers)
        site = fleet.site_of_worker[worker]
        kiosk = rng.choice(fleet.kiosks_of_site[site])
        seqs[kiosk] += 1
        event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        incarnation = fleet.incarnation[kiosk]
        received_at = iso(ts + rng.uniform(0.05, 2.0))
        index, prev = chain[kiosk]
        index += 1
        link = hashlib.sha256(f"{prev}{event_id}".encode()).hexdigest()
        chain[kiosk] = (index, link)
        roll = rng.random()
        outcome = "admitted" if roll < 0.94 else ("needs_medic" if roll < 0.97 else "not_admitted")
        exam_type = rng.choice(EXAM_TYPES)
        exam_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        body = exam_body(rng, exam_id, worker, exam_type, ts - 180, ts, outcome, index, prev, link)
        if n < 20:
            check_exam_body(body)
        batch[0].append({"site": site, "kiosk": kiosk, "incarnation": incarnation, "seq": seqs[kiosk],
                         "event_id": event_id, "kind": "exam", "received_at": received_at,
                         "content_hash": hashlib.sha256(body.encode()).hexdigest()})
        batch[1].append({"event_id": event_id, "site": site, "kiosk": kiosk, "seq": seqs[kiosk], "exam_id": exam_id,
                         "worker_id": worker, "exam_type": exam_type, "started_at": iso(ts - 180),
                         "finished_at": iso(ts), "outcome": outcome, "rule_set_version": "2026.1", "historical": 0,
                         "kiosk_ts": iso(ts), "received_at": received_at, "body": body, "chain_status": "ok",
                         "incarnation": incarnation})
        batch[2].append({"site": site, "kiosk": kiosk, "incarnation": incarnation, "idx": index, "event_id": event_id,
                         "hash": link, "prev": prev, "status": "ok"})
        if len(batch[1]) >= 5000:
            yield batch
            batch = ([], [], [])
    if batch[1]:
        yield batch


def sizes(engine, exams: int) -> dict:
    """Bytes per exam of each table (with its indexes) and in all."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            found = dict(conn.exec_driver_sql(
                "SELECT coalesce(m.tbl_name, d.name), sum(d.pgsize) FROM dbstat d "
                "LEFT JOIN sqlite_schema m ON m.name = d.name GROUP BY 1").fetchall())
        else:
            found = {t: conn.exec_driver_sql(f"SELECT pg_total_relation_size('{t}')").scalar() for t in TABLES}
    per = {t: round(found.get(t, 0) / exams, 1) for t in TABLES}
    return {"bytes_per_exam": round(sum(per.values()), 1), "by_table": per}


def vacuum(engine) -> None:
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")


def measure(target: str, exams: int, fleet: Fleet) -> dict:
    assert migrate.upgrade(target, synchronous="OFF", revision="0001") == "0001"
    engine = make_engine(target, synchronous="OFF")
    try:
        began = time.monotonic()
        received, exam_table, chain = (metadata.tables[t] for t in ("received", "exams", "exam_chain"))
        for batch in rows_0001(exams, fleet):
            with engine.begin() as conn:
                for table, rows in zip((received, exam_table, chain), batch, strict=True):
                    conn.execute(table.insert(), rows)
        built_s = time.monotonic() - began
        vacuum(engine)
        before = sizes(engine, exams)
    finally:
        engine.dispose()
    began = time.monotonic()
    assert migrate.upgrade(target, synchronous="OFF", revision="0002") == "0002"
    converted_s = time.monotonic() - began
    engine = make_engine(target)
    try:
        vacuum(engine)
        after = sizes(engine, exams)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM exams")).scalar() == exams
    finally:
        engine.dispose()
    return {"build_s": round(built_s, 1), "convert_s": round(converted_s, 1), "before": before, "after": after}


def serve(target: str, fleet: Fleet, repeat: int) -> dict:
    """After the conversion: hub start (``Store`` opening the converted database, median and max of 3)
    and the p95 (ms) of every documented filter of GET /api/v1/exams (TestClient, medic token)."""
    from datetime import datetime, timezone

    from fastapi.testclient import TestClient

    from hub.api import create_app
    from hub.config import HubConfig
    from hub.store import Store

    storage = {"url": target} if "://" in target else {"path": target}
    config = HubConfig.model_validate({"storage": storage, "api": {"port": 0, "tokens": TOKENS}})
    starts = []
    for _ in range(3):
        began = time.perf_counter()
        Store(config.storage.target).close()
        starts.append(time.perf_counter() - began)
    store = Store(config.storage.target)
    try:
        with TestClient(create_app(config, store, None)) as client:
            filters = exam_filters(fleet, datetime(2026, 5, 31, 18, tzinfo=timezone.utc))
            p95s, _ = time_endpoints(client, {name: ("/api/v1/exams", params) for name, params in filters.items()},
                                     repeat)
    finally:
        store.close()
    return {"start_s": round(max(starts), 3), "start_median_s": round(sorted(starts)[1], 3),
            "exams_p95_ms": p95s, "exams_p95_max_ms": max(p95s.values())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exams", type=int, default=50_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=None, help="an existing empty database (else a throwaway server)")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/ohs-exam-bytes"))
    parser.add_argument("--repeat", type=int, default=20, help="requests per filter (p95 over them)")
    args = parser.parse_args(argv)
    fleet = Fleet(5, 4, max(50, args.exams // 200))
    figures: dict = {"exams": args.exams, "sqlite": sqlite3.sqlite_version}
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    server = None
    try:
        for backend in backends:
            if backend == "sqlite":
                args.dir.mkdir(parents=True, exist_ok=True)
                path = args.dir / f"exams-{args.exams}.db"
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
                target = str(path)
            elif backend == "postgresql":
                if args.postgres_url:
                    target = args.postgres_url
                else:
                    from tests.storage.pg_server import start_postgres
                    server = start_postgres()
                    target = server.create_database()
            else:
                raise SystemExit(f"unknown back end {backend!r}: sqlite or postgresql")
            print(f"{backend}: {args.exams:,} exams ...", file=sys.stderr, flush=True)
            figures[backend] = result = measure(target, args.exams, fleet)
            result.update(serve(target, fleet, args.repeat))
            print(f"  {backend}: before {result['before']}\n  {backend}: after  {result['after']}  "
                  f"(converted in {result['convert_s']} s)", file=sys.stderr, flush=True)
            for name, value, ok, target_ in (
                    ("bytes_per_exam", result["after"]["bytes_per_exam"],
                     result["after"]["bytes_per_exam"] <= TARGET_BYTES_PER_EXAM, f"<= {TARGET_BYTES_PER_EXAM:g}"),
                    ("start_s", result["start_s"], result["start_s"] < TARGET_START_S, f"< {TARGET_START_S}"),
                    ("exams_p95_ms", result["exams_p95_max_ms"], result["exams_p95_max_ms"] < TARGET_P95_MS,
                     f"< {TARGET_P95_MS}")):
                print(f"  {'PASS' if ok else 'FAIL'}  {backend} {name} = {value} (target {target_})", file=sys.stderr,
                      flush=True)
    finally:
        if server is not None:
            server.stop()
    print(json.dumps(figures))
    return 0 if all(figures[b]["after"]["bytes_per_exam"] <= TARGET_BYTES_PER_EXAM and
                    figures[b]["start_s"] < TARGET_START_S and figures[b]["exams_p95_max_ms"] < TARGET_P95_MS
                    for b in backends) else 1


if __name__ == "__main__":
    sys.exit(main())
