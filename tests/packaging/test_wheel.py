"""A regular (non-editable) install runs from an empty folder: the wheel carries the shipped
configuration (rule set, model tables) and nothing reaches back into the checkout.

The wheel is built from this checkout and installed with ``--no-deps --target`` into a temporary
folder that goes first on ``PYTHONPATH``; the dependencies come from the test environment (the fresh
venv per extra, with dependencies, is test_extras.py). Every command runs with an empty working
directory, and the test checks the code ran from the installed copy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def installed(project_wheel, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("wheel") / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                           str(project_wheel)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return target


def _run(installed: Path, tmp_path: Path, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    empty = tmp_path / "empty"
    empty.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(installed)}
    env.pop("OHS_MODELS_CONFIG_DIR", None)
    return subprocess.run([sys.executable, *argv], cwd=empty, env=env, input=stdin, capture_output=True, text=True,
                          timeout=120)


def test_the_wheel_ships_the_configuration_and_runs_from_the_installed_copy(installed, tmp_path):
    probe = _run(installed, tmp_path, "-c", "import hub, edge_agent.admission.rules as r, hub.models._config as c; "
                 "print(hub.__file__); print(r.DEFAULT_RULES_PATH); print(c.config_dir())")
    assert probe.returncode == 0, probe.stderr
    module, rules, models = probe.stdout.split()
    for path in (module, rules, models):
        assert path.startswith(str(installed)), f"{path} is not the installed copy"
    assert Path(rules).is_file() and any(Path(models).glob("*.toml"))


def test_the_admission_cli_and_a_model_run_from_an_empty_folder(installed, tmp_path):
    exam = {"exam_type": "pre_shift", "attempts": [  # reference §1.8, vector K1
        {"minute": 0, "systolic_mmhg": 128, "diastolic_mmhg": 82, "pulse_bpm": 72, "temperature_c": 36.6,
         "brac_mg_l": 0.0}]}
    decided = _run(installed, tmp_path, "-m", "edge_agent.admission", stdin=json.dumps(exam))
    assert decided.returncode == 0, decided.stderr
    assert json.loads(decided.stdout)["outcome"] == "admitted"
    stats = _run(installed, tmp_path, "-m", "hub.models", "exposure-stats",
                 stdin=json.dumps({"samples": [{"value": 1.2}, {"value": 0.8}, {"value": 1.5}], "oel": 2}))
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["n"] == 3
