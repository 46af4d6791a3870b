"""Quantitative risk formulas of seed 002 B.3.3 (digest 2.4, reference 5.1)."""

from __future__ import annotations

import pytest

from hub.models.registry import ModelInputError, run_model


def q(**sections):
    return run_model("quantitative-risk", sections)


def test_sum_of_ratios_reference_vector():
    """reference.md 5.1: 1.2/5 + 30/100 + 0.05/0.1 = 1.04 -> exceeds."""
    result = q(factor_groups=[{"group": "chemical", "factors": [{"name": "a", "value": 1.2, "norm": 5}, {"name": "b", "value": 30, "norm": 100}, {"name": "c", "value": 0.05, "norm": 0.1}]}])
    group = result["sum_of_ratios"]["groups"][0]
    assert group["sum_of_ratios"] == pytest.approx(1.04)
    assert group["exceeds"] is True


def test_sum_of_ratios_stricter_limit_only():
    factors = [{"name": "noise dose", "value": 0.8, "norm": 1.0}]
    assert q(factor_groups=[{"group": "physical", "factors": factors}])["sum_of_ratios"]["groups"][0]["exceeds"] is False
    assert q(factor_groups=[{"group": "physical", "factors": factors, "limit": 0.5}])["sum_of_ratios"]["groups"][0]["exceeds"] is True
    with pytest.raises(ModelInputError) as caught:
        q(factor_groups=[{"group": "physical", "factors": factors, "limit": 2}])
    assert caught.value.field == "factor_groups.0.limit"


def test_expected_damage():
    result = q(incidents=[{"name": "light", "probability": 0.95, "damage": 10}, {"name": "severe", "probability": 0.01, "damage": 5000}, {"name": "evacuation", "probability": 0.005, "damage": 20000}])
    assert result["expected_damage"]["value"] == pytest.approx(9.5 + 50 + 100)


def test_carcinogenic_risk_additive_over_the_same_target():
    result = q(
        carcinogens=[
            {"name": "benzene", "target": "blood", "route": "inhalation", "unit_risk": 0.0078, "lifetime_average": 0.01},
            {"name": "x", "target": "blood", "route": "oral", "slope_factor": 0.05, "lifetime_average": 0.001},
            {"name": "y", "target": "lung", "route": "inhalation", "unit_risk": 0.01, "lifetime_average": 0.00001},
        ]
    )
    carcinogenic = result["carcinogenic"]
    assert carcinogenic["by_target"]["blood"]["risk"] == pytest.approx(0.0078 * 0.01 + 0.05 * 0.001)
    assert carcinogenic["by_target"]["lung"]["risk"] == pytest.approx(1e-7)
    assert carcinogenic["by_target"]["lung"]["band"] == "negligible"
    assert carcinogenic["by_target"]["blood"]["band"] == "acceptable_for_occupational_only"
    assert carcinogenic["max_target_risk"] == pytest.approx(carcinogenic["by_target"]["blood"]["risk"])


def test_lifetime_average_from_an_exposure_pattern():
    result = q(carcinogens=[{"name": "c", "target": "t", "route": "inhalation", "unit_risk": 1e-3, "concentration": 2.0, "exposure": {"hours_per_day": 8, "days_per_year": 240, "years": 35}}])
    item = result["carcinogenic"]["items"][0]
    assert item["lifetime_average"] == pytest.approx(2.0 * 8 / 24 * 240 / 365 * 35 / 70)
    assert item["risk"] == pytest.approx(1e-3 * item["lifetime_average"])


def test_hazard_quotient_and_index():
    result = q(non_carcinogens=[{"name": "toluene", "target": "cns", "exposure": 30, "reference": 50}, {"name": "xylene", "target": "cns", "exposure": 25, "reference": 50}])
    nc = result["non_carcinogenic"]
    assert [i["hazard_quotient"] for i in nc["items"]] == pytest.approx([0.6, 0.5])
    assert nc["hazard_index"]["cns"]["value"] == pytest.approx(1.1)
    assert nc["hazard_index"]["cns"]["acceptable"] is False


@pytest.mark.parametrize(("exposure", "controlled"), [(0.5, True), (0.999, True), (1.0, False), (2.0, False)])
def test_rcr(exposure, controlled):
    result = q(rcr=[{"name": "s", "exposure": exposure, "dnel": 1.0}])["rcr"]["items"][0]
    assert result["rcr"] == pytest.approx(exposure)
    assert result["controlled"] is controlled
    assert result["basis"] == "DNEL"


def test_rcr_needs_exactly_one_reference():
    with pytest.raises(ModelInputError) as caught:
        q(rcr=[{"name": "s", "exposure": 1, "dnel": 1, "dmel": 2}])
    assert caught.value.field == "rcr.0.dnel"
    assert q(rcr=[{"name": "s", "exposure": 1, "dmel": 4}])["rcr"]["items"][0]["basis"] == "DMEL"


def test_incident_probability_and_group_risk():
    result = q(incident_probability=[{"group": "irritants", "victims": 3, "workers_in_contact": 120}], group_risk=[{"group": "irritants", "m_before": 10, "m_after": 14, "workers": 800}])
    assert result["incident_probability"]["items"][0]["probability"] == pytest.approx(0.025)
    assert result["group_risk"]["items"][0]["per_1000"] == pytest.approx(5.0)


@pytest.mark.parametrize(
    ("sections", "field"),
    [
        ({"carcinogens": [{"name": "x", "target": "t", "route": "oral", "slope_factor": 1, "lifetime_average": -1}]}, "carcinogens.0.lifetime_average"),
        ({"carcinogens": [{"name": "x", "target": "t", "route": "inhalation", "slope_factor": 1, "lifetime_average": 1}]}, "carcinogens.0.unit_risk"),
        ({"carcinogens": [{"name": "x", "target": "t", "route": "oral", "slope_factor": 1}]}, "carcinogens.0.lifetime_average"),
        ({"non_carcinogens": [{"name": "x", "target": "t", "exposure": 1, "reference": 0}]}, "non_carcinogens.0.reference"),
        ({"incidents": [{"name": "x", "probability": 1.5, "damage": 1}]}, "incidents.0.probability"),
        ({"incident_probability": [{"group": "g", "victims": 5, "workers_in_contact": 4}]}, "incident_probability.0.victims"),
        ({"group_risk": [{"group": "g", "m_before": 1, "m_after": 9, "workers": 4}]}, "group_risk.0.m_after"),
        ({"factor_groups": [{"group": "g", "factors": [{"name": "a", "value": 1}]}]}, "factor_groups.0.factors.0.norm"),
        ({}, "(input)"),
    ],
)
def test_invalid_inputs_name_the_field(sections, field):
    with pytest.raises(ModelInputError) as caught:
        q(**sections)
    assert caught.value.field == field
