"""Quantitative risk formulas of seed 002 annex B.3.3 (digest 2.4).

Source: seed 002 - draft ГОСТ Р "Guide to assessing risks to workers' health":

* B.3.3.1 expected damage ``R = Σ p_i · U_i`` over adverse incidents i;
* B.3.3.1 several factors in one zone: within each group of factors (physical, chemical,
  ...) the sum of the ratios of each measured value to its norm ``Σ C_i / N_i``; the
  organisation may set stricter reference values (a lower limit);
* B.3.3.1 non-carcinogens: threshold, reference values → hazard quotient
  ``HQ = exposure / reference``; the seed literally says "product of the lifetime average
  dose and the reference value", read as the standard ratio (US EPA RAGS, Р 2.1.10.1920-04)
  since a product of a dose and a reference level has no meaning as a probability; the
  hazard index ``HI`` adds HQs acting on the same target organ;
* B.3.3.1 carcinogens: no threshold; lifetime probability = unit risk (inhalation) or
  slope factor (oral/dermal) × lifetime average concentration/dose; probabilities add up
  for factors acting on the same target;
* B.3.3.2 risk characterisation ratio ``RCR = P / P_safe`` (DNEL threshold effects, DMEL
  non-threshold); ``RCR < 1`` controlled, otherwise not adequately controlled (``RCR = 1``
  counts as not controlled by default - the seed's text is garbled there; configurable);
* B.3.3.3 incident probability with chemicals, individual ``P_i = n_i / L``;
* B.3.3.3 group risk per 1,000 workers from ``m_i^before``, ``m_i^after`` and ``L``: the
  formula is an image in the seed; the digest's natural reading
  ``1000 · (m_after − m_before) / L`` is used and reported with the result.

Optional lifetime averaging (design default; US EPA convention): a concentration with an
exposure pattern gives ``LADC = C · (h/24) · (d/365) · (years/lifetime)``, lifetime 70 y.
Thresholds and bands are in ``configs/models/quantitative.toml``.
"""

from __future__ import annotations

import math
from typing import Any, Literal, Mapping

import numpy as np
from numpy.typing import ArrayLike
from pydantic import BaseModel, ConfigDict, Field

from hub.models._config import load_table
from hub.models.registry import ModelInputError, register


class _Strict(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")



class Incident(_Strict):
    name: str
    probability: float = Field(ge=0, le=1, allow_inf_nan=False)
    damage: float = Field(ge=0, allow_inf_nan=False, description="damage U_i (money, days lost, ...)")


class Ratio(_Strict):
    name: str
    value: float = Field(ge=0, allow_inf_nan=False, description="measured value C_i")
    norm: float = Field(gt=0, allow_inf_nan=False, description="hygienic norm N_i (same units)")


class FactorGroup(_Strict):
    group: str = Field(description="group of factors: chemical, physical, ...")
    factors: list[Ratio] = Field(min_length=1)
    limit: float | None = Field(default=None, gt=0, description="stricter limit of the organisation")


class ExposurePattern(_Strict):
    hours_per_day: float = Field(gt=0, le=24)
    days_per_year: float = Field(gt=0, le=366)
    years: float = Field(gt=0, le=100)
    lifetime_years: float | None = Field(default=None, gt=0, le=120)


class Carcinogen(_Strict):
    name: str
    target: str = Field(description="target organ / system; risks add up within a target")
    route: Literal["inhalation", "oral", "dermal"]
    unit_risk: float | None = Field(default=None, ge=0, allow_inf_nan=False, description="inhalation, per unit concentration")
    slope_factor: float | None = Field(default=None, ge=0, allow_inf_nan=False, description="oral/dermal, per unit dose")
    lifetime_average: float | None = Field(default=None, ge=0, allow_inf_nan=False, description="lifetime average concentration/dose")
    concentration: float | None = Field(default=None, ge=0, allow_inf_nan=False, description="exposure-time concentration/dose")
    exposure: ExposurePattern | None = None


class NonCarcinogen(_Strict):
    name: str
    target: str = Field(description="target organ / system; HQs add up into the hazard index")
    exposure: float = Field(ge=0, allow_inf_nan=False)
    reference: float = Field(gt=0, allow_inf_nan=False, description="reference concentration/dose (hygienic norm)")


class RcrItem(_Strict):
    name: str
    exposure: float = Field(ge=0, allow_inf_nan=False, description="exposure P")
    dnel: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    dmel: float | None = Field(default=None, gt=0, allow_inf_nan=False)


class IncidentProbability(_Strict):
    group: str = Field(description="chemical hazard group i")
    victims: int = Field(ge=0, description="n_i, victims (or deaths) over the period")
    workers_in_contact: int = Field(gt=0, description="L, workers in contact with group i")


class GroupRisk(_Strict):
    group: str
    m_before: int = Field(ge=0, description="workers with the typical health problems before the incident")
    m_after: int = Field(ge=0, description="the same after the incident")
    workers: int = Field(gt=0, description="L, workers in the organisation")


class QuantitativeInput(_Strict):
    incidents: list[Incident] = Field(default_factory=list)
    factor_groups: list[FactorGroup] = Field(default_factory=list)
    carcinogens: list[Carcinogen] = Field(default_factory=list)
    non_carcinogens: list[NonCarcinogen] = Field(default_factory=list)
    rcr: list[RcrItem] = Field(default_factory=list)
    incident_probability: list[IncidentProbability] = Field(default_factory=list)
    group_risk: list[GroupRisk] = Field(default_factory=list)


def _table() -> Mapping[str, Any]:
    return load_table("quantitative")


def expected_damage(probabilities: ArrayLike, damages: ArrayLike) -> float:
    """``R = Σ p_i · U_i`` (seed 002 B.3.3.1)."""
    return float(np.dot(np.asarray(probabilities, dtype=float), np.asarray(damages, dtype=float)))


def sum_of_ratios(values: ArrayLike, norms: ArrayLike) -> float:
    """``Σ C_i / N_i`` within one group of factors (seed 002 B.3.3.1)."""
    return float(np.sum(np.asarray(values, dtype=float) / np.asarray(norms, dtype=float)))


def cancer_band(risk: float, table: Mapping[str, Any] | None = None) -> str:
    table = table or _table()
    bands = table["carcinogenic"]["bands"]
    level: str = next((band["level"] for band in bands if risk <= band["upper"]), bands[-1]["level"])
    return level


def _lifetime_average(item: Carcinogen, where: str, table: Mapping[str, Any]) -> tuple[float, str]:
    if item.lifetime_average is not None:
        if item.concentration is not None or item.exposure is not None:
            raise ModelInputError(f"{where}.lifetime_average", "give either lifetime_average or concentration with exposure, not both")
        return item.lifetime_average, "given"
    if item.concentration is None or item.exposure is None:
        raise ModelInputError(f"{where}.lifetime_average", "required (or give concentration and exposure)")
    pattern = item.exposure
    lifetime = pattern.lifetime_years or table["carcinogenic"]["lifetime_years"]
    if pattern.years > lifetime:
        raise ModelInputError(f"{where}.exposure.years", f"{pattern.years:g} years of exposure exceed the lifetime {lifetime:g}")
    value = item.concentration * (pattern.hours_per_day / 24.0) * (pattern.days_per_year / 365.0) * (pattern.years / lifetime)
    return value, f"C·(h/24)·(d/365)·(years/{lifetime:g})"


@register("quantitative-risk", QuantitativeInput)
def quantitative_risk(data: QuantitativeInput) -> dict[str, Any]:
    """Quantitative risk of seed 002 B.3.3: expected damage, Σ C/N, cancer risk, HQ, RCR, n/L, per 1,000."""
    table = _table()
    if not any((data.incidents, data.factor_groups, data.carcinogens, data.non_carcinogens, data.rcr, data.incident_probability, data.group_risk)):
        raise ModelInputError(
            "(input)",
            "give at least one of incidents, factor_groups, carcinogens, non_carcinogens, rcr, incident_probability, group_risk",
        )
    result: dict[str, Any] = {"source": "seed 002 (ГОСТ Р draft) annex B.3.3.1-B.3.3.3"}

    if data.incidents:
        contributions = [item.probability * item.damage for item in data.incidents]
        result["expected_damage"] = {
            "value": expected_damage([i.probability for i in data.incidents], [i.damage for i in data.incidents]),
            "contributions": [{"name": i.name, "p": i.probability, "damage": i.damage, "p_times_damage": c} for i, c in zip(data.incidents, contributions, strict=True)],
            "formula": "R = Σ p_i · U_i",
        }

    if data.factor_groups:
        default_limit = float(table["sum_of_ratios"]["limit"])
        groups = []
        for g, group in enumerate(data.factor_groups):
            limit = default_limit if group.limit is None else group.limit
            if limit > default_limit:
                raise ModelInputError(f"factor_groups.{g}.limit", f"{limit:g} is laxer than the hygienic limit {default_limit:g}; only stricter limits are allowed")
            ratios = [f.value / f.norm for f in group.factors]
            total = float(sum(ratios))
            groups.append(
                {
                    "group": group.group,
                    "sum_of_ratios": total,
                    "limit": limit,
                    "exceeds": total > limit,
                    "ratios": [{"name": f.name, "ratio": r} for f, r in zip(group.factors, ratios, strict=True)],
                }
            )
        result["sum_of_ratios"] = {"groups": groups, "formula": "Σ C_i / N_i within each group of factors"}

    if data.carcinogens:
        items = []
        by_target: dict[str, float] = {}
        for c, item in enumerate(data.carcinogens):
            where = f"carcinogens.{c}"
            if item.route == "inhalation":
                if item.unit_risk is None or item.slope_factor is not None:
                    raise ModelInputError(f"{where}.unit_risk", "inhalation carcinogens take a unit_risk (and no slope_factor)")
                potency, kind = item.unit_risk, "unit_risk"
            else:
                if item.slope_factor is None or item.unit_risk is not None:
                    raise ModelInputError(f"{where}.slope_factor", f"{item.route} carcinogens take a slope_factor (and no unit_risk)")
                potency, kind = item.slope_factor, "slope_factor"
            average, how = _lifetime_average(item, where, table)
            risk = potency * average
            by_target[item.target] = by_target.get(item.target, 0.0) + risk
            items.append({"name": item.name, "target": item.target, "route": item.route, kind: potency, "lifetime_average": average, "lifetime_average_from": how, "risk": risk, "band": cancer_band(risk, table)})
        total = float(sum(by_target.values()))
        result["carcinogenic"] = {
            "items": items,
            "by_target": {t: {"risk": r, "band": cancer_band(r, table)} for t, r in by_target.items()},
            "max_target_risk": max(by_target.values()),
            "sum_all_targets": total,
            "formula": "risk = unit risk (inhalation) or slope factor (oral/dermal) × lifetime average; additive within a target",
            "bands_source": "Р 2.1.10.1920-04 bands as recalled (grade M), design default",
        }

    if data.non_carcinogens:
        limit = float(table["hazard_quotient"]["limit"])
        items = []
        index: dict[str, float] = {}
        for nc in data.non_carcinogens:
            hq = nc.exposure / nc.reference
            index[nc.target] = index.get(nc.target, 0.0) + hq
            items.append({"name": nc.name, "target": nc.target, "hazard_quotient": hq, "acceptable": hq <= limit})
        result["non_carcinogenic"] = {
            "items": items,
            "hazard_index": {t: {"value": v, "acceptable": v <= limit} for t, v in index.items()},
            "limit": limit,
            "formula": "HQ = exposure / reference; HI = Σ HQ per target",
        }

    if data.rcr:
        equal_ok = bool(table["rcr"]["equal_one_is_controlled"])
        items = []
        for r, rc in enumerate(data.rcr):
            if (rc.dnel is None) == (rc.dmel is None):
                raise ModelInputError(f"rcr.{r}.dnel", "give exactly one of dnel (threshold effect) or dmel (non-threshold effect)")
            if rc.dnel is not None:
                safe, basis = rc.dnel, "DNEL"
            else:
                assert rc.dmel is not None  # exactly one of dnel and dmel (checked just above)
                safe, basis = rc.dmel, "DMEL"
            ratio = rc.exposure / safe
            controlled = ratio < 1 or (equal_ok and math.isclose(ratio, 1.0))
            items.append(
                {
                    "name": rc.name,
                    "basis": basis,
                    "rcr": ratio,
                    "controlled": controlled,
                    "verdict": "risk adequately controlled" if controlled else "not adequately controlled: detailed assessment and measures needed",
                }
            )
        result["rcr"] = {"items": items, "formula": "RCR = P / P_safe (DNEL or DMEL)"}

    if data.incident_probability:
        items = []
        for k, ip in enumerate(data.incident_probability):
            if ip.victims > ip.workers_in_contact:
                raise ModelInputError(f"incident_probability.{k}.victims", f"{ip.victims} victims exceed the {ip.workers_in_contact} workers in contact")
            items.append({"group": ip.group, "probability": ip.victims / ip.workers_in_contact, "victims": ip.victims, "workers_in_contact": ip.workers_in_contact})
        result["incident_probability"] = {"items": items, "formula": "P_i = n_i / L"}

    if data.group_risk:
        items = []
        for k, gr in enumerate(data.group_risk):
            for name in ("m_before", "m_after"):
                if getattr(gr, name) > gr.workers:
                    raise ModelInputError(f"group_risk.{k}.{name}", f"{getattr(gr, name)} exceeds the {gr.workers} workers")
            items.append(
                {
                    "group": gr.group,
                    "per_1000": 1000.0 * (gr.m_after - gr.m_before) / gr.workers,
                    "m_before": gr.m_before,
                    "m_after": gr.m_after,
                    "workers": gr.workers,
                }
            )
        result["group_risk"] = {
            "items": items,
            "formula": "1000 · (m_after − m_before) / L",
            "note": "the seed prints this formula as an image; this is the digest's reading (digest 2.4)",
        }
    return result
