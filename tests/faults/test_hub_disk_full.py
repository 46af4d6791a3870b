"""(c) The hub's disk fills up, then space comes back: ingest resumes by itself, no restart.

The hub's database lives on a small tmpfs (root only; skipped otherwise). While a kiosk keeps
sending, a filler file takes every free byte; the hub cannot commit. It must say so —
``GET /api/v1/health`` reports ``status: "degraded"`` with a reason while the fault lasts — and
when the filler is deleted it must resume on its own (same process), store every record exactly
once, and report ``ok`` again.
"""

from __future__ import annotations

import contextlib
import json
import time

from tests.faults.harness import (
    FaultWindow,
    Producer,
    assert_admissions_went_on,
    assert_exactly_once,
    eventually,
    fill_disk,
    free_bytes,
    hub_config,
    hub_exam_count,
    journal_outbox,
    journal_rows,
    kiosk_config,
    say,
    skip_unavailable,
    tally,
    tmpfs,
    utc_now,
    wait_until,
    write_artifact,
)

KIOSK = "kiosk-c1"
FULL_FOR_S = 10.0  # long enough for the un-stored messages to fill the broker's in-flight window to the hub
RESUME_S = 30.0


def _health(hub) -> dict:
    try:
        return hub.health(timeout=5)
    except Exception as error:  # noqa: BLE001 - an unanswered health check is itself a finding
        return {"status": None, "error": f"{type(error).__name__}: {error}"}


def _reason(health: dict):
    return health.get("reason") or health.get("reasons") or health.get("degraded") or health.get("problems")


def test_hub_disk_full_reports_degraded_and_resumes_without_restart(parts, tmp_path, artifacts_dir):
    stack = contextlib.ExitStack()
    parts.on_close(stack.close)  # unmounted after everything below is stopped
    disk = skip_unavailable(stack.enter_context, tmpfs(tmp_path / "hub-disk", "24m"))
    broker = parts.broker()
    hub = parts.hub(hub_config(tmp_path, broker.host, broker.port, db_path=disk / "hub.db"))
    pid = hub.pid
    kconf = kiosk_config(tmp_path, KIOSK, broker.host, broker.port, outbox={"resend_after_s": 2})
    agent = parts.agent(kconf)
    producer = Producer(agent, interval=0.02, telemetry_every=0.3).start()
    try:
        wait_until(lambda: hub_exam_count(hub.db_path, KIOSK) >= 20, timeout=30, message="the first exams at the hub")
        healthy_before = _health(hub)

        filler = fill_disk(disk)
        full = FaultWindow("hub disk full", utc_now())
        say(f"hub disk filled ({filler.stat().st_size // 1024} KiB filler, {free_bytes(disk)} bytes free)")
        samples = []
        stored_at_fill = hub_exam_count(hub.db_path, KIOSK)
        deadline = time.monotonic() + FULL_FOR_S
        while time.monotonic() < deadline or not samples:
            samples.append(_health(hub))
            time.sleep(0.5)
        degraded = [s for s in samples if s.get("status") == "degraded"]
        answered = [s for s in samples if s.get("status") is not None]
        stored_while_full = hub_exam_count(hub.db_path, KIOSK) - stored_at_fill

        filler.unlink()
        full.end = utc_now()
        freed = time.monotonic()
        time.sleep(2.0)  # admissions go on after the space is back, too
    finally:
        counts = producer.stop()
    made = journal_rows(kconf.journal.path, "exam")
    caught_up = eventually(lambda: hub_exam_count(hub.db_path, KIOSK) >= len(made), timeout=RESUME_S)
    resumed_after_s = time.monotonic() - freed
    drained = eventually(lambda: agent.journal.outbox_depth() == 0, timeout=20 if caught_up else 1)
    health_after = [None]

    def healthy() -> bool:
        health_after[0] = _health(hub)
        return health_after[0].get("status") == "ok"

    back_to_ok = eventually(healthy, timeout=15, interval=0.5)
    exams = journal_rows(kconf.journal.path, "exam")
    telemetry = journal_rows(kconf.journal.path, "telemetry")
    result = tally(hub.db_path, KIOSK, exams, sent_telemetry=telemetry, outbox_depth=journal_outbox(kconf.journal.path))
    write_artifact(artifacts_dir, "c_hub_disk_full", {
        **result.as_dict(), "full_s": round(full.seconds, 1), "stored_while_full": stored_while_full,
        "caught_up": caught_up, "resumed_after_s": round(resumed_after_s, 1) if caught_up else None,
        "health_before": healthy_before.get("status"), "health_samples_while_full": [s.get("status") for s in samples],
        "degraded_reason": _reason(degraded[0]) if degraded else None,
        "health_after": health_after[0], "hub_starts": hub.starts, "hub_same_pid": hub.pid == pid and hub.alive,
        "exam_refusals_at_kiosk": counts.exam_errors, "hub_log_tail": hub.log_tail(15),
    })

    assert hub.alive and hub.pid == pid and hub.starts == 1, "the hub must ride out a full disk without a restart"
    assert counts.exam_errors == 0, f"the kiosk refused exams: {counts.exam_error_sample}"
    assert_admissions_went_on(exams, [full])
    assert caught_up, (f"ingest did not resume by itself within {RESUME_S:.0f} s of freeing space: the hub holds "
                       f"{hub_exam_count(hub.db_path, KIOSK)} of {len(made)} exams")
    assert drained, f"{agent.journal.outbox_depth()} records still in the kiosk outbox"
    assert_exactly_once(result)
    assert len(answered) == len(samples), "GET /api/v1/health stopped answering while the disk was full"
    assert degraded, f"health never said 'degraded' while the disk was full: {[s.get('status') for s in samples]}"
    assert all(_reason(s) for s in degraded), f"a degraded health must give its reason: {degraded[0]}"
    assert any("full" in json.dumps(_reason(s)).lower() for s in degraded), (
        f"the degraded health must name the real cause (SQLite: 'database or disk is full'), not: "
        f"{_reason(degraded[0])}")
    assert back_to_ok, f"health did not return to 'ok' after space came back: {health_after[0]}"
