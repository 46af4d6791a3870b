"""One exam travels kiosk -> real mosquitto -> hub -> ack back, exactly once."""

from __future__ import annotations

import httpx

from edge_agent.agent import KioskAgent
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
