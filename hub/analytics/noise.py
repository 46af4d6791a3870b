"""Zone noise per day and worker L_EX,8h from the live telemetry, through the ``noise-exposure`` model.

* Zones: the ``noise_dba`` telemetry of each zone, per local day, goes to the model as zone
  readings; out come the equivalent level per interval (settings ``noise_interval_minutes``), the
  day's LAeq and class (СОУТ Table 1), the highest reading, and alarms for every interval above
  the zone's limit (roster ``noise_limit_db``, default 80 dBA). Optional ``noise_lamax_dba`` and
  ``noise_peak_dbc`` values with the same sensor and time become the reading's L_Amax and peak.
  A reading stands for the time to the sensor's next reading: its duration is the median
  spacing of that sensor's readings (capped at one hour; D).
* Workers: the roster gives each worker's workplace (zones × hours) and shift. For every day the
  worker worked (an exam that day whose outcome is not ``not_admitted``) the zone levels over that
  shift's clock window are the segment levels of L_EX,8h = 10·lg Σ (T_m/8 h)·10^(0.1·L_m)
  (ISO 9612, reference.md §4.1).
"""

from __future__ import annotations

import bisect
import itertools
import statistics
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from hub.analytics import sources
from hub.analytics.period import Period
from hub.analytics.workplaces import Roster, rosters
from hub.models._config import load_table, thaw
from hub.models.noise_exposure import energy_average_db, noise_class
from hub.models.registry import run_model

NOISE = ("noise_dba", "noise_lamax_dba", "noise_peak_dbc")
MAX_READING_S = 3600.0


def _bands() -> tuple[list, float]:
    cfg = thaw(load_table("noise"))
    return cfg["classes"]["bands"], float(cfg["classes"]["rounding_db"])


def reading_durations(readings: list[sources.Reading], default_s: float) -> dict[str, float]:
    """Seconds one reading of each sensor stands for: the median spacing of its readings."""
    times: dict[str, list[datetime]] = defaultdict(list)
    for r in readings:
        times[r.sensor_id].append(r.ts)
    out = {}
    for sensor, ts in times.items():
        ts = sorted(set(ts))
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(ts) if b > a]
        out[sensor] = min(statistics.median(gaps), MAX_READING_S) if gaps else default_s
    return out


def _zone_points(readings: list[sources.Reading], default_s: float) -> dict[tuple[str, str], list[dict]]:
    """(site, zone) → model readings (time order) with duration, L_Amax and peak attached."""
    durations = reading_durations([r for r in readings if r.quantity == "noise_dba"], default_s)
    extra: dict[tuple[str, datetime], dict[str, float]] = defaultdict(dict)
    for r in readings:
        if r.quantity == "noise_lamax_dba":
            extra[(r.sensor_id, r.ts)]["lamax_db"] = r.value
        elif r.quantity == "noise_peak_dbc":
            extra[(r.sensor_id, r.ts)]["peak_dbc"] = r.value
    points: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in readings:
        if r.quantity != "noise_dba":
            continue
        points[(r.site, r.zone)].append({"time": r.ts, "laeq_db": r.value, "duration_s": durations[r.sensor_id],
                                         **extra.get((r.sensor_id, r.ts), {})})
    return points


def _limit(roster: Roster | None, zone: str) -> float | None:
    info = roster.zone(zone) if roster else None
    return info.noise_limit_db if info else None


def _model_reading(p: dict) -> dict:
    return {**p, "time": p["time"].isoformat()}


def zone_noise(store, settings, period: Period, site: str | None = None, zone: str | None = None,
               detail: bool = False) -> dict[str, Any]:
    """Per zone and local day: LAeq, class, peaks, intervals over the limit; the period's level and class."""
    cfg = thaw(load_table("noise"))
    default_s = float(cfg["zones"]["default_reading_seconds"])
    bands, rounding = cfg["classes"]["bands"], float(cfg["classes"]["rounding_db"])
    readings, invalid = sources.telemetry(store, period, NOISE, site=site, zone=zone)
    points = _zone_points(readings, default_s)
    sites_rosters = rosters(store)
    by_day: dict[tuple[str, Any], dict[str, list[dict]]] = defaultdict(dict)
    for (s, z), pts in points.items():
        for p in pts:
            by_day[(s, p["time"].date())].setdefault(z, []).append(p)
    zones_out: dict[tuple[str, str], dict[str, Any]] = {}
    alarms = []
    for (s, day), zone_map in sorted(by_day.items()):
        roster = sites_rosters.get(s)
        payload = {"interval_minutes": settings.noise_interval_minutes, "zones": [
            {"zone": z, "readings": [_model_reading(p) for p in pts],
             **({"limit_db": _limit(roster, z)} if _limit(roster, z) else {})}
            for z, pts in sorted(zone_map.items())]}
        result = run_model("noise-exposure", payload)
        for summary in result["zones"]:
            z = summary["zone"]
            info = roster.zone(z) if roster else None
            entry = zones_out.setdefault((s, z), {
                "site": s, "zone": z, "name_ru": info.name_ru if info else None,
                "name_en": info.name_en if info else None, "limit_db": summary["limit_db"], "days": []})
            over = [i for i in summary["intervals"] if i["exceeds_limit"]]
            day_row = {
                "date": day.isoformat(), "laeq_db": summary["laeq_db"], "class": summary["class"],
                "exceeds_limit": summary["exceeds_limit"], "max_reading_db": summary["max_reading_db"],
                "readings": sum(i["readings"] for i in summary["intervals"]),
                "covered_hours": sum(i["covered_seconds"] for i in summary["intervals"]) / 3600,
                "intervals": len(summary["intervals"]), "intervals_over_limit": len(over),
                "max_interval_db": max(i["laeq_db"] for i in summary["intervals"]),
            }
            for key in ("lamax_db", "peak_dbc"):
                if key in summary:
                    day_row[key] = summary[key]
            zone_alarms = [a for a in result["alarms"] if a["zone"] == z]
            day_row["alarms"] = {kind: sum(1 for a in zone_alarms if a["kind"] == kind)
                                 for kind in ("laeq", "lamax", "peak") if any(a["kind"] == kind for a in zone_alarms)}
            if detail:
                day_row["interval_levels"] = summary["intervals"]
            entry["days"].append(day_row)
            if zone_alarms:
                alarms.append({"site": s, "zone": z, "date": day.isoformat(), "limit_db": summary["limit_db"],
                               "laeq_db": summary["laeq_db"], "intervals_over_limit": len(over),
                               "max_interval_db": day_row["max_interval_db"], "kinds": day_row["alarms"],
                               "name_ru": entry["name_ru"], "name_en": entry["name_en"]})
    zones = []
    for entry in zones_out.values():
        days = entry["days"]
        level = energy_average_db([d["laeq_db"] for d in days], [max(d["covered_hours"], 1e-9) for d in days])
        entry["period"] = {
            "laeq_db": level, "class": noise_class(level, bands, rounding), "exceeds_limit": level > entry["limit_db"],
            "days": len(days), "days_over_limit": sum(1 for d in days if d["intervals_over_limit"]),
            "max_reading_db": max(d["max_reading_db"] for d in days),
            **({"lamax_db": max(d["lamax_db"] for d in days if "lamax_db" in d)} if any("lamax_db" in d for d in days) else {}),
            **({"peak_dbc": max(d["peak_dbc"] for d in days if "peak_dbc" in d)} if any("peak_dbc" in d for d in days) else {}),
        }
        zones.append(entry)
    zones.sort(key=lambda e: (e["site"], -e["period"]["laeq_db"], e["zone"]))
    return {
        "method": result_method(),
        "period": period.as_dict(),
        "interval_minutes": settings.noise_interval_minutes,
        "zones": zones,
        "alarms": alarms,
        "skipped_invalid": dict(invalid),
    }


def result_method() -> str:
    return "ISO 9612 equal-energy average (3 dB exchange) per interval and day; class by СОУТ Table 1 [SOUT-2024]"


# --------------------------------------------------------------------------- workers


class _ZoneIndex:
    """Sorted readings per (site, zone) for fast window slicing."""

    def __init__(self, points: dict[tuple[str, str], list[dict]]):
        self.points = {k: sorted(v, key=lambda p: p["time"]) for k, v in points.items()}
        self.times = {k: [p["time"] for p in v] for k, v in self.points.items()}

    def window(self, site: str, zone: str, start: datetime, end: datetime) -> list[dict]:
        times = self.times.get((site, zone))
        if not times:
            return []
        return self.points[(site, zone)][bisect.bisect_left(times, start):bisect.bisect_left(times, end)]


def shift_window(exam_time: datetime, shift) -> tuple[datetime, datetime]:
    """The clock window of the shift (start nearest to the exam) in the exam's time zone."""
    candidates = [datetime.combine(exam_time.date() + timedelta(days=d), shift.start, exam_time.tzinfo)
                  for d in (-1, 0, 1)]
    start = min(candidates, key=lambda c: abs((c - exam_time).total_seconds()))
    return start, start + timedelta(hours=shift.hours)


def worker_noise(store, settings, period: Period, site: str | None = None,
                 worker: str | None = None, detail: bool = False) -> dict[str, Any]:
    """L_EX,8h per worker and worked day from the roster and the zone telemetry of the shift window."""
    bands, rounding = _bands()
    cfg = thaw(load_table("noise"))
    all_rosters = {s: r for s, r in rosters(store).items() if site is None or s == site}
    if not all_rosters:
        return {"method": "ISO 9612 task-based L_EX,8h", "period": period.as_dict(), "workers": [],
                "note": "no workplace roster is loaded for this site (see configs/workplaces.example.toml)"}
    # zone telemetry a little beyond the period: a night shift runs past midnight
    wide = Period(period.date_from - timedelta(days=1), period.date_to + timedelta(days=1), period.tz)
    readings, _ = sources.telemetry(store, wide, ("noise_dba",), site=site)
    index = _ZoneIndex(_zone_points(readings, float(cfg["zones"]["default_reading_seconds"])))
    worked: dict[tuple[str, str], dict] = {}
    for e in sources.exams(store, period, site=site):
        if e.outcome != "not_admitted":
            worked.setdefault((e.site, e.worker_id), {}).setdefault(e.started_at.date(), e.started_at)
    cache: dict[tuple, dict] = {}
    out = []
    for s, roster in sorted(all_rosters.items()):
        for worker_id, (place, shift) in sorted(roster.worker_assignments().items()):
            if worker is not None and worker_id != worker:
                continue
            days, missing = [], []
            for day, exam_time in sorted(worked.get((s, worker_id), {}).items()):
                start, end = shift_window(exam_time, shift)
                key = (s, place.workplace, start)
                if key not in cache:
                    cache[key] = _workplace_window(index, s, place, start, end)
                res = cache[key]
                if "lex_8h_db" in res:
                    days.append({"date": day.isoformat(), "shift_start": start.isoformat(), **res})
                else:
                    missing.append({"date": day.isoformat(), "reason": res["reason"]})
            entry: dict[str, Any] = {"site": s, "worker": worker_id, "workplace": place.workplace,
                                     "shift": shift.shift, "days_worked": len(days) + len(missing),
                                     "days_with_data": len(days), "days": days, "days_without_data": missing}
            if days:
                mean = energy_average_db([d["lex_8h_db"] for d in days])
                entry.update({"lex_8h_db_mean": mean, "class": noise_class(mean, bands, rounding),
                              "lex_8h_db_max": max(d["lex_8h_db"] for d in days),
                              "exceeds_limit": any(d["exceeds_limit"] for d in days)})
            if not (detail or worker is not None):
                entry.pop("days")  # the per-day list on request (detail=true or one worker)
            out.append(entry)
    return {"method": "ISO 9612 task-based L_EX,8h = 10·lg Σ (T_m/8 h)·10^(0.1·L_m); class by СОУТ Table 1; "
                      "mean over days = energy average of the daily L_EX,8h",
            "period": period.as_dict(), "workers": out}


def _workplace_window(index: _ZoneIndex, site: str, place, start: datetime, end: datetime) -> dict:
    zones, segments, missing = [], [], []
    for seg in place.segments:
        pts = index.window(site, seg.zone, start, end)
        if not pts:
            missing.append(seg.zone)
            continue
        if seg.zone not in {z["zone"] for z in zones}:
            zones.append({"zone": seg.zone, "readings": [_model_reading(p) for p in pts]})
        segments.append({"zone": seg.zone, "hours": seg.hours})
    if missing:
        return {"reason": f"no noise telemetry in zone(s) {', '.join(sorted(set(missing)))} during the shift"}
    result = run_model("noise-exposure", {"zones": zones, "workers": [{"worker": place.workplace,
                                                                       "segments": segments}]})
    w = result["workers"][0]
    levels = {z["zone"]: z["laeq_db"] for z in result["zones"]}
    return {"lex_8h_db": w["lex_8h_db"], "class": w["class"], "exceeds_limit": w["exceeds_limit"],
            "dose_percent": w["dose_percent"],
            "segments": [{"zone": s["zone"], "hours": s["hours"], "laeq_db": levels[s["zone"]]} for s in segments]}
