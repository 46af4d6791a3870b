"""Across processes: ``ohs-sim ble-…`` serves a device over bumble's TCP HCI transport and the
kiosk's driver reaches it (devices.md §9.2 layout A); and the decode CLI (serial engineer's)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from simulators.ble import attach_adapter
from simulators.ble.bleak_bumble import release_adapter

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sim_process(device: str, port: int, *extra: str) -> subprocess.Popen:
    code = (
        "import asyncio, argparse, sys; from simulators.ble import DEVICES; "
        "d, add, run = DEVICES[sys.argv[1]]; p = argparse.ArgumentParser(); add(p); "
        "asyncio.run(run(p.parse_args(sys.argv[2:])))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, device, "--hci", f"tcp-server:127.0.0.1:{port}", "--speed", "200", "--seed", "3", "--duration", "30", *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline()  # "… advertising; kiosk attaches with …"
    assert "advertising" in line, proc.stderr.read() if proc.poll() is not None else line
    return proc


@pytest.mark.parametrize("device", ["ble-thermometer", "ble-bp-cuff"])
def test_simulator_in_another_process(arun, device):
    port = _free_port()
    proc = _sim_process(device, port)
    try:
        from tests.devices_ble.conftest import World

        async def go():
            transport = await attach_adapter(f"tcp-client:127.0.0.1:{port}")
            try:
                drv = World().driver(device, connect_timeout_s=3, scan_timeout_s=3)
                r = await drv.measure(timeout=15)
                assert all(v is not None for v in r.values().values()) and r.values()
            finally:
                release_adapter()
                await transport.close()

        arun(go())
    finally:
        proc.terminate()
        proc.wait(10)


def test_decode_cli_ble_temperature():
    if not (ROOT / "firmware_bridges" / "__main__.py").exists():
        pytest.skip("the decode CLI (firmware_bridges/__main__.py, serial engineer's) is not there yet")
    out = subprocess.run(
        [sys.executable, "-m", "firmware_bridges", "decode", "ble-temperature", "06 B0 0E 00 FE DC 07 0C 05 0B 32 1B 04"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    if out.returncode != 0 and "unknown profile" in (out.stderr + out.stdout).lower():
        pytest.skip(f"decode CLI does not list the BLE profiles yet: {out.stderr.strip()}")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["temperature_c"] == 37.6


def test_decode_cli_truncated_frame_exit_2():
    if not (ROOT / "firmware_bridges" / "__main__.py").exists():
        pytest.skip("the decode CLI is not there yet")
    out = subprocess.run(
        [sys.executable, "-m", "firmware_bridges", "decode", "ble-temperature", "06 B0 0E 00 FE DC 07 0C 05 0B 32 1B"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 2 and "truncated" in out.stderr
