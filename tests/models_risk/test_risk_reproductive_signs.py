"""Seed 003 ch. 2 items 5-7: reproductive-harm signs by ICD-10, feeding the workplace assessment."""

from __future__ import annotations

import pytest

from hub.models._config import load_table
from hub.models.registry import ModelInputError, run_model
from hub.models.reproductive_signs import classify_code

TABLE = load_table("reproductive_signs")


# every code family the seed prints (ch. 2 item 5) is recognised
@pytest.mark.parametrize(("code", "sign"), [
    ("N97.0", "infertility"), ("N91.1", "menstrual"), ("N92.0", "menstrual"), ("O00.1", "abnormal_conception"),
    ("O03.9", "abnormal_conception"), ("Q00.0", "congenital_malformation"), ("Q89.9", "congenital_malformation"),
    ("O92.5", "lactation"), ("P00.0", "foetus_affected"),
])
def test_item5_signs(code, sign):
    assert sign in classify_code(code, "worker", TABLE)["signs"]


def test_offspring_neoplasm_counts_only_for_offspring():
    assert classify_code("C91.0", "offspring", TABLE)["signs"] == ["offspring_neoplasm"]
    assert classify_code("C91.0", "worker", TABLE)["signs"] == []


@pytest.mark.parametrize(("code", "group"), [("N81.2", "genital_prolapse"), ("C50.4", "genital_breast_cancer"),
                                            ("C58", "genital_breast_cancer")])
def test_item6_occupational(code, group):
    assert classify_code(code, "worker", TABLE)["occupational"] == [group]


def test_not_a_sign():
    assert classify_code("C59", "worker", TABLE) == {"signs": [], "occupational": [], "work_conditioned": []}


def workplace(**kw):
    base = {"workplace": "paint shop", "class": "3.1", "women_workers": 40, "conditions": ["heavy_standing_work"],
            "diagnoses": [{"worker": "W1", "icd10": "N97.0"}, {"worker": "W1", "icd10": "N92.1"},
                          {"worker": "W2", "icd10": "O03.4"}, {"worker": "W3", "icd10": "N81.2"},
                          {"worker": "W4", "icd10": "J45.0"}]}
    return {**base, **kw}


def test_workplace_counts_and_referral():
    out = run_model("reproductive-signs", {"workplaces": [workplace()]})["workplaces"][0]
    assert out["women_with_signs"] == 3  # W1 (two signs, counted once), W2, W3 (N81 is itself a sign of harm)
    assert out["signs"]["infertility"]["women"] == 1 and out["signs"]["menstrual"]["women"] == 1
    assert [s["worker"] for s in out["suspected_occupational"]] == ["W3"]
    assert out["not_reproductive_signs"] == ["J45.0"]
    assert out["assessment"]["class"] == "3.1" and out["assessment"]["basis"].startswith("working conditions")


def test_prolapse_without_heavy_standing_work_is_not_suspected_occupational():
    out = run_model("reproductive-signs", {"workplaces": [workplace(conditions=[])]})["workplaces"][0]
    assert out["suspected_occupational"] == []


def test_relative_risk_from_exams_raises_the_class():
    # 3/40 = 7.5 % vs 2.5 % in the reference: RR 3.0 -> class 3.2 (seed 003 Table 1: 2 < RR <= 3.2)
    out = run_model("reproductive-signs", {"workplaces": [workplace()],
                                           "reference": {"women_workers": 200, "with_signs": 5}})["workplaces"][0]
    assert out["relative_risk"] == pytest.approx(3.0)
    assert out["assessment"]["class"] == "3.2"
    assert out["assessment"]["basis"].startswith("relative risk")
    assert out["assessment"]["measures"] == {"information": 3, "prevention": 2, "reduction": 3}


def test_work_conditioned_needs_its_factor():
    wp = workplace(conditions=["night_shifts"], diagnoses=[{"worker": "W9", "icd10": "N94.3"}])
    out = run_model("reproductive-signs", {"workplaces": [wp]})["workplaces"][0]
    assert out["work_conditioned"][0]["group"] == "menstrual"


@pytest.mark.parametrize(("payload", "field"), [
    ({"workplaces": [workplace(women_workers=2)]}, "workplaces.0.women_workers"),
    ({"workplaces": [workplace(diagnoses=[{"worker": "W", "icd10": "bad"}])]}, "workplaces.0.diagnoses.0.icd10"),
    ({"workplaces": [workplace()], "reference": {"women_workers": 5, "with_signs": 6}}, "reference.with_signs"),
])
def test_refusals(payload, field):
    with pytest.raises(ModelInputError) as err:
        run_model("reproductive-signs", payload)
    assert err.value.field == field
