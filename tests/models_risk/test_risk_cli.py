"""The three ways give the same JSON: Python and ``python -m hub.models <name>`` (subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hub.models.registry import run_model

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv" / "bin" / "python"
PYTHON = PYTHON if PYTHON.exists() else Path(sys.executable)


def cli(name: str, payload) -> subprocess.CompletedProcess:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return subprocess.run([str(PYTHON), "-m", "hub.models", name], input=text, capture_output=True, text=True, cwd=ROOT, timeout=60)


SCORE2 = {"sex": "male", "age": 50, "smoker": True, "systolic_mmhg": 140, "total_cholesterol_mmol_l": 5.5, "hdl_mmol_l": 1.3, "diabetes": False}


def test_score2_cli_matches_python():
    done = cli("score2", SCORE2)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result == run_model("score2", SCORE2)
    assert result["model"] == "SCORE2" and result["category"] == "very_high"
    assert result["risk_percent"] == pytest.approx(14.0496, abs=0.01)


def test_score2_cli_refuses_mg_dl_with_exit_2():
    done = cli("score2", {**SCORE2, "total_cholesterol_mmol_l": 212})
    assert done.returncode == 2
    assert "total_cholesterol_mmol_l" in done.stderr and "mg/dL" in done.stderr
    assert done.stdout == ""


def test_score2_cli_missing_field():
    payload = dict(SCORE2)
    del payload["age"]
    done = cli("score2", payload)
    assert done.returncode == 2 and "age" in done.stderr


def test_risk_group_cli_and_invalid_group():
    payload = {"criteria": {"c1": 3, "c2": 2, "c3": 1, "c4": 2, "c5": 1, "c6": 1, "c7": False, "c8": False}}
    done = cli("risk-group", payload)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {k: result[k] for k in ("base", "intermediate", "final", "score")} == {"base": 1, "intermediate": 2, "final": 2, "score": 4}
    payload["criteria"]["c1"] = 7
    bad = cli("risk-group", payload)
    assert bad.returncode == 2 and "criteria.c1" in bad.stderr


@pytest.mark.parametrize(
    ("name", "payload", "key"),
    [
        ("reproductive-risk", {"class": "3.2"}, "category"),
        ("risk-register", {"rows": [{"factor": "noise", "hazard": "noise", "hazard_level": 3, "exposure_duration": 4, "exposure_frequency": 5, "probability": 4}]}, "ranking"),
        ("quantitative-risk", {"rcr": [{"name": "s", "exposure": 2, "dnel": 1}]}, "rcr"),
        ("risk-group-report", {"assessments": [{"year": 2025, "criteria": {"c1": 1, "c2": 1, "c3": 1, "c4": 1, "c5": 1, "c6": 1}}]}, "dynamics"),
    ],
)
def test_other_models_through_the_cli(name, payload, key):
    done = cli(name, payload)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == run_model(name, payload)
    assert key in json.loads(done.stdout)


def test_negative_dose_through_the_cli():
    done = cli("quantitative-risk", {"carcinogens": [{"name": "x", "target": "t", "route": "oral", "slope_factor": 1, "lifetime_average": -0.1}]})
    assert done.returncode == 2 and "carcinogens.0.lifetime_average" in done.stderr


def test_not_json_gives_exit_2():
    done = cli("score2", "{not json")
    assert done.returncode == 2 and "not valid JSON" in done.stderr
