"""Plausible per-worker values for a working population (pure; seeded numpy Generator).

Reused by every device simulator (serial, Modbus, BLE) and the fleet/kiosk simulators.
All functions take an explicit ``numpy.random.Generator`` and have no other state, so a
seed reproduces a run exactly.

Sources and grades (D = our modelling choice, to be replaced by site data):

- Blood pressure rises with age; adult means ≈ 120/78 mmHg at 20–29 rising to ≈ 138/84 at
  60+ with SD ≈ 14/9 are in line with population surveys (ESSE-RF, NHANES) — **D**
  approximations, not fitted tables. A share ``hypertensive_share`` of workers carries
  +20/+10 mmHg.
- Body temperature: afebrile 36.6 ± 0.25 °C; ``febrile_share`` of workers 37.6–39.0 °C
  (fever ≥ 37.5 °C is a common admission limit; check the site's rule set) — **D**.
- SpO2 97 ± 1 % capped at 100; pulse 72 ± 10 /min — **D**.
- Breath alcohol (devices.md §3.2): sober workers read 0.000 mg/L (a small share show
  residual 0.01–0.05 mg/L); ``intoxicated_share`` of workers read lognormal around
  0.35 mg/L (0.16 mg/L is the Russian threshold cited in §3.2), clipped to 0.05–1.5 mg/L.
- Noise: shop-floor Leq 75–95 dB(A), offices 45–60 dB(A) — **D**.
- PM2.5 indoor industrial 5–60 µg/m³ lognormal; PM1.0 ≈ 0.65 × PM2.5, PM10 ≈ 1.3 × PM2.5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_INTOXICATED_SHARE = 0.03
DEFAULT_FEBRILE_SHARE = 0.01
DEFAULT_HYPERTENSIVE_SHARE = 0.15


def rng_from(seed: int | None) -> np.random.Generator:
    return np.random.default_rng(seed)


@dataclass(frozen=True)
class Worker:
    worker_id: str
    badge_em: int  # 32-bit EM-Marine card number
    age: int
    sex: str  # "M" / "F"
    intoxicated: bool
    febrile: bool
    hypertensive: bool

    @property
    def badge_decimal10(self) -> str:
        return f"{self.badge_em:010d}"


def sample_worker(
    rng: np.random.Generator,
    index: int = 0,
    intoxicated_share: float = DEFAULT_INTOXICATED_SHARE,
    febrile_share: float = DEFAULT_FEBRILE_SHARE,
    hypertensive_share: float = DEFAULT_HYPERTENSIVE_SHARE,
) -> Worker:
    age = int(np.clip(rng.normal(41, 11), 18, 67))
    return Worker(
        worker_id=f"W{index:05d}",
        badge_em=int(rng.integers(1, 0xFFFFFFFF)),
        age=age,
        sex="M" if rng.random() < 0.7 else "F",
        intoxicated=bool(rng.random() < intoxicated_share),
        febrile=bool(rng.random() < febrile_share),
        hypertensive=bool(rng.random() < hypertensive_share + 0.004 * max(0, age - 40)),
    )


def population(rng: np.random.Generator, n: int, **shares: float) -> list[Worker]:
    return [sample_worker(rng, i, **shares) for i in range(n)]


def sample_brac_mg_l(rng: np.random.Generator, intoxicated: bool) -> float:
    """BrAC in mg/L, 3 decimals (devices.md §3.2)."""
    if intoxicated:
        v = float(np.clip(rng.lognormal(np.log(0.35), 0.6), 0.05, 1.5))
    elif rng.random() < 0.02:
        v = float(rng.uniform(0.01, 0.05))
    else:
        v = 0.0
    return round(v, 3)


def sample_bp(rng: np.random.Generator, age: int, sex: str = "M", hypertensive: bool = False) -> tuple[int, int, int]:
    """(systolic, diastolic, pulse) in mmHg / bpm."""
    sys_mu = 112 + 0.45 * (age - 20) + (4 if sex == "M" else 0) + (20 if hypertensive else 0)
    dia_mu = 74 + 0.2 * (age - 20) + (2 if sex == "M" else 0) + (10 if hypertensive else 0)
    s = int(round(np.clip(rng.normal(sys_mu, 14), 85, 220)))
    d = int(round(np.clip(rng.normal(dia_mu, 9), 50, min(130, s - 15))))
    p = int(round(np.clip(rng.normal(72, 10), 45, 140)))
    return s, d, p


def sample_temperature_c(rng: np.random.Generator, febrile: bool) -> float:
    if febrile:
        return round(float(rng.uniform(37.6, 39.0)), 1)
    return round(float(np.clip(rng.normal(36.6, 0.25), 35.8, 37.3)), 1)


def sample_spo2(rng: np.random.Generator) -> int:
    return int(np.clip(round(rng.normal(97, 1)), 90, 100))


def sample_noise_dba(rng: np.random.Generator, zone: str = "shop") -> float:
    mu, sd = (85.0, 5.0) if zone == "shop" else (52.0, 4.0)
    return round(float(np.clip(rng.normal(mu, sd), 30, 125)), 1)


def sample_pm_ugm3(rng: np.random.Generator) -> tuple[int, int, int]:
    """(PM1.0, PM2.5, PM10) atmospheric µg/m³, ordered PM1.0 ≤ PM2.5 ≤ PM10."""
    pm25 = float(np.clip(rng.lognormal(np.log(15), 0.6), 1, 400))
    pm1 = pm25 * rng.uniform(0.55, 0.8)
    pm10 = pm25 * rng.uniform(1.1, 1.6)
    return int(round(pm1)), int(round(pm25)), int(round(pm10))


def sample_breath(rng: np.random.Generator) -> tuple[float, float, float]:
    """(volume L, duration s, breath temperature °C) of a good blow; ≥ 1.2 L (§3.3)."""
    return (
        round(float(rng.uniform(1.25, 2.5)), 2),
        round(float(rng.uniform(3.5, 6.0)), 1),
        round(float(rng.normal(34.0, 0.6)), 1),
    )
