"""``ohs-sim fleet`` as a person runs it: registered through the provider contract, a small fleet
against a real broker into an in-process hub, clear errors on bad options."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.analytics.an_helpers import start_hub
from tests.foundation.helpers import wait_until

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def sim(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simulators.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def test_fleet_is_registered_with_its_options():
    out = sim("fleet", "--help")
    assert out.returncode == 0
    for option in ("--kiosks", "--days", "--workers", "--outbreak-day", "--seed", "--broker", "--site",
                   "--start-date", "--workdir"):
        assert option in out.stdout
    assert "fleet" in sim("--help").stdout


def test_small_fleet_through_the_cli_reaches_the_hub(tmp_path, broker):
    hub = start_hub(tmp_path, broker, {"interval_s": 3600})
    try:
        workdir = tmp_path / "fleet"
        out = sim("fleet", "--kiosks", "2", "--days", "3", "--workers", "5", "--outbreak-day", "2",
                  "--smoke-events", "1", "--seed", "7", "--broker", f"{broker.host}:{broker.port}",
                  "--site", "plant-9", "--start-date", "2026-02-02", "--workdir", str(workdir))
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        assert lines[0] == f"READY fleet {broker.host}:{broker.port}"
        done = json.loads(lines[-1].removeprefix("DONE "))
        assert done["drained"]
        manifest = json.loads((workdir / "manifest.json").read_text())
        assert manifest["site"] == "plant-9" and manifest["outbreak"]["date"] == "2026-02-03"
        wait_until(lambda: hub.store.scalar("SELECT count(*) FROM exams") == manifest["records"]["exams"])
        assert hub.store.scalar("SELECT count(DISTINCT kiosk) FROM exams WHERE site = 'plant-9'") == 2
        assert hub.store.scalar("SELECT min(started_at) FROM exams") < "2026-02-03"
        assert hub.store.scalar("SELECT count(*) FROM events WHERE type = 'smoke_alarm'") == 1
        assert (workdir / "workplaces.toml").exists()
        again = sim("fleet", "--days", "1", "--outbreak-day", "0", "--broker", f"{broker.host}:{broker.port}", "--workdir", str(workdir))
        assert again.returncode == 2 and "already holds a fleet run" in again.stderr
    finally:
        hub.stop()


def test_bad_options_are_refused_with_a_reason(tmp_path):
    out = sim("fleet", "--days", "5", "--outbreak-day", "9", "--workdir", str(tmp_path / "w"))
    assert out.returncode == 2 and "after the last simulated day" in out.stderr
    out = sim("fleet", "--broker", "nonsense")
    assert out.returncode == 2 and "HOST:PORT" in out.stderr
