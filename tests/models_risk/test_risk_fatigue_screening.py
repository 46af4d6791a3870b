"""Fatigue / stress screening (seed 002 B.3.3.5): published cut-offs, medic-only result, never a refusal."""

from __future__ import annotations

import pytest

from hub.models.registry import ModelInputError, run_model


def screen(answers, **kw):
    return run_model("fatigue-screening", {"answers": answers, **kw})


@pytest.mark.parametrize(("kss", "positive"), [(6, False), (7, True), (9, True), (1, False)])
def test_kss_cut_off_7(kss, positive):
    out = screen({"kss": kss, "elo_stress": 1})
    assert out["results"]["kss"]["positive"] is positive
    assert out["visible_to"] == ["medic"] and out["refuses_work"] is False


@pytest.mark.parametrize(("elo", "positive"), [(3, False), (4, True), (5, True)])
def test_elo_single_item_cut_off_4(elo, positive):
    assert screen({"kss": 3, "elo_stress": elo})["results"]["elo_stress"]["positive"] is positive


def test_actions():
    assert screen({"kss": 3, "elo_stress": 2})["action"] == "none"
    assert screen({"kss": 8, "elo_stress": 2})["action"] == "inform_medic"
    assert screen({"kss": 8, "elo_stress": 2}, safety_critical=True)["action"] == "needs_medic"


def test_phq4_total_and_subscales():
    out = screen({"kss": 3, "elo_stress": 2, "phq4": [2, 1, 0, 0]})["results"]["phq4"]
    assert (out["score"], out["gad2"], out["positive"]) == (3, 3, True)  # GAD-2 >= 3
    out2 = screen({"kss": 3, "elo_stress": 2, "phq4": [1, 1, 1, 1]})["results"]["phq4"]
    assert (out2["score"], out2["positive"], out2["band"]["en"]) == (4, False, "mild")


def test_samn_perelli():
    assert screen({"kss": 3, "elo_stress": 2, "samn_perelli": 5})["results"]["samn_perelli"]["positive"] is True


@pytest.mark.parametrize(("answers", "field"), [
    ({"kss": 10, "elo_stress": 1}, "answers.kss"), ({"kss": 3}, "answers"),
    ({"kss": 3, "elo_stress": 1, "phq4": [1, 2]}, "answers.phq4"), ({"kss": 3, "elo_stress": 1, "mood": 2}, "answers.mood"),
])
def test_refusals(answers, field):
    with pytest.raises(ModelInputError) as err:
        screen(answers)
    assert err.value.field == field
