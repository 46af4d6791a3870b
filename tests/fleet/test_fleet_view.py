"""GET /api/v1/fleet: clock offsets from the kiosks' status (``clock_skew`` past the bound), registered
kiosks never heard from, and configurations the broker has not confirmed (``config_unpublished``)."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient

from firmware_bridges.contract import make_envelope
from firmware_bridges.mqtt_settings import MqttSettings, make_client
from hub.api import create_app
from hub.config import HubConfig
from hub.fleet import FleetRegistry
from hub.service import HubService
from hub.store import Store
from tests.foundation.helpers import hub_config, wait_until
from tests.storage.backend import use_store_of_this_test

ADMIN = "admin-token-0123456789"
TOKENS = [{"token": ADMIN, "role": "admin", "name": "admin"}]
AUTH = {"Authorization": f"Bearer {ADMIN}"}


def publish_status(broker, kiosk: str, offset: float | None, state: str = "online") -> None:
    client = make_client(MqttSettings(host=broker.host, port=broker.port), f"status-{kiosk}", clean_session=True)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        body = {"state": state, "clock_offset_s": offset, "config_version": None}
        envelope = make_envelope("plant-1", kiosk, "status", body, None)
        client.publish(f"ohs/v1/plant-1/{kiosk}/status", envelope.to_json(), qos=1, retain=True).wait_for_publish(5)
    finally:
        client.loop_stop()
        client.disconnect()


def test_clock_offsets_are_shown_and_skew_is_flagged(tmp_path, broker):
    hub = HubService(use_store_of_this_test(hub_config(tmp_path, broker, tokens=TOKENS))).start(connect_timeout=10)
    try:
        publish_status(broker, "kiosk-a", -95.5)  # the kiosk's clock is 95.5 s ahead of the hub's
        publish_status(broker, "kiosk-b", 12.0)
        publish_status(broker, "kiosk-c", None)  # no ack yet: offset unknown, never flagged
        publish_status(broker, "kiosk-d", 61.0, state="offline")
        FleetRegistry(hub.store).add("plant-1", "kiosk-e", "plant-1/kiosk-e", "test")  # registered, never seen
        wait_until(lambda: hub.store.scalar("SELECT count(*) FROM kiosks") == 4, message="four statuses stored")
        view = httpx.get(f"{hub.url}/api/v1/fleet", headers=AUTH).json()
        assert view["clock_skew_max_s"] == 60.0
        items = {i["kiosk"]: i for i in view["items"]}
        assert sorted(items) == ["kiosk-a", "kiosk-b", "kiosk-c", "kiosk-d", "kiosk-e"]
        assert (items["kiosk-a"]["clock_offset_s"], items["kiosk-a"]["clock_skew"]) == (-95.5, True)
        assert (items["kiosk-b"]["clock_offset_s"], items["kiosk-b"]["clock_skew"]) == (12.0, False)
        assert (items["kiosk-c"]["clock_offset_s"], items["kiosk-c"]["clock_skew"]) == (None, False)
        assert items["kiosk-d"]["problems"] == ["clock_skew", "offline"]
        assert items["kiosk-e"]["registered"] and items["kiosk-e"]["state"] is None
        assert items["kiosk-e"]["problems"] == []
        problems = {p["code"]: p for p in view["problems"]}
        assert problems["clock_skew"]["kiosks"] == ["plant-1/kiosk-a", "plant-1/kiosk-d"]
        assert "60 s" in problems["clock_skew"]["message"]
        assert problems["offline"]["kiosks"] == ["plant-1/kiosk-d"]
        # GET /api/v1/kiosks carries the same offsets
        kiosks = {i["kiosk"]: i for i in httpx.get(f"{hub.url}/api/v1/kiosks", headers=AUTH).json()["items"]}
        assert kiosks["kiosk-a"]["clock_offset_s"] == -95.5

        # the bound is configuration: at 10 s kiosk-b is flagged too
        strict = hub.config.model_copy(update={"fleet": hub.config.fleet.model_copy(update={"clock_skew_max_s": 10})})
        with TestClient(create_app(strict, hub.store)) as client:
            view = client.get("/api/v1/fleet", headers=AUTH).json()
        flagged = [i["kiosk"] for i in view["items"] if i["clock_skew"]]
        assert flagged == ["kiosk-a", "kiosk-b", "kiosk-d"] and view["clock_skew_max_s"] == 10
    finally:
        hub.stop()


def test_config_stored_while_the_hub_has_no_broker_is_flagged_unpublished(tmp_path):
    config = HubConfig.model_validate({"storage": {"path": str(tmp_path / "hub.db")}, "api": {"tokens": TOKENS}})
    store = Store(use_store_of_this_test(config).storage.target)
    try:
        FleetRegistry(store).add("plant-1", "kiosk-01", "plant-1/kiosk-01", "test")
        with TestClient(create_app(config, store, ingest=None)) as client:
            put = client.put("/api/v1/fleet/plant-1/kiosk-01/config", headers=AUTH,
                             json={"thresholds": {"noise_limit_dba": 85}})
            assert put.status_code == 202
            assert put.json()["published"] is False and "not connected" in put.json()["reason"]
            body = client.get("/api/v1/fleet/plant-1/kiosk-01/config", headers=AUTH).json()
            assert body["desired"]["version"] == 1 and body["desired"]["published_at"] is None
            assert body["desired"]["message"]["thresholds"] == {"noise_limit_dba": 85}
            view = client.get("/api/v1/fleet", headers=AUTH).json()
            assert view["items"][0]["problems"] == ["config_unpublished"]
            assert view["items"][0]["config"]["published"] is False
            again = client.post("/api/v1/fleet/plant-1/kiosk-01/config/republish", headers=AUTH)
            assert again.status_code == 202 and again.json()["version"] == 1
            assert client.post("/api/v1/fleet/plant-1/kiosk-02/config/republish", headers=AUTH).status_code == 404
            # a revoked kiosk takes no configuration
            FleetRegistry(store).revoke("plant-1", "kiosk-01", "test")
            revoked = client.put("/api/v1/fleet/plant-1/kiosk-01/config", headers=AUTH, json={})
            assert revoked.status_code == 409 and "revoked" in revoked.text
    finally:
        store.close()
