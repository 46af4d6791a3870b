"""exposure-stats: reference.md §5 vectors (V), EN 689 tests, censored data, closed-form checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats

from hub.models._lognormal import censored_mle, exceedance_limits, fit_groups, k_factor
from hub.models.exposure_stats import chemical_class, exposure_stats_batch, twa_8h
from hub.models.registry import ModelInputError, run_model

WEBEXPO = [24.7, 64.1, 13.8, 43.7, 19.9, 133, 32.1, 15, 53.7]


def samples(values, censored=()):
    return [{"value": v, "below_lod": i in censored} for i, v in enumerate(values)]


def test_webexpo_vector():
    out = run_model("exposure-stats", {"samples": samples(WEBEXPO), "oel": 100, "unit": "mg/m3"})
    assert out["mu_log"] == pytest.approx(3.534517, abs=1e-6)
    assert out["sigma_log"] == pytest.approx(0.742364, abs=1e-6)
    assert out["gm"] == pytest.approx(34.278, abs=1e-3)
    assert out["gsd"] == pytest.approx(2.1009, abs=1e-4)
    assert out["p95"] == pytest.approx(116.23, abs=1e-2)
    assert out["am"] == pytest.approx(45.15, abs=1e-2)
    assert out["exceedance_fraction"] == pytest.approx(0.07462, abs=1e-5)
    lim = {row["confidence"]: row for row in out["limits"]}
    assert lim[0.7]["k"] == pytest.approx(2.0347, abs=1e-4)
    assert lim[0.7]["p95_utl"] == pytest.approx(155.24, abs=1e-2)
    assert lim[0.95]["k"] == pytest.approx(3.0312, abs=1e-4)
    assert lim[0.95]["p95_utl"] == pytest.approx(325.32, abs=1e-2)
    assert lim[0.7]["exceedance_fraction_ucl"] == pytest.approx(0.1279, abs=1e-4)
    assert lim[0.7]["exceedance_fraction_lcl"] == pytest.approx(0.04976, abs=1e-5)
    assert lim[0.95]["exceedance_fraction_ucl"] == pytest.approx(0.2702, abs=1e-4)
    assert lim[0.95]["exceedance_fraction_lcl"] == pytest.approx(0.01345, abs=1e-5)
    # default confidence of the flat fields: 95 % (AIHA "95 % UCL of the 95th percentile")
    assert out["p95_ucl"] == pytest.approx(325.32, abs=1e-2)
    assert out["exceedance_fraction_ucl"] == pytest.approx(0.2702, abs=1e-4)
    assert out["en689"]["test"] == "statistical"
    assert out["en689"]["u"] == pytest.approx(1.4422, abs=1e-4)
    assert out["en689_verdict"] == "non_compliant"
    assert out["fit_method"] == "sample_moments"


def test_confidence_input_moves_flat_fields():
    out = run_model("exposure-stats", {"samples": samples(WEBEXPO), "oel": 100, "confidence": 0.7})
    assert out["p95_ucl"] == pytest.approx(155.24, abs=1e-2)
    assert out["exceedance_fraction_lcl"] == pytest.approx(0.04976, abs=1e-5)


def test_censored_vector_and_substitution_bias():
    out = run_model("exposure-stats", {"samples": samples(WEBEXPO + [10], censored={9}), "oel": 100})
    assert out["fit_method"] == "censored_mle"
    assert out["n_below_lod"] == 1
    assert out["mu_log"] == pytest.approx(3.3721, abs=1e-4)
    assert out["sigma_log"] == pytest.approx(0.8306, abs=1e-4)
    assert out["gm"] == pytest.approx(29.14, abs=1e-2)
    assert out["gsd"] == pytest.approx(2.295, abs=1e-3)
    assert out["p95"] == pytest.approx(114.25, abs=1e-2)
    assert out["exceedance_fraction"] == pytest.approx(0.0688, abs=1e-4)
    # LOD/2 substitution (what the model must NOT do) gives GM 28.28, GSD 2.528
    sub = run_model("exposure-stats", {"samples": samples(WEBEXPO + [5]), "oel": 100})
    assert sub["gm"] == pytest.approx(28.28, abs=1e-2)
    assert sub["gsd"] == pytest.approx(2.528, abs=1e-3)
    assert out["gm"] != pytest.approx(sub["gm"], abs=0.5)


def test_censored_mle_matches_generic_optimizer():
    rng = np.random.default_rng(7)
    for _ in range(5):
        x = rng.lognormal(1.0, 0.9, 15)
        lod = np.quantile(x, 0.3)
        cens = x < lod
        y = np.log(np.where(cens, lod, x))

        def nll(p, y=y, cens=cens):
            m, s = p[0], np.exp(p[1])
            return -(stats.norm.logpdf(y[~cens], m, s).sum() + stats.norm.logcdf(y[cens], m, s).sum())

        ref = optimize.minimize(nll, [y.mean(), np.log(y.std())], method="Nelder-Mead",
                                options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 5000})
        mu, sigma, ok = censored_mle(y[None, :], cens[None, :], np.ones((1, y.size), bool))
        assert ok[0]
        assert mu[0] == pytest.approx(ref.x[0], abs=1e-6)
        assert sigma[0] == pytest.approx(np.exp(ref.x[1]), abs=1e-6)


@pytest.mark.parametrize("n, k", [(6, 2.187), (7, 2.120), (8, 2.072), (9, 2.035), (10, 2.005), (11, 1.981),
                                  (12, 1.961), (13, 1.944), (14, 1.929), (15, 1.917), (16, 1.905), (17, 1.895),
                                  (18, 1.886), (19, 1.878), (20, 1.870), (25, 1.841), (30, 1.820)])
def test_en689_k_table(n, k):
    assert k_factor(n, 0.70) == pytest.approx(k, abs=5e-4)


@pytest.mark.parametrize("n, k", [(6, 3.708), (9, 3.031), (10, 2.911), (20, 2.396)])
def test_aiha_k_95_95(n, k):
    assert k_factor(n, 0.95) == pytest.approx(k, abs=5e-4)


def test_exceedance_limits_against_root_search():
    """Independent: solve T_{n-1,δ}(t_obs) = γ with brentq on scipy's nct cdf."""
    rng = np.random.default_rng(3)
    for _ in range(10):
        n = int(rng.integers(4, 25))
        t = float(rng.uniform(-1, 8))
        for g in (0.7, 0.95, 0.3, 0.05):
            def f(d, t=t, n=n, g=g):
                c = stats.nct.cdf(t, n - 1, d)
                if np.isnan(c):  # scipy returns NaN for extreme δ (reference.md §5.3 note)
                    c = 1.0 if d < t else 0.0
                return c - g

            d = optimize.brentq(f, -40, 60, xtol=1e-12)
            assert exceedance_limits(np.array([t]), np.array([n]), g)[0] == pytest.approx(stats.norm.sf(d / np.sqrt(n)), abs=1e-7)


@pytest.mark.parametrize(
    "values, verdict",
    [([0.05, 0.08, 0.09], "compliant"), ([0.05, 0.08, 0.12], "statistical_test_required"),
     ([0.05, 0.3, 1.2], "non_compliant"), ([0.01, 0.14, 0.1, 0.12], "compliant"),
     ([0.05, 0.19, 0.1, 0.12, 0.02], "compliant"), ([0.5, 0.6], "insufficient_data")],
)
def test_en689_preliminary(values, verdict):
    out = run_model("exposure-stats", {"samples": samples(values), "oel": 1})
    assert out["en689_verdict"] == verdict
    assert out["en689"]["test"] == ("none" if len(values) < 3 else "preliminary")


def test_en689_preliminary_with_censored_values():
    # "< 0.05" counts as below 0.1·OEL; "< 0.2" does not (it could be 0.15)
    assert run_model("exposure-stats", {"samples": samples([0.05, 0.08, 0.09], {0}), "oel": 1})["en689_verdict"] == "compliant"
    assert run_model("exposure-stats", {"samples": samples([0.2, 0.08, 0.09], {0}), "oel": 1})["en689_verdict"] == "statistical_test_required"


def test_en689_statistical_compliant():
    vals = [10, 12, 8, 15, 9, 11, 13]
    out = run_model("exposure-stats", {"samples": samples(vals), "oel": 100})
    assert out["en689_verdict"] == "compliant"
    assert out["en689"]["utl95"] < 100


def test_twa_mixture_and_classes():
    assert twa_8h([2.4, 0.9, 0, 1.5], [2, 3, 1, 2]) == pytest.approx(1.3125)
    out = run_model("exposure-stats", {
        "segments": [{"concentration": c, "hours": h} for c, h in [(2.4, 2), (0.9, 3), (0, 1), (1.5, 2)]],
        "mixture": [{"concentration": 1.2, "oel": 5}, {"concentration": 30, "oel": 100}, {"concentration": 0.05, "oel": 0.1}],
    })
    assert out["twa_8h"]["value"] == pytest.approx(1.3125)
    assert out["mixture"]["index"] == pytest.approx(1.04)
    assert out["mixture"]["exceeds"] is True


@pytest.mark.parametrize("group, oel, conc, klass", [
    ("dust_fibrogenic_high", 2, 7, "3.2"), ("dust_fibrogenic_weak", 6, 20, "3.2"),
    ("dust_fibrogenic_weak", 6, 40, "3.3"), ("dust_fibrogenic_high", 2, 1.8, "2"),
    ("general", 1, 3.0, "3.1"), ("general", 1, 3.01, "3.2"), ("general", 1, 16, "3.4"),
    ("acute", 1, 51, "4"), ("allergen", 1, 20, "3.4"), ("allergen", 1, 20.5, "4"),
])
def test_class_by_multiple(group, oel, conc, klass):
    out = run_model("exposure-stats", {"segments": [{"concentration": conc, "hours": 8}], "oel": oel,
                                       "substance_group": group})
    assert out["twa_8h"]["class"] == klass


def test_class_of_a_seg_and_unit_conversion():
    out = run_model("exposure-stats", {"samples": [{"value": 3500, "unit": "µg/m³"}, {"value": 2.0, "unit": "mg/m3"},
                                                   {"value": 1.0, "unit": "mg/m3"}],
                                       "oel": 2, "unit": "mg/m3", "substance_group": "dust_fibrogenic_high"})
    assert out["max"] == pytest.approx(3.5)
    assert out["class"] == "3.1" and out["class_basis"] == "max"
    with pytest.raises(ModelInputError) as err:
        run_model("exposure-stats", {"samples": [{"value": 1, "unit": "ppm"}], "oel": 2, "unit": "mg/m3"})
    assert err.value.field == "samples.0.unit"
    with pytest.raises(ModelInputError) as err:
        run_model("exposure-stats", {"groups": [{"samples": [{"value": 1}], "oel": 2, "substance_group": "nope"}]})
    assert err.value.field == "groups.0.substance_group"


def test_groups_batch_equals_single():
    single = run_model("exposure-stats", {"samples": samples(WEBEXPO), "oel": 100})
    batch = run_model("exposure-stats", {"groups": [
        {"name": "a", "samples": samples([1, 2, 3]), "oel": 10},
        {"name": "b", "samples": samples(WEBEXPO), "oel": 100}]})
    b = batch["groups"][1]
    for key in ("gm", "gsd", "p95", "p95_ucl", "exceedance_fraction", "exceedance_fraction_ucl", "en689_verdict"):
        assert b[key] == single[key]


def test_all_censored_group_is_reported_not_fitted():
    out = run_model("exposure-stats", {"samples": samples([0.1, 0.1, 0.1, 0.1, 0.1, 0.1], set(range(6))), "oel": 10})
    assert out["statistics_defined"] is False
    assert out["gm"] is None and "note" in out
    assert out["en689_verdict"] == "insufficient_data"


def test_synthetic_lognormal_agrees_with_closed_form():
    """Large synthetic samples: estimates converge to the closed-form population values."""
    rng = np.random.default_rng(11)
    mu, sigma, oel = np.log(20.0), 0.8, 100.0
    x = rng.lognormal(mu, sigma, 20000)
    out = run_model("exposure-stats", {"samples": [{"value": float(v)} for v in x], "oel": oel})
    assert out["gm"] == pytest.approx(np.exp(mu), rel=0.02)
    assert out["gsd"] == pytest.approx(np.exp(sigma), rel=0.02)
    assert out["p95"] == pytest.approx(np.exp(mu + 1.6448536 * sigma), rel=0.03)
    assert out["am"] == pytest.approx(np.exp(mu + sigma**2 / 2), rel=0.03)
    assert out["exceedance_fraction"] == pytest.approx(stats.norm.sf((np.log(oel) - mu) / sigma), abs=0.005)
    # censor the lowest 40 % at a common LOD: the censored MLE still recovers μ and σ
    lod = np.quantile(x, 0.4)
    cens = x < lod
    fit = fit_groups([np.where(cens, lod, x)], [cens])
    assert fit["mu"][0] == pytest.approx(mu, abs=0.03)
    assert fit["sigma"][0] == pytest.approx(sigma, abs=0.03)


def test_coverage_of_utl_and_exceedance_limits():
    """UTL95,70 and the 70 % upper limit on F cover the true values ~70 % of the time (§5.3 V)."""
    rng = np.random.default_rng(5)
    reps, n, mu, sigma, oel = 4000, 6, 0.0, 1.0, np.exp(1.2)
    data = rng.lognormal(mu, sigma, (reps, n))
    res = exposure_stats_batch(list(data), [np.zeros(n, bool)] * reps, [oel] * reps, confidences=(0.7,))
    true_p95 = np.exp(mu + 1.6448536 * sigma)
    true_f = stats.norm.sf((np.log(oel) - mu) / sigma)
    assert np.mean(res["utl_0.7"] >= true_p95) == pytest.approx(0.70, abs=0.03)
    assert np.mean(res["f_ucl_0.7"] >= true_f) == pytest.approx(0.70, abs=0.03)
    assert np.mean(res["f_lcl_0.7"] <= true_f) == pytest.approx(0.70, abs=0.03)


positive = st.floats(min_value=0.01, max_value=1e4, allow_nan=False)


@settings(max_examples=50, deadline=None)
@given(st.lists(positive, min_size=3, max_size=20, unique=True), positive, st.floats(min_value=0.01, max_value=100))
def test_properties(values, oel, scale):
    res = exposure_stats_batch([values], [np.zeros(len(values), bool)], [oel], confidences=(0.7, 0.95))
    f, lcl, ucl = res["exceedance_fraction"][0], res["f_lcl_0.95"][0], res["f_ucl_0.95"][0]
    assert lcl <= f + 1e-9 and f <= ucl + 1e-9
    assert res["utl_0.95"][0] >= res["utl_0.7"][0] >= res["p95"][0] * (1 - 1e-12)
    # scale equivariance: multiplying the results and the OEL by c scales GM/P95, leaves GSD and F
    scaled = exposure_stats_batch([[v * scale for v in values]], [np.zeros(len(values), bool)], [oel * scale])
    assert scaled["gm"][0] == pytest.approx(res["gm"][0] * scale, rel=1e-9)
    assert scaled["gsd"][0] == pytest.approx(res["gsd"][0], rel=1e-9)
    assert scaled["exceedance_fraction"][0] == pytest.approx(f, abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(st.lists(positive, min_size=4, max_size=15, unique=True), st.floats(min_value=0.05, max_value=0.6),
       st.floats(min_value=0.01, max_value=100))
def test_censored_mle_scale_equivariance(values, frac, scale):
    x = np.array(values)
    lod = np.quantile(x, frac)
    cens = x < lod
    if (~cens).sum() < 2:
        return
    a = fit_groups([np.where(cens, lod, x)], [cens])
    b = fit_groups([np.where(cens, lod, x) * scale], [cens])
    assert b["mu"][0] == pytest.approx(a["mu"][0] + np.log(scale), abs=1e-7)
    assert b["sigma"][0] == pytest.approx(a["sigma"][0], rel=1e-6)


def test_chemical_class_half_open():
    bands = [{"class": "2", "upper": 1.0}, {"class": "3.1", "upper": 2.0}, {"class": "3.2"}]
    assert chemical_class(1.0, bands) == "2"
    assert chemical_class(1.0000001, bands) == "3.1"
    assert chemical_class(2.0, bands) == "3.1"
