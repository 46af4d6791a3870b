"""Benchmark of the epidemiology and exposure models (issue 7).

Prints the wall time for
* Rt (Cori et al. 2013 / EpiEstim defaults, parametric SI 4.8/2.3, weekly windows; posterior
  mean, sd, median and the 95 % credible interval) over 5 years
  of daily counts for 100 sites — target < 1 s;
* lognormal exposure statistics with the EN 689 tests over 10,000 similar-exposure groups
  (6–30 results each, 20 % of the groups with values below the LOD) — target < 5 s.

Run: ``.venv/bin/python bench/epi.py``
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hub.models.exposure_stats import exposure_stats_batch  # noqa: E402
from hub.models.rt import cori_rt, discr_si  # noqa: E402


def bench_rt(sites: int = 100, days: int = 5 * 365 + 1, repeat: int = 3) -> float:
    rng = np.random.default_rng(0)
    t = np.arange(days)
    level = 20 * (1.2 + np.sin(2 * np.pi * t / 365.25))[None, :] * rng.uniform(0.5, 2.0, (sites, 1))
    incidence = rng.poisson(level).astype(float)
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        w = discr_si(np.arange(days), 4.8, 2.3)
        t_end = np.arange(8, days + 1)
        res = cori_rt(incidence, w, t_end - 6, t_end, quantiles=(0.025, 0.5, 0.975))
        lower = res["q0.025"]
        alarm = (lower[:, 1:] > 1) & (lower[:, :-1] > 1)  # early-warning rule, vectorised
        best = min(best, time.perf_counter() - start)
    assert np.all(np.isfinite(res["mean"])) and alarm.shape[0] == sites
    print(f"rt: {sites} sites x {days} days ({res['mean'].size:,} windows): {best:.3f} s (target < 1 s)")
    return best


def bench_exposure(groups: int = 10_000, repeat: int = 3) -> float:
    rng = np.random.default_rng(1)
    n = rng.integers(6, 31, groups)
    values, censored, oels = [], [], []
    for g in range(groups):
        x = rng.lognormal(rng.uniform(0, 3), rng.uniform(0.3, 1.5), n[g])
        c = np.zeros(n[g], bool)
        if g % 5 == 0:  # 20 % of the groups have results below a detection limit
            lod = np.quantile(x, 0.25)
            c = x < lod
            x = np.where(c, lod, x)
        values.append(x)
        censored.append(c)
        oels.append(float(rng.uniform(5, 100)))
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        res = exposure_stats_batch(values, censored, oels, confidences=(0.70, 0.95))
        best = min(best, time.perf_counter() - start)
    ok = int(res["ok"].sum())
    print(f"exposure-stats: {groups:,} groups ({int(n.sum()):,} results, {groups // 5:,} with censored values, "
          f"{ok:,} fitted): {best:.3f} s (target < 5 s)")
    return best


if __name__ == "__main__":
    rt_time = bench_rt()
    ex_time = bench_exposure()
    sys.exit(0 if rt_time < 1 and ex_time < 5 else 1)
