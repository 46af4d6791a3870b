"""Roll-ups, compaction and retention on real SQLite files and a real PostgreSQL (``hub_backend``):
roll-ups equal a direct computation over the values sent (also after late values and compaction),
raw telemetry is deleted only once rolled up, the audit log never below its minimum, and the work
goes in short transactions. Telemetry goes in through ``Store.commit_batch``, as the ingest writes it."""

from __future__ import annotations

import math
import random
import sqlite3
import threading
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from firmware_bridges.contract import make_envelope
from hub.config import HubConfig, RetentionSection
from hub.db import telemetry_points
from hub.retention import AUDIT_LOG_FLOOR_DAYS, PERIOD_S, Retention
from hub.store import Store
from hub.telemetry_rollups import derived, zone_rollups
from tests.foundation.helpers import wait_until

NOW = datetime(2031, 3, 1, 12, 0, tzinfo=timezone.utc)
DB_QUANTITIES = {"noise_dba", "noise_lamax_dba", "noise_peak_dbc"}


def _settings(**overrides) -> RetentionSection:
    return RetentionSection(**{"batch_rows": 37, "pause_s": 0, **overrides})


def _envelope(row: tuple):
    site, kiosk, seq, sensor, zone, ts, quantity, value, reason = row
    reading = {"sensor_id": sensor, "zone": zone, "ts": ts, "values": {quantity: value}}
    if reason:
        reading["invalid"] = {quantity: reason}
    return make_envelope(site, kiosk, "telemetry", {"readings": [reading]}, seq + 1, incarnation="test")


def _insert(store: Store, rows: list[tuple], per_batch: int = 250) -> None:
    """Telemetry values (site, kiosk, seq, sensor_id, zone, ts, quantity, value, invalid_reason), one record
    each, committed ``per_batch`` records per batch as the ingest does."""
    for start in range(0, len(rows), per_batch):
        batch = [(_envelope(row), "2031-03-01T12:00:00+00:00") for row in rows[start:start + per_batch]]
        result = store.commit_batch(batch, [])
        assert len(result.stored) == len(batch)


def _random_rows(rng: random.Random, start: datetime, minutes: int, count: int, seq0: int = 0) -> list[tuple]:
    rows = []
    for i in range(count):
        ts = start + timedelta(seconds=rng.uniform(0, minutes * 60))
        offset = timezone(timedelta(hours=rng.choice([0, 3, 5, -4])))
        quantity = rng.choice(["noise_dba", "noise_dba", "noise_lamax_dba", "temperature_c", "pm2_5_ugm3"])
        if rng.random() < 0.07:
            value = None
        elif quantity.startswith("noise"):
            value = round(rng.uniform(55, 110), 1)
        else:
            value = round(rng.uniform(-20, 60), 2)
        rows.append(("plant-1", rng.choice(["kiosk-01", "kiosk-02"]), seq0 + i, rng.choice(["s1", "s2", "s3"]),
                     rng.choice(["press", "weld"]), ts.astimezone(offset).isoformat(), quantity, value,
                     "sensor_fault" if value is None else None))
    return rows


def _direct(rows: list[tuple], resolution: str) -> dict[tuple, dict]:
    """Roll-ups computed directly from the values sent, independently of hub.retention and the store."""
    groups: dict[tuple, list] = defaultdict(list)
    for site, kiosk, _, sensor, zone, ts, quantity, value, _ in rows:
        t = datetime.fromisoformat(ts).astimezone(timezone.utc)
        t = t.replace(second=0, microsecond=0) if resolution == "minute" else t.replace(minute=0, second=0,
                                                                                         microsecond=0)
        groups[(t.isoformat(), site, kiosk, zone, sensor, quantity)].append(value)
    out = {}
    for key, values in groups.items():
        valid = [v for v in values if v is not None]
        row = {"n": len(valid), "invalid": len(values) - len(valid), "min": min(valid, default=None),
               "max": max(valid, default=None), "mean": None, "laeq": None}
        if valid and key[5] in DB_QUANTITIES:
            row["laeq"] = 10 * math.log10(math.fsum(10 ** (v / 10) for v in valid) / len(valid))
        elif valid:
            row["mean"] = math.fsum(valid) / len(valid)
        out[key] = row
    return out


def _rolled(store: Store, table: str) -> dict[tuple, dict]:
    """Roll-up rows by (ISO period, site, kiosk, zone, sensor_id, quantity), through the series dictionary;
    mean and LAeq derived from the stored sums as every reader does (hub.telemetry_rollups.derived)."""
    seconds = PERIOD_S[table.removeprefix("telemetry_")]
    rows = store.query_rows(f"SELECT r.period, s.site, s.kiosk, s.zone, s.sensor_id, s.quantity, r.n, r.invalid, "
                            f"r.min, r.max, r.sum, r.energy_sum FROM {table} r JOIN telemetry_series s "
                            f"ON s.id = r.series_id")
    out = {}
    for period, *key, n, invalid, low, high, total, energy in rows:
        mean, laeq = derived(n, total, energy)
        start = datetime.fromtimestamp(period * seconds, timezone.utc).isoformat()
        out[(start, *key)] = {"n": n, "invalid": invalid, "min": low, "max": high, "mean": mean, "laeq": laeq}
    return out


def _assert_equal(rolled: dict, direct: dict) -> None:
    assert rolled.keys() == direct.keys()
    for key, want in direct.items():
        got = rolled[key]
        assert (got["n"], got["invalid"], got["min"], got["max"]) == (want["n"], want["invalid"], want["min"],
                                                                      want["max"]), key
        for column in ("mean", "laeq"):
            if want[column] is None:
                assert got[column] is None, (key, column)
            else:
                assert got[column] == pytest.approx(want[column], rel=1e-12, abs=1e-9), (key, column)


def _stored(store: Store) -> list[tuple]:
    """Every stored value as (site, kiosk, sensor_id, zone, UTC time, quantity, value, reason), sorted."""
    return sorted((r["site"], r["kiosk"], r["sensor_id"], r["zone"], r["ts"], r["quantity"],
                   r["value"], r["invalid_reason"]) for r in telemetry_points.rows(store))


def _sent(rows: list[tuple]) -> list[tuple]:
    return sorted((site, kiosk, sensor, zone, datetime.fromisoformat(ts).astimezone(timezone.utc).isoformat(),
                   quantity, value, reason) for site, kiosk, _, sensor, zone, ts, quantity, value, reason in rows)


def test_rollups_equal_a_direct_computation_also_after_late_rows(hub_store_url):
    store = Store(hub_store_url)
    rng = random.Random(20240601)
    start = datetime(2024, 6, 1, 9, 0, tzinfo=timezone.utc)
    first = _random_rows(rng, start, minutes=150, count=3000)
    _insert(store, first)
    assert _stored(store) == _sent(first)  # every value kept, nulls and reasons included
    retention = Retention(store, _settings())
    assert retention.rollup() == 3000 and retention.pending() == 0
    _assert_equal(_rolled(store, "telemetry_minute"), _direct(first, "minute"))
    _assert_equal(_rolled(store, "telemetry_hour"), _direct(first, "hour"))

    # a kiosk's backlog arrives later, into periods already rolled up, with new data in between
    late = (_random_rows(rng, start + timedelta(minutes=30), minutes=20, count=500, seq0=10_000)
            + _random_rows(rng, start + timedelta(hours=3), minutes=5, count=100, seq0=20_000))
    _insert(store, late)
    assert retention.pending() == 600
    assert retention.rollup() == 600
    _assert_equal(_rolled(store, "telemetry_minute"), _direct(first + late, "minute"))
    _assert_equal(_rolled(store, "telemetry_hour"), _direct(first + late, "hour"))
    assert retention.rollup() == 0  # nothing is counted twice ...
    assert retention.compact(NOW) > 0  # ... nor after compaction
    assert retention.rollup() == 0
    _assert_equal(_rolled(store, "telemetry_hour"), _direct(first + late, "hour"))
    assert _stored(store) == _sent(first + late)
    store.close()


def _direct_zone(rows: list[tuple], resolution: str) -> dict[tuple, dict]:
    """(ISO period, zone, quantity) → direct aggregate over every sensor and kiosk of the zone."""
    groups: dict[tuple, list] = defaultdict(list)
    for _, _, _, _, zone, ts, quantity, value, _ in rows:
        t = datetime.fromisoformat(ts).astimezone(timezone.utc).replace(second=0, microsecond=0)
        groups[((t if resolution == "minute" else t.replace(minute=0)).isoformat(), zone, quantity)].append(value)
    out = {}
    for key, values in groups.items():
        valid = [v for v in values if v is not None]
        energy = 10 * math.log10(math.fsum(10 ** (v / 10) for v in valid) / len(valid)) if valid else None
        out[key] = {"n": len(valid), "invalid": len(values) - len(valid), "min": min(valid, default=None),
                    "max": max(valid, default=None),
                    "mean": math.fsum(valid) / len(valid) if valid and key[2] not in DB_QUANTITIES else None,
                    "laeq": energy if key[2] in DB_QUANTITIES else None}
    return out


def test_the_zone_reader_equals_a_direct_computation_after_late_rows(hub_store_url):
    """hub.telemetry_rollups.zone_rollups merges a zone's series per period: equal to the values sent."""
    store = Store(hub_store_url)
    rng = random.Random(31)
    start = datetime(2024, 6, 1, 9, 0, tzinfo=timezone.utc)
    first = _random_rows(rng, start, minutes=130, count=1500)
    late = _random_rows(rng, start + timedelta(minutes=10), minutes=30, count=400, seq0=10_000)
    _insert(store, first)
    retention = Retention(store, _settings(batch_rows=400))
    retention.rollup()
    _insert(store, late)
    assert retention.rollup() == 400
    for resolution in ("minute", "hour"):
        got = {}
        for zone in ("press", "weld"):
            for quantity in ("noise_dba", "noise_lamax_dba", "temperature_c", "pm2_5_ugm3"):
                for p in zone_rollups(store, zone, quantity, resolution, start, start + timedelta(hours=3)):
                    assert 1 <= p.series <= 6
                    got[(p.start.isoformat(), zone, quantity)] = {"n": p.n, "invalid": p.invalid, "min": p.min,
                                                                  "max": p.max, "mean": p.mean, "laeq": p.laeq}
        _assert_equal(got, _direct_zone(first + late, resolution))
    # the range is half-open and cut to whole periods; bad ranges are refused, not answered empty
    one = zone_rollups(store, "press", "noise_dba", "hour", start + timedelta(minutes=1), start + timedelta(hours=2))
    assert [p.start for p in one] == [start + timedelta(hours=1)]
    two = zone_rollups(store, "press", "noise_dba", "hour", start + timedelta(microseconds=1),
                       start + timedelta(hours=2, microseconds=1))
    assert [p.start for p in two] == [start + timedelta(hours=1), start + timedelta(hours=2)]
    for since, until, resolution in ((start, start, "hour"), (start, start - timedelta(hours=1), "hour"),
                                     (start, start + timedelta(days=8), "minute"),
                                     (start, start + timedelta(hours=1), "day"),
                                     (start.replace(tzinfo=None), start.replace(tzinfo=None) + timedelta(hours=1),
                                      "hour")):
        with pytest.raises(ValueError):
            zone_rollups(store, "press", "noise_dba", resolution, since, until)
    store.close()


def test_the_same_record_redelivered_is_stored_once_and_equal_readings_of_two_records_both(hub_store_url):
    """Idempotency is per record (``received``): a re-delivered record writes nothing; two records
    with a reading at the same time of the same series are both kept (nothing dropped silently)."""
    store = Store(hub_store_url)
    row = ("plant-1", "kiosk-01", 1, "s1", "press", "2024-06-01T10:00:05+00:00", "noise_dba", 80.0, None)
    envelope = _envelope(row)
    assert len(store.commit_batch([(envelope, "2024-06-01T10:00:06+00:00")], []).stored) == 1
    assert store.commit_batch([(envelope, "2024-06-01T10:00:07+00:00")], []).duplicates == 1
    assert telemetry_points.count(store) == 1
    other = ("plant-1", "kiosk-01", 2, "s1", "press", "2024-06-01T10:00:05+00:00", "noise_dba", 81.5, None)
    _insert(store, [other])
    assert [r[6] for r in _stored(store)] == [80.0, 81.5]
    store.close()


def test_noise_is_energy_averaged_not_arithmetically(hub_store_url):
    """reference.md §4.3: samples 92.1, 93.4, 91.8 dBA → LAeq 92.490 dBA (arithmetic mean 92.433)."""
    store = Store(hub_store_url)
    envelope = make_envelope("plant-1", "kiosk-01", "telemetry", {"readings": [
        {"sensor_id": "n1", "zone": "press", "ts": f"2024-06-01T10:00:{s:02d}+00:00",
         "values": {"noise_dba": level, "temperature_c": level}} for s, level in ((5, 92.1), (25, 93.4), (45, 91.8))
    ]}, 1, incarnation="inc")
    store.commit_batch([(envelope, "2024-06-01T10:01:00+00:00")], [])
    Retention(store, _settings()).rollup()
    start, until = datetime(2024, 6, 1, 10, tzinfo=timezone.utc), datetime(2024, 6, 1, 11, tzinfo=timezone.utc)
    [noise] = zone_rollups(store, "press", "noise_dba", "minute", start, until)
    assert noise.n == 3 and noise.mean is None and round(noise.laeq, 3) == 92.490
    assert (noise.min, noise.max, noise.start) == (91.8, 93.4, start)
    [plain] = zone_rollups(store, "press", "temperature_c", "hour", start, until)
    assert plain.laeq is None and plain.mean == pytest.approx((92.1 + 93.4 + 91.8) / 3)
    store.close()


def test_raw_telemetry_is_deleted_only_after_it_was_rolled_up(hub_store_url):
    store = Store(hub_store_url)
    rng = random.Random(7)
    old = _random_rows(rng, NOW - timedelta(days=120), minutes=600, count=800)
    recent = _random_rows(rng, NOW - timedelta(days=10), minutes=600, count=400, seq0=5000)
    mixed = old[:400] + recent[:200] + old[400:] + recent[200:]  # interleaved, as live and backlog arrive
    _insert(store, mixed, per_batch=100)
    retention = Retention(store, _settings(raw_telemetry_days=90))
    cutoff = telemetry_points.to_us(NOW - timedelta(days=90))

    assert retention.prune(NOW)["raw_telemetry"] == 0  # nothing rolled up yet: nothing deleted
    assert telemetry_points.count(store) == 1200

    retention.rollup_batch()  # only the first chunks are rolled up
    rolled_old = store.scalar("SELECT coalesce(sum(n), 0) FROM telemetry_chunks WHERE (state & 1) = 1 AND t1 < ?",
                              [cutoff])
    assert 0 < rolled_old < 800
    assert retention.prune(NOW)["raw_telemetry"] == rolled_old  # exactly the rolled-up old ones go
    minute_before = _rolled(store, "telemetry_minute")
    hour_before = _rolled(store, "telemetry_hour")

    retention.rollup()
    deleted = retention.prune(NOW)["raw_telemetry"]
    assert deleted == 800 - rolled_old
    assert _stored(store) == _sent([r for r in mixed if r in recent])
    # the roll-ups keep what was deleted: equal to a direct computation over all the values
    _assert_equal(_rolled(store, "telemetry_minute"), _direct(mixed, "minute"))
    _assert_equal(_rolled(store, "telemetry_hour"), _direct(mixed, "hour"))
    assert set(minute_before) <= set(_rolled(store, "telemetry_minute"))
    assert set(hour_before) <= set(_rolled(store, "telemetry_hour"))
    assert retention.status()["deleted_total"]["raw_telemetry"] == 800
    # the reasons of deleted invalid values went with them; those of kept values stayed
    reasons = store.query_rows("SELECT ts FROM telemetry_invalid")
    assert len(reasons) == sum(1 for r in recent if r[8]) and min(ts for (ts,) in reasons) >= cutoff
    store.close()


def test_compaction_keeps_every_value_and_shrinks_the_chunks(hub_store_url):
    store = Store(hub_store_url)
    rng = random.Random(9)
    rows = _random_rows(rng, NOW - timedelta(hours=5), minutes=240, count=2000)
    _insert(store, rows, per_batch=20)  # many small batches: many small raw chunks
    retention = Retention(store, _settings(batch_rows=500))
    before = store.scalar("SELECT count(*) FROM telemetry_chunks")
    assert retention.compact(NOW) == 0  # nothing rolled up yet: nothing compacted
    retention.rollup()
    size_before = sum(len(bytes(b)) for (b,) in store.query_rows("SELECT points FROM telemetry_chunks"))
    assert retention.compact(NOW) == before
    chunks = store.query_rows("SELECT series_id, t0, t1, n, state FROM telemetry_chunks")
    windows = [(series_id, t0 // telemetry_points.SPAN_US) for series_id, t0, *_ in chunks]
    assert len(windows) == len(set(windows)) < before  # one chunk per series and window
    assert all(state == 3 and t0 // telemetry_points.SPAN_US == t1 // telemetry_points.SPAN_US
               for _, t0, t1, _, state in chunks)
    size_after = sum(len(bytes(b)) for (b,) in store.query_rows("SELECT points FROM telemetry_chunks"))
    assert size_after < size_before * 0.8  # random times and values: the worst case for compression
    assert _stored(store) == _sent(rows)
    _assert_equal(_rolled(store, "telemetry_minute"), _direct(rows, "minute"))
    # the hour still open by the clock is not compacted; a closed one joins its window's compacted chunk
    current = _random_rows(rng, NOW - timedelta(seconds=30), minutes=0, count=5, seq0=9000)
    _insert(store, current)
    retention.rollup()
    assert retention.compact(NOW) == 0
    raw = store.scalar("SELECT count(*) FROM telemetry_chunks WHERE state = 1")
    assert raw >= 1
    assert retention.compact(NOW + timedelta(hours=1, minutes=5)) == raw
    chunks = store.query_rows("SELECT series_id, t0, state FROM telemetry_chunks")
    windows = [(series_id, t0 // telemetry_points.SPAN_US) for series_id, t0, _ in chunks]
    assert len(windows) == len(set(windows)) and {state for *_, state in chunks} == {3}
    assert _stored(store) == _sent(rows + current)
    store.close()


def _audit_rows(store: Store, ages_days: list[float]) -> None:
    with store.lock:
        for age in ages_days:
            store.conn.execute("INSERT INTO audit_log (ts, actor, role, action, subject, detail) VALUES "
                               "(?, 'Иванова', 'medic', 'read_exam', 'exam', '{}')",
                               ((NOW - timedelta(days=age)).isoformat(),))


def _audit_ages(store: Store, at: datetime) -> list[float]:
    return sorted(round((at - datetime.fromisoformat(ts)).total_seconds() / 86400, 1) for (ts,) in
                  store.query_rows("SELECT ts FROM audit_log WHERE actor = 'Иванова'"))


def test_the_audit_log_is_never_pruned_below_its_minimum(hub_store_url):
    store = Store(hub_store_url)
    ages = [1, 400, 4 * 365, 1826.9, 1827.1, 2500, 3650]
    _audit_rows(store, ages)

    deleted = Retention(store, _settings()).prune(NOW)  # defaults: 1827 days
    assert deleted["audit_log"] == 3
    assert _audit_ages(store, NOW) == [1, 400, 1460, 1826.9]
    note = store.query("SELECT actor, action, subject, detail FROM audit_log WHERE actor = 'hub-retention'")
    assert len(note) == 1 and note[0]["action"] == "retention_prune" and '"deleted": 3' in note[0]["detail"]

    # the configuration cannot go below the minimum, nor the minimum below 5 years ...
    with pytest.raises(ValidationError, match="audit_log_min_days"):
        HubConfig.model_validate({"retention": {"audit_log_days": 365}})
    with pytest.raises(ValidationError):
        RetentionSection(audit_log_min_days=1000)
    # ... and a settings object built around validation is clamped to the floor all the same
    sneaky = RetentionSection.model_construct(**{**_settings().model_dump(), "audit_log_days": 30,
                                                 "audit_log_min_days": 30})
    _audit_rows(store, [31, 365, 1800])
    assert Retention(store, sneaky).audit_log_days() == AUDIT_LOG_FLOOR_DAYS
    assert Retention(store, sneaky).prune(NOW)["audit_log"] == 0
    # a raised minimum is kept even by a settings object that says less; 0 keeps it forever
    raised = RetentionSection.model_construct(**{**_settings().model_dump(), "audit_log_min_days": 3000})
    assert Retention(store, raised).audit_log_days() == 3000
    later = NOW + timedelta(days=1300)
    Retention(store, raised).prune(later)
    assert _audit_ages(store, later) == [1301, 1331, 1665, 1700, 2760]  # the 3100- and 3126.9-day-old went
    assert Retention(store, _settings(audit_log_days=0)).prune(NOW + timedelta(days=10_000))["audit_log"] == 0
    store.close()


def test_rollups_and_dead_letters_expire_by_their_own_retention(hub_store_url):
    store = Store(hub_store_url)
    rows = []
    for days, seq in ((500, 1), (100, 2), (2000, 3), (1, 4)):
        ts = (NOW - timedelta(days=days)).isoformat()
        rows.append(("plant-1", "kiosk-01", seq, "s1", "press", ts, "noise_dba", 80.0, None))
    _insert(store, rows)
    with store.lock:
        for days in (200, 100, 10):
            store.conn.execute("INSERT INTO dead_letters (received_at, topic, payload, payload_size, reason) VALUES "
                               "(?, 't', ?, 1, 'junk')", ((NOW - timedelta(days=days)).isoformat(), b"\x00"))
    retention = Retention(store, _settings())
    result = retention.run_once(NOW)
    assert result["rolled_up"] == 4
    assert result["deleted"] == {"raw_telemetry": 3, "telemetry_minute": 2, "telemetry_hour": 1,
                                 "dead_letters": 2, "audit_log": 0}
    minute_ages = sorted((NOW - datetime.fromisoformat(p[0])).days for p in _rolled(store, "telemetry_minute"))
    hour_ages = sorted((NOW - datetime.fromisoformat(p[0])).days for p in _rolled(store, "telemetry_hour"))
    assert minute_ages == [1, 100] and hour_ages == [1, 100, 500]
    assert store.scalar("SELECT count(*) FROM dead_letters") == 1
    store.close()


def test_rollups_are_pruned_series_by_series_in_batches_smaller_than_a_series(hub_store_url):
    """Pruning walks each series' (series_id, period) key, a few rows a transaction: every old period of
    every series goes, every recent one stays, and the count is exact."""
    store = Store(hub_store_url)
    rows = []
    for i in range(60):
        for sensor in ("s1", "s2", "s3"):
            for days in (30, 1):
                ts = (NOW - timedelta(days=days, minutes=i)).isoformat()
                rows.append(("plant-1", "kiosk-01", len(rows), sensor, "press", ts, "noise_dba", 70.0 + i % 7, None))
    _insert(store, rows)
    retention = Retention(store, _settings(batch_rows=13, telemetry_minute_days=10, telemetry_hour_days=20,
                                           raw_telemetry_days=5))
    retention.rollup()
    deleted = retention.prune(NOW)
    assert deleted["telemetry_minute"] == 3 * 60 and deleted["telemetry_hour"] == 3 * 2
    minute = _rolled(store, "telemetry_minute")
    assert len(minute) == 3 * 60 and all((NOW - datetime.fromisoformat(k[0])).days < 2 for k in minute)
    assert {k[4] for k in _rolled(store, "telemetry_hour")} == {"s1", "s2", "s3"}
    assert retention.prune(NOW)["telemetry_minute"] == 0
    assert retention.status()["deleted_total"]["telemetry_minute"] == 180
    store.close()


def test_the_background_task_works_in_short_transactions_beside_the_ingest(hub_store_url):
    store = Store(hub_store_url)
    rng = random.Random(11)
    now = datetime.now(timezone.utc)  # the task uses the real clock
    old = _random_rows(rng, now - timedelta(days=150), minutes=24 * 60, count=6000)
    _insert(store, old, per_batch=30)
    retention = Retention(store, _settings(batch_rows=500, pause_s=0.01, rollup_interval_s=0.2,
                                           raw_telemetry_days=90))
    waits: list[float] = []
    stop = threading.Event()

    def writer():  # the ingest's own path: a batch of one telemetry record, over and over
        seq = 100_000
        while not stop.is_set():
            asked = time.perf_counter()
            with store.lock:
                waits.append(time.perf_counter() - asked)
                _insert(store, [("plant-1", "kiosk-09", seq, "s9", "yard", datetime.now(timezone.utc).isoformat(),
                                 "temperature_c", 1.5, None)])
            seq += 1
            time.sleep(0.002)

    thread = threading.Thread(target=writer)
    thread.start()
    retention.start()
    try:
        wait_until(lambda: (retention.last_prune or {}).get("deleted", {}).get("raw_telemetry", 0) > 0,
                   timeout=120, message="the first background prune")
    finally:
        stop.set()
        thread.join()
        retention.stop()
    assert retention.last_error is None
    series = telemetry_points.series(store, site="plant-1")
    kept_old = [r for r in telemetry_points.rows(store) if r["kiosk"] != "kiosk-09"]
    assert kept_old == [] and series  # every old value went, once rolled up
    assert len(waits) > 50 and max(waits) < 1.0, max(waits)  # the lock was free within a batch's time
    store.close()


def test_vacuum_changes_nothing_for_the_rollups(tmp_path):
    """The roll-up state is a mark on each chunk, not a SQLite row id: VACUUM (which may renumber row ids)
    neither loses nor doubles a value."""
    store = Store(tmp_path / "hub.db")
    rows = _random_rows(random.Random(5), NOW - timedelta(days=1), minutes=60, count=200)
    _insert(store, rows[:150])
    retention = Retention(store, _settings())
    retention.rollup()
    with store.lock:
        store.conn.execute("DELETE FROM telemetry_chunks WHERE id IN (SELECT id FROM telemetry_chunks LIMIT 2)")
        store.conn.execute("VACUUM")
    _insert(store, rows[150:])
    retention.rollup()
    hour = _rolled(store, "telemetry_hour")
    assert sum(v["n"] + v["invalid"] for v in hour.values()) == 200
    store.close()


def test_a_store_opened_by_sqlite3_sees_the_tables(tmp_path):
    """The roll-up tables live in the hub's database and are readable by any SQLite client."""
    store = Store(tmp_path / "hub.db")
    Retention(store, _settings())
    store.close()
    names = {row[0] for row in sqlite3.connect(tmp_path / "hub.db").execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"telemetry_minute", "telemetry_hour", "retention_totals", "telemetry_series", "telemetry_chunks",
            "telemetry_invalid"} <= names
