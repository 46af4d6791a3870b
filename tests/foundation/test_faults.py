"""Fault tests against a real mosquitto: hub SIGKILL, kiosk SIGKILL, broker outage, garbage."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid

import httpx
import paho.mqtt.client as mqtt

from edge_agent.agent import KioskAgent
from edge_agent.journal import Journal
from hub.service import HubService
from ohs_demo.broker import free_port, wait_listening
from tests.foundation.helpers import exam_body, hub_config, kiosk_config, wait_until, write_toml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _db_rows(path, sql):
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _start_hub_process(config_path, port):
    process = subprocess.Popen([sys.executable, "-m", "hub.cli", "run", "--config", str(config_path)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening("127.0.0.1", port, timeout=30, process=process)
    return process


def _assert_exactly_once(hub_db, journal_db):
    hub = _db_rows(hub_db, "SELECT seq, event_id FROM received WHERE kind = 'exam' ORDER BY seq")
    kiosk = _db_rows(journal_db, "SELECT seq, event_id FROM journal WHERE kind = 'exam' ORDER BY seq")
    assert hub == kiosk, "the hub must hold exactly the kiosk's journal: nothing lost, nothing doubled"
    assert [seq for seq, _ in kiosk] == list(range(1, len(kiosk) + 1)), "sequences must be contiguous"
    assert _db_rows(hub_db, "SELECT count(*) FROM exams")[0][0] == len(kiosk)


def test_hub_killed_mid_stream_loses_and_doubles_nothing(tmp_path, broker):
    config = hub_config(tmp_path, broker)
    config.api.port = free_port()
    hub_toml = write_toml(tmp_path / "hub.toml", config)
    hub = _start_hub_process(hub_toml, config.api.port)
    kiosk = KioskAgent(kiosk_config(tmp_path, broker, resend_after_s=3)).start()
    total, produced = 400, []

    def produce():
        for i in range(total):
            produced.append(kiosk.record("exam", exam_body(f"W{i:05d}")).seq)
            time.sleep(0.004)

    producer = threading.Thread(target=produce)
    try:
        producer.start()
        wait_until(lambda: len(produced) > 100 and _db_rows(config.storage.path, "SELECT count(*) FROM exams")[0][0] > 50,
                   message="the hub to store some records")
        hub.send_signal(signal.SIGKILL)
        hub.wait()
        stored_at_kill = _db_rows(config.storage.path, "SELECT count(*) FROM exams")[0][0]
        assert stored_at_kill < total
        time.sleep(1.0)
        hub = _start_hub_process(hub_toml, config.api.port)
        producer.join()
        wait_until(lambda: kiosk.journal.outbox_depth() == 0, timeout=60, message="the outbox to drain after restart")
        _assert_exactly_once(config.storage.path, kiosk.config.journal.path)
        assert len(produced) == total
    finally:
        producer.join()
        kiosk.stop()
        hub.send_signal(signal.SIGTERM)
        hub.wait(timeout=15)


def test_kiosk_killed_mid_publish_resumes_and_sequence_continues(tmp_path, broker):
    hub = HubService(hub_config(tmp_path, broker)).start(connect_timeout=10)
    kconfig = kiosk_config(tmp_path, broker)
    kiosk_toml = write_toml(tmp_path / "kiosk.toml", kconfig)
    argv = [sys.executable, "-m", "simulators.kiosk", "--config", str(kiosk_toml), "--no-telemetry"]
    try:
        first = subprocess.Popen(argv + ["--exams", "400", "--interval", "0.002"], cwd=ROOT,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_until(lambda: hub.store.scalar("SELECT count(*) FROM exams") >= 40, timeout=60,
                   message="records from the kiosk process")
        first.send_signal(signal.SIGKILL)
        first.wait()
        journal = Journal(kconfig.journal.path)
        seq_at_kill, pending_at_kill = journal.last_seq(), journal.outbox_depth()
        journal.close()
        assert 0 < seq_at_kill < 400, "the kill must land mid-run"
        second = subprocess.run(argv + ["--exams", "30", "--interval", "0.002"], cwd=ROOT, timeout=120,
                                capture_output=True, text=True)
        assert second.returncode == 0, second.stderr
        journal = Journal(kconfig.journal.path)
        assert journal.last_seq() == seq_at_kill + 30, "the sequence continues after the crash"
        assert journal.outbox_depth() == 0
        journal.close()
        wait_until(lambda: hub.store.scalar("SELECT count(*) FROM exams") == seq_at_kill + 30, timeout=30,
                   message="every journaled exam at the hub")
        _assert_exactly_once(hub.config.storage.path, kconfig.journal.path)
        print(f"killed at seq {seq_at_kill} with {pending_at_kill} unacknowledged records")
    finally:
        hub.stop()


def test_broker_outage_kiosk_keeps_journaling_and_catches_up(tmp_path, broker):
    hub = HubService(hub_config(tmp_path, broker)).start(connect_timeout=10)
    kiosk = KioskAgent(kiosk_config(tmp_path, broker, backlog_rate_per_s=100)).start()
    try:
        assert kiosk.uplink.wait_connected(10)
        for i in range(20):
            kiosk.record("exam", exam_body(f"W{i:05d}"))
        wait_until(lambda: kiosk.journal.outbox_depth() == 0, message="first records acked")
        broker.stop()
        wait_until(lambda: not kiosk.uplink.connected, timeout=20, message="the kiosk to notice the outage")
        for i in range(20, 80):
            kiosk.record("exam", exam_body(f"W{i:05d}"))
        time.sleep(2)
        assert kiosk.journal.outbox_depth() == 60, "records made during the outage wait in the journal"
        broker.restart()
        wait_until(lambda: kiosk.journal.outbox_depth() == 0, timeout=60, message="catch-up after the outage")
        _assert_exactly_once(hub.config.storage.path, kiosk.config.journal.path)
        historical = hub.store.query("SELECT seq FROM exams WHERE historical = 1 ORDER BY seq")
        assert [row["seq"] for row in historical] == list(range(21, 81)), "replayed backlog is flagged historical"
    finally:
        kiosk.stop()
        hub.stop()


def _malformed_payloads(n: int):
    """(topic, payload) pairs of every kind of garbage, n in all."""
    good = {"schema": 1, "site": "plant-1", "kiosk": "kiosk-09", "seq": 1, "event_id": str(uuid.uuid4()),
            "ts": "2026-11-24T05:00:00+00:00", "historical": False, "kind": "exam", "body": exam_body()}
    topic = "ohs/v1/plant-1/kiosk-09/exam"
    makers = [
        lambda i: (topic, b"{not json" + str(i).encode()),
        lambda i: (topic, json.dumps({**good, "seq": f"seq-{i}"}).encode()),
        lambda i: (topic, json.dumps({**good, "schema": 99, "seq": i + 1}).encode()),
        lambda i: (topic, json.dumps({**good, "seq": i + 1, "body": {**good["body"], "outcome": "maybe"}}).encode()),
        lambda i: (topic, b"\xff\xfe\x00garbage" + bytes([i % 256])),
        lambda i: (topic, json.dumps([1, 2, i]).encode()),
        lambda i: ("ohs/v1/plant-1/kiosk-10/exam", json.dumps({**good, "seq": i + 1, "event_id": str(uuid.uuid4())}).encode()),
        lambda i: ("ohs/v1/Plant_1/kiosk-09/exam", json.dumps({**good, "seq": i + 1}).encode()),
        lambda i: (topic, json.dumps({**good, "seq": i + 1, "pad": "x" * 300_000}).encode()),
        lambda i: (topic, json.dumps({**good, "seq": -i}).encode()),
    ]
    return [makers[i % len(makers)](i) for i in range(n)]


def test_thousand_malformed_payloads_are_dead_lettered_and_hub_keeps_serving(tmp_path, broker):
    hub = HubService(hub_config(tmp_path, broker, anonymous_role="ohs")).start(connect_timeout=10)
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="garbage-source")
    publisher.connect(broker.host, broker.port)
    publisher.loop_start()
    try:
        payloads = _malformed_payloads(1000)
        infos = [publisher.publish(t, p, qos=1) for t, p in payloads]
        for info in infos:
            info.wait_for_publish(timeout=30)
        wait_until(lambda: hub.store.scalar("SELECT count(*) FROM dead_letters") == 1000, timeout=60,
                   message="1000 dead letters")
        # the counters are updated right after the commit that made the rows visible
        wait_until(lambda: sum(hub.ingest.dead_letter_reasons.values()) == 1000, message="1000 counted")
        reasons = dict(hub.ingest.dead_letter_reasons)
        assert reasons == {"bad_json": 200, "invalid_fields": 300, "unknown_version": 100, "not_utf8": 100,
                           "topic_mismatch": 100, "bad_topic": 100, "oversized": 100}, reasons
        assert hub.store.scalar("SELECT count(*) FROM exams") == 0
        sample = hub.store.query("SELECT reason, payload_size FROM dead_letters WHERE reason LIKE 'oversized%' LIMIT 1")
        assert sample[0]["payload_size"] > 300_000
        health = httpx.get(f"{hub.url}/api/v1/health").json()
        assert health["status"] == "ok" and health["dead_letters"]["total"] == 1000
        kiosk = KioskAgent(kiosk_config(tmp_path, broker)).start()
        try:
            kiosk.record("exam", exam_body())
            wait_until(lambda: kiosk.journal.outbox_depth() == 0, message="a good exam after the garbage")
        finally:
            kiosk.stop()
        assert httpx.get(f"{hub.url}/api/v1/exams").json()["total"] == 1
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        hub.stop()
