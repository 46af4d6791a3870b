"""docs/models.md indexes every registered model, its links resolve, and its examples are true."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hub.models.registry import ModelInputError, load_all, run_model

DOCS = Path(__file__).resolve().parents[2] / "docs"
INDEX = (DOCS / "models.md").read_text(encoding="utf-8")


def test_every_model_has_one_index_row_linking_to_an_existing_page():
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([\w-]+)` \|.*\]\((models/[\w-]+\.md)[^)]*\) \|$",
                                                          INDEX, re.M)}
    assert set(rows) == set(load_all())
    for name, page in rows.items():
        assert (DOCS / page).is_file(), f"{name}: {page} is missing"


def test_the_three_ways_examples_agree_with_the_model():
    curl = re.search(r"-d '(\{.*?\})'", INDEX).group(1)
    echo = re.search(r"echo '(\{.*?\})'", INDEX).group(1)
    assert json.loads(curl) == json.loads(echo)
    result = run_model("score2", json.loads(curl))
    assert "# 14.0, 'very_high'" in INDEX
    assert (result["risk_percent_rounded"], result["category"]) == (14.0, "very_high")
    bad = {**json.loads(curl), "total_cholesterol_mmol_l": 212}
    try:
        run_model("score2", bad)
    except ModelInputError as error:
        assert f'"message": "{error.field}: {error.message[:40]}' in INDEX.replace("\n", " ")
    else:
        raise AssertionError("212 mmol/L must be refused")
