"""``ohs-sim fleet`` — a month of a plant through the real pipeline, in seconds.

N simulated kiosks × D days at one site. Each kiosk is a real :class:`edge_agent.agent.KioskAgent`
(journal → outbox → MQTT → hub) fed with *historical* records:

* a seeded workforce per kiosk (``simulators.population``) doing a pre-shift exam on each of its
  work days (5 of 7, staggered), decided by the real ``edge_agent.admission.decide``
  (``simulators.kiosk.scripted_exam`` with a historical ``now``);
* noise telemetry (5-minute LAeq values) of several zones — noisy production zones and quiet
  ones — and PM telemetry, batched into records of a few hundred readings;
* ``smoke_alarm`` events in smoke-free locations (toilet, stairwell) on some days, with the
  matching PM2.5 plume in that location's telemetry;
* an injected febrile outbreak: from ``--outbreak-day`` on, Poisson(seed × growth^t) new
  infections a day among the site's workers, each febrile for ``fever_days`` days.

Records are made while the agents are connected, so they are live (no backlog rate applies);
the run ends when every kiosk's outbox is empty (the hub has acknowledged everything). The
fleet also writes the site's workplace roster (``workplaces.toml``, the form of
``configs/workplaces.example.toml``) and a ``manifest.json`` of what it injected.

Modelling choices (D, ours): zone levels and shift pattern below; hypertension is simulated
more often in noisy workplaces (30 % vs 10 %) so the exposed-vs-unexposed comparison has an
effect to find; the kiosks' journals use ``synchronous = NORMAL`` (a simulator, not a gate).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import sys
import threading
import time as clock
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import numpy as np

from edge_agent.admission import load_rule_set
from edge_agent.agent import KioskAgent
from edge_agent.config import KioskConfig
from simulators import population
from simulators.kiosk import scripted_exam

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimZone:
    zone: str
    name_ru: str
    name_en: str
    shift_db: float | None  # mean 5-min LAeq while a shift works (None: no noise sensor)
    idle_db: float | None  # between shifts
    pm_baseline_ugm3: float | None  # None: no PM sensor; 0: shop-floor PM (population.sample_pm_ugm3)
    smoke_location: bool = False  # a common area where smoking is tried (toilet, stairwell)


ZONES = (
    SimZone("press-shop", "Прессовый участок", "Press shop", 92.0, 68.0, 0.0),
    SimZone("assembly", "Сборочный участок", "Assembly", 83.0, 62.0, 0.0),
    SimZone("office", "Офис", "Office", 52.0, 45.0, None),
    SimZone("lab", "Лаборатория", "Laboratory", 58.0, 48.0, None),
    SimZone("toilet-1", "Туалет, 1 этаж", "Toilet, floor 1", None, None, 8.0, smoke_location=True),
    SimZone("stairwell-a", "Лестница А", "Stairwell A", None, None, 10.0, smoke_location=True),
)

SHIFTS = ({"shift": "day", "start": time(8, 0), "hours": 8.0}, {"shift": "night", "start": time(20, 0), "hours": 8.0})

#: workplace → (segments (zone, hours), share of the workforce, noisy?)
WORKPLACES = {
    "press-operator": ([("press-shop", 7.0), ("office", 1.0)], 0.30, True),
    "assembler": ([("assembly", 7.0), ("office", 1.0)], 0.25, True),
    "engineer": ([("office", 7.0), ("lab", 1.0)], 0.25, False),
    "lab-technician": ([("lab", 8.0)], 0.20, False),
}
WORKPLACE_NAMES = {
    "press-operator": ("Оператор пресса", "Press operator"), "assembler": ("Сборщик", "Assembler"),
    "engineer": ("Инженер", "Engineer"), "lab-technician": ("Лаборант", "Lab technician"),
}
HYPERTENSIVE_SHARE = {True: 0.30, False: 0.10}


@dataclass
class FleetOptions:
    kiosks: int = 3
    days: int = 30
    workers: int = 60  # per kiosk
    outbreak_day: int | None = 15  # 1-based simulated day; None/0 = no outbreak
    outbreak_growth: float = 1.3
    outbreak_seed_cases: float = 2.0
    fever_days: int = 3
    smoke_events: int = 5
    seed: int = 1
    broker: tuple[str, int] = ("127.0.0.1", 1883)
    site: str = "plant-1"
    start_date: date | None = None  # default: the days end yesterday (UTC)
    workdir: Path = Path("var/fleet")
    step_minutes: int = 5
    readings_per_record: int = 500
    drain_timeout_s: float = 120.0


@dataclass
class SimWorker:
    worker: population.Worker
    kiosk: str
    workplace: str
    shift: dict
    day_offset: int

    def works(self, day_index: int) -> bool:
        return (day_index + self.day_offset) % 7 not in (5, 6)


@dataclass
class FleetResult:
    site: str
    start_date: str
    days: int
    kiosks: list[str]
    workers: int
    zones: list[dict]
    smoke: list[dict]
    outbreak: dict | None
    records: dict[str, int]
    roster_path: str
    elapsed_s: float
    drained: bool
    hub_acked_all: bool = field(default=False)


class FleetError(ValueError):
    """Options or a work directory the fleet cannot use."""


# --------------------------------------------------------------------------- the plant


def build_workforce(rng: np.random.Generator, kiosks: list[str], per_kiosk: int) -> list[SimWorker]:
    names = list(WORKPLACES)
    shares = np.array([WORKPLACES[n][1] for n in names])
    out = []
    for k, kiosk in enumerate(kiosks):
        for i in range(per_kiosk):
            place = names[int(rng.choice(len(names), p=shares / shares.sum()))]
            noisy = WORKPLACES[place][2]
            worker = population.sample_worker(rng, k * per_kiosk + i, febrile_share=0.0,
                                              hypertensive_share=HYPERTENSIVE_SHARE[noisy])
            shift = SHIFTS[0] if rng.random() < 0.7 else SHIFTS[1]
            out.append(SimWorker(worker, kiosk, place, shift, int(rng.integers(7))))
    return out


def zone_owner(kiosks: list[str]) -> dict[str, str]:
    """Each zone's sensors report through one kiosk (round robin)."""
    return {z.zone: kiosks[j % len(kiosks)] for j, z in enumerate(ZONES)}


def in_shift(moment: datetime) -> bool:
    for s in SHIFTS:
        start = datetime.combine(moment.date(), s["start"], moment.tzinfo)
        for begin in (start - timedelta(days=1), start):
            if begin <= moment < begin + timedelta(hours=s["hours"]):
                return True
    return False


def outbreak_schedule(rng: np.random.Generator, opts: FleetOptions, workers: list[SimWorker]) -> dict[int, list[int]]:
    """day index → indices of workers infected that day (each worker at most once)."""
    if not opts.outbreak_day or opts.outbreak_day < 1:
        return {}
    susceptible = list(rng.permutation(len(workers)))
    out = {}
    for d in range(opts.outbreak_day - 1, opts.days):
        mean = opts.outbreak_seed_cases * opts.outbreak_growth ** (d - opts.outbreak_day + 1)
        n = min(int(rng.poisson(mean)), len(susceptible))
        if n:
            out[d] = [int(susceptible.pop()) for _ in range(n)]
    return out


def smoke_schedule(rng: np.random.Generator, opts: FleetOptions, start: date) -> list[dict]:
    locations = [z.zone for z in ZONES if z.smoke_location]
    count = min(opts.smoke_events, opts.days)
    days = sorted(int(d) for d in rng.choice(opts.days, size=count, replace=False)) if count else []
    out = []
    for d in days:
        minute = int(rng.integers(9 * 60, 19 * 60))
        moment = datetime.combine(start + timedelta(days=d), time(minute // 60, minute % 60), timezone.utc)
        out.append({"day_index": d, "date": moment.date().isoformat(), "time": moment.isoformat(),
                    "location": locations[int(rng.integers(len(locations)))]})
    return out


def plume_ugm3(moment: datetime, smoke: list[dict], location: str) -> float:
    """PM2.5 added by cigarettes smoked at ``location`` (peak 300 µg/m³, e-folding 10 min; reference.md §7.2)."""
    total = 0.0
    for s in smoke:
        if s["location"] != location:
            continue
        lag = (moment - datetime.fromisoformat(s["time"])).total_seconds() / 60
        if -5 < lag <= 60:
            total += 300.0 * math.exp(-max(lag, 0.0) / 10.0)
    return total


def day_telemetry(rng: np.random.Generator, day: date, step: int, owner: dict[str, str], smoke: list[dict]
                  ) -> dict[str, list[dict]]:
    """kiosk → the day's readings (noise and PM) of the zones it reports."""
    out: dict[str, list[dict]] = {k: [] for k in set(owner.values())}
    for minute in range(0, 24 * 60, step):
        moment = datetime.combine(day, time(minute // 60, minute % 60), timezone.utc)
        working = in_shift(moment)
        for z in ZONES:
            kiosk = owner[z.zone]
            if z.shift_db is not None:
                level = (z.shift_db if working else z.idle_db) + rng.normal(0, 2.0)
                out[kiosk].append({"sensor_id": f"{kiosk}-noise-{z.zone}", "zone": z.zone, "ts": moment.isoformat(),
                                   "values": {"noise_dba": round(float(level), 1)}})
            if z.pm_baseline_ugm3 is not None:
                if z.pm_baseline_ugm3 == 0:
                    pm1, pm25, pm10 = population.sample_pm_ugm3(rng)
                else:
                    base = float(rng.lognormal(math.log(z.pm_baseline_ugm3), 0.3))
                    plume = plume_ugm3(moment, smoke, z.zone)
                    pm25 = base + plume
                    pm1 = base * float(rng.uniform(0.55, 0.75)) + 0.92 * plume
                    pm10 = base * float(rng.uniform(1.1, 1.6)) + 1.02 * plume
                out[kiosk].append({"sensor_id": f"{kiosk}-pm-{z.zone}", "zone": z.zone, "ts": moment.isoformat(),
                                   "values": {"pm1_0_ugm3": round(float(pm1), 1), "pm2_5_ugm3": round(float(pm25), 1),
                                              "pm10_ugm3": round(float(pm10), 1)}})
    return out


def roster_document(site: str, workers: list[SimWorker]) -> dict:
    """The site's workplace roster in the form of configs/workplaces.example.toml."""
    assignments = []
    for place in WORKPLACES:
        for s in SHIFTS:
            ids = sorted(w.worker.worker_id for w in workers if w.workplace == place and w.shift is s)
            if ids:
                assignments.append({"workplace": place, "shift": s["shift"], "workers": ids})
    return {
        "site": site,
        "shifts": [dict(s) for s in SHIFTS],
        "zones": [{"zone": z.zone, "name_ru": z.name_ru, "name_en": z.name_en, "noise_limit_db": 80.0,
                   "smoke_free": True} for z in ZONES],
        "workplaces": [{"workplace": p, "name_ru": WORKPLACE_NAMES[p][0], "name_en": WORKPLACE_NAMES[p][1],
                        "segments": [{"zone": z, "hours": h} for z, h in segs]}
                       for p, (segs, _share, _noisy) in WORKPLACES.items()],
        "assignments": assignments,
    }


# --------------------------------------------------------------------------- the run


def kiosk_config(opts: FleetOptions, kiosk: str) -> KioskConfig:
    host, port = opts.broker
    return KioskConfig.model_validate({
        "identity": {"site": opts.site, "kiosk": kiosk},
        "mqtt": {"host": host, "port": port, "keepalive_s": 10, "reconnect_min_s": 0.2, "reconnect_max_s": 2},
        "journal": {"path": str(opts.workdir / kiosk / "journal.db"), "synchronous": "NORMAL"},
        "outbox": {"backlog_rate_per_s": 0, "max_unacked": 1000, "batch": 500, "resend_after_s": 20},
    })


def _check(opts: FleetOptions) -> None:
    if not 1 <= opts.kiosks <= 50:
        raise FleetError("--kiosks must be between 1 and 50")
    if not 1 <= opts.days <= 366:
        raise FleetError("--days must be between 1 and 366")
    if not 1 <= opts.workers <= 5000:
        raise FleetError("--workers must be between 1 and 5000")
    if opts.outbreak_day is not None and opts.outbreak_day > opts.days:
        raise FleetError(f"--outbreak-day {opts.outbreak_day} is after the last simulated day ({opts.days})")
    if opts.outbreak_growth <= 0:
        raise FleetError("--outbreak-growth must be positive")
    if not 1 <= opts.step_minutes <= 60 or 1440 % opts.step_minutes:
        raise FleetError("the telemetry step must divide a day (1–60 minutes)")
    for k in range(opts.kiosks):
        journal = opts.workdir / f"kiosk-{k + 1:02d}" / "journal.db"
        if journal.exists():
            raise FleetError(f"{opts.workdir} already holds a fleet run ({journal}); use a fresh --workdir")


def run_fleet(opts: FleetOptions, stop: threading.Event | None = None) -> FleetResult:
    """Simulate the fleet through real kiosk agents; returns what was injected and sent."""
    _check(opts)
    stop = stop or threading.Event()
    began = clock.monotonic()
    start = opts.start_date or (datetime.now(timezone.utc).date() - timedelta(days=opts.days))
    rng = np.random.default_rng(opts.seed)
    kiosks = [f"kiosk-{k + 1:02d}" for k in range(opts.kiosks)]
    workers = build_workforce(rng, kiosks, opts.workers)
    owner = zone_owner(kiosks)
    infections = outbreak_schedule(rng, opts, workers)
    fever_until: dict[int, int] = {}
    smoke = smoke_schedule(rng, opts, start)
    rules = load_rule_set()

    opts.workdir.mkdir(parents=True, exist_ok=True)
    roster_path = opts.workdir / "workplaces.toml"
    import tomli_w

    roster_path.write_text(tomli_w.dumps(roster_document(opts.site, workers)), encoding="utf-8")

    agents = {k: KioskAgent(kiosk_config(opts, k)).start() for k in kiosks}
    counts = {"exams": 0, "telemetry": 0, "events": 0, "telemetry_readings": 0}
    pending: dict[str, list[dict]] = {k: [] for k in kiosks}

    def flush(kiosk: str, force: bool = False) -> None:
        buf = pending[kiosk]
        while len(buf) >= opts.readings_per_record or (force and buf):
            chunk, pending[kiosk] = buf[:opts.readings_per_record], buf[opts.readings_per_record:]
            buf = pending[kiosk]
            agents[kiosk].record("telemetry", {"readings": chunk})
            counts["telemetry"] += 1
            counts["telemetry_readings"] += len(chunk)

    drained = False
    try:
        for k, agent in agents.items():
            if not agent.uplink.wait_connected(20):
                raise FleetError(f"kiosk {k} could not reach the broker at {opts.broker[0]}:{opts.broker[1]}")
        for d in range(opts.days):
            if stop.is_set():
                break
            day = start + timedelta(days=d)
            for i in infections.get(d, []):
                fever_until[i] = d + opts.fever_days - 1
            for i, w in enumerate(workers):
                if not w.works(d):
                    continue
                exam_rng = np.random.default_rng([opts.seed, d, i])
                lead = timedelta(minutes=float(exam_rng.uniform(5, 35)))
                moment = datetime.combine(day, w.shift["start"], timezone.utc) - lead
                person = replace(w.worker, febrile=fever_until.get(i, -1) >= d)
                agents[w.kiosk].record("exam", scripted_exam(exam_rng, person, rules, now=moment))
                counts["exams"] += 1
            for kiosk, readings in day_telemetry(rng, day, opts.step_minutes, owner, smoke).items():
                pending[kiosk].extend(readings)
                flush(kiosk)
            for s in (s for s in smoke if s["day_index"] == d):
                kiosk = owner[s["location"]]
                s["kiosk"] = kiosk
                agents[kiosk].record("event", {
                    "type": "smoke_alarm", "severity": "alarm", "zone": s["location"],
                    "device": f"{kiosk}-smoke-{s['location']}",
                    "message_ru": f"Сработал дымовой извещатель: {s['location']}",
                    "message_en": f"Smoke detector alarm: {s['location']}",
                    "details": {"detected_at": s["time"], "obscuration_pct_ft": 4.6}})
                counts["events"] += 1
        for kiosk in kiosks:
            flush(kiosk, force=True)
        deadline = clock.monotonic() + opts.drain_timeout_s
        while clock.monotonic() < deadline and not stop.is_set():
            if all(a.journal.outbox_depth() == 0 for a in agents.values()):
                drained = True
                break
            clock.sleep(0.05)
    finally:
        for agent in agents.values():
            agent.stop()

    outbreak = None
    if infections:
        outbreak = {"day": opts.outbreak_day, "date": (start + timedelta(days=opts.outbreak_day - 1)).isoformat(),
                    "growth": opts.outbreak_growth, "seed_cases": opts.outbreak_seed_cases,
                    "fever_days": opts.fever_days,
                    "infections": {(start + timedelta(days=d)).isoformat(): len(ids)
                                   for d, ids in sorted(infections.items())}}
    zones = [{**{k: v for k, v in asdict(z).items()}, "kiosk": owner[z.zone],
              "noisy": z.shift_db is not None and z.shift_db > 80} for z in ZONES]
    result = FleetResult(
        site=opts.site, start_date=start.isoformat(), days=opts.days, kiosks=kiosks, workers=len(workers),
        zones=zones, smoke=[{k: v for k, v in s.items() if k != "day_index"} for s in smoke], outbreak=outbreak,
        records=counts, roster_path=str(roster_path), elapsed_s=round(clock.monotonic() - began, 2),
        drained=drained, hub_acked_all=drained)
    (opts.workdir / "manifest.json").write_text(json.dumps(asdict(result), indent=2, ensure_ascii=False) + "\n",
                                                encoding="utf-8")
    return result


# --------------------------------------------------------------------------- ohs-sim fleet


def _broker(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kiosks", type=int, default=3, help="number of kiosks (default 3)")
    p.add_argument("--days", type=int, default=30, help="simulated days (default 30)")
    p.add_argument("--workers", type=int, default=60, help="workers per kiosk (default 60)")
    p.add_argument("--outbreak-day", type=int, default=15,
                   help="1-based day the febrile outbreak starts (default 15; 0 = no outbreak)")
    p.add_argument("--outbreak-growth", type=float, default=1.3, help="daily growth of new infections (default 1.3)")
    p.add_argument("--smoke-events", type=int, default=5, help="smoking incidents in smoke-free areas (default 5)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--broker", type=_broker, default=("127.0.0.1", 1883), help="MQTT broker HOST:PORT")
    p.add_argument("--site", default="plant-1", help="site id (default plant-1)")
    p.add_argument("--start-date", type=date.fromisoformat, default=None,
                   help="first simulated day, YYYY-MM-DD (default: the days end yesterday)")
    p.add_argument("--workdir", type=Path, default=Path("var/fleet"), help="journals, roster and manifest (fresh)")
    p.add_argument("--step-minutes", type=int, default=5, help="telemetry step, minutes (default 5)")


def options_from_args(a: argparse.Namespace) -> FleetOptions:
    return FleetOptions(kiosks=a.kiosks, days=a.days, workers=a.workers, outbreak_day=a.outbreak_day or None,
                        outbreak_growth=a.outbreak_growth, smoke_events=a.smoke_events, seed=a.seed,
                        broker=a.broker, site=a.site, start_date=a.start_date, workdir=a.workdir,
                        step_minutes=a.step_minutes)


async def run(a: argparse.Namespace) -> None:
    opts = options_from_args(a)
    _check(opts)
    stop = threading.Event()
    print(f"READY fleet {opts.broker[0]}:{opts.broker[1]}", flush=True)
    future = asyncio.get_running_loop().run_in_executor(None, run_fleet, opts, stop)
    try:
        result = await asyncio.shield(future)
    except asyncio.CancelledError:
        stop.set()
        await future
        raise
    print("DONE " + json.dumps({"records": result.records, "elapsed_s": result.elapsed_s, "drained": result.drained,
                                "manifest": str(opts.workdir / "manifest.json")}), flush=True)
    if not result.drained:
        print("fleet: the hub did not acknowledge every record in time", file=sys.stderr, flush=True)


DEVICES = {
    "fleet": ("N kiosks × D days of historical exams, noise/PM telemetry, smoke events and a febrile outbreak "
              "through real kiosk agents", configure, run),
}
