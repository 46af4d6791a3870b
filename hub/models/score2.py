"""SCORE2 / SCORE2-OP: 10-year risk of fatal and non-fatal cardiovascular disease.

Sources (all reproduced in ``shared/domain/reference.md`` section 2):

* SCORE2 (ages 40-69): SCORE2 working group and ESC Cardiovascular risk collaboration,
  Eur Heart J 2021;42:2439-54; the authors' Stata program ``score2risk`` (Kaptoge,
  Pennells, Hageman) for the coefficients, baseline survival and the 6-decimal region
  recalibration scales [K-S2].
* SCORE2-OP (ages 70+): SCORE2-OP working group, Eur Heart J 2021;42:2455-67; the
  authors' ``score2oprisk`` with full-precision coefficients [K-S2OP].
* Risk regions and categories: 2021 ESC Guidelines on CVD prevention, 3.2.3.4-3.2.3.6
  [ESC21]. The Russian Federation is a very-high-risk country, hence the default region.
* Seed 002 (ГОСТ Р 70675 draft), B.3.3.4, asks for the SCORE list of workers at risk from
  lab/instrumental data and questionnaires; seed 000, 2.3.1.5, asks for the SCORE forecast.

Algorithm [K-S2], [K-S2OP]::

    SCORE2:     cage = (age-60)/5, csbp = (SBP-120)/20, ctc = TC-6, chdl = (HDL-1.3)/0.5
    SCORE2-OP:  cage = age-73,     csbp = SBP-150,      ctc = TC-6, chdl = HDL-1.4
    x  = Σ b·terms (+ interactions with cage)          (SCORE2-OP: minus the mean x)
    p0 = 1 - S0^exp(x)
    p  = 1 - exp(-exp(scale1 + scale2·ln(-ln(1-p0))))  (region recalibration)

All parameters are in ``configs/models/score2.toml``. Parameter set: SCORE2 with the
published 4-decimal coefficients (identical in the authors' code) and 6-decimal scales;
SCORE2-OP with the authors' full-precision coefficients and 6-decimal scales. The
published rounded OP parameters give results within 0.3 percentage points.

Input refusals (design defaults, configurable under ``[plausibility]``): age outside
40-89; SBP outside 60-280 mmHg; total cholesterol outside 1.5-20 mmol/L or HDL outside
0.2-5 mmol/L (a value in mg/dL is caught here and the message gives the conversion);
HDL not below total cholesterol.

Diabetes is a term of the model (kept for recalibration), but SCORE2 is not intended
for people with diabetes or established CVD [ESC21]; the output then carries a note.
"""

from __future__ import annotations

import math
from typing import Any, Literal, Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field

from hub.models._config import load_table
from hub.models.registry import ModelInputError, register

REGIONS = ("low", "moderate", "high", "very_high")


class Score2Input(BaseModel):
    """Input of ``score2`` (field names are the API contract of issue 6)."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    sex: Literal["male", "female"]
    age: float = Field(description="age in years (SCORE2 40-69, SCORE2-OP 70-89)")
    smoker: bool = Field(description="current smoker")
    systolic_mmhg: float = Field(description="systolic blood pressure, mmHg")
    total_cholesterol_mmol_l: float = Field(description="total cholesterol, mmol/L (mg/dL ÷ 38.67)")
    hdl_mmol_l: float = Field(description="HDL cholesterol, mmol/L")
    diabetes: bool = False
    region: Literal["low", "moderate", "high", "very_high"] | None = Field(
        default=None, description="ESC 2021 risk region; default very_high (Russia)"
    )
    established_cvd: bool = Field(default=False, description="documented ASCVD (SCORE2 then does not apply)")


def _table() -> Mapping[str, Any]:
    return load_table("score2")


def check_plausible(data: Score2Input, table: Mapping[str, Any] | None = None) -> None:
    """Refuse physiologically impossible or out-of-domain inputs (``ModelInputError``)."""
    table = table or _table()
    limits = table["plausibility"]
    factor = limits["mg_dl_per_mmol_l"]
    if not math.isfinite(data.age) or not limits["age_min"] <= data.age <= limits["age_max"]:
        raise ModelInputError(
            "age",
            f"{data.age:g} years is outside the range SCORE2/SCORE2-OP is defined for "
            f"({limits['age_min']:g}-{limits['age_max']:g} years)",
        )
    if not math.isfinite(data.systolic_mmhg) or not limits["sbp_min"] <= data.systolic_mmhg <= limits["sbp_max"]:
        raise ModelInputError(
            "systolic_mmhg",
            f"{data.systolic_mmhg:g} mmHg is not a possible systolic blood pressure "
            f"(accepted {limits['sbp_min']:g}-{limits['sbp_max']:g} mmHg); re-measure",
        )
    for field, low, high, name in (
        ("total_cholesterol_mmol_l", limits["tc_min"], limits["tc_max"], "total cholesterol"),
        ("hdl_mmol_l", limits["hdl_min"], limits["hdl_max"], "HDL cholesterol"),
    ):
        value = getattr(data, field)
        if not math.isfinite(value) or not low <= value <= high:
            hint = ""
            if value > high and low <= value / factor <= high:
                hint = (
                    f"; it looks like mg/dL - in mmol/L that is {value / factor:.2f} "
                    f"(mmol/L = mg/dL ÷ {factor:g})"
                )
            raise ModelInputError(
                field, f"{value:g} is not a possible {name} in mmol/L (accepted {low:g}-{high:g}){hint}"
            )
    if data.hdl_mmol_l >= data.total_cholesterol_mmol_l:
        raise ModelInputError(
            "hdl_mmol_l",
            f"HDL {data.hdl_mmol_l:g} mmol/L is not below total cholesterol "
            f"{data.total_cholesterol_mmol_l:g} mmol/L; check both values and units",
        )


# the risk functions work on scalars (one worker) and on arrays (batch reports)
_Num = float | NDArray[np.float64]


def _linear_predictor(params: Mapping[str, Any], cage: _Num, smoker: _Num, csbp: _Num, diabetes: _Num, ctc: _Num,
                      chdl: _Num) -> _Num:
    lp: _Num = (
        params["cage"] * cage
        + params["smoking"] * smoker
        + params["csbp"] * csbp
        + params["diabetes"] * diabetes
        + params["ctc"] * ctc
        + params["chdl"] * chdl
        + params["cage_smoking"] * cage * smoker
        + params["cage_csbp"] * cage * csbp
        + params["cage_diabetes"] * cage * diabetes
        + params["cage_ctc"] * cage * ctc
        + params["cage_chdl"] * cage * chdl
    )
    return lp


def _compute(model_key: str, sex: str, region: str, age: _Num, smoker: _Num, sbp: _Num, tc: _Num, hdl: _Num,
             diabetes: _Num, table: Mapping[str, Any]) -> tuple[_Num, _Num, _Num]:
    """Linear predictor, uncalibrated and calibrated risk (fractions); works on scalars and arrays."""
    model = table[model_key]
    params = model[sex]
    centre = model["centring"]
    cage = (age - centre["age"]) / centre["age_scale"]
    csbp = (sbp - centre["sbp"]) / centre["sbp_scale"]
    ctc = (tc - centre["tc"]) / centre["tc_scale"]
    chdl = (hdl - centre["hdl"]) / centre["hdl_scale"]
    x = _linear_predictor(params, cage, smoker, csbp, diabetes, ctc, chdl)
    if "mean_lp" in params:
        x = x - params["mean_lp"]
    p0 = 1.0 - np.power(params["s0"], np.exp(x))
    scale1, scale2 = model["scales"][region][sex]
    p = 1.0 - np.exp(-np.exp(scale1 + scale2 * np.log(-np.log(1.0 - p0))))
    return x, p0, p


def category_for(age: float, risk_percent: float, table: Mapping[str, Any] | None = None) -> str:
    """ESC 2021 category code (``low_to_moderate`` / ``high`` / ``very_high``) for the age band."""
    table = table or _table()
    for band in table["categories"]:
        if band["age_from"] <= age < band["age_to"]:
            if risk_percent >= band["very_high"]:
                return "very_high"
            if risk_percent >= band["high"]:
                return "high"
            return "low_to_moderate"
    raise ModelInputError("age", f"no ESC risk category band covers age {age:g}")


def score2_array(sex: ArrayLike, age: ArrayLike, smoker: ArrayLike, systolic_mmhg: ArrayLike,
                 total_cholesterol_mmol_l: ArrayLike, hdl_mmol_l: ArrayLike, diabetes: ArrayLike,
                 region: str = "very_high") -> NDArray[np.float64]:
    """Vectorised risk in percent for arrays of already-validated inputs (batch reports).

    ``sex`` is an array of "male"/"female" (or a bool array, True = male); ``region`` one
    region for all. Ages below ``op_from_age`` use SCORE2, the others SCORE2-OP.
    """
    table = _table()
    age = np.asarray(age, dtype=float)
    male = np.asarray(sex) == "male" if np.asarray(sex).dtype.kind in "UO" else np.asarray(sex, dtype=bool)
    arrays = [np.asarray(a, dtype=float) for a in (smoker, systolic_mmhg, total_cholesterol_mmol_l, hdl_mmol_l, diabetes)]
    result = np.empty_like(age)
    op = age >= table["op_from_age"]
    for model_key, in_model in (("score2", ~op), ("score2_op", op)):
        for sex_key, in_sex in (("male", male), ("female", ~male)):
            mask = in_model & in_sex
            if mask.any():
                smk, sbp, tc, hdl, dm = (a[mask] for a in arrays)
                _, _, p = _compute(model_key, sex_key, region, age[mask], smk, sbp, tc, hdl, dm, table)
                result[mask] = 100.0 * p
    return result


@register("score2", Score2Input)
def score2(data: Score2Input) -> dict[str, Any]:
    """SCORE2 / SCORE2-OP 10-year CVD risk with ESC 2021 region calibration and category."""
    table = _table()
    check_plausible(data, table)
    region = data.region or table["default_region"]
    use_op = data.age >= table["op_from_age"]
    model_key = "score2_op" if use_op else "score2"
    x, p0, p = _compute(
        model_key,
        data.sex,
        region,
        data.age,
        float(data.smoker),
        data.systolic_mmhg,
        data.total_cholesterol_mmol_l,
        data.hdl_mmol_l,
        float(data.diabetes),
        table,
    )
    risk_percent = float(100.0 * p)
    category = category_for(data.age, risk_percent, table)
    band = next(b for b in table["categories"] if b["age_from"] <= data.age < b["age_to"])
    notes = []
    if data.diabetes:
        notes.append(
            "SCORE2/SCORE2-OP are not intended for people with diabetes (ESC 2021); "
            "use SCORE2-Diabetes or clinical judgement - the value is indicative only"
        )
    if data.established_cvd:
        notes.append(
            "established atherosclerotic CVD: risk scores do not apply; ESC 2021 counts such "
            "people as very high risk - the value is indicative only"
        )
    return {
        "model": "SCORE2-OP" if use_op else "SCORE2",
        "region": region,
        "risk_percent": risk_percent,
        "risk_percent_rounded": round(risk_percent, 1),
        "category": category,
        "category_label": table["category_labels"][category],
        "category_thresholds_percent": {"high": band["high"], "very_high": band["very_high"]},
        "linear_predictor": float(x),
        "uncalibrated_risk_percent": float(100.0 * p0),
        "applicable": not (data.diabetes or data.established_cvd),
        "notes": notes,
        "source": "SCORE2 / SCORE2-OP (Eur Heart J 2021), authors' code [K-S2]/[K-S2OP]; categories ESC 2021",
    }
