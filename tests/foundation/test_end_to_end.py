"""One exam travels kiosk -> real mosquitto -> hub -> ack back, exactly once."""

from __future__ import annotations

import httpx

from edge_agent.agent import KioskAgent
from hub.db.exam_body import decode_body_text
from hub.service import HubService
from tests.foundation.helpers import exam_body, hub_config, kiosk_config, wait_until


def test_one_exam_becomes_exactly_one_hub_record(tmp_path, broker):
    hub = HubService(hub_config(tmp_path, broker, anonymous_role="ohs")).start(connect_timeout=10)
    kiosk = KioskAgent(kiosk_config(tmp_path, broker)).start()
    try:
        record = kiosk.record("exam", exam_body())
        assert record.seq == 1
        wait_until(lambda: kiosk.journal.outbox_depth() == 0, message="the hub's ack to empty the outbox")
        exams = httpx.get(f"{hub.url}/api/v1/exams").json()
        assert exams["total"] == 1
        item = exams["items"][0]
        assert item["event_id"] == record.event_id
        assert (item["site"], item["kiosk"], item["seq"]) == ("plant-1", "kiosk-01", 1)
        assert item["outcome"] == "admitted"
        assert "measurements" not in item, "the OHS view must not carry medical values"
        assert hub.store.scalar("SELECT count(*) FROM received") == 1
        health = httpx.get(f"{hub.url}/api/v1/health").json()
        assert health["counters"]["stored"] == 1 and health["mqtt_connected"]
        kiosks = httpx.get(f"{hub.url}/api/v1/kiosks").json()["items"]
        assert kiosks[0]["kiosk"] == "kiosk-01" and kiosks[0]["state"] == "online"
    finally:
        kiosk.stop()
        hub.stop()


def test_ohs_sim_kiosk_publishes_decided_exams(tmp_path, broker):
    import subprocess
    import sys

    from tests.foundation.helpers import write_toml

    hub = HubService(hub_config(tmp_path, broker)).start(connect_timeout=10)
    try:
        config = write_toml(tmp_path / "kiosk.toml", kiosk_config(tmp_path, broker))
        run = subprocess.run([sys.executable, "-m", "simulators.cli", "kiosk", "--config", str(config),
                              "--exams", "3", "--interval", "0.05"], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        assert run.stdout.startswith("READY kiosk ")
        rows = hub.store.query("SELECT outcome, rule_set_version, body_z FROM exams")
        assert len(rows) == 3
        assert all(r["rule_set_version"] and '"measurements"' in decode_body_text(r["body_z"]) for r in rows)
    finally:
        hub.stop()
