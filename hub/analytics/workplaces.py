"""The workplace roster: zones, shifts, workplaces (zones × hours per shift) and who works where.

Noise exposure per worker (ISO 9612 task-based L_EX,8h, reference.md §4.1) needs to know in
which zones a worker spends how many hours of the shift; the source documents leave that to
the employer's workplace description (карта СОУТ). The hub keeps one roster document per site
in the ``workplaces`` table; it is written from a TOML file (``configs/workplaces.example.toml``)
by :func:`load_workplaces_file` — at hub start for the files the analytics settings name, or
by an administrator at any time. Zone limits and the smoke-free flag live here too.
"""

from __future__ import annotations

import json
from datetime import datetime, time, timezone
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from firmware_bridges.configfile import load_toml_model
from firmware_bridges.contract import Identifier
from hub.analytics.schema import ensure_schema


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Shift(_Strict):
    shift: str = Field(min_length=1, max_length=32)
    start: time = Field(description="local clock time the shift starts, e.g. 08:00")
    hours: float = Field(gt=0, le=24)


class ZoneInfo(_Strict):
    zone: str = Field(min_length=1, max_length=64, description="the zone name the sensors report")
    name_ru: str | None = None
    name_en: str | None = None
    noise_limit_db: float = Field(default=80.0, gt=0, le=200,
                                  description="equivalent-level limit of the zone (80 dBA workplace limit, C)")
    smoke_free: bool = Field(default=True, description="15-ФЗ bans smoking indoors at workplaces (M)")


class Segment(_Strict):
    zone: str = Field(min_length=1)
    hours: float = Field(gt=0, le=24)


class Workplace(_Strict):
    workplace: str = Field(min_length=1, max_length=64)
    name_ru: str | None = None
    name_en: str | None = None
    segments: list[Segment] = Field(min_length=1)


class Assignment(_Strict):
    workplace: str
    shift: str
    workers: list[str] = Field(min_length=1)


class Roster(_Strict):
    """One site's roster document (the TOML file, validated)."""

    site: Identifier
    shifts: list[Shift] = Field(default_factory=list)
    zones: list[ZoneInfo] = Field(default_factory=list)
    workplaces: list[Workplace] = Field(default_factory=list)
    assignments: list[Assignment] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> "Roster":
        for name, items, key in (("shifts", self.shifts, "shift"), ("zones", self.zones, "zone"),
                                 ("workplaces", self.workplaces, "workplace")):
            seen = [getattr(i, key) for i in items]
            dupes = sorted({s for s in seen if seen.count(s) > 1})
            if dupes:
                raise ValueError(f"{name}: {', '.join(dupes)} given twice")
        zones = {z.zone for z in self.zones}
        for w in self.workplaces:
            for s in w.segments:
                if s.zone not in zones:
                    raise ValueError(f"workplace {w.workplace!r}: zone {s.zone!r} is not in [[zones]]")
        shifts = {s.shift: s for s in self.shifts}
        places = {w.workplace: w for w in self.workplaces}
        assigned: dict[str, str] = {}
        for a in self.assignments:
            if a.workplace not in places:
                raise ValueError(f"assignment: workplace {a.workplace!r} is not in [[workplaces]]")
            if a.shift not in shifts:
                raise ValueError(f"assignment: shift {a.shift!r} is not in [[shifts]]")
            hours = sum(s.hours for s in places[a.workplace].segments)
            if hours > shifts[a.shift].hours + 1e-9:
                raise ValueError(f"workplace {a.workplace!r} has {hours:g} h of segments, more than shift "
                                 f"{a.shift!r} ({shifts[a.shift].hours:g} h)")
            for worker in a.workers:
                if worker in assigned:
                    raise ValueError(f"worker {worker!r} is assigned twice ({assigned[worker]} and {a.workplace})")
                assigned[worker] = a.workplace
        return self

    # ------------------------------------------------------------------ lookups

    def zone(self, name: str) -> ZoneInfo | None:
        return next((z for z in self.zones if z.zone == name), None)

    def shift(self, name: str) -> Shift | None:
        return next((s for s in self.shifts if s.shift == name), None)

    def workplace(self, name: str) -> Workplace | None:
        return next((w for w in self.workplaces if w.workplace == name), None)

    def worker_assignments(self) -> dict[str, tuple[Workplace, Shift]]:
        out = {}
        for a in self.assignments:
            for worker in a.workers:
                out[worker] = (self.workplace(a.workplace), self.shift(a.shift))
        return out


def shift_of(clock: time, shifts: list[Shift]) -> str | None:
    """The shift whose start is nearest on the 24-hour clock to a (pre-shift) exam's local time.

    Pre-shift exams happen shortly before the start, so the nearest start names the shift (D).
    """
    if not shifts:
        return None
    minute = clock.hour * 60 + clock.minute

    def distance(s: Shift) -> int:
        d = abs(minute - (s.start.hour * 60 + s.start.minute))
        return min(d, 1440 - d)

    return min(shifts, key=distance).shift


# --------------------------------------------------------------------------- storage


def save_roster(store, roster: Roster, source: str) -> None:
    """Replace the site's roster in the ``workplaces`` table (one row per site)."""
    ensure_schema(store)
    with store.lock:
        store.conn.execute(
            "INSERT INTO workplaces (site, loaded_at, source, document) VALUES (?,?,?,?) "
            "ON CONFLICT(site) DO UPDATE SET loaded_at = excluded.loaded_at, source = excluded.source, "
            "document = excluded.document",
            (roster.site, datetime.now(timezone.utc).isoformat(), source, roster.model_dump_json()),
        )


def load_workplaces_file(store, path: str | Path) -> Roster:
    """Validate a roster TOML file and store it (ConfigError naming file and key on a bad file)."""
    roster = load_toml_model(path, Roster)
    save_roster(store, roster, str(path))
    return roster


def rosters(store) -> dict[str, Roster]:
    """Every site's roster, from the table."""
    ensure_schema(store)
    rows = store.query("SELECT site, document FROM workplaces ORDER BY site")
    return {r["site"]: Roster.model_validate(json.loads(r["document"])) for r in rows}
