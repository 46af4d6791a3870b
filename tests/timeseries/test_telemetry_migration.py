"""Revision 0003 converts the old one-row-per-value ``telemetry`` into series and packed chunks, on SQLite
and PostgreSQL: every value, null and invalid reason kept at its instant (offsets included), values the
old retention task had rolled up marked so, and the old table gone."""

from __future__ import annotations

import importlib.util
import random
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from hub.db import make_engine, migrate, telemetry_points
from hub.store import Store

START = datetime(2025, 11, 3, 22, 40, tzinfo=timezone.utc)


def _legacy_rows(count: int, seed: int = 4, span_s: float = 30 * 3600) -> list[dict]:
    """Rows as hub/store.py wrote them before 0003: ISO text times in any offset, nulls with a reason,
    a value with a reason, two values of one series at one time."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        at = START + timedelta(seconds=rng.uniform(0, span_s))
        offset = timezone(timedelta(hours=rng.choice([0, 3, 7, -5])))
        value = None if i % 17 == 0 else round(rng.uniform(40, 100), 1)
        reason = "sensor_fault" if value is None else ("out_of_range" if i % 29 == 0 else None)
        rows.append({"site": "plant-1", "kiosk": rng.choice(["kiosk-01", "kiosk-02"]), "seq": i + 1,
                     "sensor_id": rng.choice(["s1", "s2"]), "zone": rng.choice(["press", "weld"]),
                     "ts": at.astimezone(offset).isoformat(), "quantity": rng.choice(["noise_dba", "pm2_5_ugm3"]),
                     "value": value, "invalid_reason": reason})
    twin = dict(rows[5], seq=count + 1, value=77.7, invalid_reason=None)
    return [*rows, twin]


def _expected(rows: list[dict]) -> list[tuple]:
    return sorted((r["site"], r["kiosk"], r["sensor_id"], r["zone"],
                   datetime.fromisoformat(r["ts"]).astimezone(timezone.utc).isoformat(), r["quantity"], r["value"],
                   r["invalid_reason"]) for r in rows)


def _stored(store) -> list[tuple]:
    return sorted((r["site"], r["kiosk"], r["sensor_id"], r["zone"], r["ts"], r["quantity"], r["value"],
                   r["invalid_reason"]) for r in telemetry_points.rows(store))


def _at_0002_with(url: str, rows: list[dict], rolled_rowid: int | None = None) -> None:
    migrate.upgrade(url, revision="0002")
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO telemetry (site, kiosk, seq, sensor_id, zone, ts, quantity, value, invalid_reason) "
                "VALUES (:site, :kiosk, :seq, :sensor_id, :zone, :ts, :quantity, :value, :invalid_reason)"), rows)
            if rolled_rowid is not None:  # the old retention task's watermark (SQLite row ids)
                connection.exec_driver_sql("CREATE TABLE retention_state (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
                connection.exec_driver_sql(f"INSERT INTO retention_state VALUES ('telemetry_rowid', '{rolled_rowid}')")
    finally:
        engine.dispose()


def test_the_old_telemetry_is_converted_at_start_with_nothing_lost(hub_store_url):
    rows = _legacy_rows(1500)
    sqlite = "://" not in hub_store_url
    _at_0002_with(hub_store_url, rows, rolled_rowid=600 if sqlite else None)
    store = Store(hub_store_url)  # migrates to the newest revision
    try:
        assert store.revision == migrate.head()
        assert _stored(store) == _expected(rows)
        assert telemetry_points.count(store) == len(rows)
        series = store.query_rows("SELECT count(*) FROM telemetry_series")[0][0]
        assert series == len({(r["site"], r["kiosk"], r["sensor_id"], r["zone"], r["quantity"]) for r in rows})
        chunks = store.query_rows("SELECT series_id, t0, t1, n, state FROM telemetry_chunks")
        assert all(t0 // telemetry_points.SPAN_US == t1 // telemetry_points.SPAN_US for _, t0, t1, _, _ in chunks)
        assert all(state & telemetry_points.COMPACTED for *_, state in chunks)
        rolled = sum(n for *_, n, state in chunks if state & telemetry_points.ROLLED)
        assert rolled == (600 if sqlite else 0)  # what the old task had rolled up is never counted again
        tables = set(sa.inspect(sa.create_engine(store.url)).get_table_names()) if sqlite else {
            r[0] for r in store.query_rows("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert "telemetry" not in tables
    finally:
        store.close()


def _revision_0003():
    path = migrate.SCRIPTS / "versions" / "0003_compact_telemetry.py"
    spec = importlib.util.spec_from_file_location("revision_0003", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_conversion_streams_in_batches_and_flushes_closed_days(hub_store_url):
    """With a batch far smaller than the table, windows behind the stream are written as it goes and a
    late row of a window already written makes one more chunk of that window — never a lost or doubled value."""
    rows = _legacy_rows(700, seed=8, span_s=20 * 86400)  # three windows
    rows.sort(key=lambda r: datetime.fromisoformat(r["ts"]))  # mostly in time order, as a hub writes
    rows.append(dict(rows[3], seq=9999, value=55.5, invalid_reason=None))  # a late one, for the first window
    _at_0002_with(hub_store_url, rows)
    revision = _revision_0003()
    engine = make_engine(hub_store_url)
    try:
        with engine.begin() as connection:
            metadata = revision.tables()
            metadata.create_all(connection)
            assert revision.convert(connection, metadata, batch=97) == len(rows)
            connection.exec_driver_sql("DROP TABLE telemetry")
    finally:
        engine.dispose()
    engine = make_engine(hub_store_url)
    try:
        with engine.connect() as connection:  # the hub's readers, over a plain connection
            class Reader:
                def query_rows(self, sql, params=()):
                    text = sql.replace("?", "%s") if connection.dialect.name == "postgresql" else sql
                    return [tuple(r) for r in connection.exec_driver_sql(text, tuple(params)).fetchall()]

            reader = Reader()
            assert _stored(reader) == _expected(rows)
            first_window = telemetry_points.to_us(datetime.fromisoformat(rows[3]["ts"])) // telemetry_points.SPAN_US
            per_window = [t0 // telemetry_points.SPAN_US for (t0,) in reader.query_rows(
                "SELECT t0 FROM telemetry_chunks WHERE series_id = (SELECT id FROM telemetry_series WHERE site = ? "
                "AND kiosk = ? AND sensor_id = ? AND zone = ? AND quantity = ?)",
                [rows[3][c] for c in ("site", "kiosk", "sensor_id", "zone", "quantity")])]
            assert per_window.count(first_window) == 2
    finally:
        engine.dispose()
