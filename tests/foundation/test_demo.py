"""The one-machine demo, as a user runs it (``ohs-demo``, and its alias ``ohs-hub demo``): exams appear at
/api/v1/exams within seconds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from ohs_demo.broker import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("broker_kind", ["mosquitto", pytest.param("amqtt", marks=pytest.mark.slow)])
def test_demo_brings_up_broker_hub_and_kiosk(tmp_path, broker_kind):
    port = free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "demo", "--workdir", str(tmp_path / "demo"), "--port", str(port),
         "--exams-per-minute", "120", "--broker", broker_kind, "--duration", "60"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 90  # start-up (broker, hub migrations, kiosk); slow on a loaded machine
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


def test_demo_kiosk_screen_and_device_measurements(tmp_path):
    """The default demo kiosk is the real runtime with simulated devices: its screen is served
    and the hub's exams carry the simulated devices' identity (medic view, token printed)."""
    import re

    port = free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "ohs_demo", "--workdir", str(tmp_path / "demo"), "--port", str(port),
         "--exams-per-minute", "120", "--broker", "mosquitto", "--duration", "60"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 90  # start-up (broker, hub migrations, kiosk); slow on a loaded machine
        while time.monotonic() < deadline:
            line = demo.stdout.readline()
            lines.append(line)
            if "Press Ctrl-C" in line or demo.poll() is not None:
                break
        text = "".join(lines)
        screen = re.search(r"Kiosk screen kiosk-01: (http://127\.0\.0\.1:\d+/)", text)
        token = re.search(r"Medic token:\s+(\S+)", text)
        assert screen and token, text
        # a visitor can sign in at the kiosk: the demo prints a worker's personnel number and PIN
        assert re.search(r"Sign in without a badge at kiosk-01: personnel number W\d{5}, PIN \d{4}", text), text
        page = httpx.get(screen.group(1))
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert httpx.get(screen.group(1) + "api/state").json()["view"]["screen"]
        headers = {"Authorization": f"Bearer {token.group(1)}"}
        exams = {}
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            exams = httpx.get(f"http://127.0.0.1:{port}/api/v1/exams", headers=headers).json()
            if exams.get("total", 0) >= 2:
                break
            time.sleep(0.5)
        assert exams["total"] >= 2 and exams["view"] == "medical", exams
        measured = [m for item in exams["items"] for m in item["measurements"]]
        models = {m["device_model"] for m in measured}
        assert {"SIM-bp", "SIM-ht", "SIM-plx", "SIM-alc"} <= models, models
        assert {"BP-1", "HT-1", "OX-1", "SN000123"} <= {m["device_serial"] for m in measured}
        assert {m["field"] for m in measured} >= {"systolic_mmhg", "temperature_c", "spo2_percent", "brac_mg_l"}
    finally:
        demo.send_signal(signal.SIGINT)
        out, _ = demo.communicate(timeout=30)
        assert "demo stopped" in out
    log = (tmp_path / "demo" / "kiosk-01.log").read_text()
    assert "kiosk-world stopped" in log and "Traceback" not in log, log
    for pty in ("alc", "badge", "printer"):
        assert not os.path.lexists(tmp_path / "demo" / "kiosk-01" / pty), f"pty link {pty} left behind"


def test_the_demo_knows_what_its_extra_needs():
    """``ohs-demo`` refuses with ``pip install 'ohs-gate[demo]'`` when a requirement is absent (the refusal from a
    fresh [hub]-only venv is tests/packaging/test_extras.py); here: what it checks for, read from the metadata."""
    from ohs_demo.extras import missing, requirements

    needed = requirements("demo")
    assert "amqtt" in needed  # the demo's own
    assert {"bumble", "bleak-retry-connector", "fastapi", "scipy"} <= set(needed)  # via [sim] → [edge], and [hub]
    assert missing("demo") == []
    assert requirements("no-such-extra") == []
