"""(e) The kiosk's clock is a day wrong (ahead, then behind).

The kiosk process runs under libfaketime (Debian package ``faketime``; skipped when missing) with
its wall clock shifted by a day; monotonic time stays real. The system clock is not touched. Every
record must still be stored exactly once, and the hub must show the offset: the kiosk computes
``clock_offset_s`` (hub's ack time minus its own clock) and reports it in its status, which the hub
serves at ``GET /api/v1/kiosks``.
"""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from tests.faults.harness import (
    assert_exactly_once,
    eventually,
    faketime_env,
    hub_config,
    hub_exam_count,
    hub_exams,
    journal_outbox,
    journal_rows,
    kiosk_config,
    skip_unavailable,
    tally,
    wait_until,
    write_artifact,
)

DAY = 86400.0


@pytest.mark.parametrize("shift", ["+1d", "-1d"], ids=["ahead", "behind"])
def test_kiosk_clock_a_day_wrong_stores_exactly_once_and_hub_shows_the_offset(parts, tmp_path, artifacts_dir, shift):
    env = skip_unavailable(faketime_env, shift)
    kiosk_ahead_s = DAY if shift.startswith("+") else -DAY
    kiosk_id = "kiosk-e1" if kiosk_ahead_s > 0 else "kiosk-e2"
    broker = parts.broker()
    hub = parts.hub(hub_config(tmp_path, broker.host, broker.port))
    kconf = kiosk_config(tmp_path, kiosk_id, broker.host, broker.port, watchdog={"status_every_s": 1})
    kiosk = parts.kiosk_process(kconf, interval=0.04, telemetry_every=0.4, env=env)
    wait_until(lambda: hub_exam_count(hub.db_path, kiosk_id) >= 20, timeout=30, message="exams from the skewed kiosk")
    # the status after the first ack carries the offset
    seen = {}

    def offset_reported() -> bool:
        status = hub.kiosk_status(kiosk_id) or {}
        seen.update(status)
        return status.get("clock_offset_s") is not None

    reported = eventually(offset_reported, timeout=20, interval=0.5)
    time.sleep(4.0)  # a few hundred exams in all
    summary = kiosk.finish(timeout=60)
    final_status = hub.kiosk_status(kiosk_id) or {}
    exams = journal_rows(kconf.journal.path, "exam")
    telemetry = journal_rows(kconf.journal.path, "telemetry")
    result = tally(hub.db_path, kiosk_id, exams, sent_telemetry=telemetry,
                   outbox_depth=journal_outbox(kconf.journal.path))
    rows = hub_exams(hub.db_path, kiosk_id)
    skews = sorted(datetime.fromisoformat(r["kiosk_ts"]).timestamp()
                   - datetime.fromisoformat(r["received_at"]).timestamp() for r in rows)
    offset = seen.get("clock_offset_s")
    write_artifact(artifacts_dir, f"e_clock_{'ahead' if kiosk_ahead_s > 0 else 'behind'}", {
        **result.as_dict(), "shift": shift, "clock_offset_s_at_hub": offset,
        "clock_offset_s_final": final_status.get("clock_offset_s"), "kiosk_summary": summary,
        "kiosk_ts_minus_received_median_s": round(skews[len(skews) // 2], 1) if skews else None,
    })

    assert skews and abs(skews[len(skews) // 2] - kiosk_ahead_s) < 600, (
        "the kiosk's clock was not shifted (libfaketime did not take): kiosk_ts - received_at = "
        f"{skews[len(skews) // 2] if skews else None}")
    assert result.sent >= 50, f"the skewed kiosk journaled only {result.sent} exams: admissions must go on"
    assert_exactly_once(result)
    assert result.outbox_depth == 0
    assert reported, f"the hub never showed clock_offset_s for {kiosk_id}: {seen}"
    # hub time minus kiosk time: a kiosk a day ahead shows about -86400 s
    assert abs(offset - (-kiosk_ahead_s)) < 600, f"clock_offset_s = {offset}, expected about {-kiosk_ahead_s:+.0f} s"
