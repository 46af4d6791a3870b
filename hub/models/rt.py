"""Time-varying reproduction number Rt by the method of Cori et al. (2013), as in EpiEstim 3.0.0.

Source: Cori A, Ferguson NM, Fraser C, Cauchemez S. A new framework and software to estimate
time-varying reproduction numbers during epidemics. Am J Epidemiol 2013;178:1505–12; the
reference implementation ``mrc-ide/EpiEstim`` v3.0.0 (``estimate_R``, ``discr_si``,
``overall_infectivity``, ``process_I``, ``make_config``) [EPIESTIM]; shared/domain/reference.md
§6.4 (C, V to 7 digits). Seed 002 B.3.3.6 names Rt as a key indicator for imposing and lifting
restrictions; seed 000 §2.3.1.8 asks to spot trends of infection spreading early.

Algorithm (days numbered from 1):

* all cases of day 1 are imported; imported cases contribute to the infectivity, not to the
  numerator (EpiEstim ``process_I``);
* serial interval ``w_s`` (s = 0, 1, …, w_0 = 0): given, or the gamma distribution with
  mean μ and sd σ discretised and shifted by one day (EpiEstim ``discr_si``) for
  k = 0 … T−1;
* total infectiousness ``Λ_t = Σ_{s=1}^{t−1} w_s (I_local + I_imported)_{t−s}``;
* prior Gamma(shape a0 = (m/s)², scale b0 = s²/m) with m = 5, s = 5 by default; for a window
  [t_s, t_e] the posterior is Gamma(a0 + Σ I_local, scale 1/(1/b0 + Σ Λ));
* windows: ``t_e = window + 1 … T``, ``t_s = t_e − window + 1`` (EpiEstim's default weekly
  sliding windows for window = 7); windows with ``t_e`` not after the mean of the SI are not
  estimated (EpiEstim drops them);
* EpiEstim's warning when the first window holds fewer than ``ceil(1/cv² − a0)`` cases;
* early warning (reference.md §6.4, D): the lower bound of the 95 % credible interval is
  above 1 for at least 2 consecutive windows.

:func:`cori_rt` works on a matrix of sites × days at once (bench/epi.py: 100 sites × 5 years).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy import signal, special, stats

from hub.models._config import load_table, thaw_table
from hub.models.registry import ModelInputError, register

CONFIG_TABLE = "epi"
QUANTILES = (0.025, 0.05, 0.25, 0.5, 0.75, 0.95, 0.975)


def _config() -> dict[str, Any]:
    rt: dict[str, Any] = thaw_table(load_table(CONFIG_TABLE))["rt"]
    return rt


# --------------------------------------------------------------------------- the method


def discr_si(k: Sequence[int] | np.ndarray, mu: float, sigma: float) -> np.ndarray:
    """Discretised serial interval of EpiEstim ``discr_si``: gamma(μ−1, σ) shifted by one day.

    ``w_k = k·F_a(k) + (k−2)·F_a(k−2) − 2(k−1)·F_a(k−1)
    + a·b·(2·F_{a+1}(k−1) − F_{a+1}(k−2) − F_{a+1}(k))``, floored at 0, with
    ``a = ((μ−1)/σ)²``, ``b = σ²/(μ−1)`` and ``F_a`` the gamma cdf (shape a, scale b).
    """
    if mu <= 1:
        raise ValueError("discr_si needs a mean serial interval above 1")
    if sigma <= 0:
        raise ValueError("discr_si needs a positive sd")
    k = np.asarray(k, dtype=float)
    a = ((mu - 1) / sigma) ** 2
    b = sigma**2 / (mu - 1)

    def cdf(x: np.ndarray, shape: float) -> np.ndarray:
        values: np.ndarray = stats.gamma.cdf(x, shape, scale=b)  # scipy is untyped: an array for an array
        return values

    res = (k * cdf(k, a) + (k - 2) * cdf(k - 2, a) - 2 * (k - 1) * cdf(k - 1, a)
           + a * b * (2 * cdf(k - 1, a + 1) - cdf(k - 2, a + 1) - cdf(k, a + 1)))
    w: np.ndarray = np.maximum(res, 0.0)
    return w


def overall_infectivity(total: np.ndarray, si: np.ndarray) -> np.ndarray:
    """Λ (sites × days) from total incidence (sites × days); column 0 (day 1) is NaN."""
    total = np.atleast_2d(np.asarray(total, dtype=float))
    T = total.shape[1]
    w = np.asarray(si, dtype=float)[:T]
    nonzero = np.flatnonzero(w)
    lam = np.zeros_like(total)
    if nonzero.size:
        L = int(nonzero[-1]) + 1
        if L <= 256:
            for s in range(1, L):  # w_0 = 0 by construction
                if w[s] != 0.0:
                    lam[:, s:] += w[s] * total[:, : T - s]
        else:
            kernel = w[:L].copy()
            kernel[0] = 0.0
            lam = signal.fftconvolve(total, kernel[None, :], axes=1)[:, :T]
            lam = np.maximum(lam, 0.0)
    lam[:, 0] = np.nan
    return lam


def cori_rt(
    incidence: np.ndarray,
    si: np.ndarray,
    t_start: np.ndarray,
    t_end: np.ndarray,
    *,
    imported: np.ndarray | None = None,
    prior_mean: float = 5.0,
    prior_sd: float = 5.0,
    quantiles: Sequence[float] = QUANTILES,
) -> dict[str, np.ndarray]:
    """Gamma posterior of R for every site (rows) and window (1-based ``t_start``/``t_end``).

    ``incidence`` is sites × days (or one series). Day-1 local cases become imported, as in
    EpiEstim. Returns arrays (sites × windows): ``shape``, ``scale``, ``mean``, ``sd`` and
    ``q<p>`` for each quantile, plus ``estimable`` (windows) and ``si_mean``.
    """
    local = np.atleast_2d(np.asarray(incidence, dtype=float)).copy()
    imp = np.zeros_like(local) if imported is None else np.atleast_2d(np.asarray(imported, dtype=float)).copy()
    imp[:, 0] += local[:, 0]
    local[:, 0] = 0.0
    S, T = local.shape
    w = np.asarray(si, dtype=float)
    if w.size < T + 1:
        w = np.concatenate([w, np.zeros(T + 1 - w.size)])
    si_mean = float(np.sum(w * np.arange(w.size)))
    lam = overall_infectivity(local + imp, w)
    lam[:, 0] = 0.0  # never inside a window (t_start >= 2)
    cum_local = np.concatenate([np.zeros((S, 1)), np.cumsum(local, axis=1)], axis=1)
    cum_lam = np.concatenate([np.zeros((S, 1)), np.cumsum(lam, axis=1)], axis=1)
    ts = np.asarray(t_start, dtype=int)
    te = np.asarray(t_end, dtype=int)
    a0 = (prior_mean / prior_sd) ** 2
    b0 = prior_sd**2 / prior_mean
    window_cases = cum_local[:, te] - cum_local[:, ts - 1]
    window_lam = cum_lam[:, te] - cum_lam[:, ts - 1]
    shape = a0 + window_cases
    scale = 1.0 / (1.0 / b0 + window_lam)
    out: dict[str, np.ndarray] = {
        "window_cases": window_cases,
        "window_infectivity": window_lam,
        "shape": shape,
        "scale": scale,
        "mean": shape * scale,
        "sd": np.sqrt(shape) * scale,
        "estimable": te > si_mean,
        "si_mean": np.array(si_mean),
        "si_sd": np.array(math.sqrt(max(float(np.sum(w * np.arange(w.size) ** 2)) - si_mean**2, 0.0))),
    }
    for q in quantiles:
        out[f"q{q}"] = special.gammaincinv(shape, q) * scale
    # EpiEstim: cases (local + imported) in the first window vs the cv_posterior target.
    cum_total = np.concatenate([np.zeros((S, 1)), np.cumsum(local + imp, axis=1)], axis=1)
    out["first_window_cases"] = cum_total[:, te[0]] - cum_total[:, ts[0] - 1]
    return out


def early_warning(t_start: Sequence[int], t_end: Sequence[int], lower: Sequence[float],
                  threshold: float = 1.0, consecutive: int = 2) -> dict[str, Any]:
    """Raise when the lower credible bound stays above ``threshold`` for ``consecutive`` windows.

    Returns the first alarm window, every window at which the alarm holds, and whether it
    holds at the last window (reference.md §6.4 early-warning rule, D).
    """
    run = 0
    first = None
    alarms = []
    for s, e, lo in zip(t_start, t_end, lower, strict=False):  # the caller's windows; as before, no length check
        run = run + 1 if lo > threshold else 0
        if run >= consecutive:
            alarms.append({"t_start": int(s), "t_end": int(e)})
            if first is None:
                first = {"t_start": int(s), "t_end": int(e)}
    active = bool(alarms) and run >= consecutive
    return {
        "rule": f"lower bound > {threshold:g} for at least {consecutive} consecutive windows",
        "raised": first is not None,
        "active": active,
        "first_alarm": first,
        "alarm_windows": alarms,
    }


# --------------------------------------------------------------------------- input schema


class SerialInterval(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    distribution: list[float] | None = Field(default=None, min_length=2, description="w0 = 0, w1, w2, …; sums to 1")
    mean: float | None = Field(default=None, description="mean of the gamma SI (days), > 1")
    sd: float | None = Field(default=None, gt=0, description="sd of the gamma SI (days)")

    @model_validator(mode="after")
    def _one_kind(self) -> "SerialInterval":
        if self.distribution is None and (self.mean is None or self.sd is None):
            raise ValueError("give either distribution or both mean and sd")
        if self.distribution is not None and (self.mean is not None or self.sd is not None):
            raise ValueError("give either distribution or mean and sd, not both")
        return self


class RtInput(BaseModel):
    """Input of ``rt``: daily case counts (day 1 first) and the serial interval."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    incidence: list[float] = Field(min_length=2, description="local cases per day (day 1 first)")
    imported: list[float] | None = Field(default=None, description="imported cases per day, same length")
    serial_interval: SerialInterval
    window: int | None = Field(default=None, ge=1, description="window length in days (default 7)")
    t_start: list[int] | None = Field(default=None, description="explicit window starts (1-based); with t_end")
    t_end: list[int] | None = None
    prior_mean: float | None = Field(default=None, gt=0)
    prior_sd: float | None = Field(default=None, gt=0)
    start_date: date | None = Field(default=None, description="calendar date of day 1 (adds dates to the output)")


def _validate(data: RtInput, cfg: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    T = len(data.incidence)
    for i, v in enumerate(data.incidence):
        if not (v >= 0 and math.isfinite(v)):
            raise ModelInputError(f"incidence.{i}", "counts must be finite and non-negative")
    imported = None
    if data.imported is not None:
        if len(data.imported) != T:
            raise ModelInputError("imported", f"must have the same length as incidence ({T})")
        for i, v in enumerate(data.imported):
            if not (v >= 0 and math.isfinite(v)):
                raise ModelInputError(f"imported.{i}", "counts must be finite and non-negative")
        imported = np.asarray(data.imported, dtype=float)
    si_in = data.serial_interval
    if si_in.distribution is not None:
        w = np.asarray(si_in.distribution, dtype=float)
        if w[0] != 0:
            raise ModelInputError("serial_interval.distribution.0", "w0 must be 0 (EpiEstim check_si_distr)")
        if np.any(w < 0) or not np.all(np.isfinite(w)):
            bad = int(np.flatnonzero((w < 0) | ~np.isfinite(w))[0])
            raise ModelInputError(f"serial_interval.distribution.{bad}", "must be non-negative")
        if abs(w.sum() - 1.0) > float(cfg["si_sum_tolerance"]):
            raise ModelInputError("serial_interval.distribution", f"must sum to 1 (sums to {w.sum():.6g})")
    else:
        if si_in.mean is None or si_in.mean <= 1:
            raise ModelInputError("serial_interval.mean", "the parametric SI needs a mean above 1 day")
        assert si_in.sd is not None  # SerialInterval's validator requires sd with mean
        w = discr_si(np.arange(T), si_in.mean, si_in.sd)
    if (data.t_start is None) != (data.t_end is None):
        raise ModelInputError("t_start" if data.t_start is None else "t_end", "give t_start and t_end together")
    if data.t_start is not None and data.t_end is not None:  # both or neither (checked just above)
        if len(data.t_start) != len(data.t_end) or not data.t_start:
            raise ModelInputError("t_end", "t_start and t_end must have the same, non-zero length")
        ts, te = np.asarray(data.t_start), np.asarray(data.t_end)
        for i, (s, e) in enumerate(zip(ts, te, strict=True)):  # same length (checked just above)
            if s < 2:
                raise ModelInputError(f"t_start.{i}", "windows start on day 2 or later (day 1 is imported)")
            if e < s or e > T:
                raise ModelInputError(f"t_end.{i}", f"must be between t_start and the last day ({T})")
    else:
        window = data.window if data.window is not None else int(cfg["window"])
        if window + 1 > T:
            raise ModelInputError("window", f"a window of {window} days needs at least {window + 1} days of data")
        te = np.arange(window + 1, T + 1)
        ts = te - window + 1
    return w, ts, te, imported


@register("rt", RtInput)
def rt(data: RtInput) -> dict[str, Any]:
    """Rt by Cori et al. 2013 (EpiEstim): gamma posterior over sliding windows, 95 % CrI, early warning."""
    cfg = _config()
    w, ts, te, imported = _validate(data, cfg)
    prior_mean = data.prior_mean or float(cfg["prior_mean"])
    prior_sd = data.prior_sd or float(cfg["prior_sd"])
    lo_q, hi_q = float(cfg["lower_quantile"]), float(cfg["upper_quantile"])
    quantiles = tuple(sorted({*QUANTILES, lo_q, hi_q}))
    res = cori_rt(np.asarray(data.incidence, dtype=float), w, ts, te, imported=imported,
                  prior_mean=prior_mean, prior_sd=prior_sd, quantiles=quantiles)
    estimates: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    min_window_cases = int(cfg["min_cases_in_window"])
    for j, (s, e) in enumerate(zip(ts, te, strict=True)):
        if not res["estimable"][j]:
            skipped.append({"t_start": int(s), "t_end": int(e),
                            "reason": "window ends before the mean serial interval (EpiEstim drops it)"})
            continue
        window_cases = float(res["window_cases"][0, j])
        if window_cases < min_window_cases or res["window_infectivity"][0, j] <= 0:
            # Issue 13, error 6: with no cases (or no infectious pressure) the posterior is just the
            # prior (mean 5): report "no estimate" with the reason, never the prior as if it were data.
            skipped.append({"t_start": int(s), "t_end": int(e), "no_estimate": True, "cases": window_cases,
                            "reason": (f"{window_cases:g} local cases in the window (at least {min_window_cases} "
                                       "needed): the posterior would be the prior" if window_cases < min_window_cases
                                       else "no infectious pressure from earlier cases: the posterior would be the prior")})
            continue
        entry = {
            "t_start": int(s), "t_end": int(e),
            "mean": float(res["mean"][0, j]), "sd": float(res["sd"][0, j]),
            "lower": float(res[f"q{lo_q}"][0, j]), "median": float(res["q0.5"][0, j]),
            "upper": float(res[f"q{hi_q}"][0, j]),
            "quantiles": {f"{q:g}": float(res[f"q{q}"][0, j]) for q in quantiles},
            "shape": float(res["shape"][0, j]), "scale": float(res["scale"][0, j]),
        }
        if data.start_date is not None:
            entry["date_start"] = (data.start_date + timedelta(days=int(s) - 1)).isoformat()
            entry["date_end"] = (data.start_date + timedelta(days=int(e) - 1)).isoformat()
        estimates.append(entry)
    a0 = (prior_mean / prior_sd) ** 2
    min_cases = math.ceil(1 / float(cfg["cv_posterior"]) ** 2 - a0)
    first_cases = float(res["first_window_cases"][0])
    nz = np.flatnonzero(w)
    si_out = [float(x) for x in w[: int(nz[-1]) + 1]] if nz.size else [0.0]
    warnings = []
    if first_cases < min_cases:
        warnings.append(f"estimating R too early in the epidemic for the desired posterior CV "
                        f"({first_cases:g} cases in the first window, {min_cases} wanted; EpiEstim)")
    return {
        "method": "Cori et al. 2013 (EpiEstim 3.0.0 estimate_R, "
                  + ("non-parametric SI" if data.serial_interval.distribution is not None else "parametric SI") + ")",
        "prior": {"mean": prior_mean, "sd": prior_sd, "shape": a0, "scale": prior_sd**2 / prior_mean},
        "credible_interval": [lo_q, hi_q],
        "si_distribution": si_out,
        "si_mean": float(res["si_mean"]),
        "si_sd": float(res["si_sd"]),
        "estimates": estimates,
        "not_estimable": skipped,
        "early_warning": early_warning([e["t_start"] for e in estimates], [e["t_end"] for e in estimates],
                                       [e["lower"] for e in estimates], float(cfg["warning_threshold"]),
                                       int(cfg["warning_consecutive"])),
        "warnings": warnings,
    }
