"""(i) A poison flood: thousands of malformed messages mixed with a real kiosk's records.

3,000 bad messages, published QoS 1 by a raw paho client while the real kiosk keeps sending:
deeply nested JSON (``'[' * 5000`` and friends, which overflow Python's JSON decoder),
huge payloads (1 and 4 MB), NaN / Infinity / 1e400 numbers in otherwise valid exam envelopes,
non-UTF-8 bytes, empty payloads, wrong topics, wrong types, unknown schema versions, envelopes
on another kiosk's topic. Envelope-level poisons use a kiosk id of their own (``kiosk-p9``), so
any of them stored as an exam would show up as such.

Required: every bad message dead-lettered with a reason (exactly one dead letter each); every
valid record of the kiosk stored exactly once and acked; the hub process never stops; its health
answers throughout and tells the truth (its counts equal the database's).
"""

from __future__ import annotations

import json
import threading
import time
import uuid

import paho.mqtt.client as mqtt

from tests.faults.harness import (
    SITE,
    FaultWindow,
    Producer,
    assert_admissions_went_on,
    assert_exactly_once,
    dead_letter_count,
    eventually,
    hub_config,
    hub_exam_count,
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
from tests.foundation.helpers import exam_body

KIOSK = "kiosk-i1"
POISON_KIOSK = "kiosk-p9"
N_POISON = 3000


def _envelope(seq: int, **body_changes) -> dict:
    body = exam_body("W-POISON")
    body.update(body_changes)
    return {"schema": 1, "site": SITE, "kiosk": POISON_KIOSK, "seq": seq, "event_id": str(uuid.uuid4()),
            "ts": "2026-11-24T05:00:00+00:00", "historical": False, "kind": "exam", "body": body}


def _with_value(seq: int, literal: str) -> bytes:
    """A valid exam envelope whose first measurement value is a bare JSON literal (NaN, Infinity, 1e400)."""
    envelope = _envelope(seq)
    envelope["body"]["measurements"][0]["value"] = "__VALUE__"
    return json.dumps(envelope).replace('"__VALUE__"', literal).encode()


def poison(n: int) -> list[tuple[str, bytes, str]]:
    """(topic, payload, kind) for n bad messages; every topic is under ohs/v1/ (the hub hears them all)."""
    own = f"ohs/v1/{SITE}/{POISON_KIOSK}/exam"
    real = f"ohs/v1/{SITE}/{KIOSK}/exam"  # garbage on the real kiosk's topic must not disturb it
    makers = [
        ("deep_array", lambda i: (real, b"[" * 5000)),
        ("deep_object", lambda i: (own, b'{"a":' * 5000 + b"1" + b"}" * 5000)),
        ("deep_valid", lambda i: (own, b"[" * 5000 + b"]" * 5000)),
        ("deep_in_body", lambda i: (own, json.dumps(_envelope(i + 1)).replace(
            '"answers": {', '"answers": {"deep": ' + "[" * 5000 + "]" * 5000 + ", ", 1).encode())),
        ("nan", lambda i: (own, _with_value(i + 1, "NaN"))),
        ("infinity", lambda i: (own, _with_value(i + 1, "Infinity"))),
        ("minus_infinity", lambda i: (own, _with_value(i + 1, "-Infinity"))),
        ("overflow_number", lambda i: (own, _with_value(i + 1, "1e400"))),
        ("not_utf8", lambda i: (real, b"\xff\xfe\xfa" + bytes([i % 256]) * 20)),
        ("not_json", lambda i: (real, b"{not json " + str(i).encode())),
        ("empty", lambda i: (own, b"")),
        ("json_array", lambda i: (own, json.dumps([1, 2, i]).encode())),
        ("wrong_types", lambda i: (own, json.dumps({**_envelope(i + 1), "seq": f"seq-{i}"}).encode())),
        ("unknown_schema", lambda i: (own, json.dumps({**_envelope(i + 1), "schema": 99}).encode())),
        ("bad_kind_topic", lambda i: (f"ohs/v1/{SITE}/{POISON_KIOSK}/bogus", json.dumps(_envelope(i + 1)).encode())),
        ("short_topic", lambda i: (f"ohs/v1/{SITE}/{POISON_KIOSK}", json.dumps(_envelope(i + 1)).encode())),
        ("long_topic", lambda i: (f"{own}/extra", json.dumps(_envelope(i + 1)).encode())),
        ("bad_id_topic", lambda i: (f"ohs/v1/Plant_1/{POISON_KIOSK}/exam", json.dumps(_envelope(i + 1)).encode())),
        ("other_kiosks_topic", lambda i: (f"ohs/v1/{SITE}/kiosk-p8/exam", json.dumps(_envelope(i + 1)).encode())),
        ("bad_status", lambda i: (f"ohs/v1/{SITE}/{POISON_KIOSK}/status",
                                  json.dumps({**_envelope(i + 1), "kind": "status", "seq": None,
                                              "body": {"state": "exploded"}}).encode())),
    ]
    out = []
    for i in range(n):
        kind, make = makers[i % len(makers)]
        name, payload = make(i)
        out.append((name, payload, kind))
    # a few huge ones, in place of ordinary ones (1 MB and 4 MB of otherwise valid JSON)
    for j, size in enumerate([1 << 20] * 4 + [4 << 20] * 2):
        envelope = _envelope(100000 + j)
        envelope["body"]["answers"]["pad"] = "x" * size
        out[j * (n // 7) + 3] = (own, json.dumps(envelope).encode(), "huge")
    return out


def test_poison_flood_is_dead_lettered_while_the_kiosk_is_served(parts, tmp_path, artifacts_dir):
    broker = parts.broker()
    hub = parts.hub(hub_config(tmp_path, broker.host, broker.port))
    pid = hub.pid
    kconf = kiosk_config(tmp_path, KIOSK, broker.host, broker.port, outbox={"resend_after_s": 3})
    agent = parts.agent(kconf)
    producer = Producer(agent, interval=0.03, telemetry_every=0.3).start()
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="fault-poisoner")
    publisher.max_inflight_messages_set(100)
    publisher.connect(broker.host, broker.port)
    publisher.loop_start()
    parts.on_close(lambda: (publisher.loop_stop(), publisher.disconnect()))

    polls = {"answered": 0, "failed": 0, "errors": []}
    polling = threading.Event()

    def poll_health() -> None:
        while not polling.is_set():
            try:
                hub.health(timeout=5)
                polls["answered"] += 1
            except Exception as error:  # noqa: BLE001 - counted: health must answer throughout
                polls["failed"] += 1
                if len(polls["errors"]) < 3:
                    polls["errors"].append(f"{type(error).__name__}: {error}")
            polling.wait(0.5)

    poller = threading.Thread(target=poll_health, daemon=True)
    try:
        wait_until(lambda: hub_exam_count(hub.db_path, KIOSK) >= 20, timeout=30, message="the first exams at the hub")
        poller.start()
        messages = poison(N_POISON)
        kinds = {}
        for _, _, kind in messages:
            kinds[kind] = kinds.get(kind, 0) + 1
        started = time.monotonic()
        flood = FaultWindow("poison flood", utc_now())
        infos = []
        for k, (name, payload, _kind) in enumerate(messages):
            infos.append(publisher.publish(name, payload, qos=1))
            if k % 300 == 299:
                time.sleep(0.3)  # in waves, so the kiosk's records interleave with the flood
        for info in infos:
            info.wait_for_publish(timeout=60)
        publish_s = time.monotonic() - started
        say(f"published {len(messages)} poison messages in {publish_s:.1f} s")
        all_dead = eventually(lambda: dead_letter_count(hub.db_path) >= N_POISON, timeout=30)
        flood.end = utc_now()
        time.sleep(1.0)
    finally:
        counts = producer.stop()
        polling.set()
    drained = eventually(lambda: agent.journal.outbox_depth() == 0, timeout=30 if all_dead else 5)
    health = hub.health() if hub.alive else {}
    exams = journal_rows(kconf.journal.path, "exam")
    telemetry = journal_rows(kconf.journal.path, "telemetry")
    result = tally(hub.db_path, KIOSK, exams, sent_telemetry=telemetry, outbox_depth=journal_outbox(kconf.journal.path))
    dead = dead_letter_count(hub.db_path)
    no_reason = ro_rows(hub.db_path,
                        "SELECT count(*) FROM dead_letters WHERE reason IS NULL OR trim(reason) = ''")[0][0]
    poison_stored = ro_rows(hub.db_path, "SELECT count(*) FROM exams WHERE kiosk != ?", (KIOSK,))[0][0]
    by_reason = dict(ro_rows(hub.db_path, "SELECT substr(reason, 1, 40), count(*) FROM dead_letters GROUP BY 1 "
                                          "ORDER BY 2 DESC LIMIT 12"))
    db_exams = hub_exam_count(hub.db_path)
    write_artifact(artifacts_dir, "i_poison", {
        **result.as_dict(), "poison_sent": len(messages), "poison_kinds": kinds, "dead_letters": dead,
        "dead_letters_without_reason": no_reason, "poison_stored_as_exams": poison_stored,
        "dead_letter_reasons_top": by_reason, "health_polls": polls, "hub_same_process": hub.alive and hub.pid == pid,
        "health_final": {k: health.get(k) for k in ("status", "mqtt_connected", "queue_depth", "dead_letters",
                                                    "records")},
        "hub_store_failures": (health.get("counters") or {}).get("store_failures"),
        "kiosk_exam_refusals": counts.exam_errors, "hub_log_tail": hub.log_tail(8),
    })
    say(f"poison: {dead} dead letters of {len(messages)}; kiosk {result.as_dict()}")

    assert hub.alive and hub.pid == pid and hub.starts == 1, "the hub stopped during the poison flood"
    assert polls["failed"] == 0, f"health did not answer {polls['failed']} times during the flood: {polls['errors']}"
    assert poison_stored == 0, f"{poison_stored} poison messages were stored as exams"
    assert drained, f"{agent.journal.outbox_depth()} of the kiosk's records never acked during the poison flood"
    assert_exactly_once(result)
    assert counts.exam_errors == 0, f"the kiosk refused exams during the flood: {counts.exam_error_sample}"
    assert_admissions_went_on(exams, [flood])
    assert all_dead and dead == len(messages), f"{dead} dead letters for {len(messages)} poison messages"
    assert no_reason == 0, f"{no_reason} dead letters without a reason"
    assert health.get("status") == "ok" and health.get("mqtt_connected"), f"health after the flood: {health}"
    assert health["dead_letters"]["total"] == dead, "health's dead-letter total differs from the database"
    assert sum(health["dead_letters"]["by_reason"].values()) == dead, "health's dead-letter reasons do not add up"
    assert health["records"]["exams"] == db_exams, "health's exam count differs from the database"
