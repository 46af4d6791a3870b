"""Vectorised lognormal exposure statistics for many similar-exposure groups (SEG) at once.

Methods (shared/domain/reference.md §5.3–5.4):

* GM = exp(ȳ), GSD = exp(s), P95 = exp(ȳ + z0.95·s) — AIHA / EN 689:2018 (C);
* upper tolerance limit of the 95th percentile ``UTL = exp(ȳ + k·s)`` with
  ``k = t'_γ(n−1, z0.95·√n)/√n`` (non-central t) — EN 689:2018 uses γ = 0.70, AIHA's
  "95 % UCL of the 95th percentile" γ = 0.95 (C; k(n) equals the EN 689 table, V);
* exceedance fraction ``F = 1 − Φ((ln OEL − ȳ)/s)`` and its one-sided confidence limits:
  with ``t_obs = √n·(ln OEL − ȳ)/s`` find δ with ``T_{n−1,δ}(t_obs) = γ``; the upper limit is
  ``1 − Φ(δ/√n)``, the lower limit uses 1 − γ (C [OHCS], V);
* arithmetic-mean estimate exp(ȳ + s²/2) (MLE-type, biased for small n).

Values below the limit of detection (LOD) are **left-censored** observations, never zero and
never a substitute value: μ and σ of ln(x) are the maximum-likelihood estimates of the
censored normal model, likelihood ``Π φ((y_i−μ)/σ)/σ · Π Φ((ln LOD_j − μ)/σ)`` (reference.md
§5.3, the "sound frequentist default", D; the same censored likelihood as Expostats/NDExpo's
Bayesian and ROS treatments, C [WEBEXPO]). It is maximised by Newton's method in Olsen's
parametrisation θ = μ/σ, η = 1/σ, where the Tobit log-likelihood is globally concave (Olsen
1978), vectorised over groups. Without censored values the classical estimates (ȳ, sample
SD with n − 1) are used, so EN 689's tables apply exactly. With censored values the MLE
(μ̂, σ̂) is plugged into the same tolerance-limit and exceedance formulas with the total n;
those limits are then approximate (documented in docs/models/exposure-stats.md).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import special

Z95 = float(special.ndtri(0.95))


@lru_cache(maxsize=4096)
def k_factor(n: int, confidence: float, percentile: float = 0.95) -> float:
    """Tolerance factor k(n) for the UTL of the ``percentile`` at ``confidence`` (non-central t)."""
    if n < 2:
        return float("nan")
    root = np.sqrt(n)
    return float(special.nctdtrit(n - 1, float(special.ndtri(percentile)) * root, confidence) / root)


def k_factors(n: np.ndarray, confidence: float, percentile: float = 0.95) -> np.ndarray:
    """``k_factor`` for an array of sample sizes (cached per distinct n)."""
    n = np.asarray(n, dtype=int)
    unique, inverse = np.unique(n, return_inverse=True)
    values = np.array([k_factor(int(u), float(confidence), float(percentile)) for u in unique])
    return values[inverse].reshape(n.shape)


def exceedance_limits(t_obs: np.ndarray, n: np.ndarray, confidence: float) -> np.ndarray:
    """One-sided limit on the exceedance fraction: ``1 − Φ(δ/√n)`` with ``T_{n−1,δ}(t_obs) = γ``.

    ``confidence`` γ gives the upper limit; pass 1 − γ for the lower limit. ±inf t_obs (σ = 0)
    gives 0 or 1.
    """
    t_obs = np.asarray(t_obs, dtype=float)
    n = np.asarray(n, dtype=float)
    out = np.full(np.broadcast(t_obs, n).shape, np.nan)
    finite = np.isfinite(t_obs) & (n >= 2)
    if np.any(finite):
        delta = special.nctdtrinc(n[finite] - 1, confidence, t_obs[finite])
        out[finite] = special.ndtr(-delta / np.sqrt(n[finite]))
    out[np.isposinf(t_obs)] = 0.0
    out[np.isneginf(t_obs)] = 1.0
    return out


def censored_mle(y: np.ndarray, censored: np.ndarray, valid: np.ndarray, *, max_iter: int = 100, tol: float = 1e-12) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximum-likelihood (μ, σ) of left-censored normal data, one row per group.

    ``y`` (G×N) holds ln(value) for detected results and ln(LOD) for censored ones; ``censored``
    and ``valid`` are boolean masks of the same shape (``valid`` marks real entries of the
    padded matrix). Returns ``mu``, ``sigma`` and ``converged`` (G,). Rows with fewer than two
    distinct detected values get NaN (the censored likelihood has no finite maximum in general).
    """
    y = np.asarray(y, dtype=float)
    cens = np.asarray(censored, dtype=bool) & valid
    det = ~np.asarray(censored, dtype=bool) & valid
    G = y.shape[0]
    y0 = np.where(valid, y, 0.0)
    n_det = det.sum(axis=1)
    # distinct detected values: range > 0
    det_max = np.where(det, y0, -np.inf).max(axis=1)
    det_min = np.where(det, y0, np.inf).min(axis=1)
    ok = (n_det >= 2) & (det_max > det_min)

    # Start: substitution LOD/√2 (only as a starting point), sample moments.
    start = np.where(cens, y0 - 0.5 * np.log(2.0), y0)
    count = valid.sum(axis=1)
    mean0 = np.where(valid, start, 0).sum(axis=1) / np.maximum(count, 1)
    var0 = (np.where(valid, start - mean0[:, None], 0) ** 2).sum(axis=1) / np.maximum(count - 1, 1)
    sd0 = np.sqrt(np.maximum(var0, 1e-6))
    eta = 1.0 / sd0
    theta = mean0 * eta

    def loglik(theta: np.ndarray, eta: np.ndarray) -> np.ndarray:
        r = eta[:, None] * y0 - theta[:, None]
        ll_det = np.where(det, np.log(np.where(eta > 0, eta, 1.0))[:, None] - 0.5 * r * r, 0.0)
        ll_cen = np.where(cens, special.log_ndtr(r), 0.0)
        total: np.ndarray = (ll_det + ll_cen).sum(axis=1)  # log_ndtr is untyped (scipy): an array here
        return total

    active = ok.copy()
    converged = np.zeros(G, dtype=bool)
    current = loglik(theta, eta)
    for _ in range(max_iter):
        if not active.any():
            break
        idx = np.flatnonzero(active)
        th, et = theta[idx], eta[idx]
        yy, dm, cm = y0[idx], det[idx], cens[idx]
        r = et[:, None] * yy - th[:, None]
        # Inverse Mills ratio h = φ(a)/Φ(a) for the censored terms (a = r), computed in logs.
        h = np.where(cm, np.exp(-0.5 * r * r - 0.5 * np.log(2 * np.pi) - special.log_ndtr(r)), 0.0)
        hp = h * (r + h)  # −dh/da
        g_theta = np.where(dm, r, 0).sum(1) - np.where(cm, h, 0).sum(1)
        g_eta = dm.sum(1) / et - np.where(dm, r * yy, 0).sum(1) + np.where(cm, h * yy, 0).sum(1)
        h_tt = -dm.sum(1) - np.where(cm, hp, 0).sum(1)
        h_te = np.where(dm, yy, 0).sum(1) + np.where(cm, hp * yy, 0).sum(1)
        h_ee = -dm.sum(1) / et**2 - np.where(dm, yy * yy, 0).sum(1) - np.where(cm, hp * yy * yy, 0).sum(1)
        det_h = h_tt * h_ee - h_te * h_te
        # Newton step −H⁻¹g (H is negative definite: the log-likelihood is concave).
        step_t = -(h_ee * g_theta - h_te * g_eta) / det_h
        step_e = -(-h_te * g_theta + h_tt * g_eta) / det_h
        scale = np.ones_like(th)
        base = current[idx]
        new_t, new_e = th + step_t, et + step_e
        for _ in range(60):
            pos = new_e > 0
            safe_e = np.where(pos, new_e, 1.0)
            r_new = safe_e[:, None] * yy - np.where(pos, new_t, 0.0)[:, None]
            ll = (np.where(dm, np.log(safe_e)[:, None] - 0.5 * r_new * r_new, 0).sum(1)
                  + np.where(cm, special.log_ndtr(r_new), 0).sum(1))
            trial = np.where(pos, ll, -np.inf)
            bad = ~(trial >= base - 1e-12)
            if not bad.any():
                break
            scale = np.where(bad, scale * 0.5, scale)
            new_t = np.where(bad, th + scale * step_t, new_t)
            new_e = np.where(bad, et + scale * step_e, new_e)
        theta[idx], eta[idx] = new_t, new_e
        current[idx] = np.maximum(trial, base)
        size = np.abs(scale * step_t) + np.abs(scale * step_e)
        done = size < tol * (1.0 + np.abs(new_t) + np.abs(new_e))
        converged[idx[done]] = True
        active[idx[done]] = False
    mu = np.where(ok, theta / eta, np.nan)
    sigma = np.where(ok, 1.0 / eta, np.nan)
    return mu, sigma, converged & ok


def fit_groups(values: list[np.ndarray], censored: list[np.ndarray]) -> dict[str, np.ndarray]:
    """μ, σ of ln(x) per group; classical (n − 1) without censoring, censored MLE otherwise.

    Returns arrays ``mu``, ``sigma``, ``n``, ``n_censored``, ``censored_fit`` (bool) and
    ``ok`` (statistics defined). ``values`` hold positive numbers (LOD for censored entries).
    """
    G = len(values)
    n = np.array([len(v) for v in values], dtype=int)
    n_cens = np.array([int(np.sum(c)) for c in censored], dtype=int)
    N = int(n.max()) if G else 0
    y = np.zeros((G, max(N, 1)))
    cens = np.zeros((G, max(N, 1)), dtype=bool)
    valid = np.arange(max(N, 1))[None, :] < n[:, None]
    if G:
        flat = np.log(np.concatenate([np.asarray(v, dtype=float) for v in values]))
        flat_c = np.concatenate([np.asarray(c, dtype=bool) for c in censored])
        y[valid] = flat
        cens[valid] = flat_c
    mu = np.full(G, np.nan)
    sigma = np.full(G, np.nan)
    plain = (n_cens == 0) & (n >= 2)
    if plain.any():
        yp, vp = y[plain], valid[plain]
        m = np.where(vp, yp, 0).sum(1) / n[plain]
        s = np.sqrt((np.where(vp, yp - m[:, None], 0) ** 2).sum(1) / (n[plain] - 1))
        mu[plain], sigma[plain] = m, s
    one = (n_cens == 0) & (n == 1)
    mu[one] = y[one, 0]
    cen_rows = n_cens > 0
    converged = np.ones(G, dtype=bool)
    if cen_rows.any():
        m, s, conv = censored_mle(y[cen_rows], cens[cen_rows], valid[cen_rows])
        mu[cen_rows], sigma[cen_rows] = m, s
        converged[cen_rows] = conv
    ok = np.isfinite(mu) & np.isfinite(sigma) & converged
    return {"mu": mu, "sigma": sigma, "n": n, "n_censored": n_cens, "censored_fit": cen_rows, "ok": ok}


def lognormal_summary(mu: np.ndarray, sigma: np.ndarray, n: np.ndarray, oel: np.ndarray,
                      confidences: tuple[float, ...], percentile: float = 0.95) -> dict[str, np.ndarray]:
    """GM, GSD, percentile, its UTLs, AM and the exceedance fraction with its limits (arrays)."""
    mu, sigma = np.asarray(mu, float), np.asarray(sigma, float)
    n, oel = np.asarray(n, int), np.asarray(oel, float)
    z = float(special.ndtri(percentile))
    out: dict[str, np.ndarray] = {
        "gm": np.exp(mu),
        "gsd": np.exp(sigma),
        "p95": np.exp(mu + z * sigma),
        "am": np.exp(mu + 0.5 * sigma**2),
    }
    with np.errstate(divide="ignore", invalid="ignore"):
        u = (np.log(oel) - mu) / sigma
    # σ = 0: all results equal; F is 0 or 1.
    u = np.where(sigma == 0, np.where(np.log(oel) >= mu, np.inf, -np.inf), u)
    out["u"] = u
    out["exceedance_fraction"] = special.ndtr(-u)
    t_obs = np.sqrt(n) * u
    for g in confidences:
        k = k_factors(n, g, percentile)
        out[f"k_{g}"] = k
        out[f"utl_{g}"] = np.exp(mu + k * sigma)
        out[f"f_ucl_{g}"] = exceedance_limits(t_obs, n, g)
        out[f"f_lcl_{g}"] = exceedance_limits(t_obs, n, 1.0 - g)
    return out
