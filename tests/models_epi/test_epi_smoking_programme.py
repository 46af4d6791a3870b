"""Smoking programme (seed 000 §2.4.1): violations -> reminders, proposed penalties, incentives."""

from __future__ import annotations

import pytest

from hub.models.registry import ModelInputError, run_model

PEOPLE = [
    {"worker": "A", "unit": "shop 1", "status": "current", "enrolled_on": "2026-10-05"},
    {"worker": "B", "unit": "shop 1", "status": "former", "quit_date": "2026-01-10", "quit_confirmed": True},
    {"worker": "C", "unit": "shop 2", "status": "never"},
    {"worker": "D", "unit": "shop 2", "status": "former", "quit_date": "2026-09-01", "quit_confirmed": True},
]
UNITS = [{"unit": "shop 1", "locations": ["stairs-3"]}, {"unit": "shop 2", "locations": ["wc-2"]}]


def run(violations, **kw):
    return run_model("smoking-programme", {"period_start": "2026-10-01", "period_end": "2026-10-31",
                                           "violations": violations, "participants": PEOPLE, "units": UNITS, **kw})


def test_steps_reminders_and_incentives():
    v = [{"start": f"2026-10-{d:02d}T10:00:00", "location": "stairs-3", "person": "A"} for d in (2, 9, 20)]
    v.append({"start": "2026-10-21T12:00:00", "location": "stairs-3"})
    out = run(v)
    assert [p["violation_in_window"] for p in out["penalties"]] == [1, 2, 3]
    assert [p["bonus_reduction_percent"] for p in out["penalties"]] == [0, 10, 25]
    assert all(p["status"] == "proposed" for p in out["penalties"])
    loc = [r for r in out["reminders"] if r["to"] == "location"]
    assert loc[0]["violations"] == 4 and "stairs-3" in loc[0]["text"]["ru"]
    person = [r for r in out["reminders"] if r["to"] == "person"]
    assert len(person) == 3 and "3 за 90 дн." in person[-1]["text"]["ru"]
    kinds = sorted((i["kind"], i.get("worker") or i.get("unit")) for i in out["incentives"])
    # B quit 9 months before, confirmed -> reward; D only 2 months -> none; A enrolled in the period;
    # shop 2 had no violations -> unit reward
    assert kinds == [("enrolment", "A"), ("quit_confirmed", "B"), ("smoke_free_unit", "shop 2")]
    assert out["incentives_total"] == 1000 + 5000 + 2 * 500


def test_window_resets_the_count():
    v = [{"start": "2026-10-01T10:00:00", "location": "wc-2", "person": "C"}]
    out = run_model("smoking-programme", {"period_start": "2026-06-01", "period_end": "2026-10-31",
                                          "violations": [{"start": "2026-06-02T10:00:00", "location": "wc-2",
                                                          "person": "C"}, *v], "participants": PEOPLE})
    assert [p["violation_in_window"] for p in out["penalties"]] == [1, 1]  # 121 days apart > 90


def test_accepts_smoke_report_violations():
    report = run_model("smoke-report", {"events": [{"time": "2026-10-03T09:00:00", "location": "wc-2",
                                                    "detector": "D1"}]})
    out = run(report["violations"])
    assert out["violations"] == 1 and out["by_unit"][1]["violations"] == 1


@pytest.mark.parametrize(("violations", "people", "field"), [
    ([{"start": "2026-10-02T10:00:00", "location": "x", "person": "Z"}], PEOPLE, "violations.0.person"),
    ([{"start": "2026-11-02T10:00:00", "location": "x"}], PEOPLE, "violations.0.start"),
    ([], [{"worker": "E", "unit": "u", "status": "former"}], "participants.0.quit_date"),
])
def test_refusals(violations, people, field):
    with pytest.raises(ModelInputError) as err:
        run(violations, participants=people)
    assert err.value.field == field
