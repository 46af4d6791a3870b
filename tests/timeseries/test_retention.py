"""Roll-ups and retention on real SQLite files: roll-ups equal a direct computation (also after late
rows), raw telemetry is deleted only once rolled up, the audit log never below its minimum, and the
work goes in short transactions."""

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
from hub.retention import AUDIT_LOG_FLOOR_DAYS, Retention, RollupHalted
from hub.store import Store
from tests.foundation.helpers import wait_until

NOW = datetime(2031, 3, 1, 12, 0, tzinfo=timezone.utc)
DB_QUANTITIES = {"noise_dba", "noise_lamax_dba", "noise_peak_dbc"}


def _settings(**overrides) -> RetentionSection:
    return RetentionSection(**{"batch_rows": 37, "pause_s": 0, **overrides})


def _insert(store: Store, rows: list[tuple]) -> None:
    """Raw telemetry rows (site, kiosk, seq, sensor_id, zone, ts, quantity, value, invalid_reason)."""
    with store.lock:
        store.conn.execute("BEGIN")
        store.conn.executemany("INSERT INTO telemetry VALUES (?,?,?,?,?,?,?,?,?)", rows)
        store.conn.execute("COMMIT")


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


def _direct(store: Store, resolution: str) -> dict[tuple, dict]:
    """Roll-ups computed directly from every raw row, independently of hub.retention."""
    groups: dict[tuple, list] = defaultdict(list)
    for site, kiosk, zone, sensor, quantity, ts, value in store.conn.execute(
            "SELECT site, kiosk, zone, sensor_id, quantity, ts, value FROM telemetry"):
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
    rows = store.conn.execute(f"SELECT period, site, kiosk, zone, sensor_id, quantity, n, invalid, min, max, mean, "
                              f"laeq FROM {table}").fetchall()
    return {r[:6]: {"n": r[6], "invalid": r[7], "min": r[8], "max": r[9], "mean": r[10], "laeq": r[11]} for r in rows}


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


def test_rollups_equal_a_direct_computation_also_after_late_rows(tmp_path):
    store = Store(tmp_path / "hub.db")
    rng = random.Random(20240601)
    start = datetime(2024, 6, 1, 9, 0, tzinfo=timezone.utc)
    _insert(store, _random_rows(rng, start, minutes=150, count=3000))
    retention = Retention(store, _settings())
    assert retention.rollup() == 3000
    _assert_equal(_rolled(store, "telemetry_minute"), _direct(store, "minute"))
    _assert_equal(_rolled(store, "telemetry_hour"), _direct(store, "hour"))

    # a kiosk's backlog arrives later, into periods already rolled up, with new data in between
    _insert(store, _random_rows(rng, start + timedelta(minutes=30), minutes=20, count=500, seq0=10_000)
            + _random_rows(rng, start + timedelta(hours=3), minutes=5, count=100, seq0=20_000))
    assert retention.rollup() == 600
    _assert_equal(_rolled(store, "telemetry_minute"), _direct(store, "minute"))
    _assert_equal(_rolled(store, "telemetry_hour"), _direct(store, "hour"))
    assert retention.rollup() == 0  # nothing is counted twice
    _assert_equal(_rolled(store, "telemetry_hour"), _direct(store, "hour"))
    store.close()


def test_noise_is_energy_averaged_not_arithmetically(tmp_path):
    """reference.md §4.3: samples 92.1, 93.4, 91.8 dBA → LAeq 92.490 dBA (arithmetic mean 92.433)."""
    store = Store(tmp_path / "hub.db")
    envelope = make_envelope("plant-1", "kiosk-01", "telemetry", {"readings": [
        {"sensor_id": "n1", "zone": "press", "ts": f"2024-06-01T10:00:{s:02d}+00:00",
         "values": {"noise_dba": level, "temperature_c": level}} for s, level in ((5, 92.1), (25, 93.4), (45, 91.8))
    ]}, 1, incarnation="inc")
    store.commit_batch([(envelope, "2024-06-01T10:01:00+00:00")], [])
    Retention(store, _settings()).rollup()
    noise = store.query("SELECT n, mean, laeq, min, max FROM telemetry_minute WHERE quantity = 'noise_dba'")[0]
    assert noise["n"] == 3 and noise["mean"] is None and round(noise["laeq"], 3) == 92.490
    assert (noise["min"], noise["max"]) == (91.8, 93.4)
    plain = store.query("SELECT mean, laeq FROM telemetry_hour WHERE quantity = 'temperature_c'")[0]
    assert plain["laeq"] is None and plain["mean"] == pytest.approx((92.1 + 93.4 + 91.8) / 3)
    store.close()


def test_raw_telemetry_is_deleted_only_after_it_was_rolled_up(tmp_path):
    store = Store(tmp_path / "hub.db")
    rng = random.Random(7)
    old = _random_rows(rng, NOW - timedelta(days=120), minutes=600, count=800)
    recent = _random_rows(rng, NOW - timedelta(days=10), minutes=600, count=400, seq0=5000)
    mixed = old[:400] + recent[:200] + old[400:] + recent[200:]  # interleaved, as live and backlog arrive
    _insert(store, mixed)
    retention = Retention(store, _settings(raw_telemetry_days=90))

    assert retention.prune(NOW)["raw_telemetry"] == 0  # nothing rolled up yet: nothing deleted
    assert store.scalar("SELECT count(*) FROM telemetry") == 1200

    retention.rollup_batch()  # only the first 37 rows are rolled up
    assert retention.prune(NOW)["raw_telemetry"] == 37  # all old: exactly the rolled-up ones go
    minute_before = _rolled(store, "telemetry_minute")
    hour_before = _rolled(store, "telemetry_hour")

    retention.rollup()
    deleted = retention.prune(NOW)["raw_telemetry"]
    assert deleted == 800 - 37
    left = [datetime.fromisoformat(ts) for (ts,) in store.conn.execute("SELECT ts FROM telemetry")]
    assert len(left) == 400 and min(left) >= NOW - timedelta(days=90)
    # the roll-ups keep what was deleted: equal to a direct computation over all the rows
    everything = Store(tmp_path / "all.db")
    _insert(everything, mixed)
    _assert_equal(_rolled(store, "telemetry_minute"), _direct(everything, "minute"))
    _assert_equal(_rolled(store, "telemetry_hour"), _direct(everything, "hour"))
    assert set(minute_before) <= set(_rolled(store, "telemetry_minute"))
    assert set(hour_before) <= set(_rolled(store, "telemetry_hour"))
    assert retention.status()["deleted_total"]["raw_telemetry"] == 800
    everything.close()
    store.close()


def test_rows_stored_after_everything_old_was_deleted_are_still_rolled_up(tmp_path):
    """The newest row is never deleted, so SQLite never hands out a rowid at or below the watermark."""
    store = Store(tmp_path / "hub.db")
    rng = random.Random(3)
    _insert(store, _random_rows(rng, NOW - timedelta(days=200), minutes=60, count=100))
    retention = Retention(store, _settings(raw_telemetry_days=90))
    retention.rollup()
    assert retention.prune(NOW)["raw_telemetry"] == 99
    assert store.scalar("SELECT count(*) FROM telemetry") == 1
    fresh = _random_rows(rng, NOW - timedelta(hours=1), minutes=30, count=50, seq0=1000)
    _insert(store, fresh)
    assert retention.rollup() == 50
    newest = _rolled(store, "telemetry_hour")
    assert sum(v["n"] + v["invalid"] for v in newest.values()) == 150


def test_renumbered_rowids_halt_rollups_instead_of_missing_or_doubling_rows(tmp_path):
    store = Store(tmp_path / "hub.db")
    _insert(store, _random_rows(random.Random(5), NOW - timedelta(days=1), minutes=60, count=200))
    retention = Retention(store, _settings())
    retention.rollup()
    with store.lock:  # VACUUM keeps the rowids of a table with an index (SQLite does, today) ...
        store.conn.execute("DELETE FROM telemetry WHERE rowid <= 50")
        store.conn.execute("VACUUM")
    _insert(store, _random_rows(random.Random(6), NOW, minutes=5, count=10, seq0=900))
    assert retention.rollup() == 10 and retention.status()["halted"] is None
    with store.lock:  # ... and renumbers those of a table without one
        store.conn.execute("DELETE FROM telemetry WHERE rowid <= 100")
        store.conn.execute("DROP INDEX IF EXISTS telemetry_by_zone")
        store.conn.execute("VACUUM")
    _insert(store, _random_rows(random.Random(7), NOW, minutes=5, count=10, seq0=1900))
    with pytest.raises(RollupHalted):
        retention.rollup()
    assert retention.prune(NOW)["raw_telemetry"] == 0 and retention.status()["halted"]
    store.close()


def _audit_rows(store: Store, ages_days: list[float]) -> None:
    with store.lock:
        for age in ages_days:
            store.conn.execute("INSERT INTO audit_log (ts, actor, role, action, subject, detail) VALUES "
                               "(?, 'Иванова', 'medic', 'read_exam', 'exam', '{}')",
                               ((NOW - timedelta(days=age)).isoformat(),))


def test_the_audit_log_is_never_pruned_below_its_minimum(tmp_path):
    store = Store(tmp_path / "hub.db")
    ages = [1, 400, 4 * 365, 1826.9, 1827.1, 2500, 3650]
    _audit_rows(store, ages)

    deleted = Retention(store, _settings()).prune(NOW)  # defaults: 1827 days
    assert deleted["audit_log"] == 3
    kept = sorted(round((NOW - datetime.fromisoformat(ts)).total_seconds() / 86400, 1) for (ts,) in
                  store.conn.execute("SELECT ts FROM audit_log WHERE actor = 'Иванова'"))
    assert kept == [1, 400, 1460, 1826.9]
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
    ages = sorted(round((later - datetime.fromisoformat(ts)).total_seconds() / 86400, 1) for (ts,) in
                  store.conn.execute("SELECT ts FROM audit_log WHERE actor = 'Иванова'"))
    assert ages == [1301, 1331, 1665, 1700, 2760]  # the 3100- and 3126.9-day-old rows went, none younger
    assert Retention(store, _settings(audit_log_days=0)).prune(NOW + timedelta(days=10_000))["audit_log"] == 0
    store.close()


def test_rollups_and_dead_letters_expire_by_their_own_retention(tmp_path):
    store = Store(tmp_path / "hub.db")
    rows = []
    for days, seq in ((500, 1), (100, 2), (2000, 3), (1, 4)):
        ts = (NOW - timedelta(days=days)).isoformat()
        rows.append(("plant-1", "kiosk-01", seq, "s1", "press", ts, "noise_dba", 80.0, None))
    _insert(store, rows)
    with store.lock:
        for days in (200, 100, 10):
            store.conn.execute("INSERT INTO dead_letters (received_at, topic, payload, payload_size, reason) VALUES "
                               "(?, 't', x'00', 1, 'junk')", ((NOW - timedelta(days=days)).isoformat(),))
    retention = Retention(store, _settings())
    result = retention.run_once(NOW)
    assert result["rolled_up"] == 4
    assert result["deleted"] == {"raw_telemetry": 3, "telemetry_minute": 2, "telemetry_hour": 1,
                                 "dead_letters": 2, "audit_log": 0}
    minute_ages = sorted((NOW - datetime.fromisoformat(p)).days for (p,) in
                         store.conn.execute("SELECT period FROM telemetry_minute"))
    hour_ages = sorted((NOW - datetime.fromisoformat(p)).days for (p,) in
                       store.conn.execute("SELECT period FROM telemetry_hour"))
    assert minute_ages == [1, 100] and hour_ages == [1, 100, 500]
    assert store.scalar("SELECT count(*) FROM dead_letters") == 1
    store.close()


def test_the_background_task_works_in_short_transactions_beside_the_ingest(tmp_path):
    store = Store(tmp_path / "hub.db")
    rng = random.Random(11)
    now = datetime.now(timezone.utc)  # the task uses the real clock
    _insert(store, _random_rows(rng, now - timedelta(days=150), minutes=24 * 60, count=30_000))
    retention = Retention(store, _settings(batch_rows=500, pause_s=0.01, rollup_interval_s=0.2,
                                           raw_telemetry_days=90))
    waits: list[float] = []
    stop = threading.Event()

    def writer():  # stands in for the ingest: takes the store lock over and over
        seq = 100_000
        while not stop.is_set():
            asked = time.perf_counter()
            with store.lock:
                waits.append(time.perf_counter() - asked)
                store.conn.execute("INSERT INTO telemetry VALUES ('plant-1','kiosk-09',?,'s9','yard',?,'temperature_c',"
                                   "1.5,NULL)", (seq, datetime.now(timezone.utc).isoformat()))
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
    assert store.scalar("SELECT count(*) FROM telemetry WHERE kiosk != 'kiosk-09'") <= 1
    assert len(waits) > 50 and max(waits) < 1.0, max(waits)  # the lock was free within a batch's time
    store.close()


def test_a_store_opened_by_sqlite3_sees_the_tables(tmp_path):
    """The roll-up tables live in the hub's database and are readable by any SQLite client."""
    store = Store(tmp_path / "hub.db")
    Retention(store, _settings())
    store.close()
    names = {row[0] for row in sqlite3.connect(tmp_path / "hub.db").execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"telemetry_minute", "telemetry_hour", "telemetry_rolled_ranges", "retention_state"} <= names
