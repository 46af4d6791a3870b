"""The five models through the CLI (``python -m hub.models <name>``): JSON in, JSON out, exit 2 on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def cli(name: str, payload) -> subprocess.CompletedProcess:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return subprocess.run([sys.executable, "-m", "hub.models", name], input=text, capture_output=True,
                          text=True, cwd=ROOT, timeout=60)


def test_rt_cli():
    flu = [1, 1, 0, 2, 5, 3, 3, 3, 6, 2, 5, 9, 13, 12, 13, 11, 12, 6, 6, 6, 3, 1, 0, 2, 0, 0, 0, 0, 2, 0, 2, 0]
    r = cli("rt", {"incidence": flu, "serial_interval": {"mean": 2.6, "sd": 1.5}, "window": 7})
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    last = out["estimates"][-1]
    assert (last["t_start"], last["t_end"]) == (26, 32)
    assert last["mean"] == pytest.approx(0.9975352, rel=1e-7)
    assert set(last) >= {"t_start", "t_end", "mean", "lower", "upper"}


def test_rt_cli_invalid_names_field():
    r = cli("rt", {"incidence": [1, 2, 3, 4, 5, 6, 7, 8, 9], "serial_interval": {"distribution": [0.2, 0.8]}})
    assert r.returncode == 2
    assert "serial_interval.distribution.0" in r.stderr
    r = cli("rt", {"incidence": "many", "serial_interval": {"mean": 3, "sd": 1}})
    assert r.returncode == 2 and "incidence" in r.stderr


@pytest.mark.parametrize("name, payload, key, value", [
    ("noise-exposure", {"segments": [{"laeq_db": 95, "hours": 2}, {"laeq_db": 85, "hours": 4}, {"laeq_db": 70, "hours": 2}]},
     "class", "3.2"),
    ("exposure-stats", {"samples": [{"value": v} for v in [0.05, 0.08, 0.09]], "oel": 1}, "en689_verdict", "compliant"),
])
def test_other_models_cli(name, payload, key, value):
    r = cli(name, payload)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[key] == value


@pytest.mark.parametrize("name, payload, field", [
    ("noise-exposure", {"segments": [{"laeq_db": 95}]}, "segments.0.hours"),
    ("epi", {"groups": [{"name": "a", "population": 5, "cases": 9}]}, "groups.0.cases"),
    ("exposure-stats", {"samples": [{"value": -1}], "oel": 1}, "samples.0.value"),
    ("smoke-report", {"events": [{"location": "wc"}]}, "events.0.time"),
])
def test_cli_invalid_input_exit_2(name, payload, field):
    r = cli(name, payload)
    assert r.returncode == 2
    assert field in r.stderr
