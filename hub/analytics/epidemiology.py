"""Kiosk epidemiology from the live exams, through the ``epi`` and ``rt`` models.

* ``kiosk_rates``: febrile workers per day and site, alcohol-positive rates per site and shift,
  BP out of range per site — over the period and per day — with their intervals (epi model,
  seed 000 §2.3.1.8 and §2.4.2; seed 002 B.3.3.6). The shift of an exam is the roster shift whose
  start is nearest to the exam's local time.
* ``febrile_rt``: Rt (Cori et al. 2013, EpiEstim) over the daily counts of *new* febrile workers
  per site, with 95 % credible intervals and the early warning (lower bound > 1 for 2 consecutive
  windows, reference.md §6.4). A febrile worker-day counts as a new case only when the worker had
  no febrile day in the preceding ``episode_gap_days`` (Rt is defined on incidence; a fever that
  lasts three days is one case, not three — D). The first ``burn_in_days`` serve only as infectivity
  history: Λ_t of the first days misses the infectors before the data starts and would bias R
  upwards (Cori et al. 2013 start estimation after the serial interval has elapsed; D).
* ``hypertension_noise``: hypertension prevalence among workers with a mean L_EX,8h above the
  threshold (80 dBA) vs the others, RR/OR/RD with 95 % intervals (epi model, Rothman/epiR).

Only aggregates leave these functions; individual values are used inside the hub only.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import numpy as np

from hub.analytics import sources
from hub.analytics.noise import worker_noise
from hub.analytics.period import Period
from hub.analytics.workplaces import rosters, shift_of
from hub.models._config import load_table, thaw
from hub.models.registry import run_model
from hub.models.rt import discr_si


def _kiosk_cfg() -> dict[str, Any]:
    return thaw(load_table("epi"))["kiosk"]


def _epi_exam(e: sources.ExamRow, shifts) -> dict[str, Any]:
    return {"time": e.started_at.isoformat(), "site": e.site, "worker": e.worker_id,
            "shift": shift_of(e.started_at.timetz().replace(tzinfo=None), shifts) if shifts else None,
            **{k: e.values.get(k) for k in ("temperature_c", "brac_mg_l", "systolic_mmhg", "diastolic_mmhg")}}


def kiosk_rates(store, settings, period: Period, site: str | None = None) -> dict[str, Any]:
    """Febrile per day and site; alcohol per site and shift; BP out of range per site; daily series."""
    site_rosters = rosters(store)
    exams = sources.exams(store, period, site=site)
    records = [_epi_exam(e, site_rosters[e.site].shifts if e.site in site_rosters else []) for e in exams]
    base = {"period": period.as_dict(), "exams": len(records)}
    if not records:
        return {**base, "note": "no exams in the period", "thresholds": {}, "febrile_by_day_site": [],
                "febrile_daily": {}, "alcohol_by_site_shift": [], "alcohol_daily": [], "bp_by_site": [],
                "bp_daily": []}
    overall = run_model("epi", {"exams": records})["kiosk"]
    by_day: dict[date, list[dict]] = defaultdict(list)
    for e, r in zip(exams, records, strict=True):
        by_day[e.started_at.date()].append(r)
    alcohol_daily, bp_daily = [], []
    for day, day_records in sorted(by_day.items()):
        k = run_model("epi", {"exams": day_records})["kiosk"]
        alcohol_daily += [{"date": day.isoformat(), **row} for row in k["alcohol_by_site_shift"]]
        bp_daily += [{"date": day.isoformat(), **row} for row in k["bp_by_site"]]
    return {**base, "unit": "worker-day (the last valid reading of a worker's day)", **overall,
            "alcohol_daily": alcohol_daily, "bp_daily": bp_daily}


# --------------------------------------------------------------------------- Rt


def worker_day_temperatures(exams: list[sources.ExamRow]) -> dict[tuple[str, str, date], float]:
    """(site, worker, day) → the last valid temperature of that worker-day (exams in time order)."""
    out = {}
    for e in exams:
        if "temperature_c" in e.values:
            out[(e.site, e.worker_id, e.started_at.date())] = e.values["temperature_c"]
    return out


def incident_cases(febrile_days: dict[tuple[str, str], list[date]], gap_days: int) -> dict[tuple[str, date], int]:
    """(site, day) → workers whose febrile day starts a new episode (no febrile day in the preceding
    ``gap_days``)."""
    out: dict[tuple[str, date], int] = defaultdict(int)
    for (site, _worker), days in febrile_days.items():
        previous = None
        for day in sorted(days):
            if previous is None or (day - previous).days > gap_days:
                out[(site, day)] += 1
            previous = day
    return out


def si_burn_in(mean: float, sd: float, coverage: float = 0.95) -> int:
    """Days until the discretised serial interval's cumulative distribution reaches ``coverage``."""
    w = discr_si(np.arange(200), mean, sd)
    return int(np.searchsorted(np.cumsum(w), coverage))


def febrile_rt(store, settings, period: Period, site: str | None = None) -> dict[str, Any]:
    """Daily new febrile workers per site → Rt with 95 % credible intervals and the early warning."""
    rt_cfg = settings.rt
    threshold = rt_cfg.case_temperature_c
    if threshold is None:
        threshold = float(_kiosk_cfg()["febrile_temperature_c"])
    history = Period(period.date_from - timedelta(days=rt_cfg.episode_gap_days), period.date_to, period.tz)
    exams = sources.exams(store, history, site=site)
    temps = worker_day_temperatures(exams)
    examined: dict[tuple[str, date], int] = defaultdict(int)
    febrile: dict[tuple[str, date], int] = defaultdict(int)
    febrile_days: dict[tuple[str, str], list[date]] = defaultdict(list)
    for (s, worker, day), t in temps.items():
        examined[(s, day)] += 1
        if t >= threshold:
            febrile[(s, day)] += 1
            febrile_days[(s, worker)].append(day)
    new = incident_cases(febrile_days, rt_cfg.episode_gap_days)
    burn_in = rt_cfg.burn_in_days if rt_cfg.burn_in_days is not None else si_burn_in(rt_cfg.si_mean_days,
                                                                                      rt_cfg.si_sd_days)
    sites = sorted({s for s, d in examined if (site is None or s == site) and period.date_from <= d})
    out = []
    for s in sites:
        # the series starts on the site's first examined day: days before it are no data, not zero cases
        first = min(d for x, d in examined if x == s and d >= period.date_from)
        days = [d for d in period.days() if d >= first]
        incidence = [new.get((s, d), 0) for d in days]
        entry: dict[str, Any] = {
            "site": s, "dates": [d.isoformat() for d in days], "new_febrile": incidence,
            "febrile": [febrile.get((s, d), 0) for d in days], "examined": [examined.get((s, d), 0) for d in days],
        }
        entry.update(_rt_for(incidence, days, settings, burn_in))
        out.append(entry)
    return {
        "method": "Cori et al. 2013 (EpiEstim) on daily new febrile workers; gamma prior mean 5 sd 5; "
                  f"parametric serial interval mean {rt_cfg.si_mean_days:g} d, sd {rt_cfg.si_sd_days:g} d",
        "case_definition": f"a worker-day with temperature ≥ {threshold:g} °C (last valid reading of the day) "
                           f"and no febrile day in the preceding {rt_cfg.episode_gap_days} days",
        "period": period.as_dict(), "window_days": rt_cfg.window_days, "burn_in_days": burn_in, "sites": out,
    }


def _rt_for(incidence: list[int], days: list[date], settings, burn_in: int) -> dict[str, Any]:
    rt_cfg = settings.rt
    window = rt_cfg.window_days
    first_start = max(2, burn_in + 1)
    T = len(incidence)
    if first_start + window - 1 > T:
        return {"rt": None, "early_warning": {"raised": False, "active": False, "raised_on": None, "episodes": []},
                "note": f"Rt needs at least {first_start + window - 1} days (burn-in {burn_in} + window {window}); "
                        f"the period has {T}"}
    t_end = list(range(first_start + window - 1, T + 1))
    t_start = [e - window + 1 for e in t_end]
    result = run_model("rt", {"incidence": incidence, "serial_interval": {"mean": rt_cfg.si_mean_days,
                                                                          "sd": rt_cfg.si_sd_days},
                              "t_start": t_start, "t_end": t_end, "start_date": days[0].isoformat()})
    warning = result["early_warning"]
    date_of = {e["t_end"]: e["date_end"] for e in result["estimates"]}
    episodes = []
    for w in warning["alarm_windows"]:
        if episodes and w["t_end"] == episodes[-1]["_last"] + 1:
            episodes[-1]["_last"] = w["t_end"]
            episodes[-1]["until"] = date_of[w["t_end"]]
            continue
        episodes.append({"raised_on": date_of[w["t_end"]], "until": date_of[w["t_end"]], "_last": w["t_end"]})
    for ep in episodes:
        ep.pop("_last")
    first = warning["first_alarm"]
    warning = {**warning, "raised_on": date_of[first["t_end"]] if first else None, "episodes": episodes}
    return {"rt": {k: result[k] for k in ("method", "prior", "credible_interval", "si_mean", "si_sd", "estimates",
                                          "not_estimable", "warnings")},
            "early_warning": warning}


# --------------------------------------------------------------------------- exposed vs unexposed


def hypertension_noise(store, settings, period: Period, site: str | None = None) -> dict[str, Any]:
    """Hypertension prevalence in noise-exposed vs unexposed workers with RR and its 95 % interval."""
    k = _kiosk_cfg()
    threshold = settings.exposed_threshold_db
    noise = worker_noise(store, settings, period, site=site)
    exposure = {(w["site"], w["worker"]): w["lex_8h_db_mean"] for w in noise["workers"] if "lex_8h_db_mean" in w}
    bp: dict[tuple[str, str], dict[date, tuple[float, float]]] = defaultdict(dict)
    for e in sources.exams(store, period, site=site):
        if "systolic_mmhg" in e.values and "diastolic_mmhg" in e.values:
            bp[(e.site, e.worker_id)][e.started_at.date()] = (e.values["systolic_mmhg"], e.values["diastolic_mmhg"])
    groups = {"noisy": [0, 0], "quiet": [0, 0]}
    excluded = {"no_exposure_estimate": 0, "too_few_bp_days": 0}
    for key, lex in exposure.items():
        days = bp.get(key, {})
        if len(days) < settings.min_worker_days:
            excluded["too_few_bp_days"] += 1
            continue
        sbp = statistics.median(v[0] for v in days.values())
        dbp = statistics.median(v[1] for v in days.values())
        hypertensive = sbp >= k["bp_high_systolic"] or dbp >= k["bp_high_diastolic"]
        cell = groups["noisy" if lex > threshold else "quiet"]
        cell[0] += 1
        cell[1] += hypertensive
    excluded["no_exposure_estimate"] = sum(1 for key in bp if key not in exposure)
    definition = {
        "exposed": f"mean L_EX,8h > {threshold:g} dBA (roster workplace × zone telemetry)",
        "unexposed": f"mean L_EX,8h ≤ {threshold:g} dBA",
        "case": f"median over the worker's days of SBP ≥ {k['bp_high_systolic']:g} or DBP ≥ "
                f"{k['bp_high_diastolic']:g} mmHg (last valid reading of each day; ≥ {settings.min_worker_days} days)",
    }
    base = {"period": period.as_dict(), "definition": definition, "excluded_workers": excluded,
            "counts": {g: {"workers": n, "hypertensive": x} for g, (n, x) in groups.items()}}
    empty = [g for g, (n, _) in groups.items() if n == 0]
    if empty:
        return {**base, "comparison": None, "note": f"no workers in group(s) {', '.join(empty)}"}
    result = run_model("epi", {"groups": [{"name": g, "population": n, "cases": x} for g, (n, x) in groups.items()],
                               "comparisons": [{"exposed": "noisy", "reference": "quiet"}]})
    comparison = result["comparisons"][0]
    return {**base, "confidence": result["confidence"], "groups": result["groups"], "comparison": comparison,
            "rr": comparison["rr"]}
