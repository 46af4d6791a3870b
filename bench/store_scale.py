"""The hub's store at scale: a million exams, millions of telemetry values (issue: store scale).

    python bench/store_scale.py                      # 1 000 000 exams, 10 000 000 telemetry values
    python bench/store_scale.py --quick              # 100 000 exams, 1 000 000 values (< 3 min)
    python bench/store_scale.py --exams 1000000 --points 100000000   # the issue's 100 million

What it does, in one run on one database file:

1. **builds** a hub database quickly with realistic rows in the production schema (the tables of
   ``hub.db.baseline``, as a hub from before migrations wrote them, rows as ``Store.commit_batch`` writes them: ``received`` per record,
   ``exams`` with contract-valid bodies (checked against ``ExamBody`` on a sample), ``exam_chain``,
   ``telemetry`` from batches of readings, ``events``, ``kiosks``), inserted with ``executemany`` in
   time order — first with the indexes of the hub *before* this change (``LEGACY_INDEXES``);
2. measures **before**: the old start (``Store`` + ``Ingest`` loading every stored sequence:
   ``Store.stored_sequences()``, the old code path) and the old ``GET /api/v1/exams`` SQL (an exact
   ``count(*)`` and the page) with the old indexes and no statistics;
3. opens it with today's ``Store`` (adopted by the migrations: new indexes, statistics; revision 0002
   converts the exams to the compact layout — the body compressed once, typed measurement columns — and
   a sample of converted rows is checked to be exactly what ``Store.commit_batch`` writes,
   ``hub.db.exam_body.exam_row``; bench/exam_bytes.py gives bytes per exam on PostgreSQL too) and measures
   **after**: start (``Store`` + ``Ingest`` as ``HubService`` builds them, without MQTT), the old SQL
   on the new indexes, the new endpoint (TestClient on ``create_app``, medic token; p95 over repeated
   requests of every filter) and every analytics endpoint (precomputed results, as the dashboard
   reads them, after one runner pass);
4. measures how long ingest commits stall while an analytics pass runs: the old way (computing in a
   hub thread, reads holding the store lock on the one connection) and the new (runner process);
5. prints bytes per exam and per telemetry value (``dbstat``; telemetry as revision 0003 converted it:
   compacted chunks, see bench/telemetry_size.py for the layout the ingest writes, on both back ends),
   checks the targets and ends with one
   JSON line; the exit status is 1 when a target fails (the size targets belong to a later step:
   they are printed and marked FAIL when not met, never hidden).
"""

from __future__ import annotations

import argparse
import base64
import gc
import hashlib
import json
import math
import os
import random
import sqlite3
import statistics
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy.dialects import sqlite as sqlite_dialect  # noqa: E402
from sqlalchemy.schema import CreateTable  # noqa: E402

from firmware_bridges.contract import ExamBody, TelemetryBody, make_envelope  # noqa: E402
from hub.db import baseline  # noqa: E402

#: The indexes of the hub before this change (hub/store.py at 2fc69c0), for the "before" figures.
LEGACY_INDEXES = """
CREATE INDEX IF NOT EXISTS exams_by_time ON exams(finished_at);
CREATE INDEX IF NOT EXISTS exams_by_worker ON exams(worker_id, finished_at);
CREATE INDEX IF NOT EXISTS exams_by_kiosk ON exams(site, kiosk, seq);
CREATE INDEX IF NOT EXISTS exams_chain_waiting ON exams(received_at) WHERE chain_status = 'pending_link';
CREATE INDEX IF NOT EXISTS telemetry_by_zone ON telemetry(zone, quantity, ts);
CREATE INDEX IF NOT EXISTS events_by_type ON events(type, kiosk_ts);
"""

TARGET_START_S = 2.0
TARGET_P95_MS = 300.0
TARGET_BYTES_PER_EXAM = 1024.0
TARGET_BYTES_PER_POINT = 40.0

ZONES = ("press-shop", "office", "toilet-1", "smoking-area")
TOKENS = [{"token": "bench-medic-token-0123456789", "role": "medic", "name": "bench medic"},
          {"token": "bench-ohs-token-0123456789", "role": "ohs", "name": "bench ohs"}]
MEDIC = {"Authorization": f"Bearer {TOKENS[0]['token']}"}

EXAM_TYPES = ("pre_shift",) * 14 + ("post_shift",) * 5 + ("pre_trip",)


def say(text: str) -> None:
    print(text, flush=True)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat()


def iso_z(ts: float) -> str:  # pydantic's JSON form of an aware UTC datetime
    return datetime.fromtimestamp(ts, timezone.utc).isoformat().replace("+00:00", "Z")


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


# ---------------------------------------------------------------------------------------------- the data


class Fleet:
    """Sites, kiosks (with their journal incarnations), zones and workers of the simulated hub."""

    def __init__(self, sites: int, kiosks_per_site: int, workers: int):
        self.sites = [f"plant-{i + 1}" for i in range(sites)]
        self.kiosks = [(site, f"kiosk-{s + 1}-{k + 1:02d}") for s, site in enumerate(self.sites)
                       for k in range(kiosks_per_site)]
        self.incarnation = {kiosk: str(uuid.UUID(int=random.Random(kiosk).getrandbits(128), version=4))
                            for _, kiosk in self.kiosks}
        self.workers = [f"W{i:06d}" for i in range(workers)]
        self.site_of_worker = {w: self.sites[i % sites] for i, w in enumerate(self.workers)}
        self.kiosks_of_site = {site: [k for s, k in self.kiosks if s == site] for site in self.sites}


def exam_body(rng: random.Random, exam_id: str, worker: str, exam_type: str, started: float, finished: float,
              outcome: str, index: int, prev: str, digest: str) -> str:
    """An exam body as ``ExamBody.model_dump_json()`` writes it (checked on a sample)."""
    febrile = rng.random() < 0.03
    temperature = round(rng.gauss(37.8 if febrile else 36.6, 0.25), 1)
    brac = 0.0 if rng.random() > 0.01 else round(rng.uniform(0.1, 0.6), 2)
    hypertensive = rng.random() < 0.15
    systolic = int(rng.gauss(150 if hypertensive else 122, 9))
    diastolic = int(rng.gauss(95 if hypertensive else 78, 6))
    pulse = int(rng.gauss(74, 9))
    spo2 = int(min(100, rng.gauss(97.5, 1.0)))
    taken = iso_z(started + 40)
    measurements = []
    for field, value, model, serial in (("temperature_c", temperature, "CS-T1", "T-1029"),
                                        ("brac_mg_l", brac, "Alcotest-6820", "ARBL-0112"),
                                        ("systolic_mmhg", systolic, "Omron-M3", "OM-20931"),
                                        ("diastolic_mmhg", diastolic, "Omron-M3", "OM-20931"),
                                        ("pulse_bpm", pulse, "Omron-M3", "OM-20931"),
                                        ("spo2_percent", spo2, "Armed-YX301", "YX-5521")):
        measurements.append(
            f'{{"field":"{field}","value":{float(value)!r},"invalid_reason":null,"attempt":1,'
            f'"taken_at":"{taken}","device_model":"{model}","device_serial":"{serial}",'
            f'"device_verified_until":"2027-01-31","status":{{}}}}')
    fired = "[]" if outcome == "admitted" else '[{"rule":"bp_high","source":"266n-2022 §9","value":' + \
        f'{systolic}}}]'
    sig = base64.b64encode(hashlib.sha512(digest.encode()).digest()).decode()
    return (f'{{"exam_id":"{exam_id}","worker_id":"{worker}","exam_type":"{exam_type}",'
            f'"started_at":"{iso_z(started)}","finished_at":"{iso_z(finished)}",'
            f'"answers":{{"feels_well":true,"took_medication":false,"slept_hours":"7"}},'
            f'"measurements":[{",".join(measurements)}],"outcome":"{outcome}","fired":{fired},'
            f'"rule_set_version":"2026.1","decided_by":"kiosk",'
            f'"chain":{{"index":{index},"prev":"{prev}","hash":"{digest}","sig":"{sig}","key_id":"k1"}},'
            f'"identity_photos":[]{contract_tail()}}}')


_TAIL: list[str] = []


def contract_tail() -> str:
    """The fields the contract writes after ``identity_photos`` with their defaults (e.g. a field added to
    ExamBody later), so the bench's bodies stay exactly ``model_dump_json()`` as the contract grows."""
    if not _TAIL:
        _TAIL.append("")
        probe = exam_body(random.Random(0), "e", "W1", "pre_shift", 1.7e9, 1.7e9 + 180, "admitted", 1, "0" * 64, "0" * 64)
        dumped = ExamBody.model_validate_json(probe).model_dump_json()
        if not dumped.startswith(probe[:-1]):
            raise SystemExit(f"the contract's JSON of an exam is not the bench's plus defaults:\n{probe}\n{dumped}")
        _TAIL[0] = dumped[len(probe) - 1:-1]
    return _TAIL[0]


def check_exam_body(text: str) -> None:
    dumped = ExamBody.model_validate_json(text).model_dump_json()
    if dumped != text:
        raise SystemExit(f"bench exam body differs from the contract's JSON:\n{text}\n{dumped}")


def exam_record(rng: random.Random, site: str, kiosk: str, incarnation: str, seq: int, event_id: str,
                received_at: str, worker: str, ts: float, outcome: str, exam_type: str,
                chain_state: tuple[int, str]) -> tuple[tuple, str, tuple, tuple[int, str]]:
    """One sealed exam of a kiosk's journal finished at ``ts``, as ``Store.commit_batch`` keeps it: the values
    of ``hub.db.exam_body.EXAM_COLUMNS`` (chain status ``ok``), the body's JSON text (the contract's
    ``model_dump_json()``), its ``exam_chain`` row and the journal's chain state after it (index, hash;
    ``(0, "0" * 64)`` before the first exam). Also used by bench/ui.py."""
    index, prev = chain_state
    index += 1
    link = hashlib.sha256(f"{prev}{event_id}".encode()).hexdigest()
    exam_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    body = exam_body(rng, exam_id, worker, exam_type, ts - 180, ts, outcome, index, prev, link)
    columns = (event_id, site, kiosk, seq, exam_id, worker, exam_type, iso(ts - 180), iso(ts), outcome, "2026.1", 0,
               iso(ts), received_at, "ok", incarnation)
    return columns, body, (site, kiosk, incarnation, index, event_id, link, prev, "ok"), (index, link)


def build(path: Path, exams: int, points: int, days: int, fleet: Fleet, seed: int = 1) -> dict:
    """Write the database (legacy indexes); returns what was built and how long it took."""
    began = time.monotonic()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-1000000")
    for table in baseline.metadata.sorted_tables:  # the tables without today's indexes: the legacy ones below
        conn.execute(str(CreateTable(table).compile(dialect=sqlite_dialect.dialect())))
    conn.executescript(LEGACY_INDEXES)
    rng = random.Random(seed)
    end = datetime(2026, 5, 31, 18, tzinfo=timezone.utc).timestamp()
    start = end - days * 86400
    readings_per_message = 10  # 5 noise readings (2 values) + 5 particulate readings (3 values) = 25 values
    values_per_message = 25
    messages = max(1, points // values_per_message)
    events = max(1, exams // 200)
    # the timeline: (time, kind, kiosk); kinds 0 exam, 1 telemetry, 2 event
    say(f"  timeline: {exams:,} exams, {messages:,} telemetry messages ({messages * values_per_message:,} values), "
        f"{events:,} events over {days} days, {len(fleet.kiosks)} kiosks")
    timeline: list[tuple[float, int, int]] = []
    nk = len(fleet.kiosks)
    for _ in range(exams):
        day = rng.randrange(days)
        shift = rng.choice((6.5 * 3600, 18.5 * 3600)) + rng.uniform(0, 5400)  # before the day and night shifts
        timeline.append((start + day * 86400 + shift, 0, -1))
    step = (end - start) / max(1, messages // nk)
    for i in range(messages):
        timeline.append((start + (i // nk) * step + rng.uniform(0, step * 0.5), 1, i % nk))
    for _ in range(events):
        timeline.append((start + rng.uniform(0, end - start), 2, rng.randrange(nk)))
    timeline.sort()
    seqs = {kiosk: 0 for _, kiosk in fleet.kiosks}
    chain = {kiosk: (0, "0" * 64) for _, kiosk in fleet.kiosks}
    sampled = 0
    counts = {"exams": 0, "telemetry_messages": 0, "telemetry_values": 0, "events": 0}
    batch = 20_000
    for first in range(0, len(timeline), batch):
        received, exam_rows, chain_rows, telemetry_rows, event_rows = [], [], [], [], []
        for ts, kind, k in timeline[first:first + batch]:
            if kind == 0:
                worker = rng.choice(fleet.workers)
                site = fleet.site_of_worker[worker]
                kiosk = rng.choice(fleet.kiosks_of_site[site])
            else:
                site, kiosk = fleet.kiosks[k]
            seqs[kiosk] += 1
            seq = seqs[kiosk]
            if rng.random() < 2e-5:  # a record never delivered: the ranges have islands, as in life
                seqs[kiosk] += 1
                seq = seqs[kiosk]
            event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            incarnation = fleet.incarnation[kiosk]
            received_at = iso(ts + rng.uniform(0.05, 2.0))
            digest = hashlib.sha256(event_id.encode()).hexdigest()
            received.append((site, kiosk, incarnation, seq, event_id, ("exam", "telemetry", "event")[kind],
                             received_at, digest))
            if kind == 0:
                roll = rng.random()
                outcome = "admitted" if roll < 0.94 else ("needs_medic" if roll < 0.97 else "not_admitted")
                exam_type = rng.choice(EXAM_TYPES)
                columns, body, chain_row, chain[kiosk] = exam_record(
                    rng, site, kiosk, incarnation, seq, event_id, received_at, worker, ts, outcome, exam_type,
                    chain[kiosk])
                if sampled < 50 or rng.random() < 1e-4:
                    check_exam_body(body)
                    sampled += 1
                exam_rows.append((*columns[:14], body, *columns[14:]))  # revision 0001: body before chain_status
                chain_rows.append(chain_row)
                counts["exams"] += 1
            elif kind == 1:
                zone = ZONES[k % len(ZONES)]
                for r in range(readings_per_message):
                    at = iso(ts - (readings_per_message - r) * 10)
                    if r % 2 == 0:
                        level = rng.gauss(86 if zone == "press-shop" else 58, 4)
                        telemetry_rows.append((site, kiosk, seq, f"noise-{zone}", zone, at, "noise_dba",
                                               round(level, 1), None))
                        telemetry_rows.append((site, kiosk, seq, f"noise-{zone}", zone, at, "noise_lamax_dba",
                                               round(level + 6, 1), None))
                    else:
                        pm = max(1.0, rng.gauss(12, 4))
                        telemetry_rows.append((site, kiosk, seq, f"pm-{zone}", zone, at, "pm1_0_ugm3",
                                               round(pm * 0.6, 1), None))
                        telemetry_rows.append((site, kiosk, seq, f"pm-{zone}", zone, at, "pm2_5_ugm3",
                                               round(pm, 1), None))
                        telemetry_rows.append((site, kiosk, seq, f"pm-{zone}", zone, at, "pm10_ugm3",
                                               round(pm * 1.4, 1), None))
                counts["telemetry_messages"] += 1
                counts["telemetry_values"] += values_per_message
            else:
                zone = ZONES[2]
                body = json.dumps({"type": "smoke_alarm", "severity": "alarm", "zone": zone, "device": "det-1",
                                   "message_ru": None, "message_en": None,
                                   "details": {"detected_at": iso(ts)}}, separators=(",", ":"))
                event_rows.append((event_id, site, kiosk, seq, "smoke_alarm", "alarm", zone, "det-1", iso(ts),
                                   received_at, body))
                counts["events"] += 1
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO received VALUES (?,?,?,?,?,?,?,?)", received)
        conn.executemany("INSERT INTO exams (event_id, site, kiosk, seq, exam_id, worker_id, exam_type, started_at, "
                         "finished_at, outcome, rule_set_version, historical, kiosk_ts, received_at, body, "
                         "chain_status, incarnation) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", exam_rows)
        conn.executemany("INSERT INTO exam_chain VALUES (?,?,?,?,?,?,?,?)", chain_rows)
        conn.executemany("INSERT INTO telemetry VALUES (?,?,?,?,?,?,?,?,?)", telemetry_rows)
        conn.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?)", event_rows)
        conn.execute("COMMIT")
        done = min(first + batch, len(timeline))
        if done % 500_000 < batch or done == len(timeline):
            say(f"  {done:,} / {len(timeline):,} records ({time.monotonic() - began:.0f} s)")
    # one telemetry message through the real contract, to be sure the rows above are its shape
    TelemetryBody.model_validate({"readings": [{"sensor_id": "noise-office", "zone": "office", "ts": iso(end),
                                                "values": {"noise_dba": 55.0}}]})
    now = iso(end)
    for site, kiosk in fleet.kiosks:
        status = json.dumps({"state": "online", "versions": {"agent": "0.1.0"}, "outbox_depth": 0,
                             "last_seq": seqs[kiosk], "clock_offset_s": 0.1, "devices": {}, "public_key": None})
        conn.execute("INSERT INTO kiosks VALUES (?,?,?,?,?,?)", (site, kiosk, "online", now, now, status))
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    return {**counts, "build_s": round(time.monotonic() - began, 1), "received": len(timeline) - 0}


def write_rosters(directory: Path, fleet: Fleet) -> list[Path]:
    """One roster per site: press operators and engineers on day and night shifts."""
    import tomli_w

    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for site in fleet.sites:
        workers = [w for w in fleet.workers if fleet.site_of_worker[w] == site]
        half = len(workers) // 2
        doc = {
            "site": site,
            "shifts": [{"shift": "day", "start": datetime(2026, 1, 1, 8).time(), "hours": 8.0},
                       {"shift": "night", "start": datetime(2026, 1, 1, 20).time(), "hours": 8.0}],
            "zones": [{"zone": "press-shop", "noise_limit_db": 80.0}, {"zone": "office"}, {"zone": "toilet-1"},
                      {"zone": "smoking-area", "smoke_free": False}],
            "workplaces": [{"workplace": "press-operator", "segments": [{"zone": "press-shop", "hours": 7.0},
                                                                          {"zone": "office", "hours": 1.0}]},
                           {"workplace": "engineer", "segments": [{"zone": "office", "hours": 8.0}]}],
            "assignments": [{"workplace": "press-operator", "shift": "day", "workers": workers[:half] or ["W-none"]},
                            {"workplace": "engineer", "shift": "day", "workers": workers[half:] or ["W-none2"]}],
        }
        path = directory / f"{site}.toml"
        path.write_text(tomli_w.dumps(doc), encoding="utf-8")
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------------------------- measuring


def exam_filters(fleet: Fleet, end: datetime) -> dict[str, dict]:
    """Every documented filter of GET /api/v1/exams (docs/ohs.md), alone and in the usual combinations."""
    site, kiosk = fleet.kiosks[len(fleet.kiosks) // 2]
    worker = fleet.workers[len(fleet.workers) // 3]
    week = (end - timedelta(days=7)).isoformat()
    month_from, month_to = (end - timedelta(days=120)).isoformat(), (end - timedelta(days=90)).isoformat()
    return {
        "none": {},
        "site": {"site": site},
        "kiosk": {"kiosk": kiosk},
        "worker_id": {"worker_id": worker},
        "outcome=admitted": {"outcome": "admitted"},
        "outcome=needs_medic": {"outcome": "needs_medic"},
        "outcome=not_admitted": {"outcome": "not_admitted"},
        "exam_type": {"exam_type": "post_shift"},
        "since": {"since": week},
        "since+until": {"since": month_from, "until": month_to},
        "site+outcome": {"site": site, "outcome": "not_admitted"},
        "site+since+until": {"site": site, "since": month_from, "until": month_to},
        "outcome+since+until": {"outcome": "needs_medic", "since": month_from, "until": month_to},
        "kiosk+outcome": {"kiosk": kiosk, "outcome": "needs_medic"},
        "worker_id+since": {"worker_id": worker, "since": month_from},
        "exam_type+site": {"exam_type": "pre_trip", "site": site},
        "site+order=asc": {"site": site, "order": "asc"},
        "site+offset=5000": {"site": site, "offset": 5000},
    }


def body_column(conn: sqlite3.Connection) -> str:
    """Where the exam body is: ``body`` (JSON text, revision 0001) or ``body_z`` (compressed, 0002)."""
    return "body_z" if "body_z" in {row[1] for row in conn.execute("PRAGMA table_info(exams)")} else "body"


def legacy_exams_sql(params: dict, body: str = "body") -> tuple[str, str, list]:
    """The SQL of GET /api/v1/exams before this change: an exact count and the page (limit 50), reading
    the body from column ``body`` (see body_column)."""
    where, args = [], []
    for column in ("site", "kiosk", "worker_id", "outcome", "exam_type"):
        if column in params:
            where.append(f"{column} = ?")
            args.append(params[column])
    if "since" in params:
        where.append("finished_at >= ?")
        args.append(params["since"])
    if "until" in params:
        where.append("finished_at < ?")
        args.append(params["until"])
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    order = params.get("order", "desc")
    from hub.api.routes_core import OUTCOME_COLUMNS
    page = (f"SELECT {OUTCOME_COLUMNS}, {body} FROM exams {clause} ORDER BY finished_at {order}, seq {order} "
            f"LIMIT 50 OFFSET {int(params.get('offset', 0))}")
    return f"SELECT count(*) FROM exams {clause}", page, args


def time_legacy_sql(path: Path, filters: dict[str, dict], repeat: int, budget_s: float) -> dict[str, float]:
    """p95 (ms) of the old count + page on a plain connection (at most ``budget_s`` per filter)."""
    conn = sqlite3.connect(path, isolation_level=None)
    out = {}
    body = body_column(conn)
    for name, params in filters.items():
        count_sql, page_sql, args = legacy_exams_sql(params, body)
        times = []
        began = time.monotonic()
        while len(times) < repeat and (len(times) < 2 or time.monotonic() - began < budget_s):
            t = time.perf_counter()
            conn.execute(count_sql, args).fetchone()
            conn.execute(page_sql, args).fetchall()
            times.append((time.perf_counter() - t) * 1000)
        out[name] = round(p95(times), 1)
    conn.close()
    return out


def query_plans(path: Path, filters: dict[str, dict]) -> dict[str, list[str]]:
    conn = sqlite3.connect(path)
    plans = {}
    body = body_column(conn)
    for name, params in filters.items():
        count_sql, page_sql, args = legacy_exams_sql(params, body)
        capped = count_sql.replace("SELECT count(*) FROM exams", "SELECT count(*) FROM (SELECT 1 FROM exams") + \
            " LIMIT 10001)"
        plans[name] = [row[3] for sql in (page_sql, capped) for row in conn.execute("EXPLAIN QUERY PLAN " + sql, args)]
    conn.close()
    return plans


def check_stored_exams(path: Path, sample: int = 200) -> dict:
    """After revision 0002 converted the built exams: a sample of rows is exactly what
    ``Store.commit_batch`` writes for the same exam (hub.db.exam_body.exam_row of the contract's JSON of
    the body), and the body reads back as that JSON. Raises SystemExit when a row differs."""
    from hub.db.exam_body import EXAM_COLUMNS, MEASUREMENT_COLUMNS, decode_body_text, exam_row

    conn = sqlite3.connect(path)
    columns = (*EXAM_COLUMNS, *MEASUREMENT_COLUMNS, "body_z")
    rows = conn.execute(f"SELECT {', '.join(columns)} FROM exams WHERE rowid % "
                        f"max(1, (SELECT max(rowid) FROM exams) / ?) = 0 LIMIT ?", (sample, sample)).fetchall()
    conn.close()
    sizes_ = []
    for row in rows:
        text = decode_body_text(row[-1])
        if ExamBody.model_validate_json(text).model_dump_json() != text:
            raise SystemExit(f"a converted exam body is not the contract's JSON: {text}")
        if exam_row(row[:len(EXAM_COLUMNS)], text) != tuple(row):
            raise SystemExit(f"a converted exam row differs from what the store writes: {row[:len(EXAM_COLUMNS)]}")
        sizes_.append((len(text.encode()), len(row[-1])))
    return {"rows_checked": len(rows), "body_json_bytes": round(statistics.mean(s for s, _ in sizes_), 1),
            "body_stored_bytes": round(statistics.mean(z for _, z in sizes_), 1)}


def hub_config(path: Path):
    from hub.config import HubConfig

    return HubConfig.model_validate({"storage": {"path": str(path), "synchronous": "FULL"},
                                     "api": {"port": 0, "tokens": TOKENS}})


def open_hub(config):
    """Store + Ingest exactly as HubService.__init__ builds them (no MQTT connection)."""
    from hub.ingest import Ingest
    from hub.store import DeadLetterPolicy, Store

    store = Store(config.storage.path, synchronous=config.storage.synchronous,
                  trust_on_first_use=config.evidence.trust_on_first_use,
                  dead_letters=DeadLetterPolicy(**config.dead_letters.model_dump()))
    for entry in config.kiosks:
        store.register_key(entry.site, entry.kiosk, entry.public_key)
    return store, Ingest(config, store)


def time_start(config, runs: int) -> dict:
    """Hub start now, and the start before this change (the same + loading every stored sequence)."""
    from hub.sequences import SequenceRanges

    new, legacy, loads = [], [], []
    for _ in range(runs):
        t = time.perf_counter()
        store, ingest = open_hub(config)
        new.append(time.perf_counter() - t)
        loads.append(ingest.sequences.loads)
        t = time.perf_counter()
        eager = {key: SequenceRanges(r) for key, r in store.stored_sequences().items()}  # the old Ingest.__init__
        legacy.append(new[-1] + time.perf_counter() - t)
        key = next(iter(eager))
        t = time.perf_counter()
        lazy = ingest.sequences[key]
        first_ack_load = time.perf_counter() - t
        assert lazy.ranges == eager[key].ranges, "lazily loaded ranges differ from the eager ones"
        store.close()
    return {"new_s": round(max(new), 3), "new_median_s": round(statistics.median(new), 3),
            "legacy_s": round(statistics.median(legacy), 3), "sequence_loads_at_start": max(loads),
            "first_ack_range_load_ms": round(first_ack_load * 1000, 1), "kiosk_keys": len(eager)}


class LegacyReads:
    """The read helpers before this change: every read on the writer connection, holding the store lock."""

    def __init__(self, store):
        self.store = store
        self.lock = store.lock
        self.conn = store.conn
        self.path = store.path
        self.ensure_schema = store.ensure_schema

    def query(self, sql, params=()):
        with self.lock:
            cursor = self.conn.execute(sql, tuple(params))
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def query_rows(self, sql, params=()):
        with self.lock:
            return self.conn.execute(sql, tuple(params)).fetchall()

    def scalar(self, sql, params=()):
        with self.lock:
            row = self.conn.execute(sql, tuple(params)).fetchone()
            return row[0] if row else None


class CommitProbe(threading.Thread):
    """Commits one exam at a time through Store.commit_batch (as the ingest does) and times each commit."""

    #: stamped before any built data: the probe's exams never enter an analysis's default period
    AT = datetime(2025, 1, 15, 7, tzinfo=timezone.utc)

    def __init__(self, store, interval_s: float = 0.02):
        super().__init__(daemon=True)
        self.store, self.interval_s = store, interval_s
        self.latencies: list[float] = []
        self.stop_event = threading.Event()
        self.seq = int(store.scalar("SELECT coalesce(max(seq), 0) FROM received WHERE kiosk = 'bench-probe'"))

    def run(self) -> None:
        while not self.stop_event.is_set():
            self.seq += 1
            at = self.AT + timedelta(seconds=self.seq)
            body = {"exam_id": str(uuid.uuid4()), "worker_id": "W-PROBE", "exam_type": "pre_shift",
                    "started_at": (at - timedelta(minutes=3)).isoformat(), "finished_at": at.isoformat(),
                    "outcome": "admitted", "rule_set_version": "bench",
                    "measurements": [{"field": "temperature_c", "value": 36.6, "taken_at": at.isoformat()}]}
            env = make_envelope("plant-probe", "bench-probe", "exam", body, self.seq)
            t = time.perf_counter()
            self.store.commit_batch([(env, at.isoformat())], [])
            self.latencies.append((time.perf_counter() - t) * 1000)
            self.stop_event.wait(self.interval_s)

    def figures(self) -> dict:
        lat = self.latencies or [0.0]
        return {"commits": len(self.latencies), "max_ms": round(max(lat), 1), "p99_ms": round(p95(lat) if len(lat) < 100
                else sorted(lat)[int(0.99 * len(lat)) - 1], 1), "median_ms": round(statistics.median(lat), 1)}


def stall_legacy(store, settings) -> dict:
    """An analytics pass the old way (a hub thread, reads holding the lock) while commits go on."""
    from hub.analytics.runner import ANALYSES, compute

    probe = CommitProbe(store)
    probe.start()
    time.sleep(0.5)
    legacy = LegacyReads(store)
    durations, results = {}, {}
    t0 = time.perf_counter()
    for name in ANALYSES:
        t = time.perf_counter()
        try:
            results[name] = compute(legacy, settings, name, {})
            durations[name] = round(time.perf_counter() - t, 2)
        except Exception as error:  # noqa: BLE001
            durations[name] = f"failed: {type(error).__name__}: {error}"
    total = time.perf_counter() - t0
    probe.stop_event.set()
    probe.join()
    return {"pass_s": round(total, 1), "analyses_s": durations, **probe.figures()}, results


def stall_runner(store, settings) -> dict:
    """An analytics pass through AnalyticsRunner (its process) while commits go on."""
    from hub.analytics import AnalyticsRunner

    runner = AnalyticsRunner(store, settings.model_copy(update={"enabled": False}))
    runner.load_workplaces()
    probe = CommitProbe(store)
    probe.start()
    time.sleep(0.5)
    t0 = time.perf_counter()
    summary = runner.run_once()
    total = time.perf_counter() - t0
    probe.stop_event.set()
    probe.join()
    runner.stop()
    return {"pass_s": round(total, 1),
            "analyses_s": {k: v.get("duration_s", v.get("error")) for k, v in summary["analyses"].items()},
            **probe.figures()}


def time_endpoints(client, requests: dict[str, tuple[str, dict]], repeat: int) -> tuple[dict, dict]:
    out, notes = {}, {}
    for name, (path, params) in requests.items():
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            response = client.get(path, params=params, headers=MEDIC)
            times.append((time.perf_counter() - t) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"{path} {params} answered {response.status_code}: {response.text[:500]}")
        body = response.json()
        out[name] = round(p95(times), 1)
        if "total" in body and "items" in body:
            notes[name] = {"total": body["total"], "total_estimated": body.get("total_estimated"),
                           "items": len(body["items"])}
    return out, notes


def sizes(path: Path, counts: dict) -> dict:
    """Bytes per exam and per telemetry value from dbstat (tables with their indexes; ``received``
    shared between the kinds by row count; exam_chain counted with the exams)."""
    conn = sqlite3.connect(path)
    by_table: dict[str, int] = {}
    exam_btrees: dict[str, tuple[str, int]] = {}  # every table and index of the exams' share, for the breakdown
    for index, table, size in conn.execute(
            "SELECT d.name, coalesce(m.tbl_name, d.name), sum(d.pgsize) FROM dbstat d "
            "LEFT JOIN sqlite_schema m ON m.name = d.name GROUP BY d.name"):
        by_table[table] = by_table.get(table, 0) + size
        if table in ("exams", "exam_chain", "received"):
            exam_btrees[index] = (table, size)
    kinds = dict(conn.execute("SELECT kind, count(*) FROM received GROUP BY kind").fetchall())
    conn.close()
    received_rows = sum(kinds.values()) or 1
    received = by_table.get("received", 0)
    exams_bytes = by_table.get("exams", 0) + by_table.get("exam_chain", 0) + received * kinds.get("exam", 0) / received_rows
    # the old one-row-per-value table before revision 0003, its series and packed chunks after (hub.db.telemetry_points)
    telemetry_bytes = sum(by_table.get(t, 0) for t in ("telemetry", "telemetry_series", "telemetry_chunks",
                                                          "telemetry_invalid")) \
        + received * kinds.get("telemetry", 0) / received_rows
    share = {"received": kinds.get("exam", 0) / received_rows}
    per_exam = {name: round(size * share.get(table, 1.0) / max(1, counts["exams"]), 1) for name, (table, size) in
                sorted(exam_btrees.items(), key=lambda kv: -kv[1][1])}
    return {"bytes_per_exam": round(exams_bytes / max(1, counts["exams"]), 1), "exam_bytes_by_btree": per_exam,
            "bytes_per_point": round(telemetry_bytes / max(1, counts["telemetry_values"]), 1),
            "file_bytes": path.stat().st_size,
            "by_table_mb": {k: round(v / 1e6, 1) for k, v in sorted(by_table.items(), key=lambda kv: -kv[1])[:8]}}


# ---------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exams", type=int, default=None, help="exams to build (default 1 000 000)")
    parser.add_argument("--points", type=int, default=None, help="telemetry values to build (default 10 000 000)")
    parser.add_argument("--quick", action="store_true", help="100 000 exams, 1 000 000 values, fewer repeats")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--sites", type=int, default=5)
    parser.add_argument("--kiosks-per-site", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=None, help="requests per filter/endpoint (p95 over them)")
    parser.add_argument("--db", type=Path, default=None, help="database file (default under $TMPDIR)")
    parser.add_argument("--keep", action="store_true", help="keep the database file afterwards")
    args = parser.parse_args(argv)
    exams = args.exams or (100_000 if args.quick else 1_000_000)
    points = args.points or (1_000_000 if args.quick else 10_000_000)
    repeat = args.repeat or 20
    path = args.db or Path(os.environ.get("TMPDIR", "/tmp")) / "ohs-store-scale" / f"hub-{exams}-{points}.db"
    workers = max(50, exams // 200)
    fleet = Fleet(args.sites, args.kiosks_per_site, workers)
    end = datetime(2026, 5, 31, 18, tzinfo=timezone.utc)
    say(f"store scale bench: {exams:,} exams, {points:,} telemetry values (the issue's target is 100 million; "
        f"this run: {points:,}), {len(fleet.kiosks)} kiosks, {workers:,} workers, {args.days} days, "
        f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} cores; database {path}")
    figures: dict = {"exams": exams, "points": points, "quick": args.quick, "days": args.days,
                     "kiosks": len(fleet.kiosks), "sqlite": sqlite3.sqlite_version}

    say("1. build (the indexes of the hub before this change)")
    counts = build(path, exams, points, args.days, fleet)
    figures["build"] = counts
    say(f"  built in {counts['build_s']} s: {counts}")
    filters = exam_filters(fleet, end)

    say("2. before: old start, old exams SQL with the old indexes and no statistics")
    config = hub_config(path)
    legacy_conn = sqlite3.connect(path)
    t = time.perf_counter()
    from hub.sequences import SequenceRanges
    rows = legacy_conn.execute("SELECT site, kiosk, incarnation, seq FROM received ORDER BY site, kiosk, incarnation, seq")
    ranges: dict = {}
    for site, kiosk, incarnation, seq in rows:  # Store.stored_sequences() of the old hub, on its indexes
        current = ranges.setdefault((site, kiosk, incarnation), [])
        if current and current[-1][1] == seq - 1:
            current[-1] = (current[-1][0], seq)
        else:
            current.append((seq, seq))
    {key: SequenceRanges(r) for key, r in ranges.items()}
    legacy_load_s = time.perf_counter() - t
    legacy_conn.close()
    legacy_plans = query_plans(path, filters)
    budget = 4.0 if args.quick else 8.0
    before_sql = time_legacy_sql(path, filters, repeat, budget)
    say(f"  old sequence load at start: {legacy_load_s:.2f} s")
    say("  old exams SQL (exact count + page), p95 ms: " + ", ".join(f"{k} {v}" for k, v in before_sql.items()))

    say("3. after: open with today's Store (one-time migration: new indexes, statistics)")
    t = time.perf_counter()
    store, _ = open_hub(config)
    migration_s = time.perf_counter() - t
    statistics_kind = store.statistics
    store.close()
    say(f"  first open (migration) {migration_s:.1f} s, statistics {statistics_kind}")
    stored_exams = check_stored_exams(path)
    figures["stored_exams"] = stored_exams
    say(f"  converted exams are the rows the store writes: {stored_exams}")
    start = time_start(config, runs=5)
    start["legacy_measured_before_s"] = round(legacy_load_s + start["new_median_s"], 3)
    say(f"  start: {start}")
    plans = query_plans(path, filters)
    scans = {name: [p for p in plan if p.startswith("SCAN exams") and "INDEX" not in p] for name, plan in plans.items()}
    old_sql_new_indexes = time_legacy_sql(path, filters, repeat, budget)

    from fastapi.testclient import TestClient

    from hub.analytics.settings import AnalyticsSettings
    from hub.api import create_app

    rosters = write_rosters(path.parent / "rosters", fleet)
    settings = AnalyticsSettings(enabled=False, workplaces=rosters)
    store, ingest = open_hub(config)
    try:
        say("4. an analytics pass while ingest commits: the old way (thread, reads under the store lock), then the "
            "runner process")
        from hub.analytics.workplaces import load_workplaces_file
        for roster in rosters:
            load_workplaces_file(store, roster)
        stall_old, old_results = stall_legacy(store, settings)
        say(f"  old: {stall_old}")
        stall_new = stall_runner(store, settings)
        say(f"  new: {stall_new}")
        from hub.analytics.runner import read_result
        differ = [name for name, result in old_results.items()
                  if json.dumps(result, sort_keys=True, default=str) !=
                  json.dumps((read_result(store, name) or {}).get("result"), sort_keys=True, default=str)]
        stall_new["same_results_as_in_process"] = not differ
        say(f"  the runner process's results equal the in-process ones: {not differ} {differ or ''}")
        periods = {name: (read_result(store, name) or {}).get("result", {}).get("period") for name in old_results}
        say(f"  analysed period: {next(iter(periods.values()))}")
        del old_results, periods
        # the bench's own objects are not the hub's: keep them out of the collector's passes while timing
        gc.collect()
        gc.freeze()

        say("5. API p95 (TestClient on create_app, medic token)")
        app = create_app(config, store, ingest)
        with TestClient(app) as client:
            exam_requests = {name: ("/api/v1/exams", params) for name, params in filters.items()}
            after_api, totals = time_endpoints(client, exam_requests, repeat)
            analytics_requests = {name: (f"/api/v1/analytics{suffix}", {}) for name, suffix in (
                ("index", ""), ("noise/zones", "/noise/zones"), ("noise/workers", "/noise/workers"),
                ("smoke/violations", "/smoke/violations"), ("epi/febrile", "/epi/febrile"),
                ("epi/alcohol", "/epi/alcohol"), ("epi/bp", "/epi/bp"), ("rt/febrile", "/rt/febrile"),
                ("compare/hypertension-noise", "/compare/hypertension-noise"), ("alarms", "/alarms"))}
            analytics_api, _ = time_endpoints(client, analytics_requests, repeat)
            precomputed = {name: client.get(path_, headers=MEDIC).json().get("precomputed")
                           for name, (path_, _) in analytics_requests.items() if name not in ("index", "alarms")}
    finally:
        store.close()

    say("6. sizes")
    size = sizes(path, counts)
    say(f"  {size}")

    say("\nresults (ms, p95):")
    say(f"  {'GET /api/v1/exams filter':28} {'before':>9} {'old SQL, new idx':>17} {'after (API)':>12}  total")
    for name in filters:
        note = totals.get(name, {})
        say(f"  {name:28} {before_sql[name]:>9} {old_sql_new_indexes[name]:>17} {after_api[name]:>12}  "
            f"{note.get('total')}{' (estimated)' if note.get('total_estimated') else ''}")
    for name, ms in analytics_api.items():
        say(f"  analytics {name:38} {ms:>8}  precomputed={precomputed.get(name, '-')}")
    checks = {
        "start_s": (start["new_s"], start["new_s"] < TARGET_START_S, f"< {TARGET_START_S}"),
        "exams_p95_ms": (max(after_api.values()), max(after_api.values()) < TARGET_P95_MS, f"< {TARGET_P95_MS}"),
        "analytics_p95_ms": (max(analytics_api.values()), max(analytics_api.values()) < TARGET_P95_MS,
                             f"< {TARGET_P95_MS}"),
        "exams_filters_without_table_scan": (sum(bool(v) for v in scans.values()), not any(scans.values()), "0"),
        "bytes_per_exam": (size["bytes_per_exam"], size["bytes_per_exam"] <= TARGET_BYTES_PER_EXAM,
                           f"<= {TARGET_BYTES_PER_EXAM:g} (later step)"),
        "bytes_per_point": (size["bytes_per_point"], size["bytes_per_point"] <= TARGET_BYTES_PER_POINT,
                            f"<= {TARGET_BYTES_PER_POINT:g} (later step)"),
    }
    say("\nquery plans of the exams filters (page; capped count), before -> after:")
    for name in filters:
        say(f"  {name:22} {' | '.join(legacy_plans[name])}\n  {'':22} -> {' | '.join(plans[name])}")
    say("\ntargets:")
    for name, (value, ok, target) in checks.items():
        say(f"  {'PASS' if ok else 'FAIL'}  {name} = {value} (target {target})")
    failed = [name for name, (_, ok, _) in checks.items() if not ok]
    figures.update({
        "migration_s": round(migration_s, 1), "start": start, "exams_p95_ms": {"before": before_sql,
        "old_sql_new_indexes": old_sql_new_indexes, "after_api": after_api}, "exams_totals": totals,
        "analytics_p95_ms": analytics_api, "ingest_during_analytics": {"old": stall_old, "new": stall_new},
        "sizes": size, "indexes_after": {name: sorted({p.split(" USING ")[1] for p in plan if " USING " in p})
                                          for name, plan in plans.items()},
        "targets": {name: {"value": value, "ok": ok, "target": target} for name, (value, ok, target) in checks.items()},
        "failed": failed})
    if not args.keep:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    print(json.dumps(figures, ensure_ascii=False, default=str))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
