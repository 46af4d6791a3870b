"""epi: seed 002 B.3.3.6 example, reference.md §6.1–6.3 vectors (V), kiosk indicators, properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.models._epistats import proportion_ci, two_by_two
from hub.models.registry import ModelInputError, run_model


def test_seed_vaccination_example():
    out = run_model("epi", {"groups": [{"name": "unvaccinated", "population": 1000, "cases": 25},
                                       {"name": "vaccinated", "population": 100, "cases": 0}]})
    assert out["overall"]["risk"] == pytest.approx(25 / 1100)
    assert round(100 * out["overall"]["risk"], 1) == 2.3
    g = {x["name"]: x for x in out["groups"]}
    assert g["unvaccinated"]["risk"] == pytest.approx(0.025)
    assert g["vaccinated"]["risk"] == 0.0
    c = out["comparisons"][0]
    assert (c["exposed"], c["reference"]) == ("unvaccinated", "vaccinated")
    assert c["rr"]["estimate"] is None and "note" in c["rr"]  # no cases among the vaccinated
    assert c["rd"]["estimate"] == pytest.approx(0.025)


def test_epir_willeberg_vector():
    r = two_by_two(13, 13 + 2163, 5, 5 + 3349)
    assert r["rr"]["estimate"] == pytest.approx(4.0075, abs=1e-4)
    assert (r["rr"]["lower"], r["rr"]["upper"]) == (pytest.approx(1.4307, abs=1e-4), pytest.approx(11.2253, abs=1e-4))
    assert r["or"]["estimate"] == pytest.approx(4.0256, abs=1e-4)
    assert (r["or"]["lower"], r["or"]["upper"]) == (pytest.approx(1.4331, abs=1e-4), pytest.approx(11.3078, abs=1e-4))
    assert r["rd"]["estimate"] == pytest.approx(0.004484, abs=1e-6)
    assert (r["rd"]["lower"], r["rd"]["upper"]) == (pytest.approx(0.000992, abs=1e-6), pytest.approx(0.007975, abs=1e-6))
    assert r["af_exposed"]["estimate"] == pytest.approx(0.7505, abs=1e-4)
    assert (r["af_exposed"]["lower"], r["af_exposed"]["upper"]) == (pytest.approx(0.3011, abs=1e-4), pytest.approx(0.9109, abs=1e-4))
    assert r["paf"]["estimate"] == pytest.approx(0.5420, abs=1e-4)
    assert (r["paf"]["lower"], r["paf"]["upper"]) == (pytest.approx(0.036, abs=1e-3), pytest.approx(0.782, abs=1e-3))
    # epiR's documented point estimates (doc rounding)
    assert round(r["rr"]["estimate"], 2) == 4.01 and round(r["or"]["estimate"], 2) == 4.03


def test_noise_hypertension_vector():
    out = run_model("epi", {"groups": [{"name": "noisy", "population": 200, "cases": 45},
                                       {"name": "quiet", "population": 300, "cases": 30}], "reference": "quiet"})
    c = out["comparisons"][0]
    assert c["rr"]["estimate"] == pytest.approx(2.25)
    assert (c["rr"]["lower"], c["rr"]["upper"]) == (pytest.approx(1.470, abs=1e-3), pytest.approx(3.445, abs=1e-3))
    assert c["or"]["estimate"] == pytest.approx(2.613, abs=1e-3)
    assert (c["or"]["lower"], c["or"]["upper"]) == (pytest.approx(1.581, abs=1e-3), pytest.approx(4.318, abs=1e-3))
    assert (c["rd"]["estimate"], c["rd"]["lower"], c["rd"]["upper"]) == (
        pytest.approx(0.125), pytest.approx(0.0579, abs=1e-4), pytest.approx(0.1921, abs=1e-4))
    assert c["af_exposed"]["estimate"] == pytest.approx(0.5556, abs=1e-4)
    assert c["paf"]["estimate"] == pytest.approx(1 / 3)
    assert (c["paf"]["lower"], c["paf"]["upper"]) == (pytest.approx(0.137, abs=1e-3), pytest.approx(0.485, abs=1e-3))


def test_rate_and_irr_vectors():
    out = run_model("epi", {"groups": [{"name": "a", "population": 800, "cases": 12, "person_time": 2400},
                                       {"name": "b", "population": 1000, "cases": 6, "person_time": 3000}]})
    ir = out["groups"][0]["incidence_rate"]
    assert 1000 * ir["estimate"] == pytest.approx(5.0)
    assert (1000 * ir["lower"], 1000 * ir["upper"]) == (pytest.approx(2.58, abs=5e-3), pytest.approx(8.73, abs=5e-3))
    irr = out["comparisons"][0]["irr"]
    assert irr["estimate"] == pytest.approx(2.5)
    assert (irr["lower"], irr["upper"]) == (pytest.approx(0.938, abs=1e-3), pytest.approx(6.661, abs=1e-3))
    assert out["overall"]["person_time"] == 5400


def test_seed_definitions_pp_ip_prevalence():
    out = run_model("epi", {"groups": [{"name": "shop", "population": 200, "cases": 30, "existing_cases": 10,
                                        "new_cases": 20, "person_time": 180}]})
    g = out["groups"][0]
    assert g["prevalence_proportion"] == pytest.approx(10 / 200)
    assert g["incidence_proportion"] == pytest.approx(20 / 200)
    assert g["prevalence"] == pytest.approx(30 / 200)
    assert g["incidence_rate"]["estimate"] == pytest.approx(20 / 180)


def strata(pop, rates):
    return [{"stratum": k, "population": pop, "cases": round(r * pop)} for k, r in zip(("y", "m", "o"), rates, strict=True)]


def test_direct_and_indirect_standardisation_vectors():
    out = run_model("epi", {
        "groups": [{"name": "A", "population": 3000, "cases": 190, "strata": strata(1000, (0.02, 0.05, 0.12))},
                   {"name": "B", "population": 3000, "cases": 190, "strata": strata(1000, (0.03, 0.06, 0.10))}],
        "standard_population": {"y": 0.40, "m": 0.35, "o": 0.25},
    })
    a, b = out["groups"]
    assert a["direct_standardised"]["estimate"] == pytest.approx(0.0555)
    assert b["direct_standardised"]["estimate"] == pytest.approx(0.0580)
    assert a["direct_standardised"]["lower"] < 0.0555 < a["direct_standardised"]["upper"]
    out = run_model("epi", {
        "groups": [{"name": "plant", "population": 800, "cases": 30, "strata": [
            {"stratum": "y", "population": 400, "cases": 10}, {"stratum": "m", "population": 300, "cases": 12},
            {"stratum": "o", "population": 100, "cases": 8}]}],
        "reference_rates": {"y": 0.02, "m": 0.05, "o": 0.12},
    })
    smr = out["groups"][0]["smr"]
    assert smr["expected"] == pytest.approx(35)
    assert smr["estimate"] == pytest.approx(0.857, abs=1e-3)
    assert (smr["lower"], smr["upper"]) == (pytest.approx(0.578, abs=1e-3), pytest.approx(1.224, abs=1e-3))


def test_fay_feuer_interval_against_epir_style_closed_form():
    """With one stratum the Fay–Feuer interval is the exact Poisson interval of the crude rate."""
    out = run_model("epi", {"groups": [{"name": "g", "population": 2400, "cases": 12,
                                        "strata": [{"stratum": "all", "population": 2400, "cases": 12}]}],
                            "standard_population": {"all": 1}})
    d = out["groups"][0]["direct_standardised"]
    assert 1000 * d["lower"] == pytest.approx(2.58, abs=5e-3)
    assert 1000 * d["upper"] == pytest.approx(8.73, abs=5e-3)


def test_input_errors_name_the_field():
    with pytest.raises(ModelInputError) as err:
        run_model("epi", {"groups": [{"name": "a", "population": 10, "cases": 11}]})
    assert err.value.field == "groups.0.cases"
    with pytest.raises(ModelInputError) as err:
        run_model("epi", {"groups": [{"name": "a", "population": 10, "cases": 1}], "reference": "zzz"})
    assert err.value.field == "reference"
    with pytest.raises(ModelInputError) as err:
        run_model("epi", {"groups": [{"name": "a", "population": 0, "cases": 0}]})
    assert err.value.field == "groups.0.population"


def test_kiosk_indicators():
    exams = [
        # worker w1 re-tested: the last reading decides (37.0 after 37.4)
        {"time": "2026-03-02T07:00:00", "site": "s1", "shift": "A", "worker": "w1", "temperature_c": 37.4, "brac_mg_l": 0.2},
        {"time": "2026-03-02T07:20:00", "site": "s1", "shift": "A", "worker": "w1", "temperature_c": 37.0, "brac_mg_l": 0.18},
        {"time": "2026-03-02T07:05:00", "site": "s1", "shift": "A", "worker": "w2", "temperature_c": 37.5, "brac_mg_l": 0.0,
         "systolic_mmhg": 150, "diastolic_mmhg": 85},
        {"time": "2026-03-02T07:06:00", "site": "s1", "shift": "A", "worker": "w3", "temperature_c": 36.6, "brac_mg_l": 0.0,
         "systolic_mmhg": 120, "diastolic_mmhg": 80},
        {"time": "2026-03-04T19:00:00", "site": "s1", "shift": "B", "worker": "w3", "temperature_c": 37.1,
         "systolic_mmhg": 95, "diastolic_mmhg": 70},
    ]
    k = run_model("epi", {"exams": exams})["kiosk"]
    f = {(r["date"], r["site"]): r for r in k["febrile_by_day_site"]}
    assert f[("2026-03-02", "s1")]["examined"] == 3 and f[("2026-03-02", "s1")]["febrile"] == 1
    assert f[("2026-03-04", "s1")]["febrile"] == 1
    assert k["febrile_daily"]["s1"] == {"dates": ["2026-03-02", "2026-03-03", "2026-03-04"],
                                        "febrile": [1, 0, 1], "examined": [3, 0, 1]}
    alc = {(r["site"], r["shift"]): r for r in k["alcohol_by_site_shift"]}
    assert alc[("s1", "A")]["tested"] == 3 and alc[("s1", "A")]["positive"] == 1
    bp = k["bp_by_site"][0]
    assert (bp["measured"], bp["out_of_range"], bp["high"], bp["low"]) == (3, 2, 1, 1)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 500), st.integers(1, 500), st.data())
def test_two_by_two_properties(n1, n0, data):
    a = data.draw(st.integers(1, n1))
    c = data.draw(st.integers(1, n0))
    r = two_by_two(a, n1, c, n0)
    assert r["rr"]["lower"] <= r["rr"]["estimate"] <= r["rr"]["upper"]
    assert r["rd"]["lower"] <= r["rd"]["estimate"] <= r["rd"]["upper"]
    swapped = two_by_two(c, n0, a, n1)
    assert swapped["rr"]["estimate"] == pytest.approx(1 / r["rr"]["estimate"])
    assert swapped["rr"]["lower"] == pytest.approx(1 / r["rr"]["upper"])
    if r["or"]["estimate"] not in (None, 0.0):
        assert swapped["or"]["estimate"] == pytest.approx(1 / r["or"]["estimate"])
    lo, hi = proportion_ci(a, n1)
    assert 0 <= lo <= a / n1 <= hi <= 1
