"""The two command-line tools: ``python -m firmware_bridges decode`` and ``ohs-sim``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from firmware_bridges.__main__ import main as decode_main
from firmware_bridges.modbus.drivers import NoisePoller
from firmware_bridges.serial.drivers import AlcotesterDriver
from tests.devices_serial.devserial_helpers import alc_cfg, noise_cfg, tcp_link

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
pytestmark = pytest.mark.timeout(60)


def decode(*args):
    return subprocess.run([PY, "-m", "firmware_bridges", "decode", *args], capture_output=True, text=True, cwd=ROOT, timeout=30)


def test_decode_list():
    p = decode("--list")
    assert p.returncode == 0
    for name in ("alcotester", "pms5003", "rdm6300", "modbus-noise"):
        assert name in p.stdout


def test_decode_noise_vector_json():
    p = decode("modbus-noise", "01 03 02 02 18 B9 2E")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["noise_dba"] == 53.6 and "invalid" not in out and "temperature_c" not in out


def test_decode_alcotester_line_hex():
    line = b"$ALRES,17,T001001,2025-03-14T05:58:12Z,0.212,MGL,1.45,4.8,34.1,SN000123,2025-09-30*42\r\n"
    p = decode("alcotester", line.hex())
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["brac_mg_l"] == 0.212 and out["status"]["blood_breath_ratio"] == "2000:1"


def test_decode_invalid_value_keeps_reason(capsys):
    line = b"$ALERR,17,T001002,E01,INSUFFICIENT_VOLUME,0.62,1.3*21"
    assert decode_main(["decode", "alcotester", line.hex()]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["brac_mg_l"] is None and out["invalid"] == {"brac_mg_l": "E01 INSUFFICIENT_VOLUME"}


@pytest.mark.parametrize(
    "args, needle",
    [
        (("pms5003", "42 4D 00 1C"), "truncated"),
        (("modbus-noise", "01 03 02 02 18 B9 2F"), "CRC"),
        (("rdm6300", "03" + "31" * 12 + "03"), "no sync"),
        (("pms5003", "zz"), "bad hex"),
        (("pms5003", "abc"), "odd number"),
        (("no-such-profile", "00"), "unknown profile"),
    ],
)
def test_decode_bad_input_exits_2_with_message(args, needle, capsys):
    assert decode_main(["decode", *args]) == 2
    assert needle in capsys.readouterr().err


def test_decode_subprocess_bad_frame_exit_code():
    p = decode("pms5003", "42 4D 00 1C")
    assert p.returncode == 2 and "truncated" in p.stderr


def test_ohs_sim_help_lists_devices_and_faults():
    p = subprocess.run([PY, "-m", "simulators.cli", "--help"], capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert p.returncode == 0
    for word in ("alcotester", "badge", "pms5003", "noise", "smoke", "disconnect", "garbage", "bad-checksum",
                 "device-error", "implausible", "silent", "clock-drift"):
        assert word in p.stdout


def test_ohs_sim_rejects_unsupported_fault():
    p = subprocess.run([PY, "-m", "simulators.cli", "badge", "--fault", "device-error", "--duration", "1"],
                       capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert p.returncode == 2 and "does not implement" in p.stderr


class _Sim:
    """ohs-sim as a child process; always terminated and reaped."""

    def __init__(self, *args):
        self.p = subprocess.Popen([PY, "-m", "simulators.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, cwd=ROOT, start_new_session=True)

    def ready(self) -> list[str]:
        line = self.p.stdout.readline()
        assert line.startswith("READY"), (line, self.p.stderr.read() if self.p.poll() is not None else "")
        return line.split()

    def stop(self) -> int:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.p.stdout.close()
        self.p.stderr.close()
        return self.p.returncode


def test_ohs_sim_alcotester_process_end_to_end(tmp_path):
    link = str(tmp_path / "ttyALC")
    sim = _Sim("alcotester", "--link", link, "--time-scale", "0.002", "--seed", "1", "--intoxicated-share", "1.0", "--duration", "30")
    try:
        assert sim.ready()[2] == link

        async def go():
            async with AlcotesterDriver(alc_cfg(link)) as d:
                return await d.measure()

        r = asyncio.run(go())
        assert r.brac_mg_l is not None and r.brac_mg_l > 0  # intoxicated share 1.0
    finally:
        rc = sim.stop()
    assert rc == 0 and not os.path.exists(link)  # the link is removed on SIGTERM


def test_ohs_sim_noise_process_end_to_end():
    sim = _Sim("noise", "--seed", "2", "--duration", "30")
    try:
        words = sim.ready()
        assert words[2] == "rtu-over-tcp"
        host, port = words[3].rsplit(":", 1)

        async def go():
            async with NoisePoller(noise_cfg(tcp_link(host, int(port)))) as d:
                return await d.read_once()

        r = asyncio.run(go())
        assert 30 <= r.noise_dba <= 125
    finally:
        assert sim.stop() == 0
