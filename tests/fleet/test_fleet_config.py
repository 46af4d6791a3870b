"""Configuration pushed to a kiosk (retained, versioned ``config``) and reported back in its status.

The real kiosk runtime (simulated devices, ``tests/kiosk_ui/kiosk_world.py``), a real mosquitto
(the ``broker`` fixture) and the hub in-process with an admin token:

* PUT stores version 1 and publishes it retained with QoS 1; the kiosk applies the rule set and the
  thresholds at once (no exam in progress), stores the message beside its journal, and reports
  ``config_version`` in its status: GET …/config shows desired = running, GET /api/v1/kiosks shows it;
* an invalid rule set is refused by the kiosk, which keeps running version 1 and says why;
* a rule-set change during an exam waits until no exam is in progress (``pending`` in the status);
* stale ``base_version`` → 409, non-admin → 403, unknown kiosk → 404, NaN → 422.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
import tomllib

import httpx
import paho.mqtt.client as mqtt

from edge_agent.admission import DEFAULT_RULES_PATH
from hub.config import KioskKey
from hub.service import HubService
from tests.foundation.helpers import hub_config
from tests.kiosk_ui.kiosk_world import IVANOV, kiosk_world, run_async
from tests.storage.backend import use_store_of_this_test

ADMIN = "admin-token-0123456789"
OHS = "ohs-token-0123456789ab"
TOKENS = [{"token": ADMIN, "role": "admin", "name": "Админ Сидоров"}, {"token": OHS, "role": "ohs", "name": "ОТ"}]
BASE = "/api/v1/fleet/plant-1/gate-1/config"


def rules(version: str) -> dict:
    data = tomllib.loads(DEFAULT_RULES_PATH.read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    data["rule_set"]["version"] = version
    return data


def retained_config(broker) -> tuple[dict | None, bool]:
    """What a fresh subscriber gets on the kiosk's config topic (the retained message)."""
    got: dict = {}
    client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=f"probe-{time.time_ns()}")
    client.on_message = lambda c, u, m: got.setdefault("m", (json.loads(m.payload), m.retain))
    client.on_connect = lambda c, u, f, r, p: c.subscribe("ohs/v1/plant-1/gate-1/config", qos=1)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        deadline = time.monotonic() + 5
        while "m" not in got and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        client.loop_stop()
        client.disconnect()
    return got.get("m", (None, False))


async def until(predicate, timeout: float = 20.0, what: str = "condition"):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


def test_config_push_apply_report_reject_and_wait_for_idle(tmp_path, broker):
    async def scenario():
        async with kiosk_world(tmp_path / "k", broker, workers=[IVANOV], hub=False,
                               workflow={"exam_types": ["pre_shift"]}) as world:
            runtime = world.runtime
            config = use_store_of_this_test(hub_config(tmp_path, broker, tokens=TOKENS)).model_copy(update={"kiosks": [KioskKey(
                site="plant-1", kiosk="gate-1", public_key=runtime.agent.sealer.public_key)]})
            hub = await asyncio.to_thread(lambda: HubService(config).start(connect_timeout=10))
            admin = {"Authorization": f"Bearer {ADMIN}"}
            try:
                async with httpx.AsyncClient(base_url=hub.url, timeout=20) as http:
                    await asyncio.to_thread(runtime.agent.uplink.wait_connected, 10)
                    assert runtime.pushed["running"] is None
                    local_limit = runtime.env_limits.noise_limit_dba

                    # 1. version 1: stored, published retained (QoS 1), applied at once (no exam in progress)
                    put = await http.put(BASE, headers=admin, json={
                        "admission_rules": rules("2026.1.0-hub1"), "thresholds": {"noise_limit_dba": 85.0},
                        "roster_version": "r1", "base_version": 0})
                    assert put.status_code == 200, put.text
                    assert put.json() == {"site": "plant-1", "kiosk": "gate-1", "version": 1, "published": True,
                                          "reason": None}
                    await until(lambda: runtime.pushed["running"] == "1", what="version 1 running at the kiosk")
                    assert world.workflow.rules.version == "2026.1.0-hub1" and runtime.rules is world.workflow.rules
                    assert runtime.env_limits.noise_limit_dba == 85.0 != local_limit
                    stored = json.loads((tmp_path / "k" / "kiosk" / "hub-config.json").read_text())
                    assert stored["version"] == "1" and stored["thresholds"] == {"noise_limit_dba": 85.0}
                    message, retain = await asyncio.to_thread(retained_config, broker)
                    assert retain and message["version"] == "1" and message["schema"] == 1
                    assert message["admission_rules"]["rule_set"]["version"] == "2026.1.0-hub1"

                    # the kiosk reports it: desired = running at the hub, /kiosks shows it
                    async def synced(version: str):
                        body = (await http.get(BASE, headers=admin)).json()
                        return body if body["running"]["version"] == version else None

                    body = await until(lambda: synced("1"), what="the hub sees version 1 running")
                    assert body["in_sync"] and body["desired"]["version"] == 1
                    assert body["desired"]["who"] == "Админ Сидоров" and body["desired"]["published_at"]
                    kiosks = (await http.get("/api/v1/kiosks", headers=admin)).json()["items"]
                    assert kiosks[0]["config_version"] == "1"
                    view = (await http.get("/api/v1/fleet", headers=admin)).json()
                    item = view["items"][0]
                    assert item["config"] == {"desired_version": 1, "published": True, "running_version": "1",
                                              "in_sync": True, "pending": None, "rejected": None}
                    assert item["roster_version"] == runtime.roster.version()
                    assert isinstance(item["clock_offset_s"], float) and not item["clock_skew"]

                    # the same retained message again (a reconnect) changes nothing
                    def applied_events():
                        return hub.store.scalar("SELECT count(*) FROM events WHERE type = 'config_applied'")
                    await until(lambda: applied_events() == 1, what="config_applied event at the hub")
                    await runtime.apply_config(message)
                    assert runtime.pushed["running"] == "1" and runtime.pushed["pending"] is None

                    # 2. an invalid rule set: the kiosk keeps version 1 and says why
                    put = await http.put(BASE, headers=admin, json={"admission_rules": {"rule_set": {"id": "x"}}})
                    assert put.status_code == 200 and put.json()["version"] == 2
                    await until(lambda: (runtime.pushed["rejected"] or {}).get("version") == "2",
                                what="version 2 rejected")
                    assert runtime.pushed["running"] == "1" and world.workflow.rules.version == "2026.1.0-hub1"
                    assert "admission_rules" in runtime.pushed["rejected"]["reason"]

                    async def rejected_seen():
                        body = (await http.get(BASE, headers=admin)).json()
                        return body if (body["running"]["rejected"] or {}).get("version") == "2" else None

                    body = await until(rejected_seen, what="the hub sees the rejection")
                    assert body["running"]["version"] == "1" and not body["in_sync"]
                    view = (await http.get("/api/v1/fleet", headers=admin)).json()
                    assert view["items"][0]["problems"] == ["config_rejected"]
                    assert view["problems"][0]["code"] == "config_rejected"
                    await until(lambda: hub.store.scalar("SELECT count(*) FROM events WHERE type = 'config_rejected'"),
                                what="config_rejected event at the hub")

                    # 3. a rule-set change while an exam is in progress waits until none is
                    world.present(IVANOV.card)
                    await world.wait_screen("consent")
                    put = await http.put(BASE, headers=admin, json={
                        "admission_rules": rules("2026.1.0-hub3"), "thresholds": {"noise_limit_dba": 82.0},
                        "base_version": 2})
                    assert put.status_code == 200 and put.json()["version"] == 3
                    await until(lambda: runtime.pushed["pending"], what="version 3 pending")
                    assert runtime.pushed["received"] == "3" and runtime.pushed["running"] == "1"
                    assert world.workflow.rules.version == "2026.1.0-hub1" and runtime.env_limits.noise_limit_dba == 85

                    async def pending_seen():
                        view = (await http.get("/api/v1/fleet", headers=admin)).json()
                        return view if view["items"][0]["config"]["pending"] else None

                    view = await until(pending_seen, what="the hub sees version 3 pending")
                    assert view["items"][0]["problems"] == ["config_pending"]
                    world.workflow.submit("cancel")
                    await world.wait_screen("message")
                    world.workflow.submit("ok")
                    await until(lambda: runtime.pushed["running"] == "3", what="version 3 applied once idle")
                    assert world.workflow.rules.version == "2026.1.0-hub3" and runtime.env_limits.noise_limit_dba == 82
                    body = await until(lambda: synced("3"), what="the hub sees version 3 running")
                    assert body["in_sync"] and [h["version"] for h in body["history"]] == [3, 2, 1]

                    # 4. refusals
                    stale = await http.put(BASE, headers=admin, json={"thresholds": {}, "base_version": 1})
                    assert stale.status_code == 409 and "version 3" in stale.text
                    ohs = {"Authorization": f"Bearer {OHS}"}
                    assert (await http.put(BASE, headers=ohs, json={})).status_code == 403
                    assert (await http.get(BASE, headers=ohs)).status_code == 200
                    unknown = await http.put("/api/v1/fleet/plant-1/nope/config", headers=admin, json={})
                    assert unknown.status_code == 404
                    bad_id = await http.put("/api/v1/fleet/Plant/gate-1/config", headers=admin, json={})
                    assert bad_id.status_code == 422
                    nan = await http.put(BASE, headers={**admin, "Content-Type": "application/json"},
                                         content=b'{"thresholds": {"noise_limit_dba": NaN}}')
                    assert nan.status_code == 422
                    extra = await http.put(BASE, headers=admin, json={"thresholds": {}, "colour": "red"})
                    assert extra.status_code == 422
                    assert hub.store.scalar("SELECT max(version) FROM fleet_config") == 3
                    audit = [r[0] for r in hub.store.query_rows(
                        "SELECT action FROM audit_log WHERE action = 'fleet_config_put'")]
                    assert len(audit) == 3
            finally:
                await asyncio.to_thread(hub.stop)

    run_async(scenario(), timeout=120)


def test_kiosk_starts_with_the_stored_config_and_refuses_a_damaged_one(tmp_path):
    """The last accepted config (hub-config.json beside the journal) is in effect from the start,
    before any broker is reachable; a damaged file leaves the local config running and says so."""
    from edge_agent.config import KioskConfig
    from edge_agent.runtime import KioskRuntime

    config = KioskConfig.model_validate({
        "identity": {"site": "plant-1", "kiosk": "gate-1", "signing_key": str(tmp_path / "key.pem")},
        "journal": {"path": str(tmp_path / "journal.db")}})

    def started() -> KioskRuntime:
        runtime = KioskRuntime(config)
        runtime.agent.journal.close()
        runtime.exam_state.close()
        runtime.roster.close()
        return runtime

    stored = {"schema": 1, "version": "7", "admission_rules": rules("2026.1.0-hub7"),
              "thresholds": {"noise_limit_dba": 87.0}, "roster_version": None}
    (tmp_path / "hub-config.json").write_text(json.dumps(stored))
    runtime = started()
    assert runtime.pushed == {"running": "7", "received": "7", "pending": None, "rejected": None}
    assert runtime.rules.version == "2026.1.0-hub7" and runtime.env_limits.noise_limit_dba == 87.0

    (tmp_path / "hub-config.json").write_text('{"schema": 1, "version": "8", "thresholds": {"noise_limit_db": 1}}')
    runtime = started()
    assert runtime.pushed["running"] is None and "noise_limit_db" in runtime.pushed["rejected"]["reason"]
    assert runtime.rules.version == "2026.2.0" and runtime.env_limits.noise_limit_dba == 80.0
