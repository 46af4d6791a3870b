"""rt: EpiEstim's Flu2009 snapshot (reference.md §6.4, C/V), an independent implementation of the
same method compared to 3 significant digits (and tighter), the early-warning vector, batch use."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate
from scipy import stats as sps

from hub.models.registry import ModelInputError, run_model
from hub.models.rt import cori_rt, discr_si

FLU = [1, 1, 0, 2, 5, 3, 3, 3, 6, 2, 5, 9, 13, 12, 13, 11, 12, 6, 6, 6, 3, 1, 0, 2, 0, 0, 0, 0, 2, 0, 2, 0]
FLU_SI = [0, 0.233, 0.359, 0.198, 0.103, 0.053, 0.027, 0.014, 0.007, 0.003, 0.002, 0.001]

# (t_start, t_end): shape, scale, mean, sd, 2.5 %, median, 97.5 %  — EpiEstim snapshot
SNAPSHOT = {
    (2, 8): (18, 0.0964227, 1.7356089, 0.40908694, 1.02863184, 1.7035760, 2.6244959),
    (3, 9): (23, 0.0760456, 1.7490494, 0.36470202, 1.10874730, 1.7237672, 2.5329479),
    (12, 18): (77, 0.0162046, 1.2477516, 0.14219449, 0.98470606, 1.2423543, 1.5414648),
    (22, 28): (4, 0.0600060, 0.2400240, 0.12001200, 0.06539846, 0.2203457, 0.5260890),
    (26, 32): (5, 0.2008032, 1.0040161, 0.44900963, 0.32600128, 0.9379335, 2.0565439),
}


def by_window(out):
    return {(e["t_start"], e["t_end"]): e for e in out["estimates"]}


def test_epiestim_flu2009_non_parametric():
    out = run_model("rt", {"incidence": FLU, "serial_interval": {"distribution": FLU_SI}, "window": 7})
    est = by_window(out)
    assert [e["t_end"] for e in out["estimates"]] == list(range(8, 33))
    assert out["estimates"][0]["t_start"] == 2
    for key, (shape, scale, mean, sd, lo, med, hi) in SNAPSHOT.items():
        e = est[key]
        assert e["shape"] == shape
        assert e["scale"] == pytest.approx(scale, abs=5e-8)
        for got, want in ((e["mean"], mean), (e["sd"], sd), (e["lower"], lo), (e["median"], med), (e["upper"], hi)):
            assert got == pytest.approx(want, rel=1e-7)


def test_epiestim_flu2009_parametric():
    out = run_model("rt", {"incidence": FLU, "serial_interval": {"mean": 2.6, "sd": 1.5}})
    est = by_window(out)
    assert est[(2, 8)]["mean"] == pytest.approx(1.7357977, rel=1e-7)
    assert est[(2, 8)]["lower"] == pytest.approx(1.02874370, rel=1e-7)
    assert est[(2, 8)]["upper"] == pytest.approx(2.6247813, rel=1e-7)
    e = est[(26, 32)]
    assert (e["mean"], e["sd"], e["lower"], e["median"], e["upper"]) == (
        pytest.approx(0.9975352, rel=1e-7), pytest.approx(0.44611130, rel=1e-7), pytest.approx(0.32389696, rel=1e-7),
        pytest.approx(0.9318792, rel=1e-7), pytest.approx(2.0432690, rel=1e-7))


def test_discr_si_vector():
    w = discr_si(np.arange(9), 2.6, 1.5)
    assert w == pytest.approx([0, 0.233172, 0.358579, 0.198111, 0.103343, 0.052905, 0.026821, 0.013516, 0.006783], abs=5e-7)


# ---------------------------------------------------------------- independent implementation

def independent_si(mean, sd, T):
    """Cori et al. 2013 Web Appendix 11 discretisation, by numerical integration (not discr_si's
    closed form): w_k = ∫ (1 − |x − k|)_+ g(x − 1) dx for k ≥ 1, g the gamma(mean−1, sd) density."""
    a = ((mean - 1) / sd) ** 2
    b = sd**2 / (mean - 1)
    pdf = sps.gamma(a, scale=b).pdf
    w = [0.0]
    for k in range(1, T):
        left = integrate.quad(lambda x, k=k: (1 - (k - x)) * pdf(x - 1), max(k - 1, 1), k, epsabs=1e-13,
                              epsrel=1e-12)[0] if k > 1 else 0.0
        right = integrate.quad(lambda x, k=k: (1 - (x - k)) * pdf(x - 1), max(k, 1), k + 1, epsabs=1e-13,
                               epsrel=1e-12)[0]
        w.append(left + right)
    return w


def independent_rt(incidence, si, window=7, prior_mean=5.0, prior_sd=5.0):
    """A plain loop over windows: Λ_t as an explicit double sum, gamma posterior via scipy.stats."""
    T = len(incidence)
    local = list(incidence)
    imported = [0.0] * T
    imported[0], local[0] = local[0], 0.0
    total = [loc + imp for loc, imp in zip(local, imported, strict=True)]
    si = list(si) + [0.0] * max(0, T + 1 - len(si))
    lam = [None] + [sum(si[s] * total[t - s] for s in range(1, t + 1)) for t in range(1, T)]
    mean_si = sum(k * w for k, w in enumerate(si))
    shape0 = (prior_mean / prior_sd) ** 2
    scale0 = prior_sd**2 / prior_mean
    rows = []
    for t_end in range(window + 1, T + 1):
        t_start = t_end - window + 1
        if not t_end > mean_si:
            continue
        shape = shape0 + sum(local[t - 1] for t in range(t_start, t_end + 1))
        scale = 1 / (1 / scale0 + sum(lam[t - 1] for t in range(t_start, t_end + 1)))
        post = sps.gamma(shape, scale=scale)
        rows.append((t_start, t_end, post.mean(), post.ppf(0.025), post.ppf(0.975)))
    return rows


@pytest.mark.parametrize("case", ["flu-nonparametric", "flu-parametric", "synthetic-parametric", "synthetic-window14"])
def test_matches_independent_implementation(case):
    rng = np.random.default_rng(2013)
    if case.startswith("flu"):
        inc = FLU
    else:
        lam = 5 * np.exp(0.05 * np.arange(90)) * (1 + 0.5 * np.sin(np.arange(90) / 9))
        inc = rng.poisson(lam).tolist()
    window = 14 if case.endswith("14") else 7
    if case == "flu-nonparametric":
        payload_si, si = {"distribution": FLU_SI}, FLU_SI
    else:
        payload_si, si = {"mean": 4.8, "sd": 2.3} if case.startswith("synthetic") else {"mean": 2.6, "sd": 1.5}, None
        si = independent_si(payload_si["mean"], payload_si["sd"], len(inc))
    out = run_model("rt", {"incidence": inc, "serial_interval": payload_si, "window": window})
    ref = independent_rt(inc, si, window)
    assert len(ref) == len(out["estimates"])
    for (ts, te, mean, lo, hi), e in zip(ref, out["estimates"], strict=True):
        assert (e["t_start"], e["t_end"]) == (ts, te)
        # The acceptance criterion is 3 significant digits (relative 5e-4); the two implementations
        # in fact agree to 1e-6 (the SI discretisations differ only by quadrature error).
        assert e["mean"] == pytest.approx(mean, rel=1e-6)
        assert e["lower"] == pytest.approx(lo, rel=1e-6)
        assert e["upper"] == pytest.approx(hi, rel=1e-6)


def test_early_warning_vector():
    inc = [1, 0, 1, 2, 1, 3, 2, 4, 5, 4, 7, 8, 10, 12, 15]
    out = run_model("rt", {"incidence": inc, "serial_interval": {"mean": 2.6, "sd": 1.5}})
    lows = [round(e["lower"], 2) for e in out["estimates"]]
    assert lows == [1.10, 1.24, 1.12, 1.13, 1.20, 1.21, 1.26, 1.27]
    ew = out["early_warning"]
    assert ew["raised"] and ew["active"]
    assert ew["first_alarm"] == {"t_start": 3, "t_end": 9}


def test_no_warning_on_declining_series_and_too_early_warning():
    out = run_model("rt", {"incidence": [20, 18, 15, 14, 12, 10, 9, 8, 6, 5, 4, 4, 3, 2, 2], "serial_interval": {"mean": 2.6, "sd": 1.5}})
    assert out["early_warning"]["raised"] is False
    assert out["warnings"] == []
    few = run_model("rt", {"incidence": [1, 0, 1, 0, 1, 0, 1, 2, 0, 1], "serial_interval": {"mean": 2.6, "sd": 1.5}})
    assert few["warnings"] and "too early" in few["warnings"][0]


def test_windows_before_mean_si_are_dropped_like_epiestim():
    out = run_model("rt", {"incidence": [3, 4, 5, 6, 7, 8, 9, 10], "serial_interval": {"distribution": [0, 0, 0, 0, 0.5, 0.5]},
                           "window": 2})
    assert [e["t_end"] for e in out["estimates"]] == [5, 6, 7, 8]  # mean SI 4.5: t_end must exceed it
    assert [w["t_end"] for w in out["not_estimable"]] == [3, 4]


def test_imported_cases_and_dates():
    base = run_model("rt", {"incidence": FLU, "serial_interval": {"distribution": FLU_SI}, "start_date": "2009-04-27"})
    assert base["estimates"][0]["date_start"] == "2009-04-28" and base["estimates"][0]["date_end"] == "2009-05-04"
    # moving all day-1 cases to 'imported' changes nothing (they are imported anyway)
    imp = [0] * len(FLU)
    imp[0] = 1
    inc = [0] + FLU[1:]
    same = run_model("rt", {"incidence": inc, "imported": imp, "serial_interval": {"distribution": FLU_SI}})
    assert [e["mean"] for e in same["estimates"]] == pytest.approx([e["mean"] for e in base["estimates"]])
    # imported cases later add infectivity but not to the numerator: R goes down
    imp2 = [0] * len(FLU)
    imp2[10] = 20
    lower = run_model("rt", {"incidence": FLU, "imported": imp2, "serial_interval": {"distribution": FLU_SI}})
    assert by_window(lower)[(12, 18)]["mean"] < by_window(base)[(12, 18)]["mean"]


@pytest.mark.parametrize("payload, field", [
    ({"incidence": FLU, "serial_interval": {"distribution": [0.1, 0.9]}}, "serial_interval.distribution.0"),
    ({"incidence": FLU, "serial_interval": {"distribution": [0, 0.5, 0.3]}}, "serial_interval.distribution"),
    ({"incidence": FLU, "serial_interval": {"mean": 0.8, "sd": 1}}, "serial_interval.mean"),
    ({"incidence": [1, 2, 3], "serial_interval": {"mean": 2.6, "sd": 1.5}}, "window"),
    ({"incidence": [1, 2, -3, 4, 5, 6, 7, 8, 9], "serial_interval": {"mean": 2.6, "sd": 1.5}}, "incidence.2"),
    ({"incidence": FLU, "serial_interval": {"mean": 2.6, "sd": 1.5}, "t_start": [1], "t_end": [8]}, "t_start.0"),
    ({"incidence": FLU, "serial_interval": {"mean": 2.6}}, "serial_interval"),
    ({"incidence": FLU}, "serial_interval"),
])
def test_invalid_inputs_name_the_field(payload, field):
    with pytest.raises(ModelInputError) as err:
        run_model("rt", payload)
    assert err.value.field == field


def test_batch_equals_single_series():
    rng = np.random.default_rng(1)
    inc = rng.poisson(8, (5, 200)).astype(float)
    w = discr_si(np.arange(200), 4.0, 2.0)
    te = np.arange(8, 201)
    ts = te - 6
    batch = cori_rt(inc, w, ts, te)
    for s in range(5):
        one = run_model("rt", {"incidence": inc[s].tolist(), "serial_interval": {"mean": 4.0, "sd": 2.0}})
        assert [e["mean"] for e in one["estimates"]] == pytest.approx(batch["mean"][s].tolist(), rel=1e-12)
        assert [e["upper"] for e in one["estimates"]] == pytest.approx(batch["q0.975"][s].tolist(), rel=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 60), min_size=9, max_size=40), st.integers(1, 8))
def test_property_agrees_with_independent_loop(inc, window):
    if window + 1 > len(inc):
        return
    out = run_model("rt", {"incidence": inc, "serial_interval": {"distribution": FLU_SI}, "window": window})
    ref = independent_rt(inc, FLU_SI, window)
    # Issue 13, error 6: windows with no local cases (or no infectious pressure) report "no estimate".
    skipped = {(s["t_start"], s["t_end"]): s for s in out["not_estimable"] if s.get("no_estimate")}
    for (ts, te), s in skipped.items():
        assert s["cases"] == sum(inc[max(ts, 2) - 1:te])
        assert s["cases"] == 0 or "infectious pressure" in s["reason"]
    ref = [r for r in ref if (r[0], r[1]) not in skipped]
    assert len(ref) == len(out["estimates"])
    for (_ts, _te, mean, lo, _hi), e in zip(ref, out["estimates"], strict=True):
        assert e["mean"] == pytest.approx(mean, rel=1e-9)
        assert e["lower"] == pytest.approx(lo, rel=1e-7)
        assert e["lower"] <= e["median"] <= e["upper"]
        assert math.isfinite(e["upper"])
