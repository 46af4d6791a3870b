"""(h) Duplicate floods and altered replays on the wire.

A raw paho publisher (not the kiosk) re-publishes envelopes the hub already stored, 50 times
each (in waves over ~5 s), and then replays 20 of them with the same identity (site, kiosk,
seq, event_id) but altered content (another worker, another outcome). Meanwhile the real kiosk
keeps journaling and sending.

Required: a duplicate is never stored twice (and is not an error: it is not dead-lettered);
an altered replay is not stored as the record — the hub keeps the original — and is flagged
(dead-lettered or quarantined, with a reason), once per altered message; the kiosk's own
records are all stored exactly once.
"""

from __future__ import annotations

import json
import time

import paho.mqtt.client as mqtt

from firmware_bridges.contract import encode_envelope, topic
from tests.faults.harness import (
    SITE,
    FaultWindow,
    Producer,
    assert_admissions_went_on,
    assert_exactly_once,
    eventually,
    flagged_rows,
    hub_config,
    hub_exam_count,
    hub_exams,
    journal_outbox,
    journal_rows,
    kiosk_config,
    ro_rows,
    say,
    tally,
    utc_now,
    wait_until,
    write_artifact,
)

KIOSK = "kiosk-h1"
COPIES = 50
ALTERED = 20


def _journal_envelopes(path, limit: int) -> list[tuple[str, bytes, dict]]:
    """(topic, payload, row) for the first ``limit`` records of the journal, as the kiosk sends them."""
    columns = [r[1] for r in ro_rows(path, "PRAGMA table_info(journal)")]
    has_incarnation = "incarnation" in columns
    rows = ro_rows(path, f"SELECT seq, event_id, kind, created_at, body{', incarnation' if has_incarnation else ''} "
                         f"FROM journal ORDER BY seq LIMIT ?", (limit,))
    out = []
    for row in rows:
        seq, event_id, kind, created_at, body = row[:5]
        payload = encode_envelope(SITE, KIOSK, kind, seq, event_id, created_at, False, body)
        if has_incarnation and row[5]:  # the envelope carries the journal incarnation once the code has one
            envelope = json.loads(payload)
            envelope["incarnation"] = row[5]
            payload = json.dumps(envelope, separators=(",", ":")).encode()
        out.append((topic(SITE, KIOSK, kind), payload,
                    {"seq": seq, "event_id": event_id, "kind": kind, "body": json.loads(body)}))
    return out


def _altered(payload: bytes, i: int) -> bytes:
    envelope = json.loads(payload)
    body = envelope["body"]
    body["worker_id"] = f"FORGED{i:04d}"
    body["outcome"] = "not_admitted" if body["outcome"] == "admitted" else "admitted"
    body["fired"] = [{"rule": "alcohol.positive", "source": "forged", "value": 0.9}] \
        if body["outcome"] == "not_admitted" else []
    return json.dumps(envelope, separators=(",", ":")).encode()


def test_duplicate_floods_are_absorbed_and_altered_replays_flagged(parts, tmp_path, artifacts_dir):
    broker = parts.broker()
    hub = parts.hub(hub_config(tmp_path, broker.host, broker.port))
    kconf = kiosk_config(tmp_path, KIOSK, broker.host, broker.port, outbox={"resend_after_s": 3})
    agent = parts.agent(kconf)
    producer = Producer(agent, interval=0.03, telemetry_every=0.3).start()
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="fault-replayer")
    publisher.max_inflight_messages_set(200)
    publisher.connect(broker.host, broker.port)
    publisher.loop_start()
    parts.on_close(lambda: (publisher.loop_stop(), publisher.disconnect()))
    try:
        wait_until(lambda: hub_exam_count(hub.db_path, KIOSK) >= 60, timeout=30, message="the first exams at the hub")
        wait_until(lambda: agent.journal.outbox_depth() < 50, timeout=30, message="the first records acked")
        originals = [e for e in _journal_envelopes(kconf.journal.path, 60)]
        stored_before = {r["event_id"]: r for r in hub_exams(hub.db_path, KIOSK)}
        originals = [e for e in originals if e[2]["kind"] != "exam" or e[2]["event_id"] in stored_before]
        flagged_before = len(flagged_rows(hub.db_path))
        received_before = _counter(hub, "received")

        flood = FaultWindow("duplicate flood and altered replays", utc_now())
        infos = []
        for _ in range(COPIES):  # in waves over ~5 s, while the kiosk goes on
            for name, payload, _row in originals:
                infos.append(publisher.publish(name, payload, qos=1))
            time.sleep(0.1)
        exam_originals = [e for e in originals if e[2]["kind"] == "exam"][:ALTERED]
        altered = []
        for i, (name, payload, row) in enumerate(exam_originals):
            altered.append(row["event_id"])
            infos.append(publisher.publish(name, _altered(payload, i), qos=1))
        for info in infos:
            info.wait_for_publish(timeout=60)
        say(f"published {len(infos) - len(altered)} duplicates and {len(altered)} altered replays")
        # let the hub work through the flood while the kiosk goes on
        flood_done = eventually(lambda: _counter(hub, "received") >= received_before + len(infos)
                                and hub.health()["queue_depth"] == 0, timeout=40)
        flood.end = utc_now()
    finally:
        counts = producer.stop()
    drained = eventually(lambda: agent.journal.outbox_depth() == 0, timeout=30)
    exams = journal_rows(kconf.journal.path, "exam")
    telemetry = journal_rows(kconf.journal.path, "telemetry")
    result = tally(hub.db_path, KIOSK, exams, sent_telemetry=telemetry, outbox_depth=journal_outbox(kconf.journal.path))
    after = {r["event_id"]: r for r in hub_exams(hub.db_path, KIOSK)}
    overwritten = [i for i in altered if (after[i]["worker_id"], after[i]["outcome"])
                   != (stored_before[i]["worker_id"], stored_before[i]["outcome"])]
    flagged = flagged_rows(hub.db_path)
    flagged_altered = [i for i in altered if any(i in f["payload"] for f in flagged)]
    flagged_without_reason = [f for f in flagged if not f["reason"]]
    new_flags = len(flagged) - flagged_before
    health = hub.health()
    write_artifact(artifacts_dir, "h_replays", {
        **result.as_dict(), "duplicates_published": COPIES * len(originals), "altered_published": len(altered),
        "hub_duplicates_counter": health["counters"].get("duplicates"), "flood_absorbed": flood_done,
        "altered_overwritten": len(overwritten), "altered_flagged": len(flagged_altered),
        "flagged_rows": new_flags, "flag_reasons": sorted({str(f["reason"])[:80] for f in flagged})[:5],
        "kiosk_exam_refusals": counts.exam_errors,
    })
    say(f"replays: {result.as_dict()}; altered flagged {len(flagged_altered)}/{len(altered)}")

    assert flood_done, "the hub did not work through the duplicate flood in 40 s"
    assert drained, f"{agent.journal.outbox_depth()} of the kiosk's records still in its outbox"
    assert_exactly_once(result)
    assert counts.exam_errors == 0, f"the kiosk refused exams during the flood: {counts.exam_error_sample}"
    assert_admissions_went_on(exams, [flood])
    assert not overwritten, f"{len(overwritten)} altered replays replaced the stored record"
    assert len(flagged_altered) == len(altered), (
        f"only {len(flagged_altered)} of {len(altered)} altered replays (same site/kiosk/seq/event_id, other content) "
        "were flagged (dead-lettered or quarantined)")
    assert not flagged_without_reason, f"{len(flagged_without_reason)} flagged messages without a reason"
    assert new_flags == len(altered), (
        f"{new_flags} messages flagged for {len(altered)} altered replays: exact duplicates must not be dead-lettered")


def _counter(hub, name: str) -> int:
    try:
        return int(hub.health()["counters"].get(name, 0))
    except Exception:  # noqa: BLE001 - a busy hub may be slow to answer; ask again
        return 0
