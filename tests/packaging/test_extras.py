"""Each extra, installed from the wheel into a fresh venv, is enough for what it is for, run from an empty folder:
``[edge]`` runs the kiosk, ``[hub]`` the hub and the models, ``[sim]`` the simulators, ``[demo]`` the demo; and
every module of the packages an extra is for imports with only that extra (no missing dependency).

The venvs are built offline (``pip --no-index``) from the wheelhouse fixture: the project's wheel and the test
environment's distributions repacked, so pip's resolver still checks the declared requirements.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import tomli_w

from ohs_demo.broker import free_port

#: the packages each extra is for: every module in them must import with that extra alone
PACKAGES = {"base": ("firmware_bridges.contract", "firmware_bridges.evidence", "edge_agent.admission"),
            "edge": ("edge_agent", "firmware_bridges"), "hub": ("hub",), "sim": ("simulators",), "demo": ("ohs_demo",)}

IMPORT_ALL = """
import importlib, json, pkgutil, sys
missing = {}
def visit(name):
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name.split(".")[0] not in ("edge_agent", "hub", "firmware_bridges", "simulators", "ohs_demo"):
            missing[name] = error.name
        return
    for info in pkgutil.iter_modules(getattr(module, "__path__", []), name + "."):
        if not info.name.endswith(".__main__") and ".migrations" not in info.name:
            visit(info.name)
for root in sys.argv[1:]:
    visit(root)
print(json.dumps(missing))
"""


def _clean_env(venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV", "OHS_"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PIP_CONFIG_FILE"] = os.devnull  # only the wheelhouse: no index, no find-links from the machine's config
    return env


@pytest.fixture(scope="module", params=list(PACKAGES))
def venv(request, wheelhouse, tmp_path_factory) -> tuple[str, Path]:
    extra = request.param
    root = tmp_path_factory.mktemp(f"venv-{extra}")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    target = "ohs-gate" if extra == "base" else f"ohs-gate[{extra}]"
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(root / "bin" / "python"), "install", "-q",
                           "--no-compile", "--no-index", "--find-links", str(wheelhouse), target],
                          capture_output=True, text=True, timeout=600, env=_clean_env(root))
    assert done.returncode == 0, f"pip install {target}:\n{done.stderr[-3000:]}"
    return extra, root


def _run(venv: Path, tmp_path: Path, *argv: str, stdin: str | None = None, timeout: float = 120):
    empty = tmp_path / "empty"
    empty.mkdir(exist_ok=True)
    return subprocess.run(argv, cwd=empty, env=_clean_env(venv), input=stdin, capture_output=True, text=True,
                          timeout=timeout)


def _start(venv: Path, tmp_path: Path, *argv: str) -> subprocess.Popen:
    empty = tmp_path / "empty"
    empty.mkdir(exist_ok=True)
    return subprocess.Popen(argv, cwd=empty, env=_clean_env(venv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def _line_with(process: subprocess.Popen, needle: str, timeout: float = 60) -> tuple[str, str]:
    """The first output line containing ``needle`` and everything read so far (for the failure message)."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if needle in line:
            return line, "".join(seen)
    return "", "".join(seen)


def _stop(process: subprocess.Popen) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        out, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return out


def test_every_module_of_the_extra_imports(venv, tmp_path):
    extra, root = venv
    probe = _run(root, tmp_path, str(root / "bin" / "python"), "-c", IMPORT_ALL, *PACKAGES[extra])
    assert probe.returncode == 0, probe.stderr[-3000:]
    assert json.loads(probe.stdout) == {}, f"[{extra}] lacks what these modules import"
    where = _run(root, tmp_path, str(root / "bin" / "python"), "-c",
                 "import firmware_bridges; print(firmware_bridges.__file__)")
    assert where.stdout.strip().startswith(str(root)), "the module did not come from the fresh venv"


def _admission(root: Path, tmp_path: Path) -> None:
    exam = {"exam_type": "pre_shift", "attempts": [  # reference §1.8, vector K1
        {"minute": 0, "systolic_mmhg": 128, "diastolic_mmhg": 82, "pulse_bpm": 72, "temperature_c": 36.6,
         "brac_mg_l": 0.0}]}
    decided = _run(root, tmp_path, str(root / "bin" / "python"), "-m", "edge_agent.admission", stdin=json.dumps(exam))
    assert decided.returncode == 0, decided.stderr
    assert json.loads(decided.stdout)["outcome"] == "admitted"


def test_what_the_extra_is_for_runs_from_an_empty_folder(venv, tmp_path, request):
    extra, root = venv
    bin_dir = root / "bin"
    if extra == "base":
        _admission(root, tmp_path)
    elif extra == "edge":
        _admission(root, tmp_path)
        config = tmp_path / "kiosk.toml"
        config.write_bytes(tomli_w.dumps({
            "identity": {"site": "plant-1", "kiosk": "kiosk-01", "signing_key": str(tmp_path / "key.pem")},
            "mqtt": {"host": "127.0.0.1", "port": free_port()},  # no broker: the kiosk works offline
            "journal": {"path": str(tmp_path / "journal.db")}, "screen": {"port": 0}}).encode())
        kiosk = _start(root, tmp_path, str(bin_dir / "ohs-kiosk"), "run", "--config", str(config))
        try:
            line, seen = _line_with(kiosk, "screen at ")
            assert line, seen
            page = httpx.get(line.split("screen at ", 1)[1].strip(), timeout=10)
            assert page.status_code == 200 and "<html" in page.text.lower()
        finally:
            out = _stop(kiosk)
        assert kiosk.returncode == 0 and "Traceback" not in out, out
    elif extra == "hub":
        stats = _run(root, tmp_path, str(bin_dir / "python"), "-m", "hub.models", "exposure-stats",
                     stdin=json.dumps({"samples": [{"value": 1.2}, {"value": 0.8}, {"value": 1.5}], "oel": 2}))
        assert stats.returncode == 0, stats.stderr
        assert json.loads(stats.stdout)["n"] == 3
        broker = request.getfixturevalue("broker")
        port = free_port()
        config = tmp_path / "hub.toml"
        config.write_bytes(tomli_w.dumps({
            "name": "wheel-test", "mqtt": {"host": broker.host, "port": broker.port, "username": "hub"},
            "storage": {"path": str(tmp_path / "hub.db")},
            "api": {"host": "127.0.0.1", "port": port, "anonymous_role": "ohs"}}).encode())
        hub = _start(root, tmp_path, str(bin_dir / "ohs-hub"), "run", "--config", str(config))
        try:
            line, seen = _line_with(hub, "dashboard and API at", timeout=120)
            assert line, seen
            exams = httpx.get(f"http://127.0.0.1:{port}/api/v1/exams", timeout=10)
            assert exams.status_code == 200 and exams.json()["total"] == 0
        finally:
            _stop(hub)
        refused = _run(root, tmp_path, str(bin_dir / "ohs-hub"), "demo")
        assert refused.returncode == 2 and "pip install 'ohs-gate[demo]'" in refused.stderr, refused.stderr
    elif extra == "sim":
        sim = _start(root, tmp_path, str(bin_dir / "ohs-sim"), "alcotester", "--link", str(tmp_path / "alc"))
        try:
            line, seen = _line_with(sim, "READY alcotester")
            assert line, seen
        finally:
            _stop(sim)
    else:
        demo = _start(root, tmp_path, str(bin_dir / "ohs-demo"), "--workdir", str(tmp_path / "demo"), "--port", "0",
                      "--kiosk-mode", "scripted", "--exams-per-minute", "120", "--duration", "5")
        try:
            line, seen = _line_with(demo, "Press Ctrl-C", timeout=120)
            assert line, seen
        finally:
            out = _stop(demo)
        assert "demo stopped" in out and "Traceback" not in out, out
