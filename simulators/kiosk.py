"""A simulated kiosk: the real kiosk agent (journal, outbox, uplink, admission rules) fed
by a scripted workforce instead of devices and a touch screen.

Each scripted worker of a seeded population "takes" an exam: measured values come from
``simulators.population``; the kiosk's real pre-decision (``edge_agent.admission``)
decides, and regulated re-tests are run on a compressed clock (the minutes are recorded
in the attempts, not waited for). The resulting exam record goes through the agent's
journal and uplink exactly as a real one. Environmental telemetry (noise, PM) from the
kiosk's zone is published periodically.

Run: ``ohs-sim kiosk --config kiosk.toml`` (or ``python -m simulators.kiosk``).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import numpy as np

from edge_agent.admission import decide, load_rule_set
from edge_agent.admission.models import Attempt, ExamInput
from edge_agent.agent import KioskAgent
from edge_agent.config import load_kiosk_config
from edge_agent.journal import JournalFull, TelemetryShed
from firmware_bridges.configfile import ConfigError
from firmware_bridges.logsetup import configure_logging
from firmware_bridges.readings import VITAL_FIELDS
from simulators import population

log = logging.getLogger(__name__)

MEASURED = VITAL_FIELDS
DEVICE_OF = {
    "systolic_mmhg": "sim-bp-cuff", "diastolic_mmhg": "sim-bp-cuff", "pulse_bpm": "sim-bp-cuff",
    "temperature_c": "sim-thermometer", "spo2_percent": "sim-oximeter", "brac_mg_l": "sim-alcotester",
}


def measure(rng: np.random.Generator, worker: population.Worker) -> dict[str, float]:
    """One full set of readings for a worker (population distributions, seeded)."""
    systolic, diastolic, pulse = population.sample_bp(rng, worker.age, worker.sex, worker.hypertensive)
    return {
        "systolic_mmhg": systolic,
        "diastolic_mmhg": diastolic,
        "pulse_bpm": pulse,
        "temperature_c": population.sample_temperature_c(rng, worker.febrile),
        "spo2_percent": population.sample_spo2(rng),
        "brac_mg_l": population.sample_brac_mg_l(rng, worker.intoxicated),
    }


def scripted_exam(rng: np.random.Generator, worker: population.Worker, rules, exam_type: str = "pre_shift",
                  now: datetime | None = None, max_rounds: int = 6) -> dict:
    """Run one exam to a final outcome with the real pre-decision; return the exam body."""
    attempts = [Attempt(minute=0, **measure(rng, worker))]
    decision = decide(ExamInput(exam_type=exam_type, attempts=attempts), rules)
    rounds = 0
    while decision.outcome in ("retest", "remeasure") and rounds < max_rounds:
        rounds += 1
        fresh = measure(rng, worker)
        if decision.outcome == "retest":
            minute = float(decision.retest_not_before_minute or attempts[-1].minute + 20)
            fields = sorted({f for p in decision.pending for f in p.fields} & set(MEASURED)) or list(MEASURED)
        else:
            minute = attempts[-1].minute + 1
            fields = [f for f in decision.remeasure if f in MEASURED] or list(MEASURED)
        attempts.append(Attempt(minute=minute, **{f: fresh[f] for f in fields}))
        decision = decide(ExamInput(exam_type=exam_type, attempts=attempts), rules)
    if decision.outcome in ("retest", "remeasure"):
        raise RuntimeError(f"scripted exam did not reach a final outcome after {max_rounds} rounds")
    # the compressed re-test minutes are placed in the past, so the exam finishes "now"
    finished = now or datetime.now(timezone.utc)
    started = finished - timedelta(minutes=attempts[-1].minute, seconds=90)
    measurements = []
    for number, attempt in enumerate(attempts, start=1):
        taken = started + timedelta(minutes=attempt.minute, seconds=60)
        for field in MEASURED:
            value = getattr(attempt, field)
            if value is not None:
                measurements.append({"field": field, "value": value, "attempt": number,
                                     "taken_at": taken.isoformat(), "device_model": DEVICE_OF[field],
                                     "device_serial": "SIM-0001"})
    return {
        "exam_id": str(uuid.uuid4()),
        "worker_id": worker.worker_id,
        "exam_type": exam_type,
        "started_at": started.isoformat(),
        "finished_at": finished.isoformat(),
        "answers": {"slept_enough": True, "feels_unwell": False, "took_medication": False},
        "measurements": measurements,
        "outcome": decision.outcome,
        "fired": [{"rule": f.rule, "source": f.source, "value": f.value} for f in decision.fired],
        "rule_set_version": decision.rule_set_version,
        "decided_by": "kiosk",
    }


def telemetry_batch(rng: np.random.Generator, kiosk: str, zone: str = "shop-1") -> dict:
    now = datetime.now(timezone.utc).isoformat()
    pm1, pm25, pm10 = population.sample_pm_ugm3(rng)
    return {"readings": [
        {"sensor_id": f"{kiosk}-noise", "zone": zone, "ts": now,
         "values": {"noise_dba": population.sample_noise_dba(rng, "shop")}},
        {"sensor_id": f"{kiosk}-pm", "zone": zone, "ts": now,
         "values": {"pm1_0_ugm3": pm1, "pm2_5_ugm3": pm25, "pm10_ugm3": pm10}},
    ]}


def run(config_path: str, exams: int | None, interval_s: float | None, telemetry: bool,
        stop: threading.Event) -> int:
    config = load_kiosk_config(config_path)
    sim = config.simulation
    workers = population.population(population.rng_from(sim.seed), sim.workers)
    rules = load_rule_set()
    agent = KioskAgent(config).start()
    # a restarted kiosk continues with other workers than it began with
    rng = np.random.default_rng([sim.seed, agent.journal.last_seq()])
    interval = interval_s if interval_s is not None else 60.0 / sim.exams_per_minute
    made, next_telemetry = 0, time.monotonic()
    print(f"simulated kiosk {config.identity.site}/{config.identity.kiosk}: {len(workers)} workers, "
          f"one exam every {interval:.2f} s; journal {config.journal.path}", flush=True)
    try:
        while not stop.is_set() and (exams is None or made < exams):
            worker = workers[int(rng.integers(len(workers)))]
            exam = scripted_exam(rng, worker, rules)
            while True:  # an exam is never dropped: with the disk full, wait until it can be journaled
                try:
                    record = agent.record("exam", exam)
                    break
                except JournalFull as error:
                    log.error("exam for %s waits: %s", worker.worker_id, error)
                    if stop.wait(1.0):
                        return 1
            made += 1
            log.info("exam seq %d: %s", record.seq, worker.worker_id)
            if telemetry and time.monotonic() >= next_telemetry:
                try:
                    agent.record("telemetry", telemetry_batch(rng, config.identity.kiosk))
                except TelemetryShed as shed:  # counted by the journal (telemetry_shed); exams keep their room
                    log.warning("%s", shed)
                next_telemetry = time.monotonic() + sim.telemetry_every_s
            stop.wait(interval)
        while not stop.is_set() and exams is not None and agent.journal.outbox_depth() > 0:
            stop.wait(0.1)  # --exams N: leave once the hub has acknowledged everything
    finally:
        agent.stop()
    return 0


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="kiosk TOML (see configs/kiosk.example.toml)")
    parser.add_argument("--exams", type=int, default=None, help="stop after this many exams (and a drained outbox)")
    parser.add_argument("--interval", type=float, default=None, help="seconds between workers (default: config)")
    parser.add_argument("--no-telemetry", action="store_true", help="do not publish noise/PM telemetry")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ohs-sim kiosk", description=__doc__.splitlines()[0])
    configure_parser(parser)
    args = parser.parse_args(argv)
    return run_from_args(args)


def run_from_args(args: argparse.Namespace) -> int:
    configure_logging(logging.WARNING)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        return run(args.config, args.exams, args.interval, not args.no_telemetry, stop)
    except ConfigError as error:
        print(f"configuration error:\n{error}", file=sys.stderr)
        return 2


async def _sim_runner(args: argparse.Namespace) -> None:
    """``ohs-sim kiosk``: the scripted kiosk in a worker thread; cancellation (Ctrl-C) stops it."""
    import asyncio

    stop = threading.Event()
    print(f"READY kiosk {args.config}", flush=True)
    try:
        await asyncio.to_thread(run, args.config, args.exams, args.interval, not args.no_telemetry, stop)
    finally:
        stop.set()


#: ohs-sim provider contract (simulators/cli.py)
DEVICES = {
    "kiosk": ("a scripted kiosk: the real kiosk agent fed by a seeded workforce (no devices)",
              configure_parser, _sim_runner),
}


if __name__ == "__main__":
    sys.exit(main())
