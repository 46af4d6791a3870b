"""Reading the telemetry roll-ups (``telemetry_minute`` / ``telemetry_hour``, migration 0005; kept by
:mod:`hub.retention`): per-period aggregates of one quantity in one zone.

A zone's series are found in the dictionary (``telemetry_series``, index ``telemetry_series_by_quantity``)
and each one's period range read from the (series_id, period) key; the series' rows of a period are
merged as the retention task merges batches — counts and sums add, min/max compare — and the mean and
LAeq derived from the merged sums: the arithmetic mean = sum / n, and for decibel quantities (rows with
an ``energy_sum``) instead LAeq = 10·lg(Σ10^(L/10) / n), the equal-energy average of ISO 9612:2009 /
ГОСТ Р ИСО 9612-2013 (reference.md §4.1) over every value of the zone in the period.

Aggregates of environmental telemetry, not an individual's medical values: any role may read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from hub.db.telemetry_points import to_us
from hub.retention import PERIOD_S, ROLLUP_TABLES, laeq

#: the most periods one read may span (a week of minutes, 420 days of hours): a bounded answer
MAX_PERIODS = 10_080


@dataclass(frozen=True)
class PeriodAggregate:
    """One period's aggregate over the values of the series read (UTC ``start``)."""

    start: datetime
    series: int
    n: int
    invalid: int
    min: float | None
    max: float | None
    mean: float | None
    laeq: float | None


def derived(n: int, total: float | None, energy_sum: float | None) -> tuple[float | None, float | None]:
    """(mean, laeq) of merged aggregates: LAeq instead of a mean when the values are decibels."""
    if not n:
        return None, None
    if energy_sum is not None:
        return None, laeq(energy_sum, n)
    return (total / n if total is not None else None), None


def period_bounds(resolution: str, since: datetime, until: datetime) -> tuple[int, int]:
    """[first, end) period numbers of the periods starting in [since, until); ValueError when the range
    is empty, reversed, naive or longer than :data:`MAX_PERIODS`."""
    if resolution not in PERIOD_S:
        raise ValueError(f"resolution must be one of {', '.join(PERIOD_S)}, not {resolution!r}")
    if since.tzinfo is None or until.tzinfo is None:
        raise ValueError("since and until need a UTC offset")
    if until <= since:
        raise ValueError(f"until {until.isoformat()} is not after since {since.isoformat()}")
    span = PERIOD_S[resolution] * 1_000_000
    first = -(-to_us(since) // span)  # the first period starting at or after since
    end = -(-to_us(until) // span)  # the first starting at or after until
    if end - first > MAX_PERIODS:
        raise ValueError(f"at most {MAX_PERIODS} {resolution}s per read, not {end - first}")
    return first, end


def zone_rollups(store, zone: str, quantity: str, resolution: str, since: datetime, until: datetime,
                 site: str | None = None) -> list[PeriodAggregate]:
    """Per-period aggregates of ``quantity`` in ``zone`` (optionally one site) for the periods of
    ``resolution`` starting in [since, until), oldest first; periods without a row are absent."""
    first, end = period_bounds(resolution, since, until)
    table, seconds = ROLLUP_TABLES[resolution], PERIOD_S[resolution]
    where, params = "s.zone = ? AND s.quantity = ?", [zone, quantity]
    if site is not None:
        where += " AND s.site = ?"
        params.append(site)
    rows = store.query_rows(
        f"SELECT r.period, count(*), sum(r.n), sum(r.invalid), sum(r.sum), min(r.min), max(r.max), "
        f"sum(r.energy_sum) FROM telemetry_series s JOIN {table} r ON r.series_id = s.id "
        f"WHERE {where} AND r.period >= ? AND r.period < ? GROUP BY r.period ORDER BY r.period",
        [*params, first, end])
    out = []
    for period, series, n, invalid, total, low, high, energy in rows:
        mean, laeq = derived(int(n), total, energy)
        out.append(PeriodAggregate(datetime.fromtimestamp(int(period) * seconds, timezone.utc), int(series), int(n),
                                   int(invalid), low, high, mean, laeq))
    return out
