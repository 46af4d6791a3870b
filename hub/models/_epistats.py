"""Closed-form epidemiological statistics used by ``epi`` (pure functions, floats in, dicts out).

Sources (shared/domain/reference.md §6):

* proportions: Wilson score interval (default) or Clopper–Pearson exact interval (§6.1, D);
* rates: exact Poisson interval ``[χ²_{α/2}(2a)/2, χ²_{1−α/2}(2a+2)/2] / PT`` (§6.1);
* 2×2 table: RR, OR with Wald intervals on the log scale, RD with the Wald interval,
  attributable fraction in the exposed ``(RR−1)/RR`` with the RR limits plugged in, and the
  population attributable fraction of Jewell as in epiR ``epi.2by2``
  (``PAF = (ad − bc)/((a+c)(c+d))``, ``Var = (b + PAF(a+d))/(N·c)``, interval
  ``1 − exp(ln(1−PAF) ± z√Var)``) — C [EPIR] formulas, V numbers;
* incidence rate ratio ``(a/PT1)/(c/PT0)``, ``SE(ln IRR) = √(1/a + 1/c)`` (§6.2);
* direct standardisation ``Σ w_k r_k`` with the Fay–Feuer (1997) gamma interval (the method
  of epiR ``epi.directadj``); indirect standardisation ``SMR = O/E`` with the exact Poisson
  interval on O (§6.3).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from scipy import stats


def _z(confidence: float) -> float:
    return float(stats.norm.ppf(0.5 + confidence / 2.0))


def _interval(estimate: float | None, lower: float | None, upper: float | None, note: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"estimate": estimate, "lower": lower, "upper": upper}
    if note:
        out["note"] = note
    return out


def proportion_ci(cases: int, n: int, confidence: float = 0.95, method: str = "wilson") -> tuple[float, float]:
    """Two-sided interval for a binomial proportion (Wilson score or Clopper–Pearson)."""
    if n <= 0:
        return (math.nan, math.nan)
    alpha = 1.0 - confidence
    if method == "clopper-pearson":
        lower = 0.0 if cases == 0 else float(stats.beta.ppf(alpha / 2, cases, n - cases + 1))
        upper = 1.0 if cases == n else float(stats.beta.ppf(1 - alpha / 2, cases + 1, n - cases))
        return lower, upper
    if method != "wilson":
        raise ValueError(f"unknown proportion interval method {method!r}")
    z = _z(confidence)
    p = cases / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lower = 0.0 if cases == 0 else max(0.0, centre - half)
    upper = 1.0 if cases == n else min(1.0, centre + half)
    return lower, upper


def poisson_count_ci(count: float, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Garwood) interval for a Poisson count: χ²_{α/2}(2a)/2 … χ²_{1−α/2}(2a+2)/2."""
    alpha = 1.0 - confidence
    lower = 0.0 if count == 0 else float(stats.chi2.ppf(alpha / 2, 2 * count) / 2)
    upper = float(stats.chi2.ppf(1 - alpha / 2, 2 * count + 2) / 2)
    return lower, upper


def rate_ci(cases: int, person_time: float, confidence: float = 0.95) -> dict[str, Any]:
    """Incidence rate cases/person-time with the exact Poisson interval."""
    lo, hi = poisson_count_ci(cases, confidence)
    return _interval(cases / person_time, lo / person_time, hi / person_time)


def two_by_two(a: int, n1: int, c: int, n0: int, confidence: float = 0.95) -> dict[str, Any]:
    """RR, OR, RD, AF in the exposed and Jewell's PAF for exposed a/n1 vs unexposed c/n0.

    Undefined measures (a zero denominator, a log of zero) are ``None`` with a ``note``.
    """
    z = _z(confidence)
    b, d = n1 - a, n0 - c
    N = n1 + n0
    r1, r0 = a / n1, c / n0
    out: dict[str, Any] = {"a": a, "b": b, "c": c, "d": d, "risk_exposed": r1, "risk_reference": r0}

    # Risk ratio
    if c == 0:
        rr = _interval(None, None, None, "no cases in the reference group: RR is not defined")
    elif a == 0:
        rr = _interval(0.0, None, None, "no cases in the exposed group: the log-scale interval is not defined")
    else:
        est = r1 / r0
        se = math.sqrt(1 / a - 1 / n1 + 1 / c - 1 / n0)
        rr = _interval(est, est * math.exp(-z * se), est * math.exp(z * se))
    out["rr"] = rr

    # Odds ratio
    if b * c == 0:
        orr = _interval(None, None, None, "a zero cell in b·c: OR is not defined")
    elif a * d == 0:
        orr = _interval(0.0, None, None, "a zero cell in a·d: the log-scale interval is not defined")
    else:
        est = (a * d) / (b * c)
        se = math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
        orr = _interval(est, est * math.exp(-z * se), est * math.exp(z * se))
    out["or"] = orr

    # Risk difference (Wald)
    rd = r1 - r0
    se = math.sqrt(r1 * (1 - r1) / n1 + r0 * (1 - r0) / n0)
    out["rd"] = _interval(rd, rd - z * se, rd + z * se)

    # Attributable fraction in the exposed (RR limits plugged in, as epiR)
    if rr["estimate"] is not None and rr["estimate"] > 0 and rr["lower"] is not None:
        out["af_exposed"] = _interval((rr["estimate"] - 1) / rr["estimate"],
                                      (rr["lower"] - 1) / rr["lower"], (rr["upper"] - 1) / rr["upper"])
    else:
        out["af_exposed"] = _interval(None, None, None, "needs a finite, positive RR with an interval")

    # Population attributable fraction (Jewell, as epiR epi.2by2)
    if a + c == 0 or c == 0:
        out["paf"] = _interval(None, None, None, "needs cases in the reference group")
    else:
        paf = (a * d - b * c) / ((a + c) * (c + d))
        var = (b + paf * (a + d)) / (N * c)
        if paf < 1 and var >= 0:
            lo = 1 - math.exp(math.log(1 - paf) + z * math.sqrt(var))
            hi = 1 - math.exp(math.log(1 - paf) - z * math.sqrt(var))
            out["paf"] = _interval(paf, lo, hi)
        else:
            out["paf"] = _interval(paf, None, None, "interval not defined")
    return out


def irr(a: int, pt1: float, c: int, pt0: float, confidence: float = 0.95) -> dict[str, Any]:
    """Incidence rate ratio with the Wald interval on the log scale."""
    if c == 0:
        return _interval(None, None, None, "no cases in the reference group: IRR is not defined")
    est = (a / pt1) / (c / pt0)
    if a == 0:
        return _interval(0.0, None, None, "no cases in the exposed group: the log-scale interval is not defined")
    se = math.sqrt(1 / a + 1 / c)
    z = _z(confidence)
    return _interval(est, est * math.exp(-z * se), est * math.exp(z * se))


def direct_standardised(cases: Sequence[int], denominators: Sequence[float], weights: Sequence[float],
                        confidence: float = 0.95) -> dict[str, Any]:
    """Directly standardised rate ``Σ w_k·d_k/n_k`` (weights normalised to 1) with the
    Fay–Feuer gamma interval (Fay & Feuer 1997; epiR ``epi.directadj``)."""
    total = float(sum(weights))
    w = [wk / total for wk in weights]
    # the three sequences come from the caller, one item per stratum; as before, no length check here
    v = [wk / nk for wk, nk in zip(w, denominators, strict=False)]  # per-person weights
    y = sum(vk * dk for vk, dk in zip(v, cases, strict=False))
    var = sum(vk * vk * dk for vk, dk in zip(v, cases, strict=False))
    wm = max(v)
    alpha = 1 - confidence
    lower = 0.0 if y == 0 else float(var / (2 * y) * stats.chi2.ppf(alpha / 2, 2 * y * y / var))
    upper = float((var + wm * wm) / (2 * (y + wm)) * stats.chi2.ppf(1 - alpha / 2, 2 * (y + wm) ** 2 / (var + wm * wm)))
    return _interval(y, lower, upper)


def smr(observed: int, expected: float, confidence: float = 0.95) -> dict[str, Any]:
    """Standardised morbidity ratio O/E with the exact Poisson interval on O."""
    lo, hi = poisson_count_ci(observed, confidence)
    out = _interval(observed / expected, lo / expected, hi / expected)
    out.update({"observed": observed, "expected": expected})
    return out
