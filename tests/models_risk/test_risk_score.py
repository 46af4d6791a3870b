"""Original SCORE (Conroy 2003): reference vectors of reference.md §2.4/2.5 and the relative-risk chart."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hub.models.registry import ModelInputError, run_model


def score(**kw):
    base = {"sex": "male", "age": 50, "smoker": True, "systolic_mmhg": 140, "total_cholesterol_mmol_l": 6.0}
    return run_model("score", {**base, **kw})


# reference.md §2.5 (V, high-risk region, sum method)
@pytest.mark.parametrize(("kw", "expected"), [
    ({"age": 60, "systolic_mmhg": 160, "total_cholesterol_mmol_l": 7.0}, 21.05),
    ({}, 4.93),
    ({"sex": "female", "age": 55, "smoker": False, "systolic_mmhg": 140, "total_cholesterol_mmol_l": 5.0}, 1.08),
])
def test_reference_vectors(kw, expected):
    out = score(**kw)
    assert out["kind"] == "absolute" and out["region"] == "high"
    assert out["risk_percent"] == pytest.approx(expected, abs=0.005)
    assert out["risk_percent"] == pytest.approx(out["chd_risk_percent"] + out["non_chd_risk_percent"])


def test_product_method_is_configurable():
    from hub.models import score as m
    from hub.models._config import load_table, merged

    table = merged(load_table("score"), {"combination": "product"})
    assert m.fatal_cvd_risk("male", "high", 60, True, 160, 7.0, table) == pytest.approx(20.33, abs=0.01)


@pytest.mark.parametrize(("risk_kw", "category"), [
    ({"sex": "female", "age": 55, "smoker": False, "total_cholesterol_mmol_l": 5.0}, "moderate"),
    ({"age": 60, "systolic_mmhg": 160, "total_cholesterol_mmol_l": 7.0}, "very_high"),
    ({"sex": "female", "age": 40, "smoker": False, "systolic_mmhg": 120, "total_cholesterol_mmol_l": 4.0}, "low"),
])
def test_categories(risk_kw, category):
    out = score(**risk_kw)
    assert out["category"] == category and out["category_label"]["ru"]


def test_low_region_is_lower():
    assert score(region="low")["risk_percent"] < score()["risk_percent"]


def test_chart_cell_and_chart():
    out = score(age=58, systolic_mmhg=152, total_cholesterol_mmol_l=6.6, include_chart=True)
    assert out["chart_cell"]["age"] == 60 and out["chart_cell"]["systolic_mmhg"] == 160
    assert out["chart_cell"]["total_cholesterol_mmol_l"] == 7.0
    chart = out["chart"]
    assert chart["smoker"]["60"][2][3] == out["chart_cell"]["risk_percent"] == 21  # SBP 160 row, TC 7 column


# ESC relative-risk chart for young people (grade M, from memory of the figure):
# rows SBP 180, 160, 140, 120; columns TC 4..8 mmol/L.
PUBLISHED_RELATIVE = {
    "non_smoker": [[3, 3, 4, 5, 6], [2, 3, 3, 4, 4], [1, 2, 2, 2, 3], [1, 1, 1, 2, 2]],
    "smoker": [[6, 7, 8, 10, 12], [4, 4, 5, 6, 8], [3, 3, 4, 5, 6], [2, 2, 3, 3, 4]],
}


@pytest.mark.parametrize(("sex", "tolerance"), [("female", 1), ("male", 2)])
def test_relative_chart_reproduces_the_published_chart(sex, tolerance):
    out = score(sex=sex, age=30, include_chart=True)
    chart = out["chart"]
    for key, rows in PUBLISHED_RELATIVE.items():
        computed = list(reversed(chart[key]))  # chart rows run SBP 120 -> 180
        for got_row, want_row in zip(computed, rows, strict=True):
            for got, want in zip(got_row, want_row, strict=True):
                assert abs(got - want) <= tolerance, (key, computed, rows)


def test_young_worker_gets_a_relative_risk():
    out = score(age=32, smoker=True, systolic_mmhg=140, total_cholesterol_mmol_l=6.0)
    assert out["kind"] == "relative" and out["raised"] is True
    assert out["relative_risk"] == pytest.approx(4.3, abs=0.05)
    ref = score(age=25, smoker=False, systolic_mmhg=120, total_cholesterol_mmol_l=4.0)
    assert ref["relative_risk"] == pytest.approx(1.0) and ref["raised"] is False


@pytest.mark.parametrize(("kw", "field"), [
    ({"age": 70}, "age"), ({"age": 16}, "age"), ({"systolic_mmhg": 20}, "systolic_mmhg"),
    ({"total_cholesterol_mmol_l": 232}, "total_cholesterol_mmol_l"),
])
def test_refusals_name_the_field(kw, field):
    with pytest.raises(ModelInputError) as err:
        score(**kw)
    assert err.value.field == field


def test_cli():
    payload = {"sex": "male", "age": 50, "smoker": True, "systolic_mmhg": 140, "total_cholesterol_mmol_l": 6.0}
    p = subprocess.run([sys.executable, "-m", "hub.models", "score"], input=json.dumps(payload),
                       capture_output=True, check=False, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["risk_percent"] == pytest.approx(4.93, abs=0.005)
