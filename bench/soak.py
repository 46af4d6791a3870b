"""Soak: random SIGKILLs of the hub, the broker and the kiosks under a steady exam + telemetry load.

Real parts only: Debian's mosquitto, the hub as ``python -m hub.cli run``, and kiosk processes
(the real KioskAgent, ``python -m tests.faults.harness kiosk``) journaling exams and telemetry
into their own SQLite journals. For ``--minutes`` a seeded RNG kills one part at a time with
SIGKILL at random moments and restarts it after a random pause. Then the kiosks stop making
exams, drain their outboxes, and every journal is compared with the hub's database by event id.

Prints the counts as one JSON line and exits 1 on any lost or duplicated record, a kiosk outbox
that did not drain, or a hub/broker outage during which a kiosk journaled no exam; 0 otherwise.
Bounded: the run stops by itself after ``--minutes`` plus at most ``--drain-timeout`` seconds.

Run from the repository root::

    .venv/bin/python bench/soak.py --minutes 10 --kiosks 2 [--seed 42] [--json-out artifacts/faults/soak.json]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.faults.harness import (  # noqa: E402
    Parts,
    Target,
    chaos,
    dead_letter_count,
    exams_within,
    hub_config,
    journal_outbox,
    journal_rows,
    kiosk_config,
    say,
    tally,
    utc_now,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long the kills go on (default 10)")
    parser.add_argument("--kiosks", type=int, default=2, help="kiosk processes (default 2)")
    parser.add_argument("--seed", type=int, default=None, help="RNG seed (default: a fresh one, printed)")
    parser.add_argument("--exam-interval", type=float, default=0.1, help="seconds between exams per kiosk")
    parser.add_argument("--telemetry-every", type=float, default=1.0, help="seconds between telemetry batches")
    parser.add_argument("--kill-gap", type=float, nargs=2, default=(3.0, 15.0), metavar=("MIN", "MAX"),
                        help="seconds between kills, drawn uniformly (default 3 15)")
    parser.add_argument("--down", type=float, nargs=2, default=(0.2, 5.0), metavar=("MIN", "MAX"),
                        help="seconds a killed part stays down, drawn uniformly (default 0.2 5)")
    parser.add_argument("--no-broker-kills", action="store_true", help="kill only the hub and the kiosks")
    parser.add_argument("--drain-timeout", type=float, default=180.0, help="seconds the final drain may take")
    parser.add_argument("--workdir", default=None, help="where databases and logs go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir even when the soak passes")
    parser.add_argument("--json-out", default=None, help="also write the result JSON to this file")
    args = parser.parse_args(argv)
    if not 0 < args.minutes <= 24 * 60:
        parser.error("--minutes must be in (0, 1440]")

    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 2**31)
    rng = random.Random(seed)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="ohs-soak-"))
    workdir.mkdir(parents=True, exist_ok=True)
    say(f"soak: seed {seed}, {args.minutes} min, {args.kiosks} kiosks, work dir {workdir}")
    parts = Parts(workdir)
    started = time.monotonic()
    ok = False
    try:
        broker = parts.broker()
        hub = parts.hub(hub_config(workdir, broker.host, broker.port))
        kiosks = []
        for n in range(args.kiosks):
            config = kiosk_config(workdir, f"kiosk-s{n + 1}", broker.host, broker.port,
                                  outbox={"resend_after_s": 5})
            kiosks.append(parts.kiosk_process(config, interval=args.exam_interval,
                                              telemetry_every=args.telemetry_every,
                                              drain_timeout=args.drain_timeout))
        targets = [Target("hub", hub.kill, hub.restart)]
        if not args.no_broker_kills:
            targets.append(Target("broker", broker.kill, broker.restart))
        targets += [Target(k.name, k.kill, k.restart) for k in kiosks]
        windows = chaos(rng, targets, args.minutes * 60, gap_s=tuple(args.kill_gap), down_s=tuple(args.down))
        chaos_s = time.monotonic() - started
        say(f"kills done after {chaos_s:.0f} s; draining")
        summaries = {k.name: k.finish(timeout=args.drain_timeout + 30) for k in kiosks}
        drain_s = time.monotonic() - started - chaos_s

        per_kiosk, totals = {}, {}
        gaps = []
        outages = [w for w in windows if w.what in ("kill -9 hub", "kill -9 broker") and w.seconds >= 1.0]
        for k in kiosks:
            exams = journal_rows(k.journal_path, "exam")
            telemetry = journal_rows(k.journal_path, "telemetry")
            result = tally(hub.db_path, k.name, exams, sent_telemetry=telemetry,
                           outbox_depth=journal_outbox(k.journal_path)).as_dict()
            if not result["lost"]:
                result.pop("lost_sample")
            result["process_exit"] = summaries[k.name].get("exit_code", 0)
            result["restarts"] = k.starts - 1
            per_kiosk[k.name] = result
            for key in ("sent", "stored", "lost", "duplicated", "unexpected", "telemetry_sent", "telemetry_stored",
                        "telemetry_lost", "telemetry_duplicated", "outbox_depth"):
                totals[key] = totals.get(key, 0) + (result.get(key) or 0)
            for window in outages:
                if exams_within(exams, window) == 0:
                    gaps.append({"kiosk": k.name, **window.as_dict()})
        totals["dead_lettered"] = dead_letter_count(hub.db_path)
        kills = {t.name: sum(1 for w in windows if w.what == f"kill -9 {t.name}") for t in targets}
        ok = (totals["lost"] == 0 and totals["duplicated"] == 0 and totals["unexpected"] == 0
              and totals["telemetry_lost"] == 0 and totals["telemetry_duplicated"] == 0
              and totals["outbox_depth"] == 0 and not gaps)
        report = {
            "soak": "pass" if ok else "FAIL", "seed": seed, "minutes": args.minutes, "kiosks": args.kiosks,
            "chaos_s": round(chaos_s, 1), "drain_s": round(drain_s, 1), "kills": kills,
            "hub_starts": hub.starts, "totals": totals, "per_kiosk": per_kiosk,
            "admission_gaps": gaps, "finished_at": utc_now().isoformat(), "workdir": str(workdir),
        }
        line = json.dumps(report, separators=(",", ":"))
        print(line, flush=True)
        if args.json_out:
            Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json_out).write_text(json.dumps(report, indent=2) + "\n")
    except Exception as error:  # noqa: BLE001 - the soak itself broke (a part would not restart): a failure
        print(json.dumps({"soak": "FAIL", "seed": seed, "error": f"{type(error).__name__}: {error}",
                          "after_s": round(time.monotonic() - started, 1), "workdir": str(workdir)}), flush=True)
    finally:
        parts.close()
        if ok and not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
