"""Every example in docs/models/<model>.md of the five models runs and gives what the doc says."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hub.models.registry import run_model

DOCS = Path(__file__).resolve().parents[2] / "docs" / "models"
EXAMPLE = re.compile(r"echo '(.*?)'\s*\\?\s*\|\s*\.venv/bin/python -m hub\.models ([\w-]+)", re.S)


@pytest.mark.parametrize("doc", ["noise-exposure", "exposure-stats", "epi", "rt", "smoke-report"])
def test_doc_examples_run(doc):
    text = (DOCS / f"{doc}.md").read_text(encoding="utf-8")
    found = EXAMPLE.findall(text)
    assert found, f"no runnable example in {doc}.md"
    for payload, name in found:
        assert name == doc
        run_model(name, json.loads(payload))


def test_doc_figures():
    out = run_model("noise-exposure", {"segments": [{"laeq_db": 95, "hours": 2}, {"laeq_db": 85, "hours": 4},
                                                    {"laeq_db": 70, "hours": 2}]})
    assert "89.7826" in (DOCS / "noise-exposure.md").read_text() and f"{out['lex_8h_db']:.4f}" == "89.7826"
    smoke = run_model("smoke-report", json.loads(EXAMPLE.findall((DOCS / "smoke-report.md").read_text())[0][0]))
    assert (smoke["total_alarms"], smoke["total_violations"]) == (3, 2)
