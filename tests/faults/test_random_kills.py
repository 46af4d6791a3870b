"""(a) kill -9 at random moments, repeatedly, of the kiosk, the hub and the broker.

A real kiosk process journals exams and telemetry while a seeded RNG (seed printed; repeat a run
with OHS_FAULT_SEED) SIGKILLs the kiosk process, the hub process or mosquitto, restarting each
after a random pause. Afterwards every record is counted on both sides from the SQLite files.
"""

from __future__ import annotations

import time

import pytest

from tests.faults.harness import (
    Target,
    assert_admissions_went_on,
    assert_exactly_once,
    chaos,
    hub_config,
    hub_exam_count,
    journal_outbox,
    journal_rows,
    kiosk_config,
    say,
    tally,
    wait_until,
    write_artifact,
)

CHAOS_S = 24.0
KIOSK = "kiosk-a1"


@pytest.mark.slow  # a soak of random kills (~30 s); the default run kills each part once (test_faults, storage)
def test_random_sigkills_of_kiosk_hub_and_broker_lose_and_double_nothing(parts, rng, tmp_path, artifacts_dir):
    broker = parts.broker()
    hub = parts.hub(hub_config(tmp_path, broker.host, broker.port))
    kconf = kiosk_config(tmp_path, KIOSK, broker.host, broker.port, outbox={"resend_after_s": 2})
    kiosk = parts.kiosk_process(kconf, interval=0.03, telemetry_every=0.3)
    wait_until(lambda: hub_exam_count(hub.db_path, KIOSK) >= 10, timeout=30, message="the first exams at the hub")

    started = time.monotonic()
    targets = [Target("kiosk", kiosk.kill, kiosk.restart), Target("hub", hub.kill, hub.restart),
               Target("broker", broker.kill, broker.restart)]
    windows = chaos(rng, targets, CHAOS_S, gap_s=(1.0, 3.0), down_s=(0.2, 1.5))
    chaos_s = time.monotonic() - started

    summary = kiosk.finish(timeout=90)  # stop making exams, drain the outbox, exit
    drained_after_s = time.monotonic() - started - chaos_s
    exams = journal_rows(kconf.journal.path, "exam")
    telemetry = journal_rows(kconf.journal.path, "telemetry")
    result = tally(hub.db_path, KIOSK, exams, sent_telemetry=telemetry, outbox_depth=journal_outbox(kconf.journal.path))
    kills = {t.name: sum(1 for w in windows if w.what.endswith(t.name)) for t in targets}
    # admissions go on while the hub or the broker is dead; a dead kiosk process makes none by definition
    others = [w for w in windows if not w.what.endswith("kiosk")]
    write_artifact(artifacts_dir, "a_random_kills", {
        **result.as_dict(), "seed": rng.fault_seed, "kills": kills, "chaos_s": round(chaos_s, 1),
        "drain_s": round(drained_after_s, 1), "faults": [w.as_dict() for w in windows],
        "kiosk_summary": summary, "hub_starts": hub.starts,
    })
    say(f"random kills: {kills}; {result.as_dict()}")

    assert all(n >= 1 for n in kills.values()), f"every part must be killed at least once: {kills}"
    assert_exactly_once(result)
    assert result.outbox_depth == 0, f"{result.outbox_depth} records still in the kiosk outbox"
    assert_admissions_went_on(exams, others)
    assert hub.alive and broker.alive
