"""Smoke in smoke-free areas: detector events → alarms with location → violations per location
and period.

Sources:

* seed 000 §2.4.1: fit common areas (toilets, stairs, corridors) with smoke detectors for
  remote control of the smoking ban *with location*, automated reminders and an automated
  calculation of rewards and fines (C); the ban itself: Federal Law 15-ФЗ of 23.02.2013
  (M, reference.md §7);
* the particulate (PM2.5) detector rule of reference.md §7.2 (D, configurable in
  ``configs/models/smoke.toml``): baseline = rolling 30-min median of PM2.5; an exceedance is
  a sample with PM2.5 − baseline ≥ 50 µg/m³ and PM1/PM2.5 ≥ 0.8; an event needs ≥ 2
  consecutive exceedances and is time-stamped at the first; it ends 5 min after PM2.5 first
  returns within 10 µg/m³ of the baseline and stays there. A hard alarm from an optical
  detector is always an event.

Design choices (D): the baseline is the median of the preceding window's samples that are not
inside an event (so a long plume does not raise its own baseline), and it is frozen at the
event start for the end-of-event test; a sample without PM1 cannot be an exceedance (the
fine-fraction test cannot be made); alarms at one location less than ``merge_minutes`` apart
form one violation; a location is smoke-free unless ``locations`` marks it otherwise
(15-ФЗ bans smoking indoors at workplaces).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from hub.models._config import load_table, thaw_table
from hub.models.registry import ModelInputError, register

CONFIG_TABLE = "smoke"


def _config() -> dict[str, Any]:
    return thaw_table(load_table(CONFIG_TABLE))


# --------------------------------------------------------------------------- PM rule


def detect_pm_events(
    times: Sequence[datetime],
    pm2_5: Sequence[float],
    pm1: Sequence[float | None],
    rule: Mapping[str, Any],
    baseline_ugm3: float | None = None,
) -> list[dict[str, Any]]:
    """Smoking events in one location's PM series (reference.md §7.2 rule, D).

    Samples must be in time order. ``baseline_ugm3`` fixes the baseline (otherwise the rolling
    median). Each event: ``start`` (first exceedance), ``confirmed`` (the sample completing the
    run), ``end`` (None while still open), ``peak_ugm3``, ``baseline_ugm3`` and sample indices.
    """
    window = timedelta(minutes=float(rule["baseline_minutes"]))
    hold = timedelta(minutes=float(rule["return_minutes"]))
    need = int(rule["min_consecutive"])
    x = np.asarray(pm2_5, dtype=float)
    in_event = np.zeros(len(x), dtype=bool)
    events: list[dict[str, Any]] = []
    run: list[int] = []
    active: dict[str, Any] | None = None
    lo = 0  # left edge of the baseline window
    for i, t in enumerate(times):
        if active is not None:
            in_event[i] = True
            active["peak_ugm3"] = max(active["peak_ugm3"], float(x[i]))
            if x[i] <= active["baseline_ugm3"] + float(rule["return_band_ugm3"]):
                if active["_return"] is None:
                    active["_return"] = t
                if t - active["_return"] >= hold:
                    active["end"] = (active["_return"] + hold).isoformat()
                    active.pop("_return")
                    events.append(active)
                    active = None
            else:
                active["_return"] = None
            continue
        if baseline_ugm3 is not None:
            base = float(baseline_ugm3)
        else:
            while lo < i and times[lo] < t - window:
                lo += 1
            prior = x[lo:i][~in_event[lo:i]]
            if prior.size == 0:
                run = []
                continue
            base = float(np.median(prior))
        fine = pm1[i]
        ratio_ok = fine is not None and x[i] > 0 and float(fine) / x[i] >= float(rule["fine_ratio"])
        if x[i] - base >= float(rule["exceedance_ugm3"]) and ratio_ok:
            run.append(i)
        else:
            run = []
        if len(run) >= need:
            first = run[0]
            in_event[run] = True
            active = {
                "start": times[first].isoformat(), "confirmed": t.isoformat(), "end": None,
                "first_index": first, "confirmed_index": i,
                "baseline_ugm3": base, "peak_ugm3": float(x[run].max()), "_return": None,
            }
            run = []
    if active is not None:
        active.pop("_return")
        events.append(active)
    return events


# --------------------------------------------------------------------------- input schema


class DetectorEvent(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    time: datetime
    location: str = Field(min_length=1)
    site: str | None = None
    detector: str | None = None


class PmSample(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    time: datetime
    pm2_5_ugm3: float = Field(ge=0)
    pm1_0_ugm3: float | None = Field(default=None, ge=0)


class PmSeries(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    location: str = Field(min_length=1)
    site: str | None = None
    sensor: str | None = None
    samples: list[PmSample] = Field(min_length=1)
    baseline_ugm3: float | None = Field(default=None, ge=0, description="fixed baseline instead of the rolling median")


class Location(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    location: str = Field(min_length=1)
    name: str | None = None
    smoke_free: bool = True


class SmokeReportInput(BaseModel):
    """Input of ``smoke-report``: detector ``events`` and/or PM ``pm_series``."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    events: list[DetectorEvent] = Field(default_factory=list)
    pm_series: list[PmSeries] = Field(default_factory=list)
    locations: list[Location] = Field(default_factory=list)
    period: Literal["day", "week", "month", "all"] | None = None
    merge_minutes: float | None = Field(default=None, ge=0, le=525600, description="at most a year")
    timezone: str | None = Field(default=None, description="IANA zone for periods, e.g. Europe/Moscow")


# --------------------------------------------------------------------------- report


def period_key(t: datetime, period: str) -> str:
    """Reporting period of a timestamp: ISO date, ISO week (2026-W03), month (2026-01) or 'all'."""
    if period == "day":
        return t.date().isoformat()
    if period == "week":
        year, week, _ = t.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{t.year:04d}-{t.month:02d}"
    return "all"


def violations_from_alarms(alarms: Sequence[Mapping[str, Any]], merge: timedelta) -> list[dict[str, Any]]:
    """Group alarms (with ``_t`` datetimes) per location; closer than ``merge`` = one violation."""
    by_loc: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for a in alarms:
        by_loc[a["location"]].append(a)
    out = []
    for loc in sorted(by_loc):
        items = sorted(by_loc[loc], key=lambda a: a["_t"])
        current: dict[str, Any] | None = None
        for a in items:
            if current is not None and a["_t"] - current["_last"] <= merge:
                current["_last"] = a["_t"]
                current["alarms"] += 1
                current["sources"].add(a["source"])
                continue
            if current is not None:
                out.append(current)
            current = {"location": loc, "site": a.get("site"), "_t": a["_t"], "_last": a["_t"],
                       "alarms": 1, "sources": {a["source"]}}
        if current is not None:  # always: every location has at least one alarm
            out.append(current)
    for v in out:
        v["start"] = v["_t"].isoformat()
        v["last_alarm"] = v["_last"].isoformat()
        v["sources"] = sorted(v["sources"])
    return out


@register("smoke-report", SmokeReportInput)
def smoke_report(data: SmokeReportInput) -> dict[str, Any]:
    """Smoke: detector and PM2.5 events → alarms with location → violations per location and period (seed 000 §2.4.1)."""
    cfg = _config()
    rule = cfg["pm_rule"]
    period = data.period or cfg["violations"]["period"]
    merge = timedelta(minutes=data.merge_minutes if data.merge_minutes is not None
                      else float(cfg["violations"]["merge_minutes"]))
    zone = None
    if data.timezone:
        try:
            zone = ZoneInfo(data.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ModelInputError("timezone", f"unknown time zone {data.timezone!r}") from None

    stamps = [e.time for e in data.events] + [s.time for p in data.pm_series for s in p.samples]
    if len({t.tzinfo is None for t in stamps}) > 1:
        raise ModelInputError("events", "mix of timestamps with and without a UTC offset")

    def local(t: datetime) -> datetime:
        return t.astimezone(zone) if zone is not None and t.tzinfo is not None else t

    smoke_free = {loc.location: loc.smoke_free for loc in data.locations}
    alarms: list[dict[str, Any]] = []
    ignored = 0
    for e in data.events:
        if not smoke_free.get(e.location, True):
            ignored += 1
            continue
        t = local(e.time)
        alarms.append({"_t": t, "time": t.isoformat(), "location": e.location, "site": e.site,
                       "source": "detector", "detector": e.detector})
    pm_events = []
    for series in data.pm_series:
        samples = sorted(series.samples, key=lambda s: s.time)
        times = [local(s.time) for s in samples]
        found = detect_pm_events(times, [s.pm2_5_ugm3 for s in samples], [s.pm1_0_ugm3 for s in samples],
                                 rule, series.baseline_ugm3)
        for ev in found:
            ev.update({"location": series.location, "site": series.site, "sensor": series.sensor})
            pm_events.append(ev)
            if not smoke_free.get(series.location, True):
                ignored += 1
                continue
            t = times[ev["first_index"]]
            alarms.append({"_t": t, "time": t.isoformat(), "location": series.location, "site": series.site,
                           "source": "pm", "sensor": series.sensor, "peak_ugm3": ev["peak_ugm3"],
                           "end": ev["end"]})
    alarms.sort(key=lambda a: (a["_t"], a["location"]))
    violations = violations_from_alarms(alarms, merge) if alarms else []

    report: dict[tuple[str, str], dict[str, Any]] = {}
    for v in violations:
        key = (period_key(v["_t"], period), v["location"])
        row = report.setdefault(key, {"period": key[0], "location": key[1], "violations": 0, "alarms": 0})
        row["violations"] += 1
        row["alarms"] += v["alarms"]
    by_location: dict[str, dict[str, Any]] = {}
    for v in violations:
        row = by_location.setdefault(v["location"], {"location": v["location"], "violations": 0, "alarms": 0,
                                                     "first": v["start"], "last": v["last_alarm"]})
        row["violations"] += 1
        row["alarms"] += v["alarms"]
        row["last"] = v["last_alarm"]
    names = {loc.location: loc.name for loc in data.locations if loc.name}
    for row in by_location.values():
        if row["location"] in names:
            row["name"] = names[row["location"]]
    for item in alarms:
        item.pop("_t")
    for v in violations:
        v.pop("_t")
        v.pop("_last")
    return {
        "period": period,
        "merge_minutes": merge.total_seconds() / 60,
        "alarms": alarms,
        "violations": violations,
        "report": sorted(report.values(), key=lambda r: (r["period"], r["location"])),
        "by_location": sorted(by_location.values(), key=lambda r: (-r["violations"], r["location"])),
        "total_violations": len(violations),
        "total_alarms": len(alarms),
        "ignored_not_smoke_free": ignored,
        "pm_events": pm_events,
    }
