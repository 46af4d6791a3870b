"""Issue 13, error 1: criterion 3 scores occupational diseases by the national list, never as healthy."""

from __future__ import annotations

import pytest

from hub.models import _charlson
from hub.models.registry import ModelInputError, run_model


def c3(*codes: str) -> dict:
    base = {"c1": 1, "c2": 1, "c4": 1, "c5": 1, "c6": 1}
    return run_model("risk-group", {"criteria": {**base, "c3": {"icd10": list(codes)}}})


@pytest.mark.parametrize("code", ["H83.3", "T75.2", "L23.5", "J62.8", "J60", "H90.3", "T52.0"])
def test_occupational_disease_codes_score_as_established(code):
    out = c3(code)  # before the fix: H83.3/T75.2/L23.5 -> group 1, J62.8 -> group 2
    assert out["criteria_groups"]["c3"] == 4
    assert out["derivation"]["c3"]["conditions"] == {"occupational_disease_established": 3}
    assert out["base"] == 4 and out["final"] >= 4


def test_same_group_as_the_established_flag():
    flag = run_model("risk-group", {"criteria": {"c1": 1, "c2": 1, "c4": 1, "c5": 1, "c6": 1,
                                                 "c3": {"conditions": ["occupational_disease_established"]}}})
    assert c3("J62.8")["criteria_groups"]["c3"] == flag["criteria_groups"]["c3"] == 4


def test_silicosis_is_not_counted_twice():
    detail = c3("J62.8")["derivation"]["c3"]
    assert detail["index"] == 3 and "chronic_pulmonary_disease" not in detail["conditions"]


def test_heavier_charlson_condition_wins_for_an_occupational_cancer():
    assert _charlson.code_conditions("C45.0", "c3", _charlson.table()) == ["occupational_disease_established"]
    # a metastatic code is not on the list: Charlson 6
    assert _charlson.code_conditions("C78.0", "c3", _charlson.table()) == ["metastatic_solid_tumor"]


def test_unscorable_code_under_criterion_3_is_refused():
    with pytest.raises(ModelInputError) as err:
        c3("H83.3", "S62.5")  # a wrist fracture: neither occupational-list nor Charlson
    assert err.value.field == "criteria.c3.icd10.1"
    assert "cannot score" in err.value.message


def test_unscorable_code_under_criterion_4_is_flagged():
    out = run_model("risk-group", {"criteria": {"c1": 1, "c2": 1, "c3": 1, "c5": 1, "c6": 1,
                                                "c4": {"icd10": ["I21.4", "S62.5"]}}})
    detail = out["derivation"]["c4"]
    assert detail["unscored_icd10"] == ["S62.5"] and detail["review_required"] is True
    assert detail["conditions"] == {"myocardial_infarct": 1}


def test_criterion_4_keeps_charlson_for_an_occupational_code():
    # J62.8 under criterion 4 (somatic pathology) keeps its Charlson meaning
    out = run_model("risk-group", {"criteria": {"c1": 1, "c2": 1, "c3": 1, "c5": 1, "c6": 1,
                                                "c4": {"icd10": ["J62.8"]}}})
    assert out["derivation"]["c4"]["conditions"] == {"chronic_pulmonary_disease": 1}
