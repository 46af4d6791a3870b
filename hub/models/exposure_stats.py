"""Chemical and dust exposure: 8-hour TWA, mixtures, classes by multiples of the ПДК, and
lognormal statistics with the EN 689:2018 tests per similar-exposure group (SEG).

Sources (shared/domain/reference.md §5):

* ``TWA = Σ C_i·t_i / 8 h`` (§5.1, C);
* additive mixture ``I = Σ C_i / OEL_i``, compliant when I ≤ 1 — seed 002 B.3.3 ("the sum of
  the ratios of each measured value to its norm"), C;
* class of working conditions by K = C/ПДК — Mintrud order 33н Annex 2 [SOUT-33N] for
  chemicals (C) and Р 2.2.2006-05 Table 4.1 for fibrogenic dusts (S); tables in
  ``configs/models/chemical_classes.toml``;
* GM, GSD, P95, UTL95,γ, exceedance fraction and its limits, EN 689:2018 preliminary and
  statistical tests — see :mod:`hub.models._lognormal` (AIHA, EN 689:2018 [OHCS], V);
* values below the LOD: left-censored maximum likelihood (not zero, not LOD/2), §5.3 (D).

Everything is vectorised over groups (:func:`exposure_stats_batch`) so that 10,000 SEGs are
summarised in well under a second (bench/epi.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.models._config import load_table, thaw_table
from hub.models._lognormal import fit_groups, lognormal_summary
from hub.models.registry import ModelInputError, register

CONFIG_TABLE = "chemical_classes"

# Unit families we convert between; factor = value of 1 unit in the family's base unit.
_UNITS: dict[str, tuple[str, float]] = {
    "mg/m3": ("mass", 1.0), "mg/m³": ("mass", 1.0), "mg/m^3": ("mass", 1.0),
    "ug/m3": ("mass", 1e-3), "µg/m3": ("mass", 1e-3), "μg/m3": ("mass", 1e-3),
    "µg/m³": ("mass", 1e-3), "μg/m³": ("mass", 1e-3), "ug/m^3": ("mass", 1e-3),
    "ppm": ("volume", 1.0), "ppb": ("volume", 1e-3),
    "f/cm3": ("fibre", 1.0), "f/cm³": ("fibre", 1.0), "f/ml": ("fibre", 1.0),
}


def _config() -> dict[str, Any]:
    return thaw_table(load_table(CONFIG_TABLE))


def unit_factor(unit: str | None, target: str | None, field: str) -> float:
    """Factor converting a value in ``unit`` to ``target``; 1 when either is not given."""
    if unit is None or target is None or unit.strip() == target.strip():
        return 1.0
    a, b = _UNITS.get(unit.strip().lower()), _UNITS.get(target.strip().lower())
    if a is None or b is None or a[0] != b[0]:
        raise ModelInputError(field, f"unit {unit!r} cannot be converted to the limit's unit {target!r}")
    return a[1] / b[1]


# --------------------------------------------------------------------------- formulas


def twa_8h(concentrations: Sequence[float], hours: Sequence[float], reference_hours: float = 8.0) -> float:
    """8-hour time-weighted average ``Σ C_i·t_i / 8 h`` (unsampled time counts as zero)."""
    c = np.asarray(concentrations, dtype=float)
    t = np.asarray(hours, dtype=float)
    return float(np.sum(c * t) / reference_hours)


def mixture_index(concentrations: Sequence[float], limits: Sequence[float]) -> float:
    """Additive mixture index ``Σ C_i / OEL_i`` (seed 002 B.3.3)."""
    return float(np.sum(np.asarray(concentrations, float) / np.asarray(limits, float)))


def chemical_class(multiple: float, bands: Sequence[Mapping[str, Any]]) -> str:
    """Class of working conditions for K = C/ПДК; half-open bands ``lower < K ≤ upper``."""
    for band in bands:
        upper = band.get("upper")
        if upper is None or multiple <= float(upper):
            return str(band["class"])
    raise ValueError("class table has no open-ended last band")


def en689_preliminary(values: np.ndarray, censored: np.ndarray, oel: float, fractions: Mapping[str, float]) -> str:
    """EN 689:2018 preliminary test on 3–5 results (C [OHCS]).

    ``"compliant"`` if every result is below f·OEL (f = 0.10/0.15/0.20 for n = 3/4/5),
    ``"non_compliant"`` if any result is above the OEL, else ``"statistical_test_required"``.
    A censored result "< LOD" is below f·OEL only when LOD ≤ f·OEL; it is never "above the OEL".
    """
    frac = float(fractions[str(len(values))])
    below = np.where(censored, values <= frac * oel, values < frac * oel)
    if np.all(below):
        return "compliant"
    if np.any((~censored) & (values > oel)):
        return "non_compliant"
    return "statistical_test_required"


def exposure_stats_batch(
    values: Sequence[ArrayLike],
    censored: Sequence[ArrayLike],
    oels: Sequence[float],
    *,
    confidences: Sequence[float] = (0.70, 0.95),
    en689_confidence: float = 0.70,
    preliminary_fractions: Mapping[str, float] | None = None,
    statistical_min_n: int = 6,
    percentile: float = 0.95,
) -> dict[str, np.ndarray]:
    """Lognormal statistics and EN 689 verdicts for many SEGs at once (arrays, one per group).

    ``values[g]`` are positive results of group g in the unit of ``oels[g]``; for a censored
    result the value is its LOD. Returns the arrays of :func:`lognormal_summary` plus ``mu``,
    ``sigma``, ``n``, ``n_censored``, ``ok``, ``max`` and the EN 689 ``verdict``/``test``
    (object arrays of strings).
    """
    fractions = preliminary_fractions or {"3": 0.10, "4": 0.15, "5": 0.20}
    vals = [np.asarray(v, dtype=float) for v in values]
    cens = [np.asarray(c, dtype=bool) for c in censored]
    oel = np.asarray(oels, dtype=float)
    fit = fit_groups(vals, cens)
    confs = tuple(sorted({*map(float, confidences), float(en689_confidence)}))
    summary = lognormal_summary(fit["mu"], fit["sigma"], fit["n"], oel, confs, percentile)
    out: dict[str, Any] = {**fit, **summary}
    ok = fit["ok"]
    for arr in summary.values():
        arr[~ok] = np.nan
    out["max"] = np.array([float(v.max()) for v in vals])
    G = len(vals)
    verdict = np.empty(G, dtype=object)
    test = np.empty(G, dtype=object)
    utl = summary[f"utl_{float(en689_confidence)}"]
    n = fit["n"]
    for g in range(G):
        if n[g] < 3:
            test[g], verdict[g] = "none", "insufficient_data"
        elif n[g] < statistical_min_n:
            test[g] = "preliminary"
            verdict[g] = en689_preliminary(vals[g], cens[g], oel[g], fractions)
        else:
            test[g] = "statistical"
            if not ok[g]:
                verdict[g] = "insufficient_data"
            else:
                verdict[g] = "compliant" if utl[g] < oel[g] else "non_compliant"
    out["test"], out["verdict"] = test, verdict
    return out


# --------------------------------------------------------------------------- input schema


class Sample(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    value: float = Field(gt=0, description="result; for a result below the LOD, the LOD itself")
    unit: str | None = None
    below_lod: bool = Field(default=False, description="true: the result is '< value' (left-censored)")


class TwaSegment(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    concentration: float = Field(ge=0)
    hours: float = Field(ge=0, le=24)


class MixtureComponent(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    name: str | None = None
    concentration: float = Field(ge=0)
    oel: float = Field(gt=0)


class Group(BaseModel):
    """One similar-exposure group: its results, the limit and (optionally) the class group."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    name: str | None = None
    samples: list[Sample] = Field(min_length=1)
    oel: float = Field(gt=0, description="occupational exposure limit (ПДК), in `unit`")
    unit: str | None = None
    substance_group: str | None = Field(default=None, description="key of configs/models/chemical_classes.toml [groups]")


class ExposureStatsInput(BaseModel):
    """Input of ``exposure-stats``: one SEG at top level and/or ``groups``, ``segments``, ``mixture``."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    name: str | None = None
    samples: list[Sample] | None = Field(default=None, min_length=1)
    oel: float | None = Field(default=None, gt=0)
    unit: str | None = None
    substance_group: str | None = None
    confidence: float | None = Field(default=None, gt=0.5, lt=1, description="confidence of p95_ucl and F limits")
    groups: list[Group] | None = Field(default=None, min_length=1)
    segments: list[TwaSegment] | None = Field(default=None, min_length=1)
    mixture: list[MixtureComponent] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _something(self) -> "ExposureStatsInput":
        if not (self.samples or self.groups or self.segments or self.mixture):
            raise ValueError("give samples (with oel), groups, segments or mixture")
        if self.samples and self.oel is None:
            raise ValueError("oel is required with samples")
        return self


# --------------------------------------------------------------------------- model


def _num(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _group_arrays(group: Group, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    values, cens = [], []
    for i, s in enumerate(group.samples):
        values.append(s.value * unit_factor(s.unit, group.unit, f"{prefix}samples.{i}.unit"))
        cens.append(s.below_lod)
    return np.array(values), np.array(cens, dtype=bool)


def _class_bands(cfg: Mapping[str, Any], key: str | None, field: str) -> Sequence[Mapping[str, Any]] | None:
    if key is None:
        return None
    groups = cfg["groups"]
    if key not in groups:
        raise ModelInputError(field, f"unknown substance group {key!r}; known: {', '.join(sorted(groups))}")
    bands: Sequence[Mapping[str, Any]] = groups[key]["bands"]
    return bands


def _group_result(g: int, group: Group, stats: Mapping[str, np.ndarray], cfg: Mapping[str, Any],
                  confidence: float, confs: Sequence[float], en689_conf: float, prefix: str) -> dict[str, Any]:
    sc = cfg["statistics"]
    out: dict[str, Any] = {
        "name": group.name,
        "unit": group.unit,
        "oel": group.oel,
        "n": int(stats["n"][g]),
        "n_below_lod": int(stats["n_censored"][g]),
        "fit_method": "censored_mle" if stats["censored_fit"][g] else "sample_moments",
        "statistics_defined": bool(stats["ok"][g]),
        "mu_log": _num(stats["mu"][g]),
        "sigma_log": _num(stats["sigma"][g]),
        "gm": _num(stats["gm"][g]),
        "gsd": _num(stats["gsd"][g]),
        "am": _num(stats["am"][g]),
        "p95": _num(stats["p95"][g]),
        "p95_ucl": _num(stats[f"utl_{confidence}"][g]),
        "p95_ucl_confidence": confidence,
        "exceedance_fraction": _num(stats["exceedance_fraction"][g]),
        "exceedance_fraction_lcl": _num(stats[f"f_lcl_{confidence}"][g]),
        "exceedance_fraction_ucl": _num(stats[f"f_ucl_{confidence}"][g]),
        "limits": [
            {"confidence": c, "k": _num(stats[f"k_{c}"][g]), "p95_utl": _num(stats[f"utl_{c}"][g]),
             "exceedance_fraction_lcl": _num(stats[f"f_lcl_{c}"][g]),
             "exceedance_fraction_ucl": _num(stats[f"f_ucl_{c}"][g])}
            for c in confs
        ],
        "max": float(stats["max"][g]),
    }
    if not stats["ok"][g]:
        out["note"] = ("fewer than two distinct detected results: lognormal statistics are not defined"
                       if stats["n_censored"][g] else "at least two results are needed for lognormal statistics")
    en = {
        "test": str(stats["test"][g]),
        "verdict": str(stats["verdict"][g]),
        "confidence": en689_conf,
    }
    if en["test"] == "statistical" and stats["ok"][g]:
        en.update({"utl95": _num(stats[f"utl_{en689_conf}"][g]), "k": _num(stats[f"k_{en689_conf}"][g]),
                   "u": _num(stats["u"][g])})
    if en["test"] == "preliminary":
        en["threshold_fraction"] = float(sc["preliminary_fractions"][str(out["n"])])
    out["en689"] = en
    out["en689_verdict"] = en["verdict"]
    bands = _class_bands(cfg, group.substance_group, f"{prefix}substance_group")
    if bands is not None:
        basis = sc["class_basis"]
        value = {"max": out["max"], "am": out["am"], "p95": out["p95"]}[basis]
        if value is not None:
            k = value / group.oel
            out.update({"class": chemical_class(k, bands), "class_basis": basis, "oel_multiple": k,
                        "class_source": cfg["groups"][group.substance_group]["source"]})
    return out


@register("exposure-stats", ExposureStatsInput)
def exposure_stats(data: ExposureStatsInput) -> dict[str, Any]:
    """Chemicals/dust: TWA, mixture Σ C/OEL, class by ПДК multiple, lognormal SEG stats, EN 689 tests."""
    cfg = _config()
    sc = cfg["statistics"]
    confidence = float(data.confidence or 0.95)
    en689_conf = float(sc["en689_confidence"])
    confs = tuple(sorted({*map(float, sc["confidences"]), confidence, en689_conf}))
    result: dict[str, Any] = {
        "method": ("lognormal; ln-scale mean and SD (n−1) without censoring, left-censored maximum likelihood "
                   "with values below the LOD; UTL and exceedance limits from the non-central t (EN 689:2018, AIHA)"),
    }

    groups: list[tuple[Group, str]] = []
    if data.samples:
        assert data.oel is not None  # the input validator requires oel with samples
        groups.append((Group(name=data.name, samples=data.samples, oel=data.oel, unit=data.unit,
                             substance_group=data.substance_group), ""))
    for i, g in enumerate(data.groups or []):
        groups.append((g, f"groups.{i}."))
    if groups:
        arrays = [_group_arrays(g, p) for g, p in groups]
        stats = exposure_stats_batch(
            [a[0] for a in arrays], [a[1] for a in arrays], [g.oel for g, _ in groups],
            confidences=confs, en689_confidence=en689_conf,
            preliminary_fractions=sc["preliminary_fractions"],
            statistical_min_n=int(sc["statistical_min_n"]), percentile=float(sc["percentile"]),
        )
        outs = [
            _group_result(i, g, stats, cfg, confidence, confs, en689_conf, p)
            for i, (g, p) in enumerate(groups)
        ]
        if data.samples:
            top = outs.pop(0)
            result.update(top)
        if data.groups:
            result["groups"] = outs

    if data.segments:
        hours = [s.hours for s in data.segments]
        if sum(hours) > 24:  # issue 13, error 6: the segments of one shift cannot exceed a day
            raise ModelInputError("segments", f"the segments add up to {sum(hours):g} hours; one shift has at most 24")
        twa = twa_8h([s.concentration for s in data.segments], hours, float(sc["reference_hours"]))
        entry: dict[str, Any] = {"value": twa, "sampled_hours": float(sum(hours)), "unit": data.unit}
        if data.oel is not None:
            entry["oel_multiple"] = twa / data.oel
            bands = _class_bands(cfg, data.substance_group, "substance_group")
            if bands is not None:
                entry["class"] = chemical_class(twa / data.oel, bands)
        result["twa_8h"] = entry

    if data.mixture:
        ratios = [m.concentration / m.oel for m in data.mixture]
        index = float(sum(ratios))
        result["mixture"] = {
            "index": index,
            "exceeds": index > 1.0,
            "components": [{"name": m.name, "ratio": r} for m, r in zip(data.mixture, ratios, strict=True)],
            "rule": "Σ C_i / OEL_i ≤ 1 (seed 002 B.3.3)",
        }
    return result
