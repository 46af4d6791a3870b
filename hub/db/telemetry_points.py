"""Telemetry at rest (revision 0003): a series dictionary and packed chunks of typed points.

Layout (``hub/db/migrations/versions/0003_compact_telemetry.py``)
    ``telemetry_series`` — one row per (site, kiosk, sensor_id, zone, quantity), its integer ``id``;
    ``telemetry_chunks`` — points of one series inside one window of SPAN_US (7 days from the epoch,
    UTC; a chunk the ingest writes never crosses an hour): ``t0``/``t1`` the earliest/latest reading time in
    microseconds since the Unix epoch, ``n`` points,
    ``state`` (bit 1: rolled up by hub.retention; bit 2: compacted) and ``points``, the packed
    readings (:func:`pack`): 8-byte integer microseconds and 8-byte IEEE doubles, NaN where the device
    sent no value (null; the contract refuses non-finite numbers, so NaN means null only);
    ``telemetry_invalid`` — sparse: the device's reason for each value it marked invalid.

Why chunks: one row per point costs a row header on either back end (PostgreSQL ~28 bytes of tuple
header and line pointer before any data, plus its index entry), far past the 40 bytes a point may take
(issue 11). The ingest writes one chunk per series and hour per batch (raw, fast to write); the
retention task merges the chunks of each closed hour into its series' last compacted chunk of the
window (delta-coded times and byte-shuffled values, zlib: a few bytes a point; MAX_CHUNK_POINTS at
most), so a series sending a few values an hour still fills chunks of hundreds of values.

Nothing is lost: every value is kept with its microsecond time, nulls and invalid reasons included;
two readings of one series at one time are both kept (a record is stored once thanks to
``received``: the same message re-delivered never writes its points twice).
"""

from __future__ import annotations

import math
import sys
import zlib
from array import array
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MICROSECOND = timedelta(microseconds=1)
#: a chunk the ingest writes never crosses a UTC hour
HOUR_US = 3_600_000_000
#: no chunk crosses a window of this length (aligned on the epoch): a time-range query reads the chunks
#: with t0 in [lo - SPAN_US, hi) — through the time index, which also holds t1 to skip the ones that
#: ended before lo without reading them
SPAN_US = 7 * 24 * HOUR_US
#: a compacted chunk holds at most this many points (a longer hour is split)
MAX_CHUNK_POINTS = 8192
#: chunk states (bit mask)
ROLLED, COMPACTED = 1, 2

NAN = math.nan
_RAW, _PACKED = 1, 2
_BIG_ENDIAN = sys.byteorder == "big"

SERIES_COLUMNS = ("site", "kiosk", "sensor_id", "zone", "quantity")
INSERT_CHUNK = "INSERT INTO telemetry_chunks (series_id, t0, t1, n, state, points) VALUES (?,?,?,?,?,?)"
INSERT_INVALID = "INSERT INTO telemetry_invalid (series_id, ts, reason) VALUES (?,?,?)"


def to_us(ts: datetime) -> int:
    """Exact microseconds since the epoch of an aware datetime (no float rounding)."""
    return (ts - EPOCH) // MICROSECOND


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def iso_us(us: int) -> str:
    """The UTC ISO 8601 text of a microsecond time (what the old ``ts`` column held, in UTC)."""
    return from_us(us).isoformat()


def _shuffle(data: bytes, width: int = 8) -> bytes:
    """Byte-transpose fixed-width numbers (all first bytes, then all second bytes, …): the slowly
    varying bytes of times and values line up, which zlib compresses well."""
    return b"".join(data[i::width] for i in range(width))


def _unshuffle(data: bytes, count: int, width: int = 8) -> bytes:
    out = bytearray(len(data))
    for i in range(width):
        out[i::width] = data[i * count:(i + 1) * count]
    return bytes(out)


def pack(times: Sequence[int], values: Sequence[float], compact: bool = False) -> bytes:
    """The ``points`` of a chunk: times (µs) and values (NaN = null), in the given order.

    Raw (format 1): one byte, then the little-endian int64 times, then the float64 values — what the
    ingest writes (no work beyond copying). Compact (format 2): times as the first time and then
    differences, both arrays byte-shuffled, then zlib."""
    t = array("q", times)
    v = array("d", values)
    if len(t) != len(v):
        raise ValueError(f"{len(t)} times for {len(v)} values")
    if compact:
        t = array("q", [t[0], *(t[i] - t[i - 1] for i in range(1, len(t)))]) if t else t
    if _BIG_ENDIAN:
        t.byteswap()
        v.byteswap()
    if not compact:
        return bytes((_RAW,)) + t.tobytes() + v.tobytes()
    return bytes((_PACKED,)) + zlib.compress(_shuffle(t.tobytes()) + _shuffle(v.tobytes()), 6)


def unpack(blob: bytes) -> tuple[list[int], list[float | None]]:
    """(times in µs, values with None for null) of a chunk's ``points``."""
    blob = bytes(blob)
    kind, body = blob[0], blob[1:]
    if kind == _PACKED:
        body = zlib.decompress(body)
    elif kind != _RAW:
        raise ValueError(f"unknown telemetry chunk format {kind}")
    count = len(body) // 16
    if kind == _PACKED:
        body = _unshuffle(body[:8 * count], count) + _unshuffle(body[8 * count:], count)
    t = array("q")
    v = array("d")
    t.frombytes(body[:8 * count])
    v.frombytes(body[8 * count:])
    if _BIG_ENDIAN:
        t.byteswap()
        v.byteswap()
    times = t.tolist()
    if kind == _PACKED:
        running = 0
        for i, delta in enumerate(times):
            running += delta
            times[i] = running
    return times, [None if x != x else x for x in v.tolist()]


def chunk_rows(series_id: int, times: list[int], values: list[float], state: int,
               compact: bool) -> Iterable[tuple]:
    """Rows of ``telemetry_chunks`` for points of one series inside one hour (raw) or SPAN_US window
    (compacted: sorted by time, split at MAX_CHUNK_POINTS)."""
    if compact:
        order = sorted(range(len(times)), key=times.__getitem__)
        times = [times[i] for i in order]
        values = [values[i] for i in order]
        for start in range(0, len(times), MAX_CHUNK_POINTS):
            t, v = times[start:start + MAX_CHUNK_POINTS], values[start:start + MAX_CHUNK_POINTS]
            yield (series_id, t[0], t[-1], len(t), state | COMPACTED, pack(t, v, compact=True))
        return
    yield (series_id, min(times), max(times), len(times), state, pack(times, values))


class TelemetryWriter:
    """The store's telemetry write path: points of a batch's records staged per (series, hour) and
    written as one chunk each when the batch commits (:meth:`flush`, inside its transaction).

    Series ids are cached (loaded once, then added as series appear); an id created in a transaction
    enters the cache only after that transaction committed (:meth:`committed`), so a rolled-back batch
    never leaves an id that does not exist."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str, str, str, str], int] | None = None
        self._new: dict[tuple[str, str, str, str, str], int] = {}
        self._chunks: dict[tuple, tuple[list[int], list[float]]] = {}
        self._reasons: list[tuple[tuple, int, str]] = []

    def begin(self) -> None:
        """Start a batch (drops what a failed batch left staged)."""
        self._new = {}
        self._chunks = {}
        self._reasons = []

    def add(self, site: str, kiosk: str, readings) -> int:
        """Stage a telemetry record's readings; returns the values staged."""
        chunks, staged = self._chunks, 0
        for reading in readings:
            us = (reading.ts - EPOCH) // MICROSECOND
            hour = us // HOUR_US
            sensor, zone, invalid = reading.sensor_id, reading.zone, reading.invalid
            for quantity, value in reading.values.items():
                key = (site, kiosk, sensor, zone, quantity, hour)
                chunk = chunks.get(key)
                if chunk is None:
                    chunk = chunks[key] = ([], [])
                chunk[0].append(us)
                chunk[1].append(NAN if value is None else value)
                if invalid and quantity in invalid:
                    self._reasons.append((key[:5], us, invalid[quantity]))
                staged += 1
        return staged

    def flush(self, conn) -> int:
        """Write the staged chunks and invalid reasons on ``conn`` (in the batch's transaction)."""
        if not self._chunks:
            return 0
        rows, written = [], 0
        for key, (times, values) in self._chunks.items():
            series_id = self.series_id(conn, key[:5])
            rows.append((series_id, min(times), max(times), len(times), 0, pack(times, values)))
            written += len(times)
        conn.executemany(INSERT_CHUNK, rows)
        if self._reasons:
            conn.executemany(INSERT_INVALID, [(self.series_id(conn, key), us, reason[:2000])
                                              for key, us, reason in self._reasons])
        self._chunks = {}
        self._reasons = []
        return written

    def series_id(self, conn, key: tuple[str, str, str, str, str]) -> int:
        if self._ids is None:
            self._ids = {tuple(row[1:]): row[0] for row in conn.execute(
                "SELECT id, site, kiosk, sensor_id, zone, quantity FROM telemetry_series").fetchall()}
        found = self._ids.get(key)
        if found is None:
            found = self._new.get(key)
        if found is None:
            conn.execute("INSERT INTO telemetry_series (site, kiosk, sensor_id, zone, quantity) VALUES (?,?,?,?,?) "
                         "ON CONFLICT DO NOTHING", key)
            found = conn.execute("SELECT id FROM telemetry_series WHERE site = ? AND kiosk = ? AND sensor_id = ? "
                                 "AND zone = ? AND quantity = ?", key).fetchone()[0]
            self._new[key] = found
        return found

    def committed(self) -> None:
        """The batch committed: its new series ids are real."""
        if self._ids is not None and self._new:
            self._ids.update(self._new)
        self._new = {}

    def forget(self) -> None:
        """Drop the cache (e.g. after the series table was changed outside this writer)."""
        self._ids = None
        self._new = {}


# ---------------------------------------------------------------------------------------------- reading

def series(store, quantities: Sequence[str] | None = None, site: str | None = None,
           zone: str | None = None) -> dict[int, tuple[str, str, str, str, str]]:
    """id → (site, kiosk, sensor_id, zone, quantity) of the series matching the filters."""
    where, params = [], []
    if quantities is not None:
        where.append(f"quantity IN ({','.join('?' * len(quantities))})")
        params.extend(quantities)
    for column, value in (("site", site), ("zone", zone)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    sql = "SELECT id, site, kiosk, sensor_id, zone, quantity FROM telemetry_series"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return {row[0]: tuple(row[1:]) for row in store.query_rows(sql, params)}


#: a chunk query names its series in an IN list up to this many; past it the series are filtered here
IN_LIST_MAX = 500


def points(store, lo_us: int | None, hi_us: int | None, series_ids: Iterable[int] | None = None
           ) -> Iterable[tuple[int, int, float | None]]:
    """(series_id, time µs, value or None) of every point with ``lo_us <= time < hi_us`` (None: open),
    of the given series (None: all), chunk by chunk in time order of the chunks."""
    where, params = [], []
    if lo_us is not None:
        where += ["t0 >= ?", "t1 >= ?"]
        params += [lo_us - SPAN_US, lo_us]
    if hi_us is not None:
        where.append("t0 < ?")
        params.append(hi_us)
    wanted = None if series_ids is None else set(series_ids)
    if wanted is not None:
        if not wanted:
            return
        if len(wanted) <= IN_LIST_MAX:
            where.append(f"series_id IN ({','.join('?' * len(wanted))})")
            params.extend(sorted(wanted))
    sql = "SELECT series_id, points FROM telemetry_chunks"
    if where:
        sql += " WHERE " + " AND ".join(where)
    for series_id, blob in store.query_rows(sql + " ORDER BY t0", params):
        if wanted is not None and series_id not in wanted:
            continue
        times, values = unpack(blob)
        for us, value in zip(times, values, strict=True):
            if (lo_us is None or us >= lo_us) and (hi_us is None or us < hi_us):
                yield series_id, us, value


def invalid_reasons(store, lo_us: int | None, hi_us: int | None) -> dict[tuple[int, int], str]:
    """(series_id, time µs) → the device's reason, of values marked invalid in the time range."""
    where, params = [], []
    if lo_us is not None:
        where.append("ts >= ?")
        params.append(lo_us)
    if hi_us is not None:
        where.append("ts < ?")
        params.append(hi_us)
    sql = "SELECT series_id, ts, reason FROM telemetry_invalid"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return {(s, t): reason for s, t, reason in store.query_rows(sql, params)}


def rows(store, lo_us: int | None = None, hi_us: int | None = None, quantities: Sequence[str] | None = None,
         site: str | None = None, zone: str | None = None) -> list[dict]:
    """Telemetry values as the old ``telemetry`` table's rows (site, kiosk, sensor_id, zone, ts as UTC ISO
    text, ts_us, quantity, value, invalid_reason), filtered by time, quantities, site and zone."""
    found = series(store, quantities, site, zone)
    if not found:
        return []
    reasons = invalid_reasons(store, lo_us, hi_us)
    out = []
    for series_id, us, value in points(store, lo_us, hi_us, found):
        s_site, s_kiosk, sensor, s_zone, quantity = found[series_id]
        out.append({"site": s_site, "kiosk": s_kiosk, "sensor_id": sensor, "zone": s_zone, "ts": iso_us(us),
                    "ts_us": us, "quantity": quantity, "value": value,
                    "invalid_reason": reasons.get((series_id, us))})
    return out


def count(store) -> int:
    """Telemetry values stored (the chunks' counts: an index-only sum)."""
    return int(store.scalar("SELECT coalesce(sum(n), 0) FROM telemetry_chunks") or 0)


def newest_us(store) -> int | None:
    """The newest reading time stored (µs), through the time index."""
    return store.scalar("SELECT max(t1) FROM telemetry_chunks WHERE t0 >= (SELECT max(t0) FROM telemetry_chunks) - ?",
                        [SPAN_US])
