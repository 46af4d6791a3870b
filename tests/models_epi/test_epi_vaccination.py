"""Vaccination (seed 000 §2.3.1.8.1; seed 002 B.3.3.6 worked example): status, coverage, incidence."""

from __future__ import annotations

import pytest

from hub.models.registry import ModelInputError, run_model


def worker(i, **kw):
    base = {"worker": f"W{i}", "site": "north", "group": "shop 1", "birth_date": "1990-05-10", "sex": "M"}
    return {**base, **kw}


def run(workers, **kw):
    return run_model("vaccination", {"as_of": "2026-11-15", "workers": workers, **kw})


def status_of(out, w, vaccine):
    return next(r for r in out["statuses"] if r["worker"] == w and r["vaccine"] == vaccine)


def test_seed002_worked_example():
    # 1000 unvaccinated workers, 25 with seasonal flu; 100 vaccinated, none ill (seed 002 B.3.3.6).
    workers = [worker(i, groups=["transport"], doses=[{"vaccine": "influenza", "date": "2026-09-20"}] if i < 100 else [])
               for i in range(1100)]
    cases = [{"worker": f"W{i}", "disease": "influenza", "onset": "2026-11-02"} for i in range(100, 125)]
    out = run(workers, vaccines=["influenza"], cases=cases, period_start="2026-10-01", period_end="2026-11-15")
    inc = out["incidence"][0]
    assert inc["risk"] == pytest.approx(25 / 1100)  # ≈ 2.3 %
    assert inc["risk_unvaccinated"] == pytest.approx(0.025) and inc["risk_vaccinated"] == 0.0
    assert (inc["vaccinated"], inc["unvaccinated"]) == (100, 1000)
    assert inc["rr_vaccinated_vs_unvaccinated"]["estimate"] == 0.0


def test_td_booster_every_ten_years():
    out = run([worker(1, doses=[{"vaccine": "diphtheria_tetanus", "date": "2016-12-01"}]),
               worker(2, doses=[{"vaccine": "diphtheria_tetanus", "date": "2016-10-01"}]),
               worker(3, doses=[{"vaccine": "diphtheria_tetanus", "date": "2016-11-10"}])], vaccines=["diphtheria_tetanus"])
    assert status_of(out, "W1", "diphtheria_tetanus")["status"] == "covered"
    assert status_of(out, "W2", "diphtheria_tetanus")["status"] == "overdue"  # due 2026-09-28, +30 days grace
    w3 = status_of(out, "W3", "diphtheria_tetanus")
    assert (w3["status"], w3["next_due"]) == ("due", "2026-11-08")  # 3650 days after 2016-11-10, within the grace
    assert [r["worker"] for r in out["overdue"]] == ["W2"]


def test_hepatitis_b_series():
    doses = [{"vaccine": "hepatitis_b", "date": "2026-10-01"}]
    out = run([worker(1, doses=doses)], vaccines=["hepatitis_b"])
    s = status_of(out, "W1", "hepatitis_b")
    assert s["status"] == "due" and s["next_due"] == "2026-10-31"
    out2 = run([worker(1, doses=doses)], vaccines=["hepatitis_b"], as_of="2026-10-20")
    assert status_of(out2, "W1", "hepatitis_b")["status"] == "in_series"


def test_applicability_age_sex_groups():
    out = run([worker(1, birth_date="1960-01-01"), worker(2, sex="F", birth_date="2004-01-01"),
               worker(3, groups=["tick_borne_endemic"])])
    vaccines = {(r["worker"], r["vaccine"]) for r in out["statuses"]}
    assert ("W1", "influenza") in vaccines  # 66 years: influenza for 60+
    assert ("W1", "hepatitis_b") not in vaccines  # 18-55 only
    assert ("W2", "rubella") in vaccines and ("W1", "rubella") not in vaccines
    assert ("W3", "tick_borne_encephalitis") in vaccines and ("W1", "tick_borne_encephalitis") not in vaccines
    assert status_of(out, "W1", "diphtheria_tetanus")["no_record"] is True


def test_exemption_and_coverage_by_site():
    workers = [worker(1, doses=[{"vaccine": "diphtheria_tetanus", "date": "2020-01-01"}]),
               worker(2, site="south", exemptions=[{"vaccine": "diphtheria_tetanus", "reason": "contraindication"}]),
               worker(3, site="south", doses=[{"vaccine": "diphtheria_tetanus", "date": "2021-01-01"}])]
    out = run(workers, vaccines=["diphtheria_tetanus"])
    by_site = {r["site"]: r for r in out["coverage_by_site"]}
    assert (by_site["north"]["covered"], by_site["north"]["applicable"]) == (1, 1)
    assert (by_site["south"]["covered"], by_site["south"]["exempt"], by_site["south"]["coverage"]) == (1, 1, 0.5)
    assert out["coverage"][0]["coverage"] == pytest.approx(2 / 3)


@pytest.mark.parametrize(("payload", "field"), [
    ({"vaccines": ["unicorn"]}, "vaccines.0"),
    ({"workers": [worker(1, doses=[{"vaccine": "influenza", "date": "2027-01-01"}])]}, "workers.0.doses.0.date"),
    ({"cases": [{"worker": "W1", "disease": "influenza", "onset": "2026-11-01"}]}, "(input)"),
    ({"cases": [{"worker": "W9", "disease": "influenza", "onset": "2026-11-01"}], "period_start": "2026-10-01",
      "period_end": "2026-11-15"}, "cases.0.worker"),
])
def test_refusals(payload, field):
    payload = {"workers": [worker(1)], **payload}
    with pytest.raises(ModelInputError) as err:
        run(**payload)
    assert err.value.field == field
