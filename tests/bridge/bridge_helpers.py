"""A plant on one machine: a SITE mosquitto bridged to a CENTRAL mosquitto, as docs/deploy.md describes.

* central broker: TLS, passwords, ``configs/mosquitto/acl`` + ``configs/deploy/acl-central-bridges`` +
  ``configs/deploy/acl-monitor``, the queue limits of ``configs/deploy/mosquitto-central.conf``; the hub
  (``HubService``, in this process) connects here as ``hub``;
* site broker: TLS, passwords, ``configs/mosquitto/acl`` + ``configs/deploy/acl-monitor``; the kiosk
  (``KioskAgent``, in this process) connects here as ``plant-1/{kiosk}``; the bridge block and the queue
  limits are read from ``configs/deploy/mosquitto-site-bridge.conf``, with only ``address`` (the relay
  below), ``bridge_cafile`` (the test CA), ``remote_password`` and ``restart_timeout`` substituted;
* the bridge reaches the central broker through :class:`UplinkRelay`, a TCP relay on 127.0.0.1 that can
  be cut (every connection closed, nothing listening) and restored: the site's uplink.

Both brokers are Debian's mosquitto started by ``ohs_demo.broker.start_mosquitto`` (persistence on,
``autosave_interval 1``) with the settings above as ``extra_conf``.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import subprocess
import threading
import time
from pathlib import Path

from ohs_demo.broker import free_port
from tests.foundation.helpers import write_test_pki as write_pki  # noqa: F401 (used by the bridge tests)

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "configs" / "deploy"
SITE_BRIDGE_CONF = DEPLOY / "mosquitto-site-bridge.conf"
CENTRAL_CONF = DEPLOY / "mosquitto-central.conf"
ACL = ROOT / "configs" / "mosquitto" / "acl"
SITE = "plant-1"
BRIDGE_USER = "bridge-plant-1"
BRIDGE_STATE_TOPIC = "bridges/plant-1/state"

# test-only: the bridge retries every 1-2 s instead of 2-60 s, so a restored uplink is used at once
TEST_RESTART_TIMEOUT = "1 2"
# the global settings of the deploy file that the test takes over (the rest is host-specific: paths, listener)
TAKEN_GLOBALS = ("max_queued_messages", "max_queued_bytes", "max_inflight_messages")


# --------------------------------------------------------------------------- PKI and passwords


def write_passwords(path: Path, users: dict[str, str]) -> Path:
    first = True
    for user, password in users.items():
        subprocess.run(["mosquitto_passwd", *(["-c"] if first else []), "-b", str(path), user, password],
                       check=True, capture_output=True)
        first = False
    return path


def write_acl(path: Path, *parts: Path) -> Path:
    """The ACL as docs/deploy.md builds it: the parts concatenated."""
    path.write_text("\n".join(part.read_text() for part in parts))
    return path


# --------------------------------------------------------------------------- the deploy file


def site_bridge_conf(address: str, ca_file: Path, remote_password: str,
                     restart_timeout: str = TEST_RESTART_TIMEOUT, tls: bool = True) -> tuple[str, dict]:
    """The queue limits and the bridge block of configs/deploy/mosquitto-site-bridge.conf, ready for
    ``start_mosquitto(extra_conf=...)``; returns the text and what was substituted (``tls=False``
    drops the bridge's TLS lines: only for experiments, the tests run with TLS)."""
    substitute = {"address": address, "bridge_cafile": str(ca_file), "remote_password": remote_password,
                  "restart_timeout": restart_timeout}
    taken_globals, bridge, replaced = [], [], {}
    in_bridge = False
    for raw in SITE_BRIDGE_CONF.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        if key == "connection":
            in_bridge = True
        if not in_bridge:
            if key in TAKEN_GLOBALS:
                taken_globals.append(line)
            continue
        if not tls and key.startswith("bridge_") and key.endswith(("cafile", "capath", "certfile", "keyfile")):
            replaced[key] = {"deploy": value.strip(), "test": "(dropped: no TLS)"}
            continue
        if key in substitute:
            replaced[key] = {"deploy": value.strip(), "test": substitute[key]}
            line = f"{key} {substitute[key]}"
        bridge.append(line)
    missing = set(substitute) - set(replaced)
    assert not missing, f"{SITE_BRIDGE_CONF} has no {sorted(missing)} in its bridge block"
    return "\n".join(taken_globals + bridge) + "\n", {"globals": taken_globals, "substituted": replaced,
                                                      "bridge_lines": len(bridge)}


def taken_globals(path: Path) -> str:
    """The queue and in-flight limits of a deploy file (before any "connection"), for ``extra_conf``."""
    lines = []
    for raw in path.read_text().splitlines():
        key = raw.split(" ", 1)[0]
        if key == "connection":
            break
        if key in TAKEN_GLOBALS:
            lines.append(raw.strip())
    assert len(lines) == len(TAKEN_GLOBALS), f"{path}: expected {TAKEN_GLOBALS}, found {lines}"
    return "\n".join(lines) + "\n"


def conf_value(key: str, path: Path = SITE_BRIDGE_CONF) -> str:
    """A global value of a deploy file (for the artifact)."""
    for raw in path.read_text().splitlines():
        parts = raw.split()
        if len(parts) >= 2 and parts[0] == key:
            return parts[1]
    raise KeyError(key)


# --------------------------------------------------------------------------- the uplink


class UplinkRelay:
    """A TCP relay 127.0.0.1:port -> the central broker: the site's uplink.

    ``cut()`` closes every relayed connection and stops listening (the bridge sees its connection drop
    and its reconnects refused, like a site whose WAN link is down); ``restore()`` listens again on the
    same port."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.host = "127.0.0.1"
        self.port = free_port(self.host)
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self.connections = 0
        self.restore()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def up(self) -> bool:
        return self._listener is not None

    def restore(self) -> None:
        with self._lock:
            if self._listener is not None:
                return
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.host, self.port))
            listener.listen(16)
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), name="uplink-accept", daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, set()
        for sock in ([listener] if listener else []) + list(sockets):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    close = cut

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:  # cut meanwhile
                    client.close()
                    upstream.close()
                    return
                self._sockets.update((client, upstream))
                self.connections += 1
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), name="uplink-pump", daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        with self._lock:
            self._sockets.discard(src)
            self._sockets.discard(dst)


# --------------------------------------------------------------------------- watching a broker


class Watcher:
    """A read-only MQTT client (the ``monitor`` user of acl-monitor) that keeps the last value of each topic
    and the history of the topics it is told to follow; reconnects by itself across broker restarts."""

    def __init__(self, host: str, port: int, ca_file: Path | None, password: str, topics: list[str], name: str,
                 follow: tuple[str, ...] = ()):
        from firmware_bridges.mqtt_settings import MqttSettings, make_client

        settings = MqttSettings(host=host, port=port, username="monitor", password=password, tls_ca_file=ca_file,
                                keepalive_s=5, reconnect_min_s=0.2, reconnect_max_s=1.0)  # ca_file None: plain TCP
        self.client = make_client(settings, f"test-watch-{name}", clean_session=True)
        self.topics = topics
        self.follow = follow
        self.last: dict[str, str] = {}
        self.history: list[tuple[float, str, str]] = []
        self.peaks: dict[str, float] = {}
        self._lock = threading.Lock()
        self.client.on_connect = lambda client, *_: client.subscribe([(t, 0) for t in self.topics])
        self.client.on_message = self._on_message
        self.client.connect_async(host, port, keepalive=5)
        self.client.loop_start()

    def _on_message(self, client, userdata, message) -> None:
        value = message.payload.decode("utf-8", "replace")
        with self._lock:
            self.last[message.topic] = value
            if message.topic in self.follow:
                self.history.append((time.monotonic(), message.topic, value))
            try:
                number = float(value)
            except ValueError:
                return
            self.peaks[message.topic] = max(self.peaks.get(message.topic, number), number)

    def value(self, topic: str) -> str | None:
        with self._lock:
            return self.last.get(topic)

    def number(self, topic: str) -> float | None:
        value = self.value(topic)
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None

    def reset_peak(self, topic: str) -> None:
        with self._lock:
            self.peaks.pop(topic, None)

    def peak(self, topic: str) -> float | None:
        with self._lock:
            return self.peaks.get(topic)

    def states(self, topic: str, since: float = 0.0) -> list[str]:
        with self._lock:
            return [value for at, t, value in self.history if t == topic and at >= since]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def write_artifact(artifacts_dir: Path, name: str, data: dict) -> Path:
    """artifacts/bridge/<name>.json — written before the assertions, so a failing run leaves its figures too."""
    out = Path(artifacts_dir) / "bridge"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps({"scenario": name, "written_at": dt.datetime.now(dt.timezone.utc).isoformat(),
                                **data}, indent=2, default=str) + "\n")
    return path


# --------------------------------------------------------------------------- the broker watchdog's probe


PROBE_OPTIONS = DEPLOY / "mosquitto-probe.options"


def write_probe_options(directory: Path, host: str, port: int, ca_file: Path, password: str,
                        wait_s: int = 3) -> Path:
    """configs/deploy/mosquitto-probe.options as ``directory/mosquitto_sub`` (mosquitto_sub reads its default
    options from $XDG_CONFIG_HOME/mosquitto_sub), with -h, -p, --cafile, -P and -W substituted."""
    substitute = {"-h": host, "-p": str(port), "--cafile": str(ca_file), "-P": password, "-W": str(wait_s)}
    lines = []
    for raw in PROBE_OPTIONS.read_text().splitlines():
        option, _, value = raw.partition(" ")
        if option in substitute:
            raw = f"{option} {substitute.pop(option)}"
        lines.append(raw)
    assert not substitute, f"{PROBE_OPTIONS} lacks {sorted(substitute)}"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "mosquitto_sub"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


def probe(options_dir: Path, timeout_s: float = 15.0) -> bool:
    """What ohs-broker-watchdog.service runs: True when the broker answers."""
    import os

    try:
        done = subprocess.run(["mosquitto_sub"], env={**os.environ, "XDG_CONFIG_HOME": str(options_dir)},
                              capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0 and done.stdout.strip() != ""


def deploy_conf_for_test(path: Path, workdir: Path, replace: dict[str, str]) -> Path:
    """A deploy file as written, with its host paths and ports replaced (``replace``: key -> value; every key
    must be in the file), plus ``user`` and a log file, so that mosquitto can start it here."""
    import os
    import pwd

    lines, missing = [], set(replace)
    for raw in path.read_text().splitlines():
        key = raw.split(" ", 1)[0]
        if key in replace:
            raw = f"{key} {replace[key]}"
            missing.discard(key)
        lines.append(raw)
    assert not missing, f"{path} has no {sorted(missing)}"
    lines[:0] = [f"user {pwd.getpwuid(os.getuid()).pw_name}", f"log_dest file {workdir / 'mosquitto.log'}"]
    out = workdir / path.name
    out.write_text("\n".join(lines) + "\n")
    return out
