"""``ohs-hub kiosk add|revoke|list`` against a real mosquitto with a password file and an ACL.

The broker is started by the test with ``password_file`` and ``acl_file`` (as in
tests/foundation/test_broker_security.py); the CLI edits both files and reloads the broker with
SIGHUP (``[fleet] reload_pid_file``). After ``add`` the kiosk connects with the printed credentials
and its exam is stored at a running hub; it cannot publish as another kiosk nor at another site;
after ``revoke`` and the reload it can no longer connect.
"""

from __future__ import annotations

import json
import subprocess
import time
import tomllib
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from edge_agent.agent import KioskAgent
from firmware_bridges.contract import make_envelope
from firmware_bridges.mqtt_settings import MqttSettings, make_client
from hub.cli import main as hub_cli
from hub.config import load_hub_config
from hub.fleet import FleetRegistry, render_acl
from hub.service import HubService
from hub.store import Store
from ohs_demo.broker import mosquitto_binary, start_mosquitto
from tests.foundation.helpers import exam_body, kiosk_config, wait_until, write_toml
from tests.storage.backend import storage_url_toml, store_target, stored_bytes, use_store_of_this_test

TEMPLATE = Path(__file__).resolve().parents[2] / "configs" / "mosquitto" / "acl"


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = hub_cli(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _credentials(stdout: str) -> tuple[str, str]:
    mqtt_table = tomllib.loads(stdout)["mqtt"]  # the printed snippet is TOML (comments and [mqtt])
    return mqtt_table["username"], mqtt_table["password"]


def _can_connect(broker, username: str, password: str) -> bool:
    client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=f"probe-{time.time_ns()}")
    client.username_pw_set(username, password)
    result: dict = {}
    client.on_connect = lambda c, u, f, reason, p: result.setdefault("reason", reason)
    try:
        client.connect(broker.host, broker.port, keepalive=5)
    except OSError:
        return False
    client.loop_start()
    try:
        deadline = time.monotonic() + 5
        while "reason" not in result and time.monotonic() < deadline:
            time.sleep(0.02)
        return "reason" in result and not result["reason"].is_failure
    finally:
        client.disconnect()
        client.loop_stop()


def _publish_as(broker, username: str, password: str, site: str, kiosk: str, worker: str) -> None:
    """Publish one exam envelope for site/kiosk using someone's credentials (QoS 1, waits for the PUBACK)."""
    client = make_client(MqttSettings(host=broker.host, port=broker.port, username=username, password=password),
                         f"spoof-{time.time_ns()}", clean_session=True)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        envelope = make_envelope(site, kiosk, "exam", exam_body(worker), 1)
        client.publish(f"ohs/v1/{site}/{kiosk}/exam", envelope.to_json(), qos=1).wait_for_publish(5)
    finally:
        client.loop_stop()
        client.disconnect()


@pytest.fixture
def fleet(tmp_path):
    """An authenticated mosquitto (hub user only), a hub config with [fleet] pointing at its files."""
    if mosquitto_binary() is None:
        pytest.fail("mosquitto is not installed: apt-get install -y mosquitto")
    passwd, acl = tmp_path / "broker-files" / "passwd", tmp_path / "broker-files" / "acl"
    passwd.parent.mkdir()
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwd), "hub", "hub-secret"], check=True)
    acl.write_text(render_acl(TEMPLATE.read_text(), "hub", [], "template"))
    broker = start_mosquitto(tmp_path / "broker", extra_conf=(
        f"allow_anonymous false\npassword_file {passwd}\nacl_file {acl}\n"))
    pid_file = tmp_path / "broker.pid"
    pid_file.write_text(f"{broker.process.pid}\n")
    config_path = tmp_path / "hub.toml"
    config_path.write_text(f"""
name = "test-hub"
[mqtt]
host = "{broker.host}"
port = {broker.port}
username = "hub"
password = "hub-secret"
keepalive_s = 5
reconnect_min_s = 0.2
reconnect_max_s = 2
[storage]
path = "{tmp_path / 'hub' / 'hub.db'}"
{storage_url_toml()}
[api]
port = 0
[fleet]
mosquitto_passwd_file = "{passwd}"
mosquitto_acl_file = "{acl}"
reload_pid_file = "{pid_file}"
""")
    try:  # a hub that fails to start must not leave the broker running
        hub = HubService(use_store_of_this_test(load_hub_config(config_path))).start(connect_timeout=10)
    except BaseException:
        broker.stop()
        raise
    try:
        yield {"broker": broker, "hub": hub, "config": str(config_path), "passwd": passwd, "acl": acl}
    finally:
        hub.stop()
        broker.stop()


def test_add_connect_publish_own_topics_only_then_revoke(fleet, tmp_path, capsys):
    broker, hub, config = fleet["broker"], fleet["hub"], fleet["config"]
    # 1. add two kiosks of plant-1: credentials printed once, only the hash stored
    code, out, err = _cli(capsys, "kiosk", "add", "plant-1", "kiosk-01", "--config", config, "--who", "Петров А. А.")
    assert code == 0, err
    assert "broker reloaded" in err
    username, password = _credentials(out)
    assert username == "plant-1/kiosk-01" and len(password) >= 32
    code, out2, _ = _cli(capsys, "kiosk", "add", "plant-1", "kiosk-02", "--config", config)
    assert code == 0
    _, password2 = _credentials(out2)
    stored = fleet["passwd"].read_text()
    assert "plant-1/kiosk-01:$7$" in stored and password not in stored and password2 not in stored
    assert password.encode() not in stored_bytes(hub.store)
    acl = fleet["acl"].read_text()
    assert "user plant-1/kiosk-01\ntopic write ohs/v1/plant-1/kiosk-01/exam" in acl and "pattern" not in acl
    registered = hub.store.query("SELECT site, kiosk, who, revoked_at FROM fleet_kiosks ORDER BY kiosk")
    assert registered == [{"site": "plant-1", "kiosk": "kiosk-01", "who": "Петров А. А.", "revoked_at": None},
                          {"site": "plant-1", "kiosk": "kiosk-02", "who": registered[1]["who"], "revoked_at": None}]

    # 2. adding it again, or a bad id: exit 2, nothing changed
    code, out, err = _cli(capsys, "kiosk", "add", "plant-1", "kiosk-01", "--config", config)
    assert code == 2 and "already registered" in err and out == ""
    code, _, err = _cli(capsys, "kiosk", "add", "plant-1", "Kiosk_01", "--config", config)
    assert code == 2 and "kiosk id 'Kiosk_01' is not valid" in err
    code, _, err = _cli(capsys, "kiosk", "add", "plant/1", "kiosk-09", "--config", config)
    assert code == 2 and "site id" in err
    assert fleet["passwd"].read_text() == stored

    # 3. the kiosk connects with the printed credentials; its exam is stored and acknowledged
    kconfig = kiosk_config(tmp_path, broker)
    kconfig.mqtt = kconfig.mqtt.model_copy(update={"username": username, "password": password})
    kiosk = KioskAgent(kconfig).start()
    try:
        kiosk.record("exam", exam_body("W00001"))
        wait_until(lambda: kiosk.journal.outbox_depth() == 0, message="the kiosk's own exam stored and acked")
        # 4. its credentials cannot publish as another kiosk, nor as itself at another site
        _publish_as(broker, username, password, "plant-1", "kiosk-02", "W66666")
        _publish_as(broker, username, password, "plant-2", "kiosk-01", "W77777")
        # a user someone put into the password file by hand holds no rights: the ACL lists registered kiosks only
        subprocess.run(["mosquitto_passwd", "-b", str(fleet["passwd"]), "plant-1/rogue", "rogue-secret"], check=True)
        broker.process.send_signal(1)  # SIGHUP
        time.sleep(0.5)
        assert _can_connect(broker, "plant-1/rogue", "rogue-secret")
        _publish_as(broker, "plant-1/rogue", "rogue-secret", "plant-1", "rogue", "W88888")
        # kiosk-02 itself can publish
        _publish_as(broker, "plant-1/kiosk-02", password2, "plant-1", "kiosk-02", "W22222")
        wait_until(lambda: hub.store.scalar("SELECT count(*) FROM exams WHERE kiosk = 'kiosk-02'") == 1,
                   message="kiosk-02's own exam")
        time.sleep(1.0)
        workers = sorted(r[0] for r in hub.store.query_rows("SELECT worker_id FROM exams"))
        assert workers == ["W00001", "W22222"]

        # 5. list: registry, password file, the hand-added user flagged
        code, out, _ = _cli(capsys, "kiosk", "list", "--config", config, "--json")
        listing = json.loads(out)
        assert [(i["username"], i["active"], i["in_password_file"]) for i in listing["items"]] == [
            ("plant-1/kiosk-01", True, True), ("plant-1/kiosk-02", True, True)]
        assert listing["unregistered_users"] == ["plant-1/rogue"]
        code, out, _ = _cli(capsys, "kiosk", "list", "--config", config)
        assert code == 0 and "plant-1/kiosk-01" in out and "plant-1/rogue" in out

        # 6. revoke: out of the password file and the ACL, broker reloaded; the kiosk is cut off
        code, out, err = _cli(capsys, "kiosk", "revoke", "plant-1", "kiosk-01", "--config", config)
        assert code == 0 and "revoked" in out and "broker reloaded" in err
        assert "plant-1/kiosk-01" not in fleet["passwd"].read_text()
        acl = fleet["acl"].read_text()
        assert "user plant-1/kiosk-01\n" not in acl and "user plant-1/kiosk-02\n" in acl
        assert not _can_connect(broker, username, password)
        wait_until(lambda: not kiosk.uplink.connected, timeout=10, message="the revoked kiosk disconnected")
        time.sleep(1.0)
        assert not kiosk.uplink.connected
        assert _can_connect(broker, "plant-1/kiosk-02", password2)  # the other kiosk is untouched
    finally:
        kiosk.stop(graceful=False)

    # 7. revoking again changes nothing and says so; an unknown kiosk is an error
    code, out, err = _cli(capsys, "kiosk", "revoke", "plant-1", "kiosk-01", "--config", config)
    assert code == 0 and "already revoked" in out
    code, _, err = _cli(capsys, "kiosk", "revoke", "plant-1", "kiosk-77", "--config", config)
    assert code == 2 and "nothing to revoke" in err
    row = hub.store.query("SELECT revoked_at, revoked_by FROM fleet_kiosks WHERE kiosk = 'kiosk-01'")[0]
    assert row["revoked_at"] and row["revoked_by"]
    # the hand-added user is removed by revoke too (it was never registered)
    code, out, _ = _cli(capsys, "kiosk", "revoke", "plant-1", "rogue", "--config", config)
    assert code == 0 and "password file only" in out and "rogue" not in fleet["passwd"].read_text()

    # 8. a revoked kiosk can be added again: new password, connects again
    code, out, _ = _cli(capsys, "kiosk", "add", "plant-1", "kiosk-01", "--config", config)
    assert code == 0
    _, new_password = _credentials(out)
    assert new_password != password
    assert _can_connect(broker, "plant-1/kiosk-01", new_password)
    assert not _can_connect(broker, "plant-1/kiosk-01", password)
    history = hub.store.query("SELECT revoked_at FROM fleet_kiosks WHERE kiosk = 'kiosk-01' ORDER BY id")
    assert len(history) == 2 and history[0]["revoked_at"] and history[1]["revoked_at"] is None
    actions = [r[0] for r in hub.store.query_rows("SELECT action FROM audit_log WHERE action LIKE 'fleet_%'")]
    assert actions.count("fleet_kiosk_add") == 3 and actions.count("fleet_kiosk_revoke") == 2


def test_refusals_leave_files_alone(tmp_path, capsys):
    """No [fleet] paths: exit 2; a reload that fails after the change: exit 1 and the password still printed."""
    bare = tmp_path / "bare.toml"
    write_toml(bare, load_hub_config_from({"storage": {"path": str(tmp_path / "hub.db")}}))
    code, out, err = _cli(capsys, "kiosk", "add", "plant-1", "kiosk-01", "--config", str(bare))
    assert code == 2 and "[fleet] mosquitto_passwd_file" in err and out == ""

    passwd, acl = tmp_path / "passwd", tmp_path / "acl"
    config = tmp_path / "hub.toml"
    write_toml(config, load_hub_config_from({
        "storage": {"path": str(tmp_path / "hub.db")},
        "fleet": {"mosquitto_passwd_file": str(passwd), "mosquitto_acl_file": str(acl),
                  "reload_pid_file": str(tmp_path / "no-such.pid")}}))
    code, out, err = _cli(capsys, "kiosk", "add", "plant-1", "kiosk-01", "--config", str(config))
    assert code == 1 and "NOT reloaded" in err
    _, password = _credentials(out)  # shown even so: it is never shown again
    assert passwd.read_text().startswith("plant-1/kiosk-01:$7$") and password not in passwd.read_text()
    assert oct(passwd.stat().st_mode & 0o777) == "0o640"
    assert "user hub\ntopic readwrite ohs/v1/#" in acl.read_text()

    # a reload command: its failure is exit 1 (the credentials stand), its success exit 0
    for command, expected in (("false", 1), ("true", 0)):
        write_toml(config, load_hub_config_from({
            "storage": {"path": str(tmp_path / "hub.db")},
            "fleet": {"mosquitto_passwd_file": str(passwd), "mosquitto_acl_file": str(acl),
                      "reload_command": command}}))
        code, out, err = _cli(capsys, "kiosk", "add", "plant-1", f"kiosk-{command}", "--config", str(config))
        assert code == expected, err
        assert _credentials(out)[0] == f"plant-1/kiosk-{command}"
        assert ("exited 1" in err) if expected else ("ran 'true'" in err)

    # a template the generator cannot understand: exit 2, the password file is left as it was
    template = tmp_path / "template.acl"
    template.write_text("user hub\ntopic readwrite ohs/v1/#\npattern write ohs/v1/%c/exam\n")
    write_toml(config, load_hub_config_from({
        "storage": {"path": str(tmp_path / "hub.db")},
        "fleet": {"mosquitto_passwd_file": str(passwd), "mosquitto_acl_file": str(acl),
                  "acl_template": str(template)}}))
    before = passwd.read_text()
    code, out, err = _cli(capsys, "kiosk", "add", "plant-1", "kiosk-02", "--config", str(config))
    assert code == 2 and "template.acl:3" in err and out == ""
    store = Store(store_target(tmp_path))
    try:
        assert [r["kiosk"] for r in FleetRegistry(store).all()] == ["kiosk-01", "kiosk-false", "kiosk-true"]
    finally:
        store.close()
    assert passwd.read_text() == before


def load_hub_config_from(data: dict):
    from hub.config import HubConfig

    return use_store_of_this_test(HubConfig.model_validate(data))
