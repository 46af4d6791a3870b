"""The worker's individual health plan (seed 000): one record joining the parts, with sources and dues."""

from __future__ import annotations

import pytest

from hub.models.registry import ModelInputError, run_model

BASE = {
    "as_of": "2026-11-15", "worker": "T-1001", "full_name": "Петров П. П.", "birth_date": "1975-03-02", "sex": "M",
    "exams": [{"date": "2025-10-01", "kind": "periodic", "conclusion": "fit"},
              {"date": "2026-11-14", "kind": "pre_shift", "conclusion": "admitted"}],
    "risk_group": {"group": 4, "status": "confirmed", "confirmed_by": "профпатолог Сидоров", "confirmed_on": "2025-10-20"},
    "individual_norm": {"systolic_mmhg": 150, "diastolic_mmhg": 95, "n_readings": 12,
                        "approved_by": "Иванова А. П.", "approved_on": "2025-06-01"},
    "vaccination": {"groups": ["transport"], "doses": [{"vaccine": "diphtheria_tetanus", "date": "2019-04-01"}]},
    "cardiovascular": {"model": "SCORE", "category": "high", "risk_percent": 6.2, "date": "2026-10-01"},
    "smoking": "current",
}


def plan(**kw):
    return run_model("health-plan", {**BASE, **kw})


def test_joins_every_part_with_its_dues():
    out = plan()
    assert out["confidential"] and out["readers"] == ["medic", "worker_on_request"]
    assert out["exams"]["next_periodic_due"] == "2026-10-01" and out["exams"]["in_occupational_pathology_centre"]
    areas = {(it["area"], it["status"]) for it in out["plan"]}
    assert ("examinations", "overdue") in areas  # periodic exam was due 2026-10-01
    assert ("individual norm", "overdue") in areas  # review due 2026-06-01
    assert ("vaccination", "overdue") in areas  # influenza of the transport group, season from 2026-09-01
    assert ("cardiovascular", "due") in areas and ("habits", "due") in areas
    assert out["risk_group"]["measures"]["level"] == "high"
    assert any("occupational-pathology centre" in it["measure"].get("en", "") for it in out["plan"])
    group_items = [it for it in out["plan"] if it["area"].startswith("risk group")]
    assert group_items and all(it["measure"].get("ru") for it in group_items)  # seed 004's own wording first
    assert group_items[-1]["measure"]["ru"] in [r["measure"] for r in out["export_rows"]]
    assert out["individual_norm"]["applied_by_kiosk"] is True
    assert out["open_items"] == sum(1 for r in out["export_rows"] if r["status"] in ("due", "overdue"))
    assert {v["vaccine"] for v in out["vaccinations"]} >= {"diphtheria_tetanus", "influenza"}


def test_unapproved_norm_is_a_plan_item():
    out = plan(individual_norm={"systolic_mmhg": 150, "diastolic_mmhg": 95})
    assert out["individual_norm"]["applied_by_kiosk"] is False
    assert len(out["individual_norm"]["problems"]) == 2
    assert any(it["area"] == "individual norm" and it["status"] == "due" for it in out["plan"])


def test_minimal_plan_for_a_new_worker():
    out = run_model("health-plan", {"as_of": "2026-11-15", "worker": "N-1", "birth_date": "2000-01-01"})
    assert out["exams"]["last_periodic"] is None and out["exams"]["next_periodic_due"] == "2026-11-15"
    assert [it["area"] for it in out["plan"]] == ["examinations"]
    assert out["risk_group"] is None and out["worker_duties"] is None


@pytest.mark.parametrize(("kw", "field"), [
    ({"birth_date": "2030-01-01"}, "birth_date"),
    ({"vaccination": {"doses": [{"vaccine": "unicorn", "date": "2020-01-01"}]}}, "vaccination.doses.0.vaccine"),
    ({"risk_group": {"group": 6}}, "risk_group.group"),
])
def test_refusals(kw, field):
    with pytest.raises(ModelInputError) as err:
        plan(**kw)
    assert err.value.field == field
