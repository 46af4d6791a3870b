"""TLS + passwords + the OHS ACL on a real mosquitto: a kiosk can publish only its own topics."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from edge_agent.agent import KioskAgent
from firmware_bridges.contract import make_envelope
from firmware_bridges.mqtt_settings import MqttSettings, make_client
from hub.service import HubService
from ohs_demo.broker import start_mosquitto
from tests.foundation.helpers import exam_body, hub_config, kiosk_config, wait_until, write_test_pki

ACL = Path(__file__).resolve().parents[2] / "configs" / "mosquitto" / "acl"


def test_tls_passwords_and_acl(tmp_path):
    pki = write_test_pki(tmp_path / "pki")
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwd), "hub", "hub-secret"], check=True)
    for kiosk in ("kiosk-01", "kiosk-02"):  # usernames are "{site}/{kiosk}": the ACL binds both
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), f"plant-1/{kiosk}", f"{kiosk}-secret"], check=True)
    broker = start_mosquitto(tmp_path / "broker", extra_conf=(
        f"allow_anonymous false\npassword_file {passwd}\nacl_file {ACL}\n"
        f"cafile {pki['ca']}\ncertfile {pki['cert']}\nkeyfile {pki['key']}\n"))
    tls = {"tls_ca_file": pki["ca"]}
    try:
        hconfig = hub_config(tmp_path, broker)
        hconfig.mqtt = hconfig.mqtt.model_copy(update={"username": "hub", "password": "hub-secret", **tls})
        hub = HubService(hconfig).start(connect_timeout=10)
        kconfig = kiosk_config(tmp_path, broker)
        kconfig.mqtt = kconfig.mqtt.model_copy(update={"username": "plant-1/kiosk-01", "password": "kiosk-01-secret", **tls})
        kiosk = KioskAgent(kconfig).start()
        try:
            kiosk.record("exam", exam_body())
            wait_until(lambda: kiosk.journal.outbox_depth() == 0, message="exam over TLS, acked")
            # kiosk-01's credentials publishing as kiosk-02: the broker drops it (ACL)
            spoof = make_client(MqttSettings(host=broker.host, port=broker.port, username="plant-1/kiosk-01",
                                             password="kiosk-01-secret", **tls), "spoofer")
            spoof.connect(broker.host, broker.port)
            spoof.loop_start()
            forged = make_envelope("plant-1", "kiosk-02", "exam", exam_body("W66666"), 1)
            spoof.publish("ohs/v1/plant-1/kiosk-02/exam", forged.to_json(), qos=1).wait_for_publish(5)
            # ... and as the same kiosk id at another site (issue 10, defect 4: the ACL binds the site too)
            other_site = make_envelope("plant-2", "kiosk-01", "exam", exam_body("W77777"), 1)
            spoof.publish("ohs/v1/plant-2/kiosk-01/exam", other_site.to_json(), qos=1).wait_for_publish(5)
            spoof.loop_stop()
            spoof.disconnect()
            # a wrong password and a client without the CA never get in
            for settings in (MqttSettings(host=broker.host, port=broker.port, username="kiosk-02", password="nope",
                                          **tls),
                             MqttSettings(host=broker.host, port=broker.port, username="kiosk-02",
                                          password="kiosk-02-secret")):
                intruder = make_client(settings, "intruder")
                try:
                    refused = intruder.connect(broker.host, broker.port) != 0
                    intruder.loop_start()
                    time.sleep(0.5)
                    refused = refused or not intruder.is_connected()
                except Exception:  # TLS handshake failure without the CA
                    refused = True
                finally:
                    intruder.loop_stop()
                assert refused
            time.sleep(1.0)
            assert hub.store.scalar("SELECT count(*) FROM exams") == 1
            assert hub.store.scalar("SELECT count(*) FROM exams WHERE kiosk = 'kiosk-02'") == 0
            assert hub.store.scalar("SELECT count(*) FROM exams WHERE site = 'plant-2'") == 0
        finally:
            kiosk.stop()
            hub.stop()
    finally:
        broker.stop()
