"""(d) The kiosk's disk fills up: no exam is ever dropped; telemetry is shed, and counted.

The kiosk journal lives on a 64 MiB tmpfs (root only; skipped otherwise). Two phases:

1. *filling*: a filler file leaves 20 MiB; the kiosk journals an exam and a big telemetry batch
   (20 readings with 3 KB of raw samples each, ~60 KB) per step, 400 steps: ~24 MB of telemetry,
   more than the room left, so a space policy must act;
2. *full*: a second filler takes everything but 256 KiB; the kiosk journals 600 more exams (and
   tries as many telemetry batches): far more than 256 KiB, so exams fit only if the kiosk kept
   room for them.

The policy (journal owner; docs/kiosk-operator.md): telemetry is shed while free space is short,
counted as ``telemetry_shed``; exams always fit. The test asserts every exam was journaled and
delivered, and every telemetry batch not journaled is counted (none lost silently).
"""

from __future__ import annotations

import contextlib

from tests.faults.harness import (
    FaultWindow,
    assert_admissions_went_on,
    assert_exactly_once,
    eventually,
    fill_disk,
    find_counter,
    free_bytes,
    hub_config,
    hub_exam_count,
    hub_received_ids,
    journal_outbox,
    journal_rows,
    kiosk_config,
    say,
    skip_unavailable,
    tally,
    telemetry_body,
    tmpfs,
    utc_now,
    write_artifact,
)
from tests.foundation.helpers import exam_body

KIOSK = "kiosk-d1"
MIB = 1024 * 1024
STEPS = 400
FULL_EXAMS = 600


def test_kiosk_disk_full_keeps_every_exam_and_counts_shed_telemetry(parts, tmp_path, artifacts_dir):
    stack = contextlib.ExitStack()
    parts.on_close(stack.close)
    disk = skip_unavailable(stack.enter_context, tmpfs(tmp_path / "kiosk-disk", "64m"))
    broker = parts.broker()
    hub = parts.hub(hub_config(tmp_path, broker.host, broker.port))
    kconf = kiosk_config(tmp_path, KIOSK, broker.host, broker.port, journal_path=disk / "journal.db",
                         signing_key=tmp_path / "keys" / f"{KIOSK}.pem", outbox={"resend_after_s": 3})
    agent = parts.agent(kconf)
    assert agent.uplink.wait_connected(15)

    exam_errors, telemetry = [], {"attempts": 0, "journaled": 0, "refused": 0, "refusals": {}}

    def step(i: int, raw_bytes: int) -> None:
        try:
            agent.record("exam", exam_body(f"D{i:05d}"))
        except Exception as error:  # noqa: BLE001 - an exam refused for lack of space is the failure
            exam_errors.append(f"{type(error).__name__}: {error}")
        telemetry["attempts"] += 1
        try:
            record = agent.record("telemetry", telemetry_body(KIOSK, readings=20, raw_bytes=raw_bytes))
        except Exception as error:  # noqa: BLE001 - shed by policy (or failed): must be counted
            telemetry["refused"] += 1
            name = type(error).__name__
            telemetry["refusals"][name] = telemetry["refusals"].get(name, 0) + 1
        else:
            if record is None:
                telemetry["refused"] += 1
            else:
                telemetry["journaled"] += 1

    for i in range(50):
        step(i, raw_bytes=0)
    filler = fill_disk(disk, leave_bytes=20 * MIB)
    filling = FaultWindow("kiosk disk filling", utc_now())
    say(f"kiosk disk: {free_bytes(disk) // 1024} KiB left after the first filler")
    for i in range(50, 50 + STEPS):
        step(i, raw_bytes=3000)
    filling.end = utc_now()
    free_after_filling = free_bytes(disk)
    shed_after_filling = telemetry["refused"]

    second = fill_disk(disk, leave_bytes=256 * 1024, name="filler-2.bin")
    full = FaultWindow("kiosk disk full", utc_now())
    say(f"kiosk disk: {free_bytes(disk) // 1024} KiB left after the second filler")
    for i in range(50 + STEPS, 50 + STEPS + FULL_EXAMS):
        step(i, raw_bytes=3000)
    free_at_end = free_bytes(disk)
    exams_made = journal_rows(kconf.journal.path, "exam")
    delivered_while_full = eventually(lambda: hub_exam_count(hub.db_path, KIOSK) >= len(exams_made), timeout=30)
    filler.unlink()
    second.unlink()
    full.end = utc_now()
    drained = eventually(lambda: agent.journal.outbox_depth() == 0, timeout=30)
    shed = find_counter(agent, "telemetry_shed")
    counters = dict(getattr(agent.journal, "counters", {}) or {})

    exams = journal_rows(kconf.journal.path, "exam")
    result = tally(hub.db_path, KIOSK, exams, outbox_depth=journal_outbox(kconf.journal.path))
    telemetry_at_hub = len(set(hub_received_ids(hub.db_path, KIOSK, "telemetry")))
    write_artifact(artifacts_dir, "d_kiosk_disk_full", {
        **result.as_dict(), "exam_refusals": len(exam_errors), "exam_refusal_sample": exam_errors[:3],
        "telemetry_attempts": telemetry["attempts"], "telemetry_journaled": telemetry["journaled"],
        "telemetry_refused": telemetry["refused"], "telemetry_refusals_by_type": telemetry["refusals"],
        "telemetry_shed_counter": shed, "telemetry_at_hub": telemetry_at_hub, "journal_counters": counters,
        "free_bytes_after_filling": free_after_filling, "telemetry_shed_while_filling": shed_after_filling,
        "free_bytes_at_end_of_fault": free_at_end, "delivered_while_full": delivered_while_full,
    })

    assert not exam_errors, f"{len(exam_errors)} exams refused on a full disk, e.g. {exam_errors[:2]}"
    assert_admissions_went_on(exams, [filling, full])
    assert delivered_while_full, "exams journaled on the full disk did not all reach the hub"
    assert drained, f"{agent.journal.outbox_depth()} records still in the outbox after space came back"
    assert_exactly_once(result, telemetry=False)
    assert shed_after_filling > 0, "telemetry filled the disk and none was shed: the test proved nothing"
    assert shed is not None, "no 'telemetry_shed' counter found on the kiosk (status, journal or uplink counters)"
    assert shed == telemetry["refused"], (
        f"{telemetry['refused']} telemetry batches were not journaled but telemetry_shed counts {shed}: "
        "telemetry losses must be counted, not silent")
    assert telemetry_at_hub == telemetry["journaled"], (
        f"{telemetry['journaled']} telemetry batches journaled, {telemetry_at_hub} at the hub")
