"""Comorbidity engine (Charlson default for the МИК) against reference.md 3.3."""

from __future__ import annotations

import pytest

from hub.models import _charlson
from hub.models._charlson import ComorbidityError, age_points, comorbidity_index, icd10_conditions


# reference.md 3.3 test vectors: (age, conditions, CCI without age, decade pts, mimic pts, survival)
@pytest.mark.parametrize(
    ("age", "conditions", "cci", "decade", "mimic", "survival"),
    [
        (45, [], 0, 0, 0, 0.983),
        (55, ["diabetes_without_cc", "chronic_pulmonary_disease"], 2, 1, 1, 0.7748),
        (50, ["congestive_heart_failure"], 1, 1, 0, 0.9015),
        (60, ["myocardial_infarct", "diabetes_with_cc", "diabetes_without_cc"], 3, 2, 1, 0.2136),
        (72, ["metastatic_solid_tumor", "malignant_cancer", "renal_disease"], 8, 3, 3, None),
    ],
)
def test_reference_vectors(age, conditions, cci, decade, mimic, survival):
    without_age = comorbidity_index(conditions=conditions)
    assert without_age["index"] == cci
    assert age_points(age, "decade") == decade
    assert age_points(age, "mimic") == mimic
    with_age = comorbidity_index(conditions=conditions, age=age, include_age=True, age_convention="decade")
    assert with_age["index"] == cci + decade
    if survival is not None:
        assert with_age["survival_10y"] == pytest.approx(survival, abs=1e-4)
    else:
        assert with_age["survival_10y"] < 1e-6


def test_hierarchy_counts_only_the_worst():
    result = comorbidity_index(conditions=["mild_liver_disease", "severe_liver_disease"])
    assert result["index"] == 3
    assert result["ignored_by_hierarchy"] == ["mild_liver_disease"]


@pytest.mark.parametrize(
    ("code", "condition"),
    [
        ("I21.4", "myocardial_infarct"),
        ("I25.2", "myocardial_infarct"),
        ("i50.0", "congestive_heart_failure"),
        ("J45", "chronic_pulmonary_disease"),
        ("J61", "chronic_pulmonary_disease"),  # asbestosis: a pneumoconiosis, Quan J60-J67
        ("E10.1", "diabetes_without_cc"),  # MIMIC's 'E10l' typo corrected
        ("E11.2", "diabetes_with_cc"),
        ("C34.1", "malignant_cancer"),
        ("C78.0", "metastatic_solid_tumor"),
        ("B20", "aids"),
    ],
)
def test_icd10_mapping(code, condition):
    assert condition in icd10_conditions(code)


def test_icd10_outside_charlson_scores_nothing():
    assert icd10_conditions("H83.3") == []  # noise-induced hearing loss: not a Charlson condition
    assert comorbidity_index(icd10=["H83.3"])["index"] == 0


def test_icd10_codes_apply_hierarchy():
    result = comorbidity_index(icd10=["E11.9", "E11.2", "I21.0"])
    assert result["index"] == 3


def test_unknown_condition_and_bad_code_name_the_item():
    with pytest.raises(ComorbidityError) as caught:
        comorbidity_index(conditions=["myocardial_infarct", "flu"])
    assert caught.value.field == "conditions.1"
    with pytest.raises(ComorbidityError) as caught:
        comorbidity_index(icd10=["hello"])
    assert caught.value.field == "icd10.0"


def test_extra_scored_items_add_up():
    result = comorbidity_index(conditions=["dementia"], extra_points=[("vibration disease stage II", 2)])
    assert result["index"] == 3


def test_age_points_default_off_for_the_mik():
    assert _charlson.table()["include_age"] is False
    assert comorbidity_index(conditions=[], age=85)["age_points"] == 0
