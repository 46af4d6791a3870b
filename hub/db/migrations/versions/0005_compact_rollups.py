"""Compact telemetry roll-ups (issue 11): ``telemetry_minute`` / ``telemetry_hour`` keyed by series and integer period.

Until 0004 the retention task made these two tables itself (module DDL in hub/retention.py): one row per
(ISO period text, site, kiosk, zone, sensor_id, quantity) with a unique key index and a by-zone index, the
five texts repeated in the row and in both indexes (~180 bytes a raw value at 10 M values). From here the
tables belong to the migrations, and only to them:

* ``series_id`` — the ``telemetry_series`` row (site, kiosk, sensor_id, zone, quantity; migration 0003),
  as a 4-byte integer;
* ``period`` — the period's start as whole UTC minutes (``telemetry_minute``) or hours (``telemetry_hour``)
  since the Unix epoch;
* ``n``, ``invalid`` (integers), ``sum``, ``min``, ``max``, ``energy_sum`` (doubles): the mergeable
  aggregates. The arithmetic mean (sum / n) and LAeq (10·lg(energy_sum / n)) are derived from them when
  read (:mod:`hub.telemetry_rollups`), not stored; ``updated_at`` is gone (nothing read it).

The primary key is (series_id, period) — on SQLite a WITHOUT ROWID table, so the rows are the key's
B-tree and there is no second copy of the key; no other index: a by-zone read seeks the series of the
zone in the dictionary (``telemetry_series_by_quantity``) and then each series' period range.

Existing rows (the 0004 layout, :data:`OLD_SCHEMA`) are converted: the old tables are renamed, read once
in a streamed query (a server-side cursor on PostgreSQL, per statement — the shared connection's options
are left alone) and written BATCH rows at a time; a roll-up whose series is not in the dictionary any
more (its raw data pruned before 0003) gets its series row. The old tables and indexes are dropped.

Revision ID: 0005
Revises: 0004
"""

from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: rows read per fetch and written per statement while converting
BATCH = 20_000
#: seconds per period of each table
PERIOD_S = {"telemetry_minute": 60, "telemetry_hour": 3600}

#: the roll-up tables as hub/retention.py created them up to revision 0004 (SQLite DDL; mapped to
#: PostgreSQL by hub.db.ddl): kept here to say what is converted, and for the tests of this revision
OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS telemetry_minute (
    period TEXT NOT NULL, site TEXT NOT NULL, kiosk TEXT NOT NULL, zone TEXT NOT NULL,
    sensor_id TEXT NOT NULL, quantity TEXT NOT NULL, n INTEGER NOT NULL, invalid INTEGER NOT NULL,
    sum REAL, min REAL, max REAL, mean REAL, energy_sum REAL, laeq REAL, updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS telemetry_minute_key
    ON telemetry_minute(period, site, kiosk, zone, sensor_id, quantity);
CREATE INDEX IF NOT EXISTS telemetry_minute_by_zone ON telemetry_minute(zone, quantity, period);
CREATE TABLE IF NOT EXISTS telemetry_hour (
    period TEXT NOT NULL, site TEXT NOT NULL, kiosk TEXT NOT NULL, zone TEXT NOT NULL,
    sensor_id TEXT NOT NULL, quantity TEXT NOT NULL, n INTEGER NOT NULL, invalid INTEGER NOT NULL,
    sum REAL, min REAL, max REAL, mean REAL, energy_sum REAL, laeq REAL, updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS telemetry_hour_key
    ON telemetry_hour(period, site, kiosk, zone, sensor_id, quantity);
CREATE INDEX IF NOT EXISTS telemetry_hour_by_zone ON telemetry_hour(zone, quantity, period);
"""


def tables() -> sa.MetaData:
    """The roll-up tables at revision 0005 (frozen here, like the whole revision)."""
    metadata = sa.MetaData()
    for name in PERIOD_S:
        sa.Table(name, metadata,
                 # a 4-byte id (a hub has thousands of series): on PostgreSQL 8 bytes less in row and key
                 sa.Column("series_id", sa.Integer, primary_key=True, autoincrement=False),
                 sa.Column("period", sa.Integer, primary_key=True, autoincrement=False),
                 sa.Column("n", sa.Integer, nullable=False),
                 sa.Column("invalid", sa.Integer, nullable=False),
                 sa.Column("sum", sa.Float(53)), sa.Column("min", sa.Float(53)), sa.Column("max", sa.Float(53)),
                 sa.Column("energy_sum", sa.Float(53)),
                 sqlite_with_rowid=False)
    return metadata


def period_number(text: str, seconds: int) -> int:
    """Whole periods since the epoch of an ISO period start as the 0004 layout wrote it (UTC offset)."""
    ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    ts = ts if ts.tzinfo is not None else ts.replace(tzinfo=timezone.utc)
    return int(ts.timestamp()) // seconds


def _series_ids(bind, old: str) -> dict[tuple, int]:
    """(site, kiosk, sensor_id, zone, quantity) → series id, adding the series only the roll-ups still name."""
    bind.exec_driver_sql(
        "INSERT INTO telemetry_series (site, kiosk, sensor_id, zone, quantity) "
        f"SELECT DISTINCT o.site, o.kiosk, o.sensor_id, o.zone, o.quantity FROM {old} o WHERE NOT EXISTS ("
        "SELECT 1 FROM telemetry_series s WHERE s.site = o.site AND s.kiosk = o.kiosk AND "
        "s.sensor_id = o.sensor_id AND s.zone = o.zone AND s.quantity = o.quantity)")
    return {tuple(row[1:]): row[0] for row in bind.exec_driver_sql(
        "SELECT id, site, kiosk, sensor_id, zone, quantity FROM telemetry_series")}


def convert(bind, old: str, table: sa.Table, batch: int = BATCH) -> int:
    """Copy the rows of ``old`` (0004 layout) into ``table``; returns the rows copied."""
    seconds = PERIOD_S[table.name]
    ids = _series_ids(bind, old)
    result = bind.exec_driver_sql(  # streamed per statement: memory holds a batch
        f"SELECT period, site, kiosk, sensor_id, zone, quantity, n, invalid, sum, min, max, energy_sum FROM {old}",
        execution_options={"stream_results": True, "max_row_buffer": batch})
    copied = 0
    while True:
        fetched = result.fetchmany(batch)
        if not fetched:
            break
        bind.execute(table.insert(), [
            {"series_id": ids[(site, kiosk, sensor, zone, quantity)], "period": period_number(period, seconds),
             "n": n, "invalid": invalid, "sum": total, "min": low, "max": high, "energy_sum": energy}
            for period, site, kiosk, sensor, zone, quantity, n, invalid, total, low, high, energy in fetched])
        copied += len(fetched)
    result.close()
    return copied


def upgrade() -> None:
    bind = op.get_bind()
    present = set(sa.inspect(bind).get_table_names())
    old_tables = {}
    for name in PERIOD_S:
        if name in present:  # the 0004 layout, made by the retention task
            for index in ("key", "by_zone"):
                op.execute(f"DROP INDEX IF EXISTS {name}_{index}")
            op.execute(f"ALTER TABLE {name} RENAME TO {name}_0004")
            old_tables[name] = f"{name}_0004"
    metadata = tables()
    metadata.create_all(bind)
    for name, old in old_tables.items():
        convert(bind, old, metadata.tables[name])
        op.execute(f"DROP TABLE {old}")


def downgrade() -> None:
    raise RuntimeError("0005 is not downgraded: restore a backup instead")
