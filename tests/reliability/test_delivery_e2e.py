"""Issue 10 against a real mosquitto: lost and restored journals, a spoofer pre-claiming sequences,
hundreds of forced reconnects, and a poison message in the middle of live traffic."""

from __future__ import annotations

import sqlite3
import time

import httpx
import paho.mqtt.client as mqtt

from edge_agent.agent import KioskAgent
from firmware_bridges.contract import make_envelope
from hub.service import HubService
from tests.foundation.helpers import exam_body, hub_config, kiosk_config, wait_until
from tests.reliability.helpers import use_store_of_this_test


def _hub_event_ids(hub) -> set[str]:
    return {row["event_id"] for row in hub.store.query("SELECT event_id FROM exams")}


def _journal_exam_ids(path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {row[0] for row in conn.execute("SELECT event_id FROM journal WHERE kind = 'exam'")}
    finally:
        conn.close()


def _write_exams(kiosk, count, prefix):
    return [kiosk.record("exam", exam_body(f"{prefix}{i:04d}")).event_id for i in range(count)]


def test_a_lost_journal_and_a_restored_backup_lose_no_new_exam(tmp_path, broker):
    hub = HubService(use_store_of_this_test(hub_config(tmp_path, broker))).start(connect_timeout=10)
    config = kiosk_config(tmp_path, broker, resend_after_s=2)
    journal_path = config.journal.path
    written: list[str] = []
    try:
        kiosk = KioskAgent(config).start()
        written += _write_exams(kiosk, 5, "A")
        wait_until(lambda: kiosk.journal.outbox_depth() == 0, message="first exams acked")
        backup = tmp_path / "backup.db"
        source = sqlite3.connect(journal_path)
        source.backup(sqlite3.connect(backup))  # a consistent copy of the live WAL database
        source.close()
        written += _write_exams(kiosk, 4, "B")
        wait_until(lambda: kiosk.journal.outbox_depth() == 0, message="exams after the backup acked")
        first_incarnation = kiosk.journal.incarnation
        kiosk.stop()

        # 1) the journal is lost (re-imaged SD card): same kiosk id, empty journal, sequence from 1
        for suffix in ("", "-wal", "-shm"):
            journal_path.with_name(journal_path.name + suffix).unlink(missing_ok=True)
        kiosk = KioskAgent(config).start()
        assert kiosk.journal.incarnation != first_incarnation
        written += _write_exams(kiosk, 6, "C")
        wait_until(lambda: kiosk.journal.outbox_depth() == 0, timeout=30, message="re-imaged kiosk's exams acked")
        wait_until(lambda: set(written) <= _hub_event_ids(hub), message="re-imaged kiosk's exams stored")
        kiosk.stop()

        # 2) the journal is restored from the older backup (it is behind what the hub holds)
        for suffix in ("", "-wal", "-shm"):
            journal_path.with_name(journal_path.name + suffix).unlink(missing_ok=True)
        backup.rename(journal_path)
        kiosk = KioskAgent(config).start()
        assert kiosk.journal.incarnation == first_incarnation
        wait_until(lambda: kiosk.journal.counters["incarnation_rotations"] == 1, timeout=20,
                   message="the kiosk to notice that its journal is behind the hub")
        written += _write_exams(kiosk, 6, "D")
        wait_until(lambda: kiosk.journal.outbox_depth() == 0, timeout=30, message="restored kiosk's exams acked")
        wait_until(lambda: set(written) <= _hub_event_ids(hub), message="restored kiosk's exams stored")
        assert hub.store.scalar("SELECT count(*) FROM exams") == len(written) == 21
        assert hub.store.scalar("SELECT count(*) FROM conflicts") == 0
        kiosk.stop()
    finally:
        hub.stop()


def _spoof(broker, incarnation, seqs):
    spoofer = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="spoofer")
    spoofer.connect(broker.host, broker.port)
    spoofer.loop_start()
    for seq in seqs:
        forged = make_envelope("plant-1", "kiosk-01", "exam", exam_body("W-SPOOF"), seq, incarnation=incarnation)
        spoofer.publish("ohs/v1/plant-1/kiosk-01/exam", forged.to_json(), qos=1).wait_for_publish(5)
    spoofer.loop_stop()
    spoofer.disconnect()


def test_a_spoofer_preclaiming_sequences_cannot_make_the_kiosk_drop_exams(tmp_path, broker):
    hub = HubService(use_store_of_this_test(hub_config(tmp_path, broker))).start(connect_timeout=10)
    config = kiosk_config(tmp_path, broker, resend_after_s=2)
    kiosk = KioskAgent(config).start()
    try:
        written = _write_exams(kiosk, 2, "R")
        wait_until(lambda: kiosk.journal.outbox_depth() == 0, message="first exams acked")
        # 1) future sequences claimed: the kiosk sees the hub "ahead" of its journal and takes a new
        #    incarnation, so its real exams never meet the forged ones
        incarnation = kiosk.journal.incarnation
        _spoof(broker, incarnation, range(3, 13))
        wait_until(lambda: hub.store.scalar("SELECT count(*) FROM exams WHERE worker_id = 'W-SPOOF'") == 10,
                   message="the forged records at the hub")
        wait_until(lambda: kiosk.journal.incarnation != incarnation, timeout=20,
                   message="the kiosk to see the hub ahead of its journal (the acks for the forged records)")
        written += _write_exams(kiosk, 10, "S")
        wait_until(lambda: kiosk.journal.outbox_depth() == 0, timeout=30, message="the real exams acked")
        assert set(written) <= _hub_event_ids(hub)
        kiosk.stop()

        # 2) sequences the kiosk already journaled (offline) are claimed before it sends them: the
        #    real records are kept whole as conflicts, flagged, and acknowledged by their own event id
        from edge_agent.journal import Journal
        journal = Journal(config.journal.path)
        incarnation, first = journal.incarnation, journal.last_seq() + 1
        offline = [journal.append("exam", exam_body(f"T{i:04d}")).event_id for i in range(5)]
        journal.close()
        _spoof(broker, incarnation, range(first, first + 5))
        wait_until(lambda: hub.store.scalar("SELECT count(*) FROM exams WHERE worker_id = 'W-SPOOF'") == 15,
                   message="the second forged batch at the hub")
        kiosk = KioskAgent(config).start()
        wait_until(lambda: kiosk.journal.outbox_depth() == 0, timeout=30, message="the offline exams acked")
        kept = {row["event_id"] for row in hub.store.query("SELECT event_id FROM conflicts")}
        assert set(offline) <= kept, "every real exam is stored under its own identity"
        health = httpx.get(f"{hub.url}/api/v1/health").json()
        assert any(p["code"] == "conflicts" and p["count"] == 5 for p in health["problems"]), health["problems"]
    finally:
        kiosk.stop()
        hub.stop()


def test_hundreds_of_forced_reconnects_lose_and_double_nothing(tmp_path, broker):
    hub = HubService(use_store_of_this_test(hub_config(tmp_path, broker))).start(connect_timeout=10)
    config = kiosk_config(tmp_path, broker, resend_after_s=1, backlog_rate_per_s=0)
    config.outbox.sync_wait_s = 0.2
    kiosk = KioskAgent(config).start()
    try:
        assert kiosk.uplink.wait_connected(10)
        written = []
        for round_ in range(300):
            written.append(kiosk.record("exam", exam_body(f"W{round_:05d}")).event_id)
            kiosk.uplink.request_restart("test: forced reconnect")
            if round_ % 10 == 0:
                time.sleep(0.05)
        assert kiosk.uplink.counters["watchdog_restarts"] >= 100
        wait_until(lambda: kiosk.journal.outbox_depth() == 0, timeout=120, message="the outbox to drain")
        stored = hub.store.query("SELECT event_id, count(*) AS n FROM exams GROUP BY event_id")
        assert {row["event_id"] for row in stored} == set(written) == _journal_exam_ids(config.journal.path)
        assert all(row["n"] == 1 for row in stored)
    finally:
        kiosk.stop()
        hub.stop()


def test_a_poison_message_amid_live_traffic_stops_nothing_and_health_stays_true(tmp_path, broker):
    hub = HubService(use_store_of_this_test(hub_config(tmp_path, broker))).start(connect_timeout=10)
    kiosk = KioskAgent(kiosk_config(tmp_path, broker)).start()
    raw = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="poisoner")
    raw.connect(broker.host, broker.port)
    raw.loop_start()
    try:
        assert kiosk.uplink.wait_connected(10)
        written = []
        for i in range(30):
            written.append(kiosk.record("exam", exam_body(f"W{i:05d}")).event_id)
            if i % 10 == 5:
                raw.publish("ohs/v1/plant-1/kiosk-01/exam", b"[" * 5000 + b"]" * 5000, qos=1)
                raw.publish("ohs/v1/plant-1/kiosk-01/exam", b'{"schema":1,"x":NaN}', qos=1)
        wait_until(lambda: kiosk.journal.outbox_depth() == 0, message="every real exam acked")
        assert set(written) == _hub_event_ids(hub)
        wait_until(lambda: hub.store.scalar("SELECT count(*) FROM dead_letters") == 6, message="6 dead letters")
        health = httpx.get(f"{hub.url}/api/v1/health").json()
        assert health["status"] == "ok", health
        assert health["dead_letters"]["totals"]["too_deep"]["messages"] == 3
        assert health["dead_letters"]["totals"]["not_finite"]["messages"] == 3
    finally:
        raw.loop_stop()
        raw.disconnect()
        kiosk.stop()
        hub.stop()
