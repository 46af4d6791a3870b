"""Smoke in smoke-free areas from the live data, through the ``smoke-report`` model (seed 000 §2.4.1).

Two sources per site: ``smoke_alarm`` events of the detectors (the event's ``zone`` is the
location; an event without a zone is reported under its device, or ``unknown`` — never dropped)
and the PM telemetry (``pm2_5_ugm3`` with ``pm1_0_ugm3``) of every zone, which the model's
particulate rule (reference.md §7.2, D) turns into alarms. Which locations are smoke-free and
their names come from the site's roster ``[[zones]]`` (unlisted locations are smoke-free: 15-ФЗ
bans smoking indoors at workplaces). Alarms closer than ``merge_minutes`` form one violation.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from hub.analytics import sources
from hub.analytics.period import Period
from hub.analytics.workplaces import rosters
from hub.models.registry import run_model

SMOKE_EVENT_TYPES = ("smoke_alarm",)


def smoke_violations(store, settings, period: Period, site: str | None = None,
                     report_period: str = "day", with_pm: bool = True) -> dict[str, Any]:
    """Violations per location and period (day, week, month or all) for each site."""
    events = sources.events(store, period, SMOKE_EVENT_TYPES, site=site)
    pm, invalid = (sources.telemetry(store, period, ("pm2_5_ugm3", "pm1_0_ugm3"), site=site)
                   if with_pm else ([], {}))
    all_rosters = rosters(store)
    per_site_events: dict[str, list] = defaultdict(list)
    for e in events:
        per_site_events[e.site].append({"time": e.time.isoformat(), "location": e.zone or e.device or "unknown",
                                        "site": e.site, "detector": e.device})
    series: dict[tuple[str, str, str], dict] = {}
    for r in pm:
        cell = series.setdefault((r.site, r.zone, r.sensor_id), {}).setdefault(r.ts, {})
        cell[r.quantity] = r.value
    per_site_pm: dict[str, list] = defaultdict(list)
    for (s, zone, sensor), samples in sorted(series.items()):
        points = [{"time": ts.isoformat(), "pm2_5_ugm3": v["pm2_5_ugm3"], "pm1_0_ugm3": v.get("pm1_0_ugm3")}
                  for ts, v in sorted(samples.items()) if "pm2_5_ugm3" in v]
        if points:
            per_site_pm[s].append({"location": zone, "site": s, "sensor": sensor, "samples": points})
    sites_out = []
    totals = {"violations": 0, "alarms": 0}
    for s in sorted(set(per_site_events) | set(per_site_pm)):
        roster = all_rosters.get(s)
        locations = [{"location": z.zone, "name": z.name_ru or z.name_en, "smoke_free": z.smoke_free}
                     for z in (roster.zones if roster else [])]
        result = run_model("smoke-report", {
            "events": per_site_events.get(s, []), "pm_series": per_site_pm.get(s, []), "locations": locations,
            "period": report_period, "timezone": settings.timezone})
        for key in ("alarms", "pm_events"):
            for item in result[key]:
                item.pop("first_index", None)
                item.pop("confirmed_index", None)
        totals["violations"] += result["total_violations"]
        totals["alarms"] += result["total_alarms"]
        sites_out.append({"site": s, **result})
    return {
        "method": "smoke-report model: detector alarms and the PM2.5 rule of reference.md §7.2 (D); "
                  "violations per location and period (seed 000 §2.4.1)",
        "period": period.as_dict(), "report_period": report_period,
        "sites": sites_out, "total_violations": totals["violations"], "total_alarms": totals["alarms"],
        "skipped_invalid": dict(invalid),
    }
