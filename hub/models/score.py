"""Original SCORE (Conroy et al. 2003): 10-year risk of fatal CVD; relative risk for workers under 40.

Sources (``configs/models/score.toml``; ``shared/domain/reference.md`` §2.4):

* seed 000 §2.3.1.5 and seed 002 fig. Б.7 name SCORE (the fatal-CVD risk; seed 002's
  "sudden cardiac death" is a loose label, reference.md §0.9);
* Conroy RM et al., Eur Heart J 2003;24:987-1003 [CONROY]: Weibull baselines per sex,
  region and outcome (CHD, non-CHD CVD), coefficients for smoking, total cholesterol and
  SBP; the high-risk region's parameters for Russia;
* the ESC chart conventions (ages 40-65, SBP 120-180, TC 4-8 mmol/L) and the relative-risk
  chart for young people, computed here from the same equations (grade M for the printed
  figures; docs/models/score.md).

Ages 40-65 get the absolute risk with its category and chart cell; ages 18-39 get the
relative risk against a non-smoker with SBP 120 mmHg and TC 4 mmol/L (the relative chart's
reference cell), evaluated at the youngest age of the equations. SCORE2 / SCORE2-OP stay in
``score2``; older workers are refused here with a pointer to it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.models._config import load_table
from hub.models.registry import ModelInputError, register

OUTCOMES = ("chd", "non_chd")


class ScoreInput(BaseModel):
    """Input of ``score`` (same field names as ``score2``)."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    sex: Literal["male", "female"]
    age: float = Field(description="age in years: 40-65 absolute risk, 18-39 relative risk")
    smoker: bool = Field(description="current smoker")
    systolic_mmhg: float
    total_cholesterol_mmol_l: float
    region: Literal["high", "low"] | None = Field(default=None, description="SCORE chart; default high (Russia)")
    include_chart: bool = Field(default=False, description="also return the whole chart for this sex")


def _table() -> Mapping[str, Any]:
    return load_table("score")


def outcome_risks(sex: str, region: str, age: float, smoker: bool, sbp: float, tc: float,
                  table: Mapping[str, Any]) -> dict[str, float]:
    """10-year risk (fraction) of fatal CHD and of fatal non-CHD CVD [CONROY]."""
    out = {}
    for outcome in OUTCOMES:
        alpha, p = table["baseline"][region][sex][outcome]
        b = table["coefficients"][outcome]
        w = b["smoker"] * float(smoker) + b["cholesterol"] * (tc - 6.0) + b["sbp"] * (sbp - 120.0)
        s_now, s_later = (math.exp(-math.exp(alpha) * (a - 20.0) ** p) ** math.exp(w) for a in (age, age + 10.0))
        out[outcome] = 1.0 - s_later / s_now
    return out


def fatal_cvd_risk(sex: str, region: str, age: float, smoker: bool, sbp: float, tc: float,
                   table: Mapping[str, Any] | None = None) -> float:
    """10-year fatal CVD risk in percent, combined as configured (``sum`` per Conroy, or ``product``)."""
    table = table or _table()
    r = outcome_risks(sex, region, age, smoker, sbp, tc, table)
    if table["combination"] == "product":
        return 100.0 * (1.0 - (1.0 - r["chd"]) * (1.0 - r["non_chd"]))
    return 100.0 * (r["chd"] + r["non_chd"])


def category(risk_percent: float, table: Mapping[str, Any]) -> str:
    c = table["categories"]
    if risk_percent >= c["very_high"]:
        return "very_high"
    if risk_percent >= c["high"]:
        return "high"
    return "moderate" if risk_percent >= c["moderate"] else "low"


def relative_risk(sex: str, region: str, smoker: bool, sbp: float, tc: float, table: Mapping[str, Any]) -> float:
    """Risk of the profile over the reference cell's risk, both at ``relative_reference_age``."""
    age = float(table["relative_reference_age"])
    ref = table["relative_reference"]
    base = fatal_cvd_risk(sex, region, age, ref["smoker"], ref["systolic_mmhg"], ref["total_cholesterol_mmol_l"], table)
    return fatal_cvd_risk(sex, region, age, smoker, sbp, tc, table) / base


def _nearest(value: float, grid: list[float]) -> float:
    return min(grid, key=lambda g: (abs(g - value), g))


def chart(sex: str, region: str, table: Mapping[str, Any], relative: bool) -> dict[str, Any]:
    """The chart for one sex: rounded percent (absolute) or rounded relative risk per cell."""
    grid = table["chart"]
    sbps, tcs = list(grid["systolic_mmhg"]), list(grid["total_cholesterol_mmol_l"])
    out: dict[str, Any] = {"systolic_mmhg": sbps, "total_cholesterol_mmol_l": tcs}
    for smoker in (False, True):
        key = "smoker" if smoker else "non_smoker"
        if relative:
            out[key] = [[round(relative_risk(sex, region, smoker, s, c, table)) for c in tcs] for s in sbps]
        else:
            out[key] = {str(a): [[round(fatal_cvd_risk(sex, region, a, smoker, s, c, table)) for c in tcs] for s in sbps]
                        for a in grid["ages"]}
    return out


def _check(data: ScoreInput, table: Mapping[str, Any]) -> None:
    lim = table["plausibility"]
    if not lim["sbp_min"] <= data.systolic_mmhg <= lim["sbp_max"]:
        raise ModelInputError("systolic_mmhg", f"{data.systolic_mmhg:g} mmHg is not a possible systolic pressure "
                                               f"(accepted {lim['sbp_min']:g}-{lim['sbp_max']:g})")
    tc = data.total_cholesterol_mmol_l
    if not lim["tc_min"] <= tc <= lim["tc_max"]:
        hint = (f"; it looks like mg/dL - in mmol/L that is {tc / lim['mg_dl_per_mmol_l']:.2f}"
                if tc > lim["tc_max"] and lim["tc_min"] <= tc / lim["mg_dl_per_mmol_l"] <= lim["tc_max"] else "")
        raise ModelInputError("total_cholesterol_mmol_l",
                              f"{tc:g} is not a possible total cholesterol in mmol/L "
                              f"(accepted {lim['tc_min']:g}-{lim['tc_max']:g}){hint}")
    if not table["age_min_relative"] <= data.age <= table["age_max_absolute"]:
        raise ModelInputError("age", f"{data.age:g} years: SCORE covers {table['age_min_relative']}-39 (relative risk) "
                                     f"and {table['age_min_absolute']}-{table['age_max_absolute']} (absolute risk); "
                                     "for older workers use the 'score2' model (SCORE2 / SCORE2-OP)")


@register("score", ScoreInput)
def score(data: ScoreInput) -> dict[str, Any]:
    """Original SCORE: 10-year fatal CVD risk (high-risk chart), relative risk for workers under 40."""
    table = _table()
    _check(data, table)
    region = data.region or table["default_region"]
    args: tuple[str, str] = (data.sex, region)
    values = (data.smoker, data.systolic_mmhg, data.total_cholesterol_mmol_l)
    result: dict[str, Any] = {"model": "SCORE (Conroy 2003)", "region": region, "sex": data.sex, "age": data.age,
                              "source": "Conroy RM et al. Eur Heart J 2003;24:987-1003; seed 000 §2.3.1.5, "
                                        "seed 002 fig. Б.7; configs/models/score.toml"}
    if data.age < table["age_min_absolute"]:
        rr = relative_risk(*(args + values), table)
        raised = rr > table["relative"]["raised_above"]
        result.update({
            "kind": "relative",
            "relative_risk": rr,
            "relative_risk_rounded": round(rr, 1),
            "relative_to": dict(table["relative_reference"]),
            "raised": raised,
            "label": dict(table["relative"]["labels"]["raised" if raised else "low"]),
            "note": "under 40 the absolute 10-year risk is low whatever the profile; the relative risk shows how many "
                    "times higher it is than with no risk factors (ESC relative-risk chart)",
        })
    else:
        r = outcome_risks(*(args + (data.age,) + values), table)
        risk = fatal_cvd_risk(*(args + (data.age,) + values), table)
        cat = category(risk, table)
        grid = table["chart"]
        cell = (_nearest(data.age, list(grid["ages"])), _nearest(data.systolic_mmhg, list(grid["systolic_mmhg"])),
                _nearest(data.total_cholesterol_mmol_l, list(grid["total_cholesterol_mmol_l"])))
        result.update({
            "kind": "absolute",
            "risk_percent": risk,
            "risk_percent_rounded": round(risk, 1),
            "chd_risk_percent": 100.0 * r["chd"],
            "non_chd_risk_percent": 100.0 * r["non_chd"],
            "combination": table["combination"],
            "category": cat,
            "category_label": dict(table["category_labels"][cat]),
            "chart_cell": {"age": cell[0], "systolic_mmhg": cell[1], "total_cholesterol_mmol_l": cell[2],
                           "risk_percent": round(fatal_cvd_risk(*args, cell[0], data.smoker, cell[1], cell[2], table))},
        })
    if data.include_chart:
        result["chart"] = chart(data.sex, region, table, relative=data.age < table["age_min_absolute"])
    return result
