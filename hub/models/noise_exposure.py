"""Noise exposure: equivalent levels, daily exposure level L_EX,8h, class of working conditions.

Sources (shared/domain/reference.md §4):

* energy average of readings ``LAeq = 10·lg((1/T)·Σ t_n·10^(0.1·L_n))`` (equal durations give
  the plain mean of ``10^(0.1·L_n)``) and the task-based daily exposure level
  ``L_EX,8h = 10·lg(Σ_m (T_m/T0)·10^(0.1·L_Aeq,T,m))`` with ``T0 = 8 h`` — ISO 9612
  (equal-energy, 3 dB exchange rate), C [NOISE-CODE];
* noise dose ``D(%) = 100·Σ (T_i/8 h)·10^((L_i − Lc)/10)`` — C [NOISE-CODE];
* class of working conditions by the equivalent level — current СОУТ methodology Table 1
  [SOUT-2024] (C), table in ``configs/models/noise.toml``;
* the 80 dBA workplace limit (upper edge of class 2, C); L_Amax 110 dBA and peak 137 dBC
  (grade M: NOT confirmed in any text we could read — the current СОУТ methodology table
  we have gives only the equivalent-level bands; configuration, used only to flag readings
  and segments, never for the class; docs/models/noise-exposure.md);
* seed 000 §2.1.2/2.1.5 (automated monitoring of the working environment, leading
  indicators) asks for the zone monitoring and alarms.

Three inputs, any combination:

* ``segments`` — one worker's shift as (level, hours) segments → ``lex_8h_db`` and ``class``;
* ``zones`` — noise telemetry per zone (timestamped readings) → equivalent level per
  interval, zone level, peaks, alarms when the zone exceeds its limit; the zone's class
  comes from the L_EX,8h of its working shifts (``shifts`` pattern; without one, the
  loudest 8-hour window), never from the 24-hour average (issue 13, error 5);
* ``workers`` — roster: each worker's shift as segments that give a level or name a zone
  (the zone's equivalent level from the telemetry is used) → L_EX,8h and class per worker.

All functions here are pure: lists in, dicts out.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from hub.models._config import load_table, thaw_table
from hub.models.registry import ModelInputError, register

CONFIG_TABLE = "noise"


def _config() -> dict[str, Any]:
    return thaw_table(load_table(CONFIG_TABLE))


# --------------------------------------------------------------------------- formulas


def energy_average_db(levels_db: Sequence[float] | np.ndarray, durations: Sequence[float] | np.ndarray | None = None) -> float:
    """Energy (equal-energy) average of levels, optionally weighted by durations (ISO 9612).

    ``LAeq = 10·lg(Σ t_n·10^(0.1·L_n) / Σ t_n)``; without durations all readings weigh the same.
    """
    levels = np.asarray(levels_db, dtype=float)
    if levels.size == 0:
        raise ValueError("no levels to average")
    if durations is None:
        weights = np.ones_like(levels)
    else:
        weights = np.asarray(durations, dtype=float)
    # Factor out the maximum so 10^(0.1·L) never overflows.
    top = float(levels.max())
    energy = np.sum(weights * 10.0 ** (0.1 * (levels - top))) / np.sum(weights)
    return top + 10.0 * math.log10(energy)


def lex_8h_db(levels_db: Sequence[float], hours: Sequence[float], reference_hours: float = 8.0) -> float:
    """Daily noise exposure level ``L_EX,8h = 10·lg(Σ (T_m/T0)·10^(0.1·L_m))`` (ISO 9612).

    Segments of zero duration contribute nothing; a shift with no exposure time at all is
    rejected by the caller (the level would be −∞).
    """
    levels = np.asarray(levels_db, dtype=float)
    times = np.asarray(hours, dtype=float)
    top = float(levels.max())
    energy = np.sum(times / reference_hours * 10.0 ** (0.1 * (levels - top)))
    return top + 10.0 * math.log10(energy)


def noise_dose_percent(levels_db: Sequence[float], hours: Sequence[float], criterion_db: float, reference_hours: float = 8.0) -> float:
    """Noise dose ``D(%) = 100·Σ (T_i/8 h)·10^((L_i − Lc)/10)`` (3 dB exchange rate)."""
    levels = np.asarray(levels_db, dtype=float)
    times = np.asarray(hours, dtype=float)
    return float(100.0 * np.sum(times / reference_hours * 10.0 ** ((levels - criterion_db) / 10.0)))


def noise_class(level_db: float, bands: Sequence[Mapping[str, Any]], rounding_db: float = 0.1) -> str:
    """Class of working conditions for an equivalent level (СОУТ Table 1 [SOUT-2024]).

    Bands are left-open, right-closed (85.0 → 3.1, 85.1 → 3.2). The level is first rounded to
    ``rounding_db`` (0 = no rounding), as configured.
    """
    value = float(level_db)
    if rounding_db and rounding_db > 0:
        value = round(round(value / rounding_db) * rounding_db, 10)
    for band in bands:
        upper = band.get("upper_db")
        if upper is None or value <= float(upper) + 1e-12:
            return str(band["class"])
    raise ValueError("noise class table has no open-ended last band")


# --------------------------------------------------------------------------- input schema


class Segment(BaseModel):
    """One part of a shift: an equivalent level (or task samples, or a zone) and its duration."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    hours: float = Field(ge=0, le=24, description="duration of the segment, hours")
    laeq_db: float | None = Field(default=None, ge=0, le=200, description="equivalent level of the segment, dBA")
    samples_db: list[float] | None = Field(
        default=None, min_length=1, description="task samples (ISO 9612 task strategy); energy-averaged into laeq_db"
    )
    zone: str | None = Field(default=None, description="zone whose measured equivalent level applies (live data)")
    lamax_db: float | None = Field(default=None, ge=0, le=200, description="maximum A-weighted level, S, dBA")
    peak_dbc: float | None = Field(default=None, ge=0, le=200, description="C-weighted peak level, dBC")

    @model_validator(mode="after")
    def _one_level_source(self) -> "Segment":
        given = [self.laeq_db is not None, self.samples_db is not None, self.zone is not None]
        if sum(given) != 1:
            raise ValueError("give exactly one of laeq_db, samples_db or zone")
        return self


class ZoneReading(BaseModel):
    """One noise telemetry reading of a zone sensor."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid", populate_by_name=True)

    time: datetime
    laeq_db: float = Field(
        validation_alias=AliasChoices("laeq_db", "noise_dba"), ge=0, le=200,
        description="equivalent level over the reading's duration, dBA (shared vocabulary: noise_dba)",
    )
    duration_s: float | None = Field(default=None, ge=0.001, le=86400,
                                     description="seconds the reading covers (1 ms to a day)")
    lamax_db: float | None = Field(default=None, ge=0, le=200)
    peak_dbc: float | None = Field(default=None, ge=0, le=200)


class ShiftWindow(BaseModel):
    """One shift of the zone's shift pattern: local start time of day and length (may cross midnight)."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM, in the readings' clock")
    hours: float = Field(gt=0, le=24)
    name: str | None = None


class Zone(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    zone: str = Field(min_length=1)
    readings: list[ZoneReading] = Field(min_length=1)
    limit_db: float | None = Field(default=None, gt=0, le=200, description="zone limit; default the 80 dBA workplace limit")
    shifts: list[ShiftWindow] | None = Field(
        default=None, min_length=1,
        description="the zone's shift pattern; the class comes from L_EX,8h of each shift (issue 13, error 5)")


class Worker(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    worker: str = Field(min_length=1)
    shift: str | None = None
    segments: list[Segment] = Field(min_length=1)


class NoiseExposureInput(BaseModel):
    """Input of ``noise-exposure``. At least one of ``segments``, ``zones``, ``workers``."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    segments: list[Segment] | None = Field(default=None, min_length=1)
    zones: list[Zone] | None = Field(default=None, min_length=1)
    workers: list[Worker] | None = Field(default=None, min_length=1)
    interval_minutes: float | None = Field(default=None, ge=1 / 60, le=1440, description="one second to one day")
    rounding_db: float | None = Field(default=None, ge=0, le=1, description="class rounding step; 0 = none")

    @model_validator(mode="after")
    def _something(self) -> "NoiseExposureInput":
        if not (self.segments or self.zones or self.workers):
            raise ValueError("give segments, zones or workers")
        return self


# --------------------------------------------------------------------------- zone telemetry


def zone_summary(
    zone: str,
    times: Sequence[datetime],
    levels_db: Sequence[float],
    durations_s: Sequence[float],
    *,
    limit_db: float,
    interval_minutes: float,
    bands: Sequence[Mapping[str, Any]],
    rounding_db: float,
    lamax_db: Sequence[float | None] | None = None,
    peak_dbc: Sequence[float | None] | None = None,
    lamax_limit_db: float | None = None,
    peak_limit_dbc: float | None = None,
) -> dict[str, Any]:
    """Equivalent level per interval, the zone's overall level and class, peaks and alarms.

    Intervals are aligned to midnight of the first reading's day (so hourly intervals start on
    the hour). A reading is attributed whole to the interval its start time falls in. An alarm
    of kind ``"laeq"`` is raised for every interval whose equivalent level exceeds the zone
    limit; ``"lamax"``/``"peak"`` alarms for readings above the maximum/peak limits (grade M).
    """
    order = sorted(range(len(times)), key=lambda i: times[i])
    t_sorted = [times[i] for i in order]
    levels = np.asarray([levels_db[i] for i in order], dtype=float)
    durations = np.asarray([durations_s[i] for i in order], dtype=float)
    step = timedelta(minutes=interval_minutes)
    first = t_sorted[0]
    origin = first.replace(hour=0, minute=0, second=0, microsecond=0)
    index = np.asarray([int((t - origin) // step) for t in t_sorted])
    intervals = []
    alarms = []
    for key in np.unique(index):
        mask = index == key
        start = origin + step * int(key)
        level = energy_average_db(levels[mask], durations[mask])
        entry = {
            "start": start.isoformat(),
            "end": (start + step).isoformat(),
            "laeq_db": level,
            "max_reading_db": float(levels[mask].max()),
            "readings": int(mask.sum()),
            "covered_seconds": float(durations[mask].sum()),
            "exceeds_limit": bool(level > limit_db),
        }
        intervals.append(entry)
        if level > limit_db:
            alarms.append({
                "zone": zone, "kind": "laeq", "start": entry["start"], "end": entry["end"],
                "level_db": level, "limit_db": limit_db,
            })
    overall = energy_average_db(levels, durations)
    peaks: dict[str, Any] = {}
    for name, values, limit, kind in (
        ("lamax_db", lamax_db, lamax_limit_db, "lamax"),
        ("peak_dbc", peak_dbc, peak_limit_dbc, "peak"),
    ):
        if values is None:
            continue
        ordered = [values[i] for i in order]
        present = [v for v in ordered if v is not None]
        if not present:
            continue
        peaks[name] = float(max(present))
        if limit is not None:
            for t, v in zip(t_sorted, ordered, strict=True):  # both follow `order`
                if v is not None and v > limit:
                    alarms.append({"zone": zone, "kind": kind, "start": t.isoformat(), "end": None,
                                   "level_db": float(v), "limit_db": float(limit)})
    return {
        "zone": zone,
        "laeq_db": overall,
        "class_24h_average": noise_class(overall, bands, rounding_db),
        "limit_db": limit_db,
        "exceeds_limit": bool(overall > limit_db),
        "max_reading_db": float(levels.max()),
        "from": t_sorted[0].isoformat(),
        "to": (t_sorted[-1] + timedelta(seconds=float(durations[-1]))).isoformat(),
        "intervals": intervals,
        **peaks,
        "alarms": alarms,
    }


# --------------------------------------------------------------------------- zone class by shift


def _class_rank(klass: str, bands: Sequence[Mapping[str, Any]]) -> int:
    return [str(b["class"]) for b in bands].index(klass)


def shift_windows(
    times: Sequence[datetime], pattern: Sequence[tuple[str, float, str | None]] | None, fallback_hours: float
) -> list[tuple[datetime, datetime, str | None]]:
    """The shift windows the readings fall in.

    With a pattern (``(HH:MM, hours, name)``): every window of every day from the day before
    the first reading (a night shift that started then) to the last reading's day. Without
    one: the loudest-window search candidates, a window of ``fallback_hours`` starting at
    each reading (the caller keeps the loudest; the safer reading when the pattern is unknown).
    """
    if pattern is None:
        return [(t, t + timedelta(hours=fallback_hours), None) for t in sorted(set(times))]
    first, last = min(times), max(times)
    day = first.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    out = []
    while day <= last:
        for start, hours, name in pattern:
            hh, mm = (int(x) for x in start.split(":"))
            begin = day + timedelta(hours=hh, minutes=mm)
            out.append((begin, begin + timedelta(hours=hours), name))
        day += timedelta(days=1)
    return out


def zone_shift_class(
    times: Sequence[datetime],
    levels_db: Sequence[float],
    durations_s: Sequence[float],
    *,
    pattern: Sequence[tuple[str, float, str | None]] | None,
    bands: Sequence[Mapping[str, Any]],
    rounding_db: float,
    reference_hours: float,
    fallback_hours: float,
) -> dict[str, Any]:
    """Class of a zone from the L_EX,8h of its working shifts (issue 13, error 5; ISO 9612).

    For each shift window the readings inside it give ``L_Aeq,shift`` (energy average,
    duration-weighted, taken as representative of the whole shift) and
    ``L_EX,8h = L_Aeq,shift + 10·lg(T_shift / 8 h)``; the zone's class is the worst
    shift's class. Without a shift pattern the loudest ``fallback_hours`` window is used
    (the worker could be in the zone then). A 24-hour average dilutes a shift's noise with
    the quiet hours: 8 h at 86 dBA + 16 h at 50 dBA averages to 81.2 dBA (3.1) while the
    shift worker's L_EX,8h is 86 dBA (3.2).
    """
    order = sorted(range(len(times)), key=lambda i: times[i])
    t_sorted = [times[i] for i in order]
    levels = np.asarray([levels_db[i] for i in order], dtype=float)
    durations = np.asarray([durations_s[i] for i in order], dtype=float)
    # Prefix sums of duration-weighted energy (relative to the loudest reading, no overflow) and of
    # durations: each window's L_Aeq is two binary searches away, O((N + W) log N) for long telemetry.
    top = float(levels.max())
    energy = np.concatenate([[0.0], np.cumsum(durations * 10.0 ** (0.1 * (levels - top)))])
    covered = np.concatenate([[0.0], np.cumsum(durations)])
    windows = shift_windows(t_sorted, pattern, fallback_hours)
    if pattern is None:  # keep only the loudest window (vectorised: one candidate per reading)
        secs = np.asarray([(t - t_sorted[0]).total_seconds() for t in t_sorted])
        starts = np.asarray([(b - t_sorted[0]).total_seconds() for b, _, _ in windows])
        lo_i = np.searchsorted(secs, starts, side="left")
        hi_i = np.searchsorted(secs, starts + 3600.0 * fallback_hours, side="left")
        mean_energy = (energy[hi_i] - energy[lo_i]) / (covered[hi_i] - covered[lo_i])
        windows = [windows[int(np.argmax(mean_energy))]]
    rows: list[dict[str, Any]] = []
    for begin, end, name in windows:
        lo, hi = bisect_left(t_sorted, begin), bisect_left(t_sorted, end)
        if hi <= lo:
            continue
        shift_hours = (end - begin).total_seconds() / 3600.0
        seconds = covered[hi] - covered[lo]
        laeq = top + 10.0 * math.log10((energy[hi] - energy[lo]) / seconds)
        lex = laeq + 10.0 * math.log10(shift_hours / reference_hours)
        rows.append({
            "shift": name, "start": begin.isoformat(), "end": end.isoformat(), "hours": shift_hours,
            "laeq_shift_db": laeq, "lex_8h_db": lex, "class": noise_class(lex, bands, rounding_db),
            "covered_hours": float(seconds) / 3600.0,
        })
    if not rows:
        raise ValueError("no reading falls inside a shift of the zone's shift pattern")
    worst = max(rows, key=lambda r: (_class_rank(r["class"], bands), r["lex_8h_db"]))
    if pattern is None:
        rows = [worst]
    return {
        "class": worst["class"],
        "lex_8h_db": worst["lex_8h_db"],
        "laeq_shift_db": worst["laeq_shift_db"],
        "class_basis": ("L_EX,8h of the loudest shift of the zone's shift pattern" if pattern is not None else
                        f"L_EX,8h of the loudest {fallback_hours:g}-hour window (no shift pattern given)"),
        "shifts": rows,
    }


# --------------------------------------------------------------------------- shift exposure


def shift_exposure(
    levels_db: Sequence[float],
    hours: Sequence[float],
    *,
    bands: Sequence[Mapping[str, Any]],
    rounding_db: float,
    reference_hours: float,
    criteria_db: Sequence[float],
    limit_db: float,
) -> dict[str, Any]:
    """L_EX,8h, class and doses of one shift made of (level, hours) segments (ISO 9612)."""
    total = float(np.sum(hours))
    if total <= 0:
        raise ValueError("the shift has no exposure time")
    lex = lex_8h_db(levels_db, hours, reference_hours)
    klass = noise_class(lex, bands, rounding_db)
    return {
        "lex_8h_db": lex,
        "class": klass,
        "limit_db": limit_db,
        # Above the limit = outside the permissible class (the limit is class 2's upper edge).
        "exceeds_limit": klass != str(bands[0]["class"]),
        "total_hours": total,
        "laeq_shift_db": energy_average_db(levels_db, hours),
        "dose_percent": {f"{c:g}": noise_dose_percent(levels_db, hours, c, reference_hours) for c in criteria_db},
    }


def _segment_levels(
    segments: Sequence[Segment], zone_levels: Mapping[str, float], path: str
) -> tuple[list[float], list[float], list[float], list[float]]:
    levels, hours, lamax, peak = [], [], [], []
    for i, seg in enumerate(segments):
        if seg.laeq_db is not None:
            level = seg.laeq_db
        elif seg.samples_db is not None:
            level = energy_average_db(seg.samples_db)
        else:
            if seg.zone is None or seg.zone not in zone_levels:
                raise ModelInputError(f"{path}.{i}.zone", f"zone {seg.zone!r} has no telemetry in 'zones'")
            level = zone_levels[seg.zone]
        levels.append(level)
        hours.append(seg.hours)
        if seg.lamax_db is not None:
            lamax.append(seg.lamax_db)
        if seg.peak_dbc is not None:
            peak.append(seg.peak_dbc)
    if sum(hours) <= 0:
        raise ModelInputError(f"{path}", "the segments add up to zero hours")
    if sum(hours) > 24:  # issue 13, error 6: one shift (one day's exposure) cannot exceed 24 h
        raise ModelInputError(f"{path}", f"the segments add up to {sum(hours):g} hours; one shift has at most 24")
    return levels, hours, lamax, peak


def _peaks(lamax: list[float], peak: list[float], cfg: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if lamax:
        out["lamax_db"] = max(lamax)
        out["lamax_exceeds_limit"] = max(lamax) > cfg["peaks"]["lamax_limit_db"]
    if peak:
        out["peak_dbc"] = max(peak)
        out["peak_exceeds_limit"] = max(peak) > cfg["peaks"]["peak_limit_dbc"]
    return out


@register("noise-exposure", NoiseExposureInput)
def noise_exposure(data: NoiseExposureInput) -> dict[str, Any]:
    """Noise: LAeq per interval and zone, L_EX,8h per worker/shift, class (СОУТ), alarms (ISO 9612)."""
    cfg = _config()
    bands = cfg["classes"]["bands"]
    rounding = cfg["classes"]["rounding_db"] if data.rounding_db is None else data.rounding_db
    t0 = float(cfg["exposure"]["reference_hours"])
    limit = float(cfg["exposure"]["limit_db"])
    criteria = cfg["exposure"]["dose_criterion_levels_db"]
    interval = data.interval_minutes or float(cfg["zones"]["interval_minutes"])
    default_s = float(cfg["zones"]["default_reading_seconds"])
    common = dict(bands=bands, rounding_db=rounding, reference_hours=t0, criteria_db=criteria, limit_db=limit)

    result: dict[str, Any] = {
        "method": "ISO 9612 equal-energy (3 dB exchange), T0 = 8 h; class by СОУТ Table 1",
        "class_source": cfg["classes"]["source"],
    }
    zone_levels: dict[str, float] = {}
    if data.zones:
        seen: set[str] = set()
        zones_out = []
        alarms = []
        for zi, zone in enumerate(data.zones):
            if zone.zone in seen:
                raise ModelInputError(f"zones.{zi}.zone", f"zone {zone.zone!r} given twice")
            seen.add(zone.zone)
            kinds = {r.time.tzinfo is None for r in zone.readings}
            if len(kinds) > 1:
                raise ModelInputError(f"zones.{zi}.readings", "mix of timestamps with and without a UTC offset")
            summary = zone_summary(
                zone.zone,
                [r.time for r in zone.readings],
                [r.laeq_db for r in zone.readings],
                [r.duration_s or default_s for r in zone.readings],
                limit_db=zone.limit_db or limit,
                interval_minutes=interval,
                bands=bands,
                rounding_db=rounding,
                lamax_db=[r.lamax_db for r in zone.readings],
                peak_dbc=[r.peak_dbc for r in zone.readings],
                lamax_limit_db=cfg["peaks"]["lamax_limit_db"],
                peak_limit_dbc=cfg["peaks"]["peak_limit_dbc"],
            )
            try:
                summary.update(zone_shift_class(
                    [r.time for r in zone.readings], [r.laeq_db for r in zone.readings],
                    [r.duration_s or default_s for r in zone.readings],
                    pattern=[(w.start, w.hours, w.name) for w in zone.shifts] if zone.shifts else None,
                    bands=bands, rounding_db=rounding, reference_hours=t0,
                    fallback_hours=float(cfg["zones"]["shift_hours_without_pattern"]),
                ))
            except ValueError as error:
                raise ModelInputError(f"zones.{zi}.shifts", str(error)) from None
            # A worker's segment in this zone takes the level of its loudest shift (not the 24-h average).
            zone_levels[zone.zone] = summary["laeq_shift_db"]
            alarms.extend(summary["alarms"])
            zones_out.append(summary)
        result["zones"] = zones_out
        result["alarms"] = alarms

    if data.segments:
        levels, hours, lamax, peak = _segment_levels(data.segments, zone_levels, "segments")
        result.update(shift_exposure(levels, hours, **common))
        result["segments"] = [{"laeq_db": lv, "hours": h} for lv, h in zip(levels, hours, strict=True)]
        result.update(_peaks(lamax, peak, cfg))

    if data.workers:
        workers_out = []
        for wi, worker in enumerate(data.workers):
            levels, hours, lamax, peak = _segment_levels(worker.segments, zone_levels, f"workers.{wi}.segments")
            entry = {"worker": worker.worker, "shift": worker.shift}
            entry.update(shift_exposure(levels, hours, **common))
            entry.update(_peaks(lamax, peak, cfg))
            workers_out.append(entry)
        result["workers"] = workers_out
    return result
