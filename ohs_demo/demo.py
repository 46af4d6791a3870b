"""``ohs-demo`` (alias ``ohs-hub demo``): the whole system on one machine with its embedded defaults.

Starts an MQTT broker (Debian's mosquitto when installed, else the embedded amqtt), the
hub (ingest + API + dashboard) and the kiosk(s) as separate processes: by default
``simulators.kiosk_world`` (the real kiosk runtime and touch screen with devices simulated
over their real protocols and a simulated workforce; its screen URL is printed), or with
``kiosk_mode="scripted"`` ``simulators.kiosk`` (the real kiosk agent fed by a scripted,
seeded workforce, no devices), writes every config it
uses into the work directory (so they can be read and reused), and prints the URLs and
the API tokens. Ctrl-C stops everything.

The hub does not import the kiosk: kiosks run as child processes and meet the hub only
over MQTT, as in a plant. This package sits outside ``hub`` because it starts kiosks and
simulators (the ``demo`` extra installs what it needs).
"""

from __future__ import annotations

import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import tomli_w

from edge_agent.runtime import demo_credentials
from firmware_bridges.evidence import load_or_create_key, public_key_of
from hub.config import HubConfig
from hub.service import HubService
from ohs_demo.broker import RunningBroker, free_port, start_broker

SITE = "plant-1"


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _write_toml(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tomli_w.dumps(data).encode("utf-8"))
    return path


def prepare(workdir: Path, broker: RunningBroker, api_port: int, kiosks: int,
            exams_per_minute: float, kiosk_mode: str = "devices") -> tuple[HubConfig, list[Path], dict[str, str]]:
    """Write the hub and kiosk configs of the demo; returns (hub config, kiosk config paths, tokens)."""
    mqtt = {"host": broker.host, "port": broker.port, "username": "demo", "password": "demo", "keepalive_s": 10}
    tokens = {role: secrets.token_urlsafe(18) for role in ("medic", "admin")}
    kiosk_paths, registered = [], []
    for number in range(1, kiosks + 1):
        name = f"kiosk-{number:02d}"
        key_path = workdir / name / "signing-key.pem"
        registered.append({"site": SITE, "kiosk": name, "public_key": public_key_of(load_or_create_key(key_path))})
        kiosk = {
            "identity": {"site": SITE, "kiosk": name, "signing_key": str(key_path)},
            "mqtt": mqtt,
            "journal": {"path": str(workdir / name / "journal.db")},
        }
        if kiosk_mode == "scripted":
            kiosk["simulation"] = {"workers": 80, "exams_per_minute": exams_per_minute, "seed": number}
        else:
            from simulators.kiosk_world import declarations

            kiosk["screen"] = {"port": 0}
            # the optional fatigue screening, shown with its one-item instrument (KSS) so the demo's
            # simulated workforce keeps its pace (docs/admission-rules.md)
            kiosk["workflow"] = {"fatigue": {"enabled": True, "instruments": ["kss"]}}
            kiosk["devices"] = [d.model_dump(mode="json", exclude_none=True) for d in declarations(workdir / name)]
        kiosk_paths.append(_write_toml(workdir / f"{name}.toml", kiosk))
    hub_data = {
        "name": "demo",
        "kiosks": registered,
        "mqtt": mqtt,
        "storage": {"path": str(workdir / "hub" / "hub.db")},
        "api": {"host": "127.0.0.1", "port": api_port, "anonymous_role": "ohs",
                "tokens": [{"token": tokens["medic"], "role": "medic", "name": "demo-medic"},
                           {"token": tokens["admin"], "role": "admin", "name": "demo-admin"}]},
    }
    _write_toml(workdir / "hub.toml", hub_data)
    return HubConfig.model_validate(hub_data), kiosk_paths, tokens


def _kiosk_command(path: Path, kiosk_mode: str, exams_per_minute: float, speed: float, seed: int) -> list[str]:
    if kiosk_mode == "scripted":
        return [sys.executable, "-m", "simulators.kiosk", "--config", str(path)]
    return [sys.executable, "-m", "simulators.cli", "kiosk-world", "--config", str(path), "--speed", f"{speed:g}",
            "--exams-per-minute", f"{exams_per_minute:g}", "--seed", str(seed)]


def _screen_url(log_path: Path, child: subprocess.Popen, stopping, timeout_s: float = 30.0) -> str | None:
    """The kiosk screen URL from the child's ``READY kiosk-world <url>`` line (None if it never came)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and child.poll() is None and not stopping():
        for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("READY kiosk-world "):
                return line.split(" ", 2)[2].strip()
        time.sleep(0.1)
    return None


def run_demo(workdir: Path, api_port: int = 8000, kiosks: int = 1, exams_per_minute: float = 12.0,
             duration_s: float | None = None, broker_kind: str = "auto", kiosk_mode: str = "devices",
             speed: float = 30.0) -> int:
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    if api_port and not _port_free("127.0.0.1", api_port):
        print(f"port {api_port} is busy; using a free one", flush=True)
        api_port = 0
    api_port = api_port or free_port()
    broker = start_broker(workdir / "broker", kind=broker_kind)
    hub = None
    children: list[subprocess.Popen] = []
    stop = {"now": False}

    def request_stop(signum, frame):
        stop["now"] = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        config, kiosk_paths, tokens = prepare(workdir, broker, api_port, kiosks, exams_per_minute, kiosk_mode)
        hub = HubService(config).start(connect_timeout=20)
        screens = []
        for number, path in enumerate(kiosk_paths, 1):
            log_path = workdir / f"{path.stem}.log"
            log_path.write_bytes(b"")
            with open(log_path, "ab") as log:
                children.append(subprocess.Popen(_kiosk_command(path, kiosk_mode, exams_per_minute, speed, number),
                                                 stdout=log, stderr=subprocess.STDOUT))
        if kiosk_mode != "scripted":
            for child, path in zip(children, kiosk_paths, strict=True):
                url = _screen_url(workdir / f"{path.stem}.log", child, lambda: stop["now"])
                if url is None and stop["now"]:
                    return 0
                if url is None:
                    print(f"kiosk {path.stem} did not start; see {workdir / (path.stem + '.log')}", flush=True)
                    return 1
                screens.append(f"  Kiosk screen {path.stem}: {url}  (simulated devices and workers, speed x{speed:g})")
                if (credentials := demo_credentials(path)) is not None:
                    screens.append(f"  Sign in without a badge at {path.stem}: personnel number {credentials[0]}, "
                                   f"PIN {credentials[1]}")
        kind = "simulated" if kiosk_mode == "scripted" else "device-simulated"
        broker_name = "Debian mosquitto" if broker.kind == "mosquitto" else "embedded amqtt (mosquitto not installed)"
        print(f"""
OHS gate system demo is running — site {SITE}, {kiosks} {kind} kiosk(s), broker: {broker_name} at {broker.host}:{broker.port}
  Dashboard (OHS view, no token needed): {hub.url}/
  Medic tablet:     {hub.url}/medic  (sign in with the medic token below)
{chr(10).join(screens) + chr(10) if screens else ""}  Exams API:        {hub.url}/api/v1/exams
  Kiosks API:       {hub.url}/api/v1/kiosks
  OpenAPI docs:     {hub.url}/docs
  Medic token:      {tokens['medic']}   (curl -H 'Authorization: Bearer …' {hub.url}/api/v1/exams)
  Admin token:      {tokens['admin']}
  Work directory:   {workdir}  (configs, databases, logs)
Press Ctrl-C to stop.""", flush=True)
        started = time.monotonic()
        while not stop["now"]:
            if duration_s is not None and time.monotonic() - started >= duration_s:
                break
            for child, path in zip(children, kiosk_paths, strict=True):
                if child.poll() is not None:
                    print(f"simulated kiosk {path.stem} exited with code {child.returncode}; "
                          f"see {workdir / (path.stem + '.log')}", flush=True)
                    stop["now"] = True
            time.sleep(0.2)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
        if hub is not None:
            hub.stop()
        broker.stop()
        print("demo stopped", flush=True)
    return 0
