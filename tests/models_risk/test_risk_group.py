"""Occupational-disease risk groups (seed 004, digest 4): aggregation, derivations, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.models._config import load_table, merged
from hub.models.registry import ModelInputError, run_model
from hub.models.risk_group import aggregate_groups


def groups(c1, c2, c3, c4, c5, c6, c7=False, c8=False):
    return {"criteria": {"c1": c1, "c2": c2, "c3": c3, "c4": c4, "c5": c5, "c6": c6, "c7": c7, "c8": c8}}


def final(*args, **kwargs):
    return run_model("risk-group", groups(*args, **kwargs))


def table_with(**aggregation):
    return merged(load_table("risk_group"), {"aggregation": aggregation})


def aggregate_one(row, c7=False, c8=False, table=None):
    out = aggregate_groups(np.array([row]), np.array([c7]), np.array([c8]), table)
    return {key: value[0] for key, value in out.items()}


# ---- stage 1 rules as printed in seed 004 (base = c3 = 2 here)


@pytest.mark.parametrize(
    ("row", "intermediate", "rule"),
    [
        ((2, 2, 2, 2, 2, 2), 2, "none exceeds the base: keep"),
        ((1, 1, 2, 1, 1, 1), 2, "criteria below the base do not matter"),
        ((3, 2, 2, 2, 2, 2), 2, "only one exceeds by one step: keep"),
        ((3, 3, 2, 2, 2, 2), 3, "two exceed by one step: +1"),
        ((3, 3, 2, 3, 3, 3), 3, "five exceed by one step: still +1"),
        ((4, 4, 2, 2, 2, 2), 3, "two exceed by two steps: +1"),
        ((5, 2, 2, 2, 2, 2), 4, "one exceeds by three steps: +2"),
        ((4, 4, 2, 4, 2, 2), 4, "more than two exceed by two steps: +2"),
    ],
)
def test_stage1_rules_from_the_seed(row, intermediate, rule):
    result = final(*row)
    assert result["base"] == 2
    assert result["intermediate"] == intermediate, rule
    assert result["final"] == intermediate


# ---- the cases the text does not settle: documented defaults and their switches


def test_single_criterion_two_steps_above_raises_by_one_by_default():
    assert final(4, 2, 2, 2, 2, 2)["intermediate"] == 3
    keep = table_with(single_two_step_raise=0)
    assert aggregate_one((4, 2, 2, 2, 2, 2), table=keep)["intermediate"] == 2


def test_one_plus_one_and_one_plus_two_raise_by_one_with_at_least_counting():
    assert final(3, 4, 2, 2, 2, 2)["intermediate"] == 3
    exact_keep = table_with(counting="exact", unsettled_raise=0)
    assert aggregate_one((3, 4, 2, 2, 2, 2), table=exact_keep)["intermediate"] == 2
    exact_raise = table_with(counting="exact", unsettled_raise=1)
    assert aggregate_one((3, 4, 2, 2, 2, 2), table=exact_raise)["intermediate"] == 3


def test_exact_counting_matches_the_printed_rules():
    exact = table_with(counting="exact")
    assert aggregate_one((3, 3, 2, 2, 2, 2), table=exact)["intermediate"] == 3
    assert aggregate_one((4, 4, 2, 2, 2, 2), table=exact)["intermediate"] == 3
    assert aggregate_one((4, 4, 2, 4, 2, 2), table=exact)["intermediate"] == 4
    assert aggregate_one((5, 2, 2, 2, 2, 2), table=exact)["intermediate"] == 4
    assert aggregate_one((3, 2, 2, 2, 2, 2), table=exact)["intermediate"] == 2


def test_keeping_the_lone_two_step_case_breaks_monotonicity_in_the_base():
    """Why the default raises: with 0, a worse criterion 3 could give a better final group."""
    keep = table_with(single_two_step_raise=0)
    lower_base = aggregate_one((4, 1, 1, 1, 1, 1), table=keep)["final"]  # +3 over base 1 -> 3
    higher_base = aggregate_one((4, 1, 2, 1, 1, 1), table=keep)["final"]  # +2 over base 2 -> 2
    assert higher_base < lower_base
    default = aggregate_one((4, 1, 2, 1, 1, 1))["final"]
    assert default >= aggregate_one((4, 1, 1, 1, 1, 1))["final"]


# ---- caps


def test_cap_at_five():
    result = final(5, 5, 4, 5, 5, 5)
    assert result["intermediate"] == 5 and result["final"] == 5


def test_never_more_than_two_steps_above_base():
    result = final(5, 5, 1, 5, 5, 5)
    assert result["base"] == 1
    assert result["stage1"]["raise"] == 2
    assert result["final"] == 3


def test_final_never_below_base():
    assert final(1, 1, 4, 1, 1, 1)["final"] == 4


# ---- stage 2


def test_stage2_lowers_by_one_when_both_met():
    result = final(3, 3, 2, 2, 2, 2, c7=True, c8=True)
    assert result["intermediate"] == 3
    assert result["stage2"] == {"lowering_allowed": True, "lowered": True}
    assert result["final"] == 2


def test_stage2_needs_both_criteria():
    assert final(3, 3, 2, 2, 2, 2, c7=True, c8=False)["final"] == 3
    assert final(3, 3, 2, 2, 2, 2, c7=False, c8=True)["final"] == 3


def test_stage2_floor_is_the_base():
    result = final(2, 2, 2, 2, 2, 2, c7=True, c8=True)
    assert result["final"] == 2
    assert result["stage2"] == {"lowering_allowed": True, "lowered": False}
    assert final(5, 1, 2, 1, 1, 1, c7=True, c8=True)["final"] == 3  # base 2, +2 -> 4, lowered to 3
    lowered_to_base = final(4, 4, 3, 1, 1, 1, c7=True, c8=True)  # base 3, +1 -> 4, lowered to 3
    assert lowered_to_base["intermediate"] == 4 and lowered_to_base["final"] == 3


def test_stage2_lowering_can_be_reported_only():
    table = table_with(auto_lower=False)
    out = aggregate_one((3, 3, 2, 2, 2, 2), True, True, table=table)
    assert out["lowering_allowed"] and not out["lowered"] and out["final"] == 3


# ---- score


def test_score_examples():
    assert final(1, 1, 1, 1, 1, 1)["score"] == 0
    assert final(5, 5, 5, 5, 5, 5)["score"] == 24
    assert final(3, 2, 1, 2, 1, 1)["score"] == 4
    # the score shows change even when the group does not
    a = final(2, 2, 2, 2, 2, 2)
    b = final(3, 2, 2, 2, 2, 2)
    assert a["final"] == b["final"] and b["score"] == a["score"] + 1


# ---- properties


criteria_rows = st.tuples(*[st.integers(1, 5)] * 6)


@settings(max_examples=300, deadline=None)
@given(criteria_rows, st.booleans(), st.booleans())
def test_properties(row, c7, c8):
    out = aggregate_one(row, c7, c8)
    base = row[2]
    assert 0 <= out["score"] <= 24
    assert out["score"] == sum(g - 1 for g in row)
    assert 1 <= out["final"] <= 5
    assert base <= out["final"] <= min(5, base + 2)
    assert out["final"] <= out["intermediate"] <= min(5, base + 2)
    assert out["intermediate"] - out["final"] in (0, 1)
    # monotone: a worse criterion never gives a better group
    for k in range(6):
        if row[k] < 5:
            worse = list(row)
            worse[k] += 1
            assert aggregate_one(tuple(worse), c7, c8)["final"] >= out["final"]


@settings(max_examples=50, deadline=None)
@given(st.lists(criteria_rows, min_size=1, max_size=40))
def test_vectorised_equals_one_by_one(rows):
    array = np.array(rows)
    c7 = np.arange(len(rows)) % 2 == 0
    c8 = np.arange(len(rows)) % 3 == 0
    batch = aggregate_groups(array, c7, c8)
    for i, row in enumerate(rows):
        single = final(*row, c7=bool(c7[i]), c8=bool(c8[i]))
        assert batch["final"][i] == single["final"]
        assert batch["score"][i] == single["score"]


# ---- raw data per criterion


def raw(**criteria):
    base = {"c1": 1, "c2": 1, "c3": 1, "c4": 1, "c5": 1, "c6": 1}
    return run_model("risk-group", {"criteria": {**base, **criteria}})


@pytest.mark.parametrize(("cls", "group"), [("1", 1), ("2", 1), ("3.1", 2), ("3.2", 3), ("3.3", 4), ("3.4", 5), ("4", 5)])
def test_c1_class_to_group(cls, group):
    assert raw(c1={"class": cls})["criteria_groups"]["c1"] == group


@pytest.mark.parametrize("agent", ["allergen", "reproductive_toxicant", "acute_action", "carcinogen", "infectious_agent"])
def test_c1_special_agent_raises_one_step(agent):
    assert raw(c1={"class": "3.1", "agents": [agent]})["criteria_groups"]["c1"] == 3


def test_c1_several_agents_raise_once_and_cap_at_five():
    assert raw(c1={"class": "3.1", "agents": ["allergen", "carcinogen"]})["criteria_groups"]["c1"] == 3
    assert raw(c1={"class": "3.4", "agents": ["allergen"]})["criteria_groups"]["c1"] == 5


@pytest.mark.parametrize(
    ("exposure", "group"),
    [
        ({"kind": "general", "years": 3}, 1),
        ({"kind": "general", "years": 5}, 2),
        ({"kind": "general", "years": 12}, 3),
        ({"kind": "general", "years": 25}, 5),
        ({"kind": "long_latency", "years": 12, "factor": "vibration"}, 4),
        ({"kind": "carcinogen", "years": 6}, 4),
        ({"kind": "reproductive_toxicant", "years": 0}, 3),
        ({"kind": "allergen", "years": 0}, 4),  # by the fact of contact: group 2, +2
        ({"kind": "allergen", "years": 12}, 5),
        ({"kind": ["long_latency", "carcinogen"], "years": 6}, 4),  # largest raise, not the sum
    ],
)
def test_c2_tenure_and_factor_raises(exposure, group):
    assert raw(c2={"exposures": [exposure]})["criteria_groups"]["c2"] == group


def test_c2_worst_exposure_counts():
    result = raw(c2={"exposures": [{"kind": "general", "years": 3}, {"kind": "long_latency", "years": 6}]})
    assert result["criteria_groups"]["c2"] == 3


def test_c3_and_c4_through_the_comorbidity_index():
    result = raw(c3={"conditions": ["occupational_disease_initial"]}, c4={"icd10": ["I21.4", "E11.2", "E11.9"]})
    assert result["derivation"]["c3"]["index"] == 2
    assert result["criteria_groups"]["c3"] == 3
    assert result["derivation"]["c4"]["index"] == 3
    assert result["criteria_groups"]["c4"] == 4
    assert raw(c4={"index": 6})["criteria_groups"]["c4"] == 5


def test_c5_questionnaire_points():
    none = raw(c5={})
    assert none["criteria_groups"]["c5"] == 1
    result = raw(c5={"smoking": "current", "cigarettes_per_day": 25, "bmi": 31, "alcohol": "risky"})
    assert result["derivation"]["c5"]["total_points"] == 6
    assert result["criteria_groups"]["c5"] == 4


def test_c6_prognosis_and_signs_take_the_worse():
    assert raw(c6={"prognosis": "doubtful"})["criteria_groups"]["c6"] == 3
    assert raw(c6={"progression_despite_reduced_contact": True, "treatment_effect": "none"})["criteria_groups"]["c6"] == 5
    assert raw(c6={"prognosis": "relatively_favourable", "contraindications": True, "irremovable_risk_factors": True})["criteria_groups"]["c6"] == 3


def test_c7_c8_components():
    done7 = {"special_assessment": True, "production_control": True, "effective_ppe": True, "equipment_replacement": None}
    done8 = {"recommendations_checked": True, "exam_schedule_kept": True}
    result = raw(c1=3, c3=1, c2=3, c7=done7, c8=done8)
    assert result["c7"] and result["c8"] and result["stage2"]["lowered"]
    missing = raw(c1=3, c2=3, c7={**done7, "effective_ppe": False}, c8=done8)
    assert not missing["c7"] and missing["derivation"]["c7"]["missing"] == ["effective_ppe"]


def test_worked_raw_example_end_to_end():
    payload = {
        "worker_id": "w-17",
        "nosology": "vibration disease",
        "criteria": {
            "c1": {"class": "3.2", "agents": ["allergen"]},
            "c2": {"exposures": [{"factor": "local vibration", "kind": "long_latency", "years": 12}]},
            "c3": {"conditions": ["occupational_exposure_signs"]},
            "c4": {"icd10": ["I21.4", "E11.2"]},
            "c5": {"smoking": "current", "cigarettes_per_day": 25, "bmi": 31},
            "c6": {"prognosis": "doubtful"},
            "c7": True,
            "c8": False,
        },
    }
    result = run_model("risk-group", payload)
    assert result["criteria_groups"] == {"c1": 4, "c2": 4, "c3": 2, "c4": 4, "c5": 4, "c6": 3}
    assert result["base"] == 2
    assert result["stage1"]["raise"] == 2  # four criteria two steps above the base
    assert result["intermediate"] == result["final"] == 4
    assert result["score"] == 15
    assert result["measures"]["level"] == "high"
    assert result["status"] == "proposed"


# ---- physician


def test_physician_confirms_or_overrides_and_both_are_stored():
    confirmed = run_model("risk-group", {**groups(3, 3, 2, 2, 2, 2), "physician": {"group": 3, "physician": "Dr A"}})
    assert confirmed["status"] == "confirmed" and confirmed["group"] == 3 and confirmed["proposed_group"] == 3
    overridden = run_model("risk-group", {**groups(3, 3, 2, 2, 2, 2), "physician": {"group": 4, "reason": "audiogram progression", "decided_on": "2026-03-10"}})
    assert overridden["status"] == "overridden"
    assert overridden["proposed_group"] == 3 and overridden["group"] == 4
    assert overridden["physician"]["decided_on"] == "2026-03-10"
    assert overridden["measures"]["level"] == "high"


def test_override_without_reason_is_refused():
    with pytest.raises(ModelInputError) as caught:
        run_model("risk-group", {**groups(3, 3, 2, 2, 2, 2), "physician": {"group": 5}})
    assert caught.value.field == "physician.reason"


# ---- measures


@pytest.mark.parametrize(("group", "level"), [(1, "standard"), (2, "standard"), (3, "medium"), (4, "high"), (5, "high")])
def test_measures_by_group(group, level):
    from hub.models.risk_group import measures_for_group

    measures = measures_for_group(group)
    assert measures["level"] == level
    assert len(measures["worker"]) == 7
    if group >= 4:
        assert any("occupational-pathology centre" in m for m in measures["medical"])
        assert any("transfer" in m for m in measures["employer"])
    if group <= 2:
        assert measures["treatment"].endswith("not required")


# ---- invalid input


@pytest.mark.parametrize(
    ("criteria", "field"),
    [
        ({"c1": 7}, "criteria.c1.group"),
        ({"c4": 0}, "criteria.c4.group"),
        ({"c2": 2.5}, "criteria.c2.group"),
        ({"c5": True}, "criteria.c5.group"),
        ({"c7": "yes"}, "criteria.c7.group"),
        ({"c1": {"class": "5"}}, "criteria.c1.raw.class"),
        ({"c2": {"exposures": [{"years": -1}]}}, "criteria.c2.raw.exposures.0.years"),
        ({"c3": {"conditions": ["flu"]}}, "criteria.c3.conditions.0"),
        ({"c4": {"icd10": ["xyz"]}}, "criteria.c4.icd10.0"),
        ({"c4": {"index": 2, "conditions": ["dementia"]}}, "criteria.c4.index"),
    ],
)
def test_invalid_inputs_name_the_field(criteria, field):
    payload = {"c1": 1, "c2": 1, "c3": 1, "c4": 1, "c5": 1, "c6": 1, **criteria}
    with pytest.raises(ModelInputError) as caught:
        run_model("risk-group", {"criteria": payload})
    assert caught.value.field == field


def test_missing_criterion_is_named():
    with pytest.raises(ModelInputError) as caught:
        run_model("risk-group", {"criteria": {"c1": 1, "c2": 1, "c4": 1, "c5": 1, "c6": 1}})
    assert caught.value.field == "criteria.c3"
    assert "Field required" in caught.value.message
