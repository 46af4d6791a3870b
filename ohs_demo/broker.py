"""Start an MQTT broker for the one-machine demo and for tests.

Debian's mosquitto is used whenever its binary is present (durable persistence, ACL,
TLS). Without it, the demo falls back to an embedded amqtt broker in a child process;
amqtt keeps queues in memory only and needs ``allow_anonymous = false`` for persistent
sessions to work (``shared/domain/infrastructure.md`` §1b), so clients must send a
username. Production plants run their own mosquitto; this module is not used there (it is part of the
``ohs_demo`` package, outside the hub). ``free_port`` and ``wait_listening`` are re-exported
from ``firmware_bridges.ports`` for the tests and benchmarks.
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from firmware_bridges.ports import free_port, wait_listening

__all__ = ["RunningBroker", "free_port", "mosquitto_binary", "start_amqtt", "start_broker", "start_mosquitto",
           "wait_listening"]


@dataclass
class RunningBroker:
    kind: str  # "mosquitto" | "amqtt"
    host: str
    port: int
    workdir: Path
    process: subprocess.Popen
    config_path: Path
    log_path: Path
    extra: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        """SIGTERM lets mosquitto save its persistence file; SIGKILL simulates a crash."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def restart(self) -> None:
        """Start again on the same port with the same persistence (after :meth:`stop`)."""
        self.process = subprocess.Popen(self.extra["argv"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_listening(self.host, self.port, process=self.process)

    @property
    def running(self) -> bool:
        return self.process.poll() is None


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.path.exists(p)), None
    )


def start_mosquitto(workdir: str | Path, port: int | None = None, host: str = "127.0.0.1",
                    extra_conf: str = "") -> RunningBroker:
    """Start Debian's mosquitto with its own config, persistence and log under ``workdir``."""
    binary = mosquitto_binary()
    if binary is None:
        raise FileNotFoundError("mosquitto is not installed (Debian: apt-get install -y mosquitto)")
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port(host)
    config_path = workdir / "mosquitto.conf"
    log_path = workdir / "mosquitto.log"
    user = pwd.getpwuid(os.getuid()).pw_name  # as root, stay root: the work dir is ours, not mosquitto's
    config_path.write_text(
        f"""# written by ohs_demo.broker for the demo/tests
user {user}
per_listener_settings false
listener {port} {host}
allow_anonymous true
persistence true
persistence_location {workdir}/
autosave_interval 1
log_dest file {log_path}
log_type error
log_type warning
log_type notice
max_inflight_messages 1000
max_queued_messages 1000000
{extra_conf}
"""
    )
    argv = [binary, "-c", str(config_path)]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(host, port, process=process)
    return RunningBroker("mosquitto", host, port, workdir, process, config_path, log_path, {"argv": argv})


def start_amqtt(workdir: str | Path, port: int | None = None, host: str = "127.0.0.1") -> RunningBroker:
    """Embedded amqtt broker in a child process (fallback when mosquitto is absent)."""
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port(host)
    log_path = workdir / "amqtt.log"
    argv = [sys.executable, "-m", "ohs_demo.broker", "--host", host, "--port", str(port)]
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT)
    wait_listening(host, port, process=process, timeout=20)
    return RunningBroker("amqtt", host, port, workdir, process, workdir / "(embedded)", log_path, {"argv": argv})


def start_broker(workdir: str | Path, port: int | None = None, host: str = "127.0.0.1",
                 kind: str = "auto") -> RunningBroker:
    """``kind``: "mosquitto", "amqtt", or "auto" (mosquitto when installed, otherwise amqtt)."""
    if kind == "mosquitto" or (kind == "auto" and mosquitto_binary() is not None):
        return start_mosquitto(workdir, port, host)
    return start_amqtt(workdir, port, host)


def _run_amqtt(host: str, port: int) -> None:
    import asyncio

    from amqtt.broker import Broker

    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        # allow_anonymous must be False, or amqtt silently drops persistent sessions
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": False}},
    }

    async def main() -> None:
        broker = Broker(config)
        await broker.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await broker.shutdown()

    asyncio.run(main())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="run the embedded amqtt broker (demo fallback)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    args = parser.parse_args()
    _run_amqtt(args.host, args.port)
