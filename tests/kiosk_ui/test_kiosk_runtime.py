"""The kiosk runtime without a browser: hub commands over the real broker (roster update,
medic decision, a bad command), environmental telemetry, device health in the status, the
CLI. Real mosquitto, hub in-process, simulated devices."""

from __future__ import annotations

import asyncio
import json

import paho.mqtt.client as mqtt

from edge_agent.cli import main as cli
from tests.kiosk_ui.kiosk_world import IVANOV, SIDOROVA, command, kiosk_world, run_async

CMD_TOPIC = "ohs/v1/plant-1/gate-1/cmd"


def publish(broker, payload: dict | bytes) -> None:
    client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id="test-hub-cmd")
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        client.publish(CMD_TOPIC, data, qos=1).wait_for_publish(5)
    finally:
        client.loop_stop()
        client.disconnect()


async def until(predicate, timeout: float = 15.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def hub_events(world, type_: str) -> list[dict]:
    return [json.loads(r["body"]) for r in world.hub.store.query("SELECT body FROM events WHERE type = ?", (type_,))]


def test_hub_commands_update_the_roster_and_show_medic_decisions(tmp_path, broker):
    async def scenario():
        async with kiosk_world(tmp_path, broker, workers=[IVANOV], consent=True, particulate=True,
                               workflow={"exam_types": ["pre_shift"]}) as world:
            runtime = world.runtime
            await asyncio.to_thread(runtime.agent.uplink.wait_connected, 10)
            # 1. roster update: a new worker can identify at once
            publish(broker, command("roster_update", {"version": "r2", "workers": [SIDOROVA.roster_entry()]}))
            await until(lambda: runtime.roster.by_badge(f"{SIDOROVA.card:010d}") is not None, what="roster update")
            assert runtime.roster.version() == "r2" and runtime.roster.by_number("T-1001") is not None
            world.present(SIDOROVA.card)
            view = await world.wait_screen("consent")
            assert view["ticket"] >= 1 and "name" not in view  # no names on the shared screen
            world.workflow.submit("cancel")
            await world.wait_screen("message")
            world.workflow.submit("ok")
            # 2. a medic decision: recorded as an event and shown on the screen by the exam's number
            publish(broker, command("medic_decision", {"worker_id": "T-1001", "exam_id": "5f1c2d3e-0000-4000-8000-1",
                                                       "outcome": "admitted", "medic": "Смирнова О. В."}))
            await until(lambda: any("Решение медика" in n["ru"] for n in world.workflow.snapshot()["notices"]),
                        what="medic notice")
            notice = world.workflow.snapshot()["notices"][0]
            assert notice["ru"] == "Решение медика (осмотр № 5f1c2d3e): допущен к работе.", notice
            assert "Иванов" not in notice["ru"] and "Ivanov" not in notice["en"]
            # 3. a command that cannot be applied is recorded with its reason, never dropped
            publish(broker, command("roster_update", {"workers": [{"personnel_number": "X"}]}))
            publish(broker, b"not json at all")
            await until(lambda: hub_events(world, "medic_decision") and hub_events(world, "command_rejected"),
                        what="events at the hub")
            rejected = hub_events(world, "command_rejected")[0]
            assert "full_name" in rejected["details"]["reason"]
            assert hub_events(world, "medic_decision")[0]["details"]["medic"] == "Смирнова О. В."
            assert runtime.roster.by_number("X") is None
            # 4. environmental readings become telemetry records; device health goes into the status
            await until(lambda: world.hub.store.scalar("SELECT count(*) FROM telemetry_series WHERE zone = 'gate-1'") > 0,
                        what="telemetry at the hub")
            status = json.loads(world.hub.store.query("SELECT status FROM kiosks")[0]["status"])
            assert status["devices"]["cuff"]["kind"] == "bp_cuff" and status["devices"]["pm"]["state"] == "ok"
            aborted = hub_events(world, "exam_abandoned")
            assert aborted and aborted[0]["details"]["worker_id"] == SIDOROVA.number

    run_async(scenario())


def test_cli_check_config_names_file_and_key_and_outbox_reports(tmp_path, capsys):
    bad = tmp_path / "kiosk.toml"
    bad.write_text('[identity]\nsite = "Plant 1"\nkiosk = "gate-1"\n[workflow]\nexam_types = ["night"]\n'
                   '[screen]\nport = 99999\n', encoding="utf-8")
    assert cli(["check-config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: identity.site" in err and f"{bad}: workflow.exam_types" in err and f"{bad}: screen.port" in err
    assert cli(["check-config", "configs/kiosk.example.toml"]) == 0
    assert "OK" in capsys.readouterr().out
    good = tmp_path / "ok.toml"
    good.write_text(f'[identity]\nsite = "plant-1"\nkiosk = "gate-1"\n[journal]\npath = "{tmp_path / "j.db"}"\n',
                    encoding="utf-8")
    assert cli(["outbox", "--config", str(good)]) == 1  # no journal yet: said so
    from edge_agent.agent import KioskAgent
    from edge_agent.config import load_kiosk_config
    from tests.foundation.helpers import exam_body

    config = load_kiosk_config(good).model_copy(update={})
    config.identity.signing_key = tmp_path / "key.pem"
    agent = KioskAgent(config)
    agent.record("exam", exam_body())
    agent.journal.close()
    assert cli(["outbox", "--config", str(good), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["outbox_depth"] == 1 and info["last_seq"] == 1


