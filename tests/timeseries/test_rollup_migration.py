"""Revision 0005 converts the roll-ups of the 0004 layout (texts per row, made by the old retention task)
into the compact layout keyed by (series_id, integer period), on SQLite and PostgreSQL: every aggregate
kept, series only the roll-ups name added to the dictionary, the old tables and indexes gone, and later
values merged into the converted periods exactly."""

from __future__ import annotations

import importlib.util
import math
import random
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from hub.db import make_engine, migrate
from hub.db.ddl import sqlite_script_to_postgresql
from hub.retention import Retention
from hub.store import Store
from tests.timeseries.test_retention import (
    DB_QUANTITIES,
    _assert_equal,
    _direct,
    _insert,
    _random_rows,
    _rolled,
    _settings,
)

START = datetime(2025, 11, 3, 22, 0, tzinfo=timezone.utc)


def _revision_0005():
    path = migrate.SCRIPTS / "versions" / "0005_compact_rollups.py"
    spec = importlib.util.spec_from_file_location("revision_0005", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _old_rows(rows: list[tuple], resolution: str) -> list[dict]:
    """Roll-up rows as the 0004-era retention task wrote them (its Aggregate.columns and MERGE_SQL)."""
    groups: dict[tuple, list] = defaultdict(list)
    for site, kiosk, _, sensor, zone, ts, quantity, value, _ in rows:
        t = datetime.fromisoformat(ts).astimezone(timezone.utc).replace(second=0, microsecond=0)
        t = t if resolution == "minute" else t.replace(minute=0)
        groups[(t.isoformat(), site, kiosk, zone, sensor, quantity)].append(value)
    out = []
    for (period, site, kiosk, zone, sensor, quantity), values in groups.items():
        valid = [v for v in values if v is not None]
        row = {"period": period, "site": site, "kiosk": kiosk, "zone": zone, "sensor_id": sensor,
               "quantity": quantity, "n": len(valid), "invalid": len(values) - len(valid), "sum": None, "min": None,
               "max": None, "mean": None, "energy_sum": None, "laeq": None, "updated_at": "2025-11-05T00:00:00+00:00"}
        if valid:
            row.update(sum=math.fsum(valid), min=min(valid), max=max(valid))
            if quantity in DB_QUANTITIES:
                energy = math.fsum(10 ** (v / 10) for v in valid)
                row.update(energy_sum=energy, laeq=10 * math.log10(energy / len(valid)))
            else:
                row["mean"] = row["sum"] / len(valid)
        out.append(row)
    return out


def _at_0004_with(url: str, rows: list[tuple]) -> None:
    """A hub at revision 0004 whose retention task made its roll-up tables (module DDL) and filled them;
    one of the series is already in the dictionary, the others only in the roll-ups."""
    migrate.upgrade(url, revision="0004")
    revision = _revision_0005()
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            script = revision.OLD_SCHEMA
            if connection.dialect.name == "postgresql":
                script = sqlite_script_to_postgresql("retention", script)
            for statement in filter(str.strip, script.split(";")):
                connection.exec_driver_sql(statement)
            site, kiosk, _, sensor, zone, _, quantity, _, _ = rows[0]
            connection.execute(sa.text("INSERT INTO telemetry_series (site, kiosk, sensor_id, zone, quantity) "
                                       "VALUES (:a, :b, :c, :d, :e)"),
                               {"a": site, "b": kiosk, "c": sensor, "d": zone, "e": quantity})
            for resolution in ("minute", "hour"):
                connection.execute(sa.text(
                    f"INSERT INTO telemetry_{resolution} (period, site, kiosk, zone, sensor_id, quantity, n, invalid, "
                    "sum, min, max, mean, energy_sum, laeq, updated_at) VALUES (:period, :site, :kiosk, :zone, "
                    ":sensor_id, :quantity, :n, :invalid, :sum, :min, :max, :mean, :energy_sum, :laeq, :updated_at)"),
                    _old_rows(rows, resolution))
    finally:
        engine.dispose()


def _tables_and_indexes(store: Store) -> tuple[set[str], set[str]]:
    if store.backend == "sqlite":
        found = store.query_rows("SELECT type, name FROM sqlite_master WHERE tbl_name LIKE 'telemetry_%'")
        return {n for t, n in found if t == "table"}, {n for t, n in found if t == "index"}
    tables = {r[0] for r in store.query_rows("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    indexes = {r[0] for r in store.query_rows("SELECT indexname FROM pg_indexes WHERE schemaname = 'public' "
                                              "AND tablename LIKE 'telemetry_%'")}
    return tables, indexes


def test_0005_converts_the_0004_rollups_and_later_values_merge_into_them(hub_store_url):
    rng = random.Random(55)
    old = _random_rows(rng, START, minutes=150, count=1200)
    _at_0004_with(hub_store_url, old)
    store = Store(hub_store_url)  # migrates to the newest revision
    try:
        assert store.revision == migrate.head()
        _assert_equal(_rolled(store, "telemetry_minute"), _direct(old, "minute"))
        _assert_equal(_rolled(store, "telemetry_hour"), _direct(old, "hour"))
        series = {tuple(r) for r in store.query_rows(
            "SELECT site, kiosk, sensor_id, zone, quantity FROM telemetry_series")}
        assert series == {(s, k, sensor, zone, q) for s, k, _, sensor, zone, _, q, _, _ in old}
        tables, indexes = _tables_and_indexes(store)
        assert not {"telemetry_minute_0004", "telemetry_hour_0004"} & tables
        assert {"telemetry_minute", "telemetry_hour"} <= tables
        rollup_indexes = {i for i in indexes if i.startswith(("telemetry_minute", "telemetry_hour",
                                                              "sqlite_autoindex_telemetry_minute",
                                                              "sqlite_autoindex_telemetry_hour"))}
        # the key only: on PostgreSQL its index, on SQLite the table itself (WITHOUT ROWID)
        assert rollup_indexes == ({"telemetry_minute_pkey", "telemetry_hour_pkey"}
                                  if store.backend == "postgresql" else set())
        if store.backend == "sqlite":
            ddl = store.scalar("SELECT sql FROM sqlite_master WHERE name = 'telemetry_minute'")
            assert "WITHOUT ROWID" in ddl.upper()

        # values arriving after the upgrade, partly into converted periods, merge exactly
        late = _random_rows(rng, START + timedelta(minutes=40), minutes=120, count=500, seq0=50_000)
        _insert(store, late)
        assert Retention(store, _settings()).rollup() == 500
        _assert_equal(_rolled(store, "telemetry_minute"), _direct(old + late, "minute"))
        _assert_equal(_rolled(store, "telemetry_hour"), _direct(old + late, "hour"))
    finally:
        store.close()


def test_0005_streams_in_batches_smaller_than_the_table(hub_store_url):
    """The conversion with a tiny batch (many fetches from one streamed cursor) copies every row once."""
    rows = _random_rows(random.Random(3), START, minutes=90, count=400)
    _at_0004_with(hub_store_url, rows)
    revision = _revision_0005()
    engine = make_engine(hub_store_url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE telemetry_minute RENAME TO telemetry_minute_0004")
            connection.exec_driver_sql("DROP INDEX telemetry_minute_key")
            metadata = revision.tables()
            metadata.tables["telemetry_minute"].create(connection)
            assert revision.convert(connection, "telemetry_minute_0004", metadata.tables["telemetry_minute"],
                                    batch=7) == len(_old_rows(rows, "minute"))
            copied = connection.exec_driver_sql("SELECT count(*), sum(n), sum(invalid) FROM telemetry_minute").one()
    finally:
        engine.dispose()
    assert tuple(copied) == (len(_old_rows(rows, "minute")), sum(1 for r in rows if r[7] is not None),
                             sum(1 for r in rows if r[7] is None))
