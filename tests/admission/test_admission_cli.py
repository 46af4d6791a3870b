"""``python -m edge_agent.admission``: JSON on stdin, JSON on stdout, errors name the field."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge_agent.admission import DEFAULT_RULES_PATH

REPO = Path(__file__).resolve().parents[2]
PYTHON = REPO / ".venv" / "bin" / "python"
if not PYTHON.exists():  # pragma: no cover - other checkouts
    PYTHON = Path(sys.executable)

K1 = {
    "exam_type": "pre_shift",
    "attempts": [{"minute": 0, "systolic_mmhg": 128, "diastolic_mmhg": 82, "pulse_bpm": 72, "temperature_c": 36.6,
                  "brac_mg_l": 0.000}],
}


def cli(stdin: str | bytes, *args: str) -> subprocess.CompletedProcess:
    data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
    return subprocess.run([str(PYTHON), "-m", "edge_agent.admission", *args], input=data, capture_output=True,
                          cwd=REPO, timeout=60)


def test_k1_admitted_via_stdin(tmp_path):
    f = tmp_path / "input.json"
    f.write_text(json.dumps(K1), encoding="utf-8")
    with f.open("rb") as fh:
        p = subprocess.run([str(PYTHON), "-m", "edge_agent.admission"], stdin=fh, capture_output=True, cwd=REPO,
                           timeout=60)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["outcome"] == "admitted"
    assert out["fired"] == []
    assert out["rule_set_version"] == "2026.2.0"
    assert "retest_not_before_minute" not in out


def test_k5_not_admitted_with_reasons_in_russian_and_english():
    exam = {"exam_type": "pre_trip", "attempts": [{**K1["attempts"][0], "brac_mg_l": 0.21},
                                                   {"minute": 15, "brac_mg_l": 0.19}]}
    p = cli(json.dumps(exam), "--compact")
    assert p.returncode == 0, p.stderr
    assert len(p.stdout.decode("utf-8").strip().splitlines()) == 1
    out = json.loads(p.stdout)
    assert out["outcome"] == "not_admitted"
    assert [f["rule"] for f in out["fired"]] == ["alcohol", "alcohol"]
    assert {"rule", "source", "value"} <= set(out["fired"][0])
    assert "Не допущен" in out["summary"]["ru"] and "Not admitted" in out["summary"]["en"]
    assert out["notify_employer"] is True


def test_retest_output_has_minute():
    exam = {"exam_type": "post_shift", "attempts": [{**K1["attempts"][0], "systolic_mmhg": 152, "diastolic_mmhg": 94}]}
    out = json.loads(cli(json.dumps(exam)).stdout)
    assert out["outcome"] == "retest" and out["retest_not_before_minute"] == 20


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({**K1, "exam_type": "pre_shit"}, "exam_type"),
        ({"attempts": K1["attempts"]}, "exam_type"),
        ({**K1, "attempts": [{**K1["attempts"][0], "systolic_mmhg": "152"}]}, "attempts[0].systolic_mmhg"),
        ({**K1, "attempts": [{**K1["attempts"][0], "pulse": 72}]}, "attempts[0].pulse"),
        ({**K1, "attempts": [{**K1["attempts"][0], "minute": -1}]}, "attempts[0].minute"),
        ({**K1, "attempts": []}, "attempts"),
        ({**K1, "individual_norm": {"systolic_mmhg": 150}}, "individual_norm"),
        ({**K1, "complaints": "headache"}, "complaints"),
        ({**K1, "attempts": [{**K1["attempts"][0], "invalid": {"ecg": "x"}}]}, "attempts[0].invalid.ecg"),
    ],
)
def test_invalid_input_names_the_field(payload, field):
    p = cli(json.dumps(payload))
    assert p.returncode == 2
    err = p.stderr.decode("utf-8")
    assert field in err
    assert p.stdout == b""


def test_not_json():
    p = cli("{not json")
    assert p.returncode == 2 and "not valid JSON" in p.stderr.decode()


def test_rules_option_with_broken_file(tmp_path):
    bad = tmp_path / "rules-bad.toml"
    bad.write_text(DEFAULT_RULES_PATH.read_text(encoding="utf-8").replace("at_or_above = 37.1", 'at_or_above = "warm"'),
                   encoding="utf-8")
    p = cli(json.dumps(K1), "--rules", str(bad))
    assert p.returncode == 3
    err = p.stderr.decode("utf-8")
    assert str(bad) in err and "rules.temp.at_or_above" in err


def test_rules_option_with_other_thresholds(tmp_path):
    strict = tmp_path / "rules-strict.toml"
    text = DEFAULT_RULES_PATH.read_text(encoding="utf-8")
    text = text.replace("at_or_above = 37.1", "at_or_above = 36.5").replace('version = "2026.2.0"', 'version = "test-1"')
    strict.write_text(text, encoding="utf-8")
    p = cli(json.dumps(K1), "--rules", str(strict))
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["outcome"] == "needs_medic" and out["rule_set_version"] == "test-1"
