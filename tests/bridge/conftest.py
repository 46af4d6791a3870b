"""The ``plant`` fixture: central broker + hub, site broker bridged to it, a kiosk on the site broker."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from ohs_demo.broker import RunningBroker, mosquitto_binary, start_mosquitto
from tests.bridge.bridge_helpers import (
    ACL,
    BRIDGE_STATE_TOPIC,
    BRIDGE_USER,
    CENTRAL_CONF,
    DEPLOY,
    SITE,
    UplinkRelay,
    Watcher,
    site_bridge_conf,
    taken_globals,
    write_acl,
    write_passwords,
    write_pki,
)

SYS_COUNT = "$SYS/broker/store/messages/count"
SYS_BYTES = "$SYS/broker/store/messages/bytes"
SYS_DROPPED = "$SYS/broker/publish/messages/dropped"
PASSWORDS = {"hub": "hub-secret-1", BRIDGE_USER: "bridge-secret-1", "monitor": "monitor-secret-1",
             f"{SITE}/kiosk-01": "kiosk-01-secret", f"{SITE}/kiosk-02": "kiosk-02-secret"}


def restart_broker(broker: RunningBroker, sig: int = signal.SIGTERM) -> None:
    """Stop (SIGTERM saves the persistence file; SIGKILL is a crash) and start again on the same port."""
    broker.stop(sig)
    for attempt in range(50):  # after SIGKILL the port can take a moment to come free
        try:
            broker.restart()
            return
        except (RuntimeError, TimeoutError):
            broker.stop(signal.SIGKILL)
            if attempt == 49:
                raise
            time.sleep(0.2)


class Plant:
    def __init__(self, workdir: Path, *, tls: bool = True):
        from tests.faults.harness import hub_config

        self.workdir = workdir
        self._closers: list = []
        self.pki = write_pki(workdir / "pki")
        central_users = {u: PASSWORDS[u] for u in ("hub", BRIDGE_USER, "monitor")}
        site_users = {u: p for u, p in PASSWORDS.items() if u.startswith(f"{SITE}/") or u == "monitor"}
        central_acl = write_acl(workdir / "central.acl", ACL, DEPLOY / "acl-central-bridges", DEPLOY / "acl-monitor")
        site_acl = write_acl(workdir / "site.acl", ACL, DEPLOY / "acl-monitor")

        self.tls = tls

        def secured(passwd: Path, acl: Path) -> str:
            return (f"allow_anonymous false\npassword_file {passwd}\nacl_file {acl}\n"
                    + (f"cafile {self.pki['ca']}\ncertfile {self.pki['cert']}\nkeyfile {self.pki['key']}\n"
                       if tls else "")
                    + "sys_interval 1\n")

        self.central = start_mosquitto(workdir / "central", extra_conf=secured(
            write_passwords(workdir / "central.passwd", central_users), central_acl) + taken_globals(CENTRAL_CONF))
        self._closers.append(lambda: self.central.stop())
        self.relay = UplinkRelay(self.central.host, self.central.port)
        self._closers.append(self.relay.close)
        bridge_text, self.bridge_info = site_bridge_conf(self.relay.address, self.pki["ca"], PASSWORDS[BRIDGE_USER],
                                                         tls=tls)
        self.site = start_mosquitto(workdir / "site", extra_conf=secured(
            write_passwords(workdir / "site.passwd", site_users), site_acl) + bridge_text)
        self._closers.append(lambda: self.site.stop())
        ca = self.pki["ca"] if tls else None
        self.central_watch = Watcher(self.central.host, self.central.port, ca, PASSWORDS["monitor"],
                                     [BRIDGE_STATE_TOPIC], "central", follow=(BRIDGE_STATE_TOPIC,))
        self._closers.append(self.central_watch.close)
        self.site_watch = Watcher(self.site.host, self.site.port, ca, PASSWORDS["monitor"],
                                  [SYS_COUNT, SYS_BYTES, SYS_DROPPED, BRIDGE_STATE_TOPIC], "site")
        self._closers.append(self.site_watch.close)

        from hub.service import HubService

        hconf = hub_config(workdir, self.central.host, self.central.port)
        hconf.mqtt = hconf.mqtt.model_copy(update=self.mqtt_login("hub"))
        self.hub_config = hconf
        self.hub = HubService(hconf).start(connect_timeout=15)
        self._closers.append(self.hub.stop)
        self.agents: dict[str, object] = {}

    def mqtt_login(self, user: str) -> dict:
        return {"username": user, "password": PASSWORDS[user], "tls_ca_file": self.pki["ca"] if self.tls else None}

    @property
    def hub_db(self) -> Path:
        return Path(self.hub_config.storage.path)

    def kiosk(self, kiosk: str = "kiosk-01"):
        """The real KioskAgent, connected to the SITE broker as "{site}/{kiosk}"."""
        from edge_agent.agent import KioskAgent
        from tests.faults.harness import kiosk_config

        config = kiosk_config(self.workdir, kiosk, self.site.host, self.site.port)
        config.mqtt = config.mqtt.model_copy(update=self.mqtt_login(f"{SITE}/{kiosk}"))
        agent = KioskAgent(config).start()
        self.agents[kiosk] = agent
        self._closers.append(agent.stop)
        return agent

    def bridge_up_at_central(self) -> bool:
        return self.central_watch.value(BRIDGE_STATE_TOPIC) == "1"

    def close(self) -> None:
        while self._closers:
            try:
                self._closers.pop()()
            except Exception as error:  # noqa: BLE001 - cleanup goes on
                print(f"cleanup: {type(error).__name__}: {error}")


@pytest.fixture
def plant(tmp_path):
    if mosquitto_binary() is None:
        pytest.fail("mosquitto is not installed: apt-get install -y mosquitto (the bridge tests need two real brokers)")
    built = Plant(tmp_path)
    yield built
    built.close()
