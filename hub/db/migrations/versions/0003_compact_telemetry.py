"""Compact telemetry at rest (issue 11): a series dictionary and packed chunks of typed points.

``telemetry`` (one row per value: five texts, an ISO timestamp, ~190 bytes a value) becomes
``telemetry_series`` (one row per site, kiosk, sensor, zone and quantity), ``telemetry_chunks`` (the
points of one series inside one 7-day window, packed by :func:`hub.db.telemetry_points.pack`: microsecond
times and doubles, compacted) and ``telemetry_invalid`` (the device's reason for each value it marked
invalid). See :mod:`hub.db.telemetry_points` for the layout and why.

Existing rows are read once in their stored order (a streamed query, BATCH rows at a time) and
grouped per series and window (``SPAN_US``, 7 days); a group is written as compacted chunks as soon
as its window is over in the stream or it holds MAX_CHUNK_POINTS values (so memory holds little: the
open windows' values, up to that many per series), the rest at the end. Values a hub's retention task
had already rolled up (SQLite row ids up to its watermark in ``retention_state``) go into chunks
marked rolled up, so they are never counted twice. Timestamps written with an offset are kept as
the same instant (microseconds since the epoch, UTC). The old table and its index are dropped, and
with them the old task's row-id bookkeeping (``telemetry_rolled_ranges``, ``retention_state``).

Revision ID: 0003
Revises: 0002
"""

from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

from hub.db.baseline import BigInt
from hub.db.telemetry_points import COMPACTED, MAX_CHUNK_POINTS, ROLLED, SPAN_US, chunk_rows, to_us

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

#: rows read per fetch while converting; chunks written per statement
BATCH = 20_000


def tables() -> sa.MetaData:
    """The telemetry tables at revision 0003 (frozen here, like the whole revision)."""
    metadata = sa.MetaData()

    def text(name: str) -> sa.Column:
        return sa.Column(name, sa.Text, nullable=False)

    series = sa.Table(
        "telemetry_series", metadata,
        sa.Column("id", BigInt, primary_key=True), text("site"), text("kiosk"), text("sensor_id"), text("zone"),
        text("quantity"), sa.UniqueConstraint("site", "kiosk", "sensor_id", "zone", "quantity"))
    chunks = sa.Table(
        "telemetry_chunks", metadata,
        sa.Column("id", BigInt, primary_key=True),
        sa.Column("series_id", BigInt, nullable=False),
        sa.Column("t0", sa.BigInteger, nullable=False),  # first reading, µs since the epoch (UTC)
        sa.Column("t1", sa.BigInteger, nullable=False),  # last reading (the same window)
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("state", sa.Integer, nullable=False, server_default=sa.text("0")),  # 1 rolled up, 2 compacted
        sa.Column("points", sa.LargeBinary, nullable=False))  # last: a row read for its key stops before it
    invalid = sa.Table("telemetry_invalid", metadata,
                       sa.Column("series_id", BigInt, nullable=False), sa.Column("ts", sa.BigInteger, nullable=False),
                       text("reason"))
    # time-range reads, prune by age, the newest reading and the count: all from this index alone
    sa.Index("telemetry_chunks_by_time", chunks.c.t0, chunks.c.series_id, chunks.c.t1, chunks.c.n)
    # the chunks the retention task still has to roll up or compact (few: the last hour or two), in the
    # order it takes them and with what it picks them by, so it reads their points only once picked
    sa.Index("telemetry_chunks_open", chunks.c.state, chunks.c.series_id, chunks.c.t0, chunks.c.id, chunks.c.n,
             sqlite_where=sa.text(f"state != {ROLLED | COMPACTED}"),
             postgresql_where=sa.text(f"state != {ROLLED | COMPACTED}"))
    sa.Index("telemetry_invalid_by_time", invalid.c.ts, invalid.c.series_id)
    # the analytics pick their series by quantity (and zone, site): a seek, not a scan of the dictionary
    sa.Index("telemetry_series_by_quantity", series.c.quantity, series.c.zone, series.c.site)
    return metadata


def _rolled_watermark(bind) -> int:
    """SQLite row id up to which the old retention task rolled telemetry up (0: none)."""
    if bind.dialect.name != "sqlite" or "retention_state" not in sa.inspect(bind).get_table_names():
        return 0
    value = bind.exec_driver_sql("SELECT value FROM retention_state WHERE name = 'telemetry_rowid'").scalar()
    return int(value or 0)


def _instant(text: str) -> int:
    ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return to_us(ts if ts.tzinfo is not None else ts.replace(tzinfo=timezone.utc))


def convert(bind, metadata: sa.MetaData, batch: int = BATCH) -> int:
    """Copy every row of the old ``telemetry`` into the new tables; returns the values copied."""
    chunks_t, invalid_t = metadata.tables["telemetry_chunks"], metadata.tables["telemetry_invalid"]
    bind.exec_driver_sql("INSERT INTO telemetry_series (site, kiosk, sensor_id, zone, quantity) "
                         "SELECT DISTINCT site, kiosk, sensor_id, zone, quantity FROM telemetry")
    ids = {tuple(row[1:]): row[0] for row in bind.exec_driver_sql(
        "SELECT id, site, kiosk, sensor_id, zone, quantity FROM telemetry_series")}
    mark = _rolled_watermark(bind)
    sqlite = bind.dialect.name == "sqlite"
    key = "rowid" if sqlite else "0"
    result = bind.exec_driver_sql(  # streamed (a server-side cursor on PostgreSQL): memory holds a batch
        f"SELECT {key}, site, kiosk, sensor_id, zone, quantity, ts, value, invalid_reason FROM telemetry"
        + (" ORDER BY rowid" if sqlite else ""), execution_options={"stream_results": True, "max_row_buffer": batch})
    open_chunks: dict[tuple[int, int, int], tuple[list[int], list[float]]] = {}
    copied, newest = 0, None

    def write(keys) -> None:
        rows = []
        for k in keys:
            series_id, _, state = k
            times, values = open_chunks.pop(k)
            rows.extend(dict(zip(("series_id", "t0", "t1", "n", "state", "points"), row, strict=True))
                        for row in chunk_rows(series_id, times, values, state, compact=True))
        for start in range(0, len(rows), batch):
            bind.execute(chunks_t.insert(), rows[start:start + batch])

    while True:
        fetched = result.fetchmany(batch)
        if not fetched:
            break
        reasons = []
        for row_id, site, kiosk, sensor, zone, quantity, ts, value, reason in fetched:
            us = _instant(ts)
            window = us // SPAN_US
            series_id = ids[(site, kiosk, sensor, zone, quantity)]
            state = ROLLED if sqlite and row_id <= mark else 0
            chunk = open_chunks.setdefault((series_id, window, state), ([], []))
            chunk[0].append(us)
            chunk[1].append(float("nan") if value is None else float(value))
            if reason:
                reasons.append({"series_id": series_id, "ts": us, "reason": reason})
            newest = window if newest is None else max(newest, window)
        copied += len(fetched)
        if reasons:
            bind.execute(invalid_t.insert(), reasons)
        # windows behind the stream are complete (a late row later makes one more chunk of its window)
        write([k for k, (times, _) in open_chunks.items() if k[1] < newest or len(times) >= MAX_CHUNK_POINTS])
    result.close()
    write(list(open_chunks))
    return copied


def upgrade() -> None:
    bind = op.get_bind()
    metadata = tables()
    metadata.create_all(bind)
    if "telemetry" in sa.inspect(bind).get_table_names():
        convert(bind, metadata)
        op.execute("DROP INDEX IF EXISTS telemetry_by_zone")
        op.drop_table("telemetry")
    # the old retention task's bookkeeping of the old table's row ids means nothing any more
    op.execute("DROP TABLE IF EXISTS telemetry_rolled_ranges")
    op.execute("DROP TABLE IF EXISTS retention_state")


def downgrade() -> None:
    raise RuntimeError("0003 is not downgraded: restore a backup instead")
