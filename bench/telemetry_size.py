"""Bytes per telemetry value on SQLite and PostgreSQL, written by the hub's own path (issue 11: ≤ 40 B).

    python bench/telemetry_size.py                    # 1 000 000 values on both back ends
    python bench/telemetry_size.py --quick            # 200 000 values
    python bench/telemetry_size.py --points 100000000 --backends sqlite
    python bench/telemetry_size.py --storage-url postgresql://user@host/db   # else a throwaway server

The fleet and messages are those of bench/store_scale.py (20 kiosks, each message 10 readings of one
zone at 10 s spacing: 5 noise readings with 2 values, 5 particulate readings with 3 values = 25
values), in time order over ``--days``. Every message is a real envelope committed through
``Store.commit_batch`` (``--batch`` messages per transaction), so the rows are exactly what the ingest
writes: ``received`` per record and one raw chunk per series and hour per batch. Then the retention
task's roll-up and compaction run (hub.retention, as the hub runs them; clock one day past the data).

Printed per back end: bytes per value as written (raw chunks) and after compaction — the telemetry
tables with their indexes (``telemetry_series``, ``telemetry_chunks``, ``telemetry_invalid``) plus the
telemetry records' share of ``received`` (by row count); SQLite from ``dbstat``, PostgreSQL from
``pg_total_relation_size`` after ``VACUUM FULL`` of those tables (live data: what the freed space of
deleted raw chunks would hold next). The roll-up tables are reported apart (aggregates kept longer):
``rollup_bytes_per_point`` is their size (keys and rows; migration 0005's layout) per raw value rolled up,
``rollup_bytes_per_row`` per minute or hour row.
The last line is one JSON object; exit status 1 when a figure after compaction is over the target.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from firmware_bridges.contract import make_envelope  # noqa: E402
from hub.config import RetentionSection  # noqa: E402
from hub.retention import Retention  # noqa: E402
from hub.store import Store  # noqa: E402

TARGET_BYTES_PER_POINT = 40.0
TELEMETRY_TABLES = ("telemetry_series", "telemetry_chunks", "telemetry_invalid")
ROLLUP_TABLES = ("telemetry_minute", "telemetry_hour")
ZONES = ("press-shop", "office", "toilet-1", "smoking-area")
END = datetime(2026, 5, 31, 18, tzinfo=timezone.utc)


def say(text: str) -> None:
    print(text, flush=True)


def messages(points: int, days: int, kiosks: int, seed: int = 1):
    """(kiosk, seq, body) of each telemetry message, in time order (store_scale.py's shape)."""
    rng = random.Random(seed)
    per_message = 25
    count = max(1, points // per_message)
    start = END - timedelta(days=days)
    step = (END - start) / max(1, count // kiosks)
    seqs = [0] * kiosks
    for i in range(count):
        k = i % kiosks
        at = start + (i // kiosks) * step + timedelta(seconds=rng.uniform(0, step.total_seconds() * 0.5))
        zone = ZONES[k % len(ZONES)]
        readings = []
        for r in range(10):
            ts = (at - timedelta(seconds=(10 - r) * 10)).isoformat()
            if r % 2 == 0:
                level = rng.gauss(86 if zone == "press-shop" else 58, 4)
                readings.append({"sensor_id": f"noise-{zone}", "zone": zone, "ts": ts,
                                 "values": {"noise_dba": round(level, 1), "noise_lamax_dba": round(level + 6, 1)}})
            else:
                pm = max(1.0, rng.gauss(12, 4))
                readings.append({"sensor_id": f"pm-{zone}", "zone": zone, "ts": ts,
                                 "values": {"pm1_0_ugm3": round(pm * 0.6, 1), "pm2_5_ugm3": round(pm, 1),
                                            "pm10_ugm3": round(pm * 1.4, 1)}})
        seqs[k] += 1
        yield f"kiosk-{k + 1:02d}", seqs[k], {"readings": readings}


def build(store: Store, points: int, days: int, kiosks: int, batch: int) -> dict:
    began = time.monotonic()
    pending, values = [], 0
    for kiosk, seq, body in messages(points, days, kiosks):
        envelope = make_envelope("plant-1", kiosk, "telemetry", body, seq, incarnation="bench", ts=END)
        pending.append((envelope, END.isoformat()))
        values += sum(len(r["values"]) for r in body["readings"])
        if len(pending) >= batch:
            store.commit_batch(pending, [])
            pending = []
    if pending:
        store.commit_batch(pending, [])
    return {"values": values, "build_s": round(time.monotonic() - began, 1),
            "values_per_s": round(values / max(1e-9, time.monotonic() - began))}


def sizes(store: Store, values: int) -> dict:
    """Bytes per value: the telemetry tables (with indexes) and the telemetry records' share of ``received``."""
    if store.backend == "sqlite":
        conn = sqlite3.connect(store.path)
        by_table: dict[str, int] = {}
        for table, size in conn.execute(
                "SELECT coalesce(m.tbl_name, d.name), sum(d.pgsize) FROM dbstat d "
                "LEFT JOIN sqlite_schema m ON m.name = d.name GROUP BY 1"):
            by_table[table] = size
        conn.close()
    else:
        with store.lock:
            for table in TELEMETRY_TABLES + ROLLUP_TABLES + ("received",):
                store.conn.execute(f"VACUUM FULL {table}")
        by_table = {table: store.scalar("SELECT pg_total_relation_size(to_regclass(?))", [table]) or 0
                    for table in TELEMETRY_TABLES + ROLLUP_TABLES + ("received",)}
    kinds = dict(store.query_rows("SELECT kind, count(*) FROM received GROUP BY kind"))
    received_share = by_table.get("received", 0) * kinds.get("telemetry", 0) / max(1, sum(kinds.values()))
    telemetry = sum(by_table.get(t, 0) for t in TELEMETRY_TABLES)
    chunks = store.scalar("SELECT count(*) FROM telemetry_chunks")
    rollup_bytes = sum(by_table.get(t, 0) for t in ROLLUP_TABLES)
    rollup_rows = sum(store.scalar(f"SELECT count(*) FROM {t}") for t in ROLLUP_TABLES)
    return {"bytes_per_point": round((telemetry + received_share) / max(1, values), 2),
            "telemetry_tables_bytes_per_point": round(telemetry / max(1, values), 2),
            "received_bytes_per_point": round(received_share / max(1, values), 2),
            "rollup_bytes_per_point": round(rollup_bytes / max(1, values), 2),
            "rollup_bytes_per_row": round(rollup_bytes / rollup_rows, 1) if rollup_rows else None,
            "rollup_rows": rollup_rows,
            "chunks": chunks, "values_per_chunk": round(values / max(1, chunks), 1),
            "tables_mb": {t: round(by_table.get(t, 0) / 1e6, 2) for t in TELEMETRY_TABLES + ROLLUP_TABLES}}


def run(target: str, points: int, days: int, kiosks: int, batch: int) -> dict:
    store = Store(target, synchronous="OFF")
    try:
        say(f"  {store.backend}: building {points:,} values through Store.commit_batch ({batch} messages a batch)")
        built = build(store, points, days, kiosks, batch)
        say(f"    built: {built}")
        raw = sizes(store, built["values"])
        say(f"    as written (raw chunks): {raw}")
        retention = Retention(store, RetentionSection(raw_telemetry_days=0, telemetry_minute_days=0,
                                                      telemetry_hour_days=0, pause_s=0, batch_rows=20_000))
        began = time.monotonic()
        rolled = retention.rollup()
        compacted = retention.compact(END + timedelta(days=1))
        took = round(time.monotonic() - began, 1)
        say(f"    roll-up of {rolled:,} values and compaction of {compacted:,} chunks: {took} s")
        final = sizes(store, built["values"])
        say(f"    after compaction: {final}")
        return {"built": built, "raw": raw, "compacted": final, "rollup_and_compaction_s": took}
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=None, help="values to write (default 1 000 000)")
    parser.add_argument("--quick", action="store_true", help="200 000 values")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--kiosks", type=int, default=20)
    parser.add_argument("--batch", type=int, default=10, help="messages per commit_batch")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--storage-url", help="postgresql://… (default: a throwaway local server)")
    args = parser.parse_args(argv)
    points = args.points or (200_000 if args.quick else 1_000_000)
    figures: dict = {"points": points, "days": args.days, "kiosks": args.kiosks, "batch": args.batch}
    say(f"telemetry size bench: {points:,} values, {args.kiosks} kiosks, {args.days} days")
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        if backend == "sqlite":
            with tempfile.TemporaryDirectory(prefix="ohs-tel-size-") as folder:
                figures["sqlite"] = run(str(Path(folder) / "hub.db"), points, args.days, args.kiosks, args.batch)
        elif backend == "postgresql":
            server = None
            url = args.storage_url
            if url is None:
                from tests.storage.pg_server import start_postgres

                server = start_postgres()
                url = server.create_database()
            try:
                figures["postgresql"] = run(url, points, args.days, args.kiosks, args.batch)
            finally:
                if server is not None:
                    server.stop()
        else:
            raise SystemExit(f"unknown back end {backend!r}: sqlite, postgresql")
    failed = [b for b in ("sqlite", "postgresql")
              if b in figures and figures[b]["compacted"]["bytes_per_point"] > TARGET_BYTES_PER_POINT]
    for backend in ("sqlite", "postgresql"):
        if backend in figures:
            raw, final = figures[backend]["raw"], figures[backend]["compacted"]
            mark = "ok  " if final["bytes_per_point"] <= TARGET_BYTES_PER_POINT else "FAIL"
            say(f"{mark} {backend}: {final['bytes_per_point']} B per value after compaction (as written "
                f"{raw['bytes_per_point']} B), target <= {TARGET_BYTES_PER_POINT:g}")
    print(json.dumps(figures, default=str))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
