"""Reproductive risk of women workers (seed 003, digest 3)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.models.registry import ModelInputError, run_model

# seed 003 appendix 4 (digest 3 table): class -> category, information / prevention / reduction
TABLE = [
    ("1", "none", (1, 0, 1)),
    ("2", "negligible", (2, 0, 1)),
    ("3.1", "small", (3, 1, 2)),
    ("3.2", "medium", (3, 2, 3)),
    ("3.3", "high", (3, 3, 3)),
    ("3.4", "very_high", (3, 3, 3)),
    ("4", "extremely_high", (3, 3, 3)),
]


@pytest.mark.parametrize(("cls", "category", "levels"), TABLE)
def test_class_table(cls, category, levels):
    result = run_model("reproductive-risk", {"class": cls})
    assert result["class"] == cls
    assert result["category"] == category
    assert result["measures"] == dict(zip(("information", "prevention", "reduction"), levels, strict=True))
    assert result["risk_established"] == (cls.startswith("3") or cls == "4")


# seed 003 Table 1: intervals closed on the right
@pytest.mark.parametrize(
    ("rr", "cls"),
    [
        (0.5, "1"),
        (1.0, "1"),
        (1.0001, "2"),
        (1.5, "2"),
        (1.51, "3.1"),
        (2.0, "3.1"),
        (2.5, "3.2"),
        (3.2, "3.2"),
        (3.21, "3.4"),  # shared 3.3-3.4 interval: safer class by default
        (5.0, "3.4"),
        (5.01, "4"),
        (40, "4"),
    ],
)
def test_relative_risk_to_class(rr, cls):
    result = run_model("reproductive-risk", {"relative_risk": rr, "programme": False})
    assert result["class"] == cls
    assert result["class_from_relative_risk"] == cls


def test_measure_symbols_follow_the_seed_note():
    detail = run_model("reproductive-risk", {"class": "3.1"})["measures_detail"]
    assert detail["information"]["symbol"] == "+++" and detail["information"]["meaning"] == "priority"
    assert detail["prevention"]["symbol"] == "+" and detail["prevention"]["meaning"] == "recommended"
    assert detail["reduction"]["symbol"] == "++" and detail["reduction"]["meaning"] == "obligatory"
    none = run_model("reproductive-risk", {"class": "1"})["measures_detail"]["prevention"]
    assert none == {"level": 0, "symbol": "–", "meaning": "not obligatory", "measures": []}


def test_class_and_relative_risk_disagree_worst_wins():
    result = run_model("reproductive-risk", {"class": "2", "relative_risk": 2.5})
    assert result["class"] == "3.2" and result["class_basis"] == "relative_risk"
    result = run_model("reproductive-risk", {"class": "3.3", "relative_risk": 1.2})
    assert result["class"] == "3.3" and result["class_basis"] == "class"


def test_factors_take_the_worst_class():
    result = run_model(
        "reproductive-risk",
        {"factors": [{"name": "benzene", "class": "3.1", "reproductive_hazard": "1A"}, {"name": "general vibration", "class": "3.2"}]},
    )
    assert result["class"] == "3.2" and result["class_basis"] == "factors.1"


def test_programme_follows_appendix_3():
    result = run_model("reproductive-risk", {"class": "3.2", "women_workers": 40})
    programme = result["programme"]
    assert programme["columns"][0] == "no." and len(programme["columns"]) == 7
    assert len(programme["sections"]) == 6
    assert programme["benefits_and_compensation_applicable"] is True
    assert all(row["workers_involved"] == 40 for row in programme["rows"])
    groups = {row["measure_group"] for row in programme["rows"]}
    assert groups == {"information", "prevention", "reduction"}
    assert [row["no"] for row in programme["rows"]] == list(range(1, len(programme["rows"]) + 1))
    optimal = run_model("reproductive-risk", {"class": "1"})["programme"]
    assert {row["measure_group"] for row in optimal["rows"]} == {"information", "reduction"}
    assert optimal["benefits_and_compensation_applicable"] is False


def test_class_4_requires_special_regulations():
    assert run_model("reproductive-risk", {"class": "4"})["special_regulations"] is True


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"relative_risk": 0}, "relative_risk"),
        ({"relative_risk": -2}, "relative_risk"),
        ({"class": "3.5"}, "class"),
        ({}, "class"),
        ({"class": "2", "colour": "red"}, "colour"),
    ],
)
def test_invalid_inputs(payload, field):
    with pytest.raises(ModelInputError) as caught:
        run_model("reproductive-risk", payload)
    assert caught.value.field == field


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=1e-6, max_value=100), st.floats(min_value=1e-6, max_value=100))
def test_measures_never_decrease_with_relative_risk(a, b):
    low, high = sorted((a, b))
    m_low = run_model("reproductive-risk", {"relative_risk": low, "programme": False})["measures"]
    m_high = run_model("reproductive-risk", {"relative_risk": high, "programme": False})["measures"]
    assert all(m_high[k] >= m_low[k] for k in m_low)
    assert all(0 <= v <= 3 for v in m_high.values())
