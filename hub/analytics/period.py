"""The period an analysis covers: whole local days, from ``date_from`` to ``date_to`` inclusive.

Without explicit dates the period is the ``lookback_days`` up to the day of the newest exam or
telemetry reading (not the wall clock), so a replayed backlog or a simulated month in the past
is analysed where its data is. Timestamps carry their UTC offsets; days are calendar days in
the analytics time zone (settings ``timezone``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from hub.db import telemetry_points

#: The analyses reach beyond the dates they are given (the longest lookback, 3660 days; Rt's episode
#: history; night shifts): dates this close to the calendar's ends cannot be analysed (a bound of
#: Python's date type, not a policy).
DATE_MARGIN = timedelta(days=3660 + 366)


class PeriodError(ValueError):
    """A period that cannot be analysed (e.g. ``date_from`` after ``date_to``)."""


def parse_ts(text: str) -> datetime:
    """ISO 8601 with offset → aware datetime (a naive one is taken as UTC)."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Period:
    date_from: date
    date_to: date
    tz: ZoneInfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.date_from, time(0), self.tz)

    @property
    def end(self) -> datetime:
        """Exclusive end: local midnight after ``date_to``."""
        return datetime.combine(self.date_to + timedelta(days=1), time(0), self.tz)

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def days(self) -> list[date]:
        return [self.date_from + timedelta(days=i) for i in range((self.date_to - self.date_from).days + 1)]

    def sql_bounds(self) -> tuple[str, str]:
        """Loose UTC ISO bounds for an indexed string pre-filter (offsets may differ by up to a day)."""
        lo = (self.start - timedelta(days=1)).astimezone(timezone.utc).isoformat()
        hi = (self.end + timedelta(days=1)).astimezone(timezone.utc).isoformat()
        return lo, hi

    def as_dict(self) -> dict:
        return {"date_from": self.date_from.isoformat(), "date_to": self.date_to.isoformat(), "timezone": str(self.tz)}


def newest_data_day(store, tz: ZoneInfo) -> date | None:
    """Local day of the newest exam or telemetry reading in the store (None when it is empty)."""
    parsed = [parse_ts(s) for s in (store.scalar("SELECT max(started_at) FROM exams"),) if s]
    newest = telemetry_points.newest_us(store)
    if newest is not None:
        parsed.append(telemetry_points.from_us(newest))
    return max(parsed).astimezone(tz).date() if parsed else None


def resolve_period(store, tz: ZoneInfo, lookback_days: int, date_from: date | None = None,
                   date_to: date | None = None) -> Period:
    """Explicit dates win; otherwise ``lookback_days`` ending at the newest data day (or today)."""
    for name, value in (("date_from", date_from), ("date_to", date_to)):
        if value is not None and not date.min + DATE_MARGIN <= value <= date.max - DATE_MARGIN:
            raise PeriodError(f"{name} {value} is out of range ({(date.min + DATE_MARGIN).isoformat()} to "
                              f"{(date.max - DATE_MARGIN).isoformat()})")
    if date_to is None:
        if date_from is not None:
            date_to = date_from + timedelta(days=lookback_days - 1)
        else:
            date_to = newest_data_day(store, tz) or datetime.now(tz).date()
    if date_from is None:
        date_from = date_to - timedelta(days=lookback_days - 1)
    if date_from > date_to:
        raise PeriodError(f"date_from {date_from} is after date_to {date_to}")
    if (date_to - date_from).days > 3660:
        raise PeriodError("a period may span at most 3660 days")
    return Period(date_from, date_to, tz)
