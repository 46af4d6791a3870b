"""Medic decisions reach the kiosk as ``cmd`` over a real mosquitto — also after outages.

A decision taken while the hub has no broker is stored and sent when the broker is back; one
taken while the kiosk is off waits in the kiosk's persistent session and arrives when it
reconnects. Nothing is lost; ``published_at`` is set only after the broker's PUBACK.
"""

from __future__ import annotations

import threading

import httpx

from edge_agent.agent import KioskAgent
from firmware_bridges.contract import Command
from hub.service import HubService
from tests.foundation.helpers import hub_config, kiosk_config, wait_until
from tests.medic.medic_helpers import MEDIC, alcohol_confirmed, api_section, auth, severe_bp


class Commands:
    """The kiosk side: every cmd the Uplink hands to ``on_command``, validated by the contract."""

    def __init__(self):
        self.items: list[Command] = []
        self.lock = threading.Lock()

    def __call__(self, kind: str, data: dict) -> None:
        if kind == "cmd":
            with self.lock:
                self.items.append(Command.model_validate(data))

    def ids(self) -> list[str]:
        with self.lock:
            return [str(c.command_id) for c in self.items]


def start_kiosk(tmp_path, broker, commands: Commands) -> KioskAgent:
    agent = KioskAgent(kiosk_config(tmp_path, broker))
    agent.uplink.on_command = commands
    return agent.start()


def stored_exam(hub: HubService, agent: KioskAgent, body: dict) -> str:
    record = agent.record("exam", body)
    wait_until(lambda: hub.store.scalar("SELECT count(*) FROM exams WHERE event_id = ?", [record.event_id]) == 1,
               message="the exam to reach the hub")
    return record.event_id


def published_at(hub: HubService, decision_id: str):
    return hub.store.scalar("SELECT published_at FROM medic_decisions WHERE decision_id = ?", [decision_id])


def test_decision_during_broker_outage_is_sent_when_it_returns(tmp_path, broker):
    hub = HubService(hub_config(tmp_path, broker, **api_section())).start(connect_timeout=10)
    commands = Commands()
    agent = start_kiosk(tmp_path, broker, commands)
    try:
        event_id = stored_exam(hub, agent, alcohol_confirmed())
        broker.stop()
        wait_until(lambda: not hub.ingest.connected, message="the hub to notice the outage")
        response = httpx.post(f"{hub.url}/api/v1/medic/exams/{event_id}/decision", headers=auth(MEDIC),
                              json={"decision": "not_admitted"}, timeout=20)
        assert response.status_code == 201, response.text
        saved = response.json()
        assert saved["delivery"] == "queued" and published_at(hub, saved["decision_id"]) is None
        queue = httpx.get(f"{hub.url}/api/v1/medic/queue", headers=auth(MEDIC)).json()
        assert queue["unpublished_decisions"] == 1 and queue["mqtt_connected"] is False
        broker.restart()
        wait_until(lambda: saved["decision_id"] in commands.ids(), timeout=30,
                   message="the kiosk to receive the decision after the outage")
        wait_until(lambda: published_at(hub, saved["decision_id"]) is not None, message="published_at")
        command = next(c for c in commands.items if str(c.command_id) == saved["decision_id"])
        assert command.type == "medic_decision"
        assert command.args["event_id"] == event_id and command.args["decision"] == "not_admitted"
        assert command.args["outcome"] == "not_admitted"  # the name the kiosk workflow reads
        assert command.args["notify_employer"] is True and command.args["medic"] == saved["medic"]
    finally:
        agent.stop()
        hub.stop()


def test_decision_for_an_offline_kiosk_waits_at_the_broker(tmp_path, broker):
    hub = HubService(hub_config(tmp_path, broker, **api_section())).start(connect_timeout=10)
    commands = Commands()
    agent = start_kiosk(tmp_path, broker, commands)
    try:
        event_id = stored_exam(hub, agent, severe_bp())
        agent.stop()
        response = httpx.post(f"{hub.url}/api/v1/medic/exams/{event_id}/decision", headers=auth(MEDIC),
                              json={"decision": "admitted"}, timeout=20)
        saved = response.json()
        assert response.status_code == 201 and saved["delivery"] == "sent"
        assert commands.ids() == []
        agent = start_kiosk(tmp_path, broker, commands)  # same client id: the persistent session delivers
        wait_until(lambda: commands.ids() == [saved["decision_id"]], timeout=30,
                   message="the restarted kiosk to receive the queued decision")
    finally:
        agent.stop()
        hub.stop()


def test_unpublished_decision_survives_a_hub_restart(tmp_path, broker):
    config = hub_config(tmp_path, broker, **api_section())
    hub = HubService(config).start(connect_timeout=10)
    commands = Commands()
    agent = start_kiosk(tmp_path, broker, commands)
    try:
        event_id = stored_exam(hub, agent, severe_bp())
        broker.stop()
        wait_until(lambda: not hub.ingest.connected, message="the hub to notice the outage")
        saved = httpx.post(f"{hub.url}/api/v1/medic/exams/{event_id}/decision", headers=auth(MEDIC),
                           json={"decision": "not_admitted"}, timeout=20).json()
        assert saved["delivery"] == "queued"
        hub.stop()
        broker.restart()
        hub = HubService(config).start(connect_timeout=10)
        wait_until(lambda: saved["decision_id"] in commands.ids(), timeout=30,
                   message="the restarted hub to send the stored decision")
        wait_until(lambda: published_at(hub, saved["decision_id"]) is not None, message="published_at")
        assert commands.ids().count(saved["decision_id"]) >= 1
    finally:
        agent.stop()
        hub.stop()
