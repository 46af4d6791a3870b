"""(b) A long broker outage: hours of backlog, compressed, then the broker returns.

While mosquitto is down the kiosk journals 8 hours of a busy gate in a few seconds (2,400 exams
and 600 telemetry batches: one exam every 12 s, one batch every 48 s). When the broker is back,
the backlog drains at the configured rate (300 records/s) flagged ``historical``, and exams made
during the drain — live ones — overtake it.
"""

from __future__ import annotations

import time
from datetime import datetime

from tests.faults.harness import (
    FaultWindow,
    assert_exactly_once,
    hub_config,
    hub_exams,
    journal_outbox,
    journal_rows,
    kiosk_config,
    say,
    tally,
    telemetry_body,
    utc_now,
    wait_until,
    write_artifact,
)
from tests.foundation.helpers import exam_body

KIOSK = "kiosk-b1"
BACKLOG_EXAMS = 2400
BACKLOG_TELEMETRY = 600
BACKLOG_RATE = 300


def _ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_hours_of_backlog_drain_flagged_historical_while_live_exams_go_first(parts, tmp_path, artifacts_dir):
    broker = parts.broker()
    hub = parts.hub(hub_config(tmp_path, broker.host, broker.port))
    kconf = kiosk_config(tmp_path, KIOSK, broker.host, broker.port,
                         outbox={"backlog_rate_per_s": BACKLOG_RATE, "max_unacked": 1000, "batch": 200,
                                 "resend_after_s": 10},
                         watchdog={"stuck_after_s": 30, "offline_restart_after_s": 600})
    agent = parts.agent(kconf)
    assert agent.uplink.wait_connected(15)
    before = [agent.record("exam", exam_body(f"A{i:05d}")).event_id for i in range(20)]
    wait_until(lambda: agent.journal.outbox_depth() == 0, message="the first exams acked")

    broker.stop()
    outage = FaultWindow("broker down", utc_now())
    wait_until(lambda: not agent.uplink.connected, timeout=20, message="the kiosk to notice the outage")
    started = time.monotonic()
    backlog_ids = set()
    for i in range(BACKLOG_EXAMS):
        backlog_ids.add(agent.record("exam", exam_body(f"B{i % 5000:05d}")).event_id)
        if i % (BACKLOG_EXAMS // BACKLOG_TELEMETRY) == 0:
            agent.record("telemetry", telemetry_body(KIOSK, readings=4))
    journal_s = time.monotonic() - started
    depth_at_return = agent.journal.outbox_depth()
    say(f"journaled {depth_at_return} records in {journal_s:.1f} s with the broker down")

    broker.restart()
    outage.end = utc_now()
    assert agent.uplink.wait_connected(30), "the kiosk did not reconnect after the outage"
    reconnected = time.monotonic()

    # live exams: a burst the moment the connection is up (made after it came up: live, not backlog),
    # then one every 0.1 s for as long as the backlog drains
    live_ids = [agent.record("exam", exam_body(f"L{i:05d}")).event_id for i in range(5)]
    deadline = reconnected + 90
    while time.monotonic() < deadline:
        live_ids.append(agent.record("exam", exam_body(f"L{len(live_ids):05d}")).event_id)
        time.sleep(0.1)
        if len(live_ids) % 10 == 0 and agent.journal.outbox_depth() <= 5:
            break
    for _ in range(10):  # and a few more after the backlog is gone
        live_ids.append(agent.record("exam", exam_body(f"L{len(live_ids):05d}")).event_id)
        time.sleep(0.1)
    drained = True
    try:
        wait_until(lambda: agent.journal.outbox_depth() == 0, timeout=60, message="the backlog to drain")
    except AssertionError:
        drained = False
    drain_s = time.monotonic() - reconnected

    exams = journal_rows(kconf.journal.path, "exam")
    telemetry = journal_rows(kconf.journal.path, "telemetry")
    result = tally(hub.db_path, KIOSK, exams, sent_telemetry=telemetry, outbox_depth=journal_outbox(kconf.journal.path))
    rows = {row["event_id"]: row for row in hub_exams(hub.db_path, KIOSK)}
    created = {row["event_id"]: _ts(row["created_at"]) for row in exams}
    backlog_rows = [rows[i] for i in backlog_ids if i in rows]
    backlog_done = max((_ts(r["received_at"]) for r in backlog_rows), default=None)
    reconnected_at = outage.end.timestamp()
    # live exams made while at least 2 s of backlog drain remained: each must be stored before the backlog ends
    contested = [i for i in live_ids if backlog_done is not None and created[i] < backlog_done - 2.0]
    overtaken = [i for i in contested if i in rows and _ts(rows[i]["received_at"]) < backlog_done]
    latencies = sorted(_ts(rows[i]["received_at"]) - created[i] for i in live_ids if i in rows)
    not_historical = [r["event_id"] for r in backlog_rows if not r["historical"]]
    live_historical = [i for i in live_ids if i in rows and rows[i]["historical"]]
    live_historical_at = [live_ids.index(i) for i in live_historical]  # position in the live sequence
    write_artifact(artifacts_dir, "b_broker_outage", {
        **result.as_dict(), "backlog_records": depth_at_return, "backlog_exams": len(backlog_ids),
        "journal_s": round(journal_s, 2), "outage_s": round(outage.seconds, 1), "drain_s": round(drain_s, 1),
        "backlog_drain_s": round(backlog_done - reconnected_at, 1) if backlog_done else None,
        "live_exams": len(live_ids), "live_made_during_drain": len(contested), "live_overtook_backlog": len(overtaken),
        "live_latency_median_s": round(latencies[len(latencies) // 2], 3) if latencies else None,
        "live_latency_max_s": round(latencies[-1], 3) if latencies else None,
        "backlog_not_flagged_historical": len(not_historical), "live_flagged_historical": len(live_historical),
        "live_flagged_historical_positions": live_historical_at[:10],
        "live_flagged_historical_latency_s": [round(_ts(rows[i]["received_at"]) - created[i], 2)
                                              for i in live_historical[:10]],
    })

    assert drained, f"{agent.journal.outbox_depth()} records still in the outbox 60 s after the drain began"
    assert_exactly_once(result)
    assert len(before) + len(backlog_ids) + len(live_ids) == result.sent
    assert not not_historical, f"{len(not_historical)} backlog exams stored without the historical flag"
    assert not live_historical, f"{len(live_historical)} live exams stored flagged historical"
    assert backlog_done - reconnected_at > 4, "the backlog drained too fast for the live-first check to mean much"
    assert len(contested) >= 20, f"only {len(contested)} live exams were made while the backlog drained"
    assert len(overtaken) == len(contested), (
        f"{len(contested) - len(overtaken)} of {len(contested)} live exams were stored after the backlog: "
        "live records must go first")
    # admissions went on: the 2,400 backlog exams were journaled with the broker down
    assert len(backlog_ids) == BACKLOG_EXAMS
