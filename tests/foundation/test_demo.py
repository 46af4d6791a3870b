"""The one-machine demo, as a user runs it: exams appear at /api/v1/exams within seconds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from hub.broker import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("broker_kind", ["mosquitto", "amqtt"])
def test_demo_brings_up_broker_hub_and_kiosk(tmp_path, broker_kind):
    port = free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "demo", "--workdir", str(tmp_path / "demo"), "--port", str(port),
         "--exams-per-minute", "120", "--broker", broker_kind, "--duration", "60"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = demo.stdout.readline()
            lines.append(line)
            if "Press Ctrl-C" in line or demo.poll() is not None:
                break
        text = "".join(lines)
        assert f"http://127.0.0.1:{port}/" in text, text
        assert ("Debian mosquitto" if broker_kind == "mosquitto" else "embedded amqtt") in text
        exams = {}
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            exams = httpx.get(f"http://127.0.0.1:{port}/api/v1/exams").json()
            if exams.get("total", 0) >= 3:
                break
            time.sleep(0.5)
        assert exams["total"] >= 3, "exams must appear within seconds"
        assert {item["chain_status"] for item in exams["items"]} == {"ok"}
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
    finally:
        demo.send_signal(signal.SIGINT)
        out, _ = demo.communicate(timeout=30)
        assert "demo stopped" in out
