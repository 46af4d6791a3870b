"""Register of risks to workers' health: scoring, matrix verdicts, controls, residual risk, ranking.

Source: seed 002 - draft ГОСТ Р "Guide to assessing risks to workers' health" (very likely
ГОСТ Р 70675-2023): section 7 (the register, ranked by significance of consequences and
probability), section 8 and figure 3 (hierarchy of controls), annex B.3.2 (semi-quantitative
assessment, risk matrix figure B.2), B.3.3 (score = hazard level + exposure duration +
exposure frequency + probability, weights allowed, figures B.3-B.4) and the explanations
to figures B.5-B.6 (fields 1-18, deadlines and responsible persons); digest 2.3.

Register row fields (seed 002, explanations to figures B.5-B.6): 1 code and owner,
2 factor, 3 hazard, 4 immediate consequences, 5 long-term consequences, 6 hazard level,
7 exposure duration, 8 exposure frequency, 9 probability, 10 total score, 11 acceptable
level, 12 measures, 13-17 the same after the measures (residual risk), 18 additional
measures (e.g. insurance); plus deadlines and responsible persons.

The seed leaves the scales, the cell verdicts, the weights and the acceptable level to
the organisation (the figures are images): ``configs/models/risk_register.toml`` holds
documented defaults and the input may override them per request (``settings``).

Choices (safer readings, configurable):

* total score = Σ weight·value with weights 1 (the seed's plain sum);
* acceptable when score ≤ acceptable level (default 10 of 4-20); a row may set a stricter
  level, never a laxer one (seed 002 note 11: never weaker than the law);
* severity veto: hazard level 5 is never acceptable by score alone (the seed's fuel-fire
  example stays unacceptable with low probability and short exposure);
* row acceptability combines the score and matrix verdicts by the stricter one;
* matrix cell code = likelihood letter + severity digit (seed: "A3 low, C4 high");
  without explicit severity/likelihood the matrix uses hazard level and probability,
  rounded up (ceil) when fractional;
* ranking: by score (descending), then matrix level, severity, probability; ties keep
  input order. Measures are listed in the order of the hierarchy of controls.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any, Literal, Mapping, TypedDict

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from hub.models._config import load_table, merged
from hub.models.registry import ModelInputError, register

DIMENSIONS = ("hazard_level", "exposure_duration", "exposure_frequency", "probability")
Control = Literal["elimination", "substitution", "engineering", "administrative", "ppe"]


class _Strict(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")


class Measure(_Strict):
    text: str = Field(min_length=1)
    control: Control
    owner: str | None = None
    deadline: date | None = None
    status: Literal["planned", "in_progress", "done"] = "planned"
    cost: float | None = Field(default=None, ge=0)


class AdditionalMeasure(_Strict):
    text: str = Field(min_length=1)
    kind: Literal["transfer", "insurance", "other"] = "other"
    owner: str | None = None
    deadline: date | None = None


class Scores(_Strict):
    """Fields 6-9 (or 13-16 for the residual risk); optional matrix coordinates."""

    hazard_level: float
    exposure_duration: float
    exposure_frequency: float
    probability: float
    severity: int | None = Field(default=None, description="matrix severity (default: hazard level)")
    likelihood: int | None = Field(default=None, description="matrix likelihood (default: probability)")


class RegisterRow(Scores):
    code: str | None = Field(default=None, description="field 1: risk code, e.g. Х1, Ф2, Г1")
    owner: str | None = Field(default=None, description="field 1: risk owner (unit or person)")
    factor: str = Field(min_length=1, description="field 2: risk factor")
    hazard: str = Field(min_length=1, description="field 3: hazard")
    immediate_consequences: list[str] = Field(default_factory=list, description="field 4")
    long_term_consequences: list[str] = Field(default_factory=list, description="field 5")
    factor_kind: str | None = Field(default=None, description="chemical, physical, biological, ... (seed 002 annex A)")
    scope: Literal["group", "individual"] = "group"
    acceptable_level: float | None = Field(default=None, description="field 11 (stricter than the default only)")
    measures: list[Measure] = Field(default_factory=list, description="field 12")
    residual: Scores | None = Field(default=None, description="fields 13-16 after the measures")
    additional_measures: list[AdditionalMeasure] = Field(default_factory=list, description="field 18")
    responsible: str | None = None
    deadline: date | None = None
    review_on: date | None = None


class DimensionOverride(_Strict):
    min: float | None = None
    max: float | None = None
    weight: float | None = Field(default=None, ge=0)


class Settings(_Strict):
    """Per-request overrides of ``configs/models/risk_register.toml``."""

    dimensions: dict[Literal["hazard_level", "exposure_duration", "exposure_frequency", "probability"], DimensionOverride] | None = None
    acceptable_score: float | None = None
    severity_veto: int | None = Field(default=None, ge=0)
    combination: Literal["stricter", "score", "matrix"] | None = None
    matrix_cells: list[list[str]] | None = None


class RegisterInput(_Strict):
    rows: list[RegisterRow] = Field(min_length=1)
    settings: Settings | None = None
    as_of: date | None = Field(default=None, description="date for overdue checks (no clock is read)")
    include_rows: bool = Field(default=True, description="return every row (false: ranking and summary only)")


def _plain(value: Any) -> Any:
    """JSON-ready copy of a validated model (faster than ``model_dump`` for thousands of rows)."""
    if isinstance(value, BaseModel):
        return {key: _plain(item) for key, item in value.__dict__.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def effective_config(settings: Settings | None) -> dict[str, Any]:
    """The configuration table with the request's overrides applied and checked."""
    base = load_table("risk_register")
    override: dict[str, Any] = {}
    if settings is not None:
        if settings.dimensions:
            override["dimensions"] = {k: v.model_dump(exclude_none=True) for k, v in settings.dimensions.items()}
        if settings.acceptable_score is not None or settings.severity_veto is not None:
            override["score"] = {"acceptable_score": settings.acceptable_score, "severity_veto": settings.severity_veto}
        if settings.combination:
            override["combination"] = {"rule": settings.combination}
        if settings.matrix_cells is not None:
            override["matrix"] = {"cells": settings.matrix_cells}
    config = merged(base, override)
    verdicts = config["matrix"]["verdicts"]
    cells = config["matrix"]["cells"]
    n_like = len(config["matrix"]["likelihood_codes"])
    if len(cells) != n_like or any(len(row) != len(config["matrix"]["severity_labels"]) for row in cells):
        raise ModelInputError("settings.matrix_cells", f"the matrix must be {n_like} rows × {len(config['matrix']['severity_labels'])} columns")
    for i, row in enumerate(cells):
        for j, level in enumerate(row):
            if level not in verdicts:
                raise ModelInputError(f"settings.matrix_cells.{i}.{j}", f"unknown level {level!r}; known: {', '.join(verdicts)}")
    for name, spec in config["dimensions"].items():
        if spec["min"] >= spec["max"]:
            raise ModelInputError(f"settings.dimensions.{name}", "min must be below max")
    return config


def _check_scores(scores: Scores, where: str, config: Mapping[str, Any]) -> None:
    for name in DIMENSIONS:
        value = getattr(scores, name)
        spec = config["dimensions"][name]
        if not math.isfinite(value) or not spec["min"] <= value <= spec["max"]:
            raise ModelInputError(f"{where}.{name}", f"{value:g} is outside the scale {spec['min']:g}-{spec['max']:g}")
    n_sev = len(config["matrix"]["severity_labels"])
    n_like = len(config["matrix"]["likelihood_codes"])
    if scores.severity is not None and not 1 <= scores.severity <= n_sev:
        raise ModelInputError(f"{where}.severity", f"{scores.severity} is outside the matrix severity scale 1-{n_sev}")
    if scores.likelihood is not None and not 1 <= scores.likelihood <= n_like:
        raise ModelInputError(f"{where}.likelihood", f"{scores.likelihood} is outside the matrix likelihood scale 1-{n_like}")


def _matrix_coordinates(scores: Scores, config: Mapping[str, Any]) -> tuple[int, int]:
    """(likelihood, severity) as 1-based integers; default from probability and hazard level."""
    n_sev = len(config["matrix"]["severity_labels"])
    n_like = len(config["matrix"]["likelihood_codes"])

    def rescale(value: float, name: str, n: int) -> int:
        spec = config["dimensions"][name]
        fraction = (value - spec["min"]) / (spec["max"] - spec["min"])
        return int(min(n, max(1, math.ceil(1 + fraction * (n - 1) - 1e-9))))

    severity = scores.severity or rescale(scores.hazard_level, "hazard_level", n_sev)
    likelihood = scores.likelihood or rescale(scores.probability, "probability", n_like)
    return likelihood, severity


def _evaluate(matrix: np.ndarray, acceptable: np.ndarray, hazard: np.ndarray, like: np.ndarray, sev: np.ndarray, config: Mapping[str, Any]) -> dict[str, Any]:
    """Vectorised verdicts for n score vectors (matrix: n×4 in DIMENSIONS order)."""
    weights = np.array([config["dimensions"][d]["weight"] for d in DIMENSIONS])
    score = matrix @ weights
    veto = int(config["score"]["severity_veto"])
    score_ok = score <= acceptable
    if veto:
        score_ok &= hazard < veto
    cells = config["matrix"]["cells"]
    verdicts = config["matrix"]["verdicts"]
    levels = sorted(verdicts, key=lambda name: verdicts[name]["rank"])
    level_index = {name: i for i, name in enumerate(levels)}
    grid = np.array([[level_index[c] for c in row] for row in cells])
    cell_level = grid[like - 1, sev - 1]
    matrix_ok_by_level = np.array([verdicts[name]["acceptable"] for name in levels])
    matrix_ok = matrix_ok_by_level[cell_level]
    rule = config["combination"]["rule"]
    if rule == "stricter":
        ok = score_ok & matrix_ok
    elif rule == "score":
        ok = score_ok
    else:
        ok = matrix_ok
    return {"score": score, "score_ok": score_ok, "cell_level": cell_level, "matrix_ok": matrix_ok, "ok": ok, "levels": levels}


def _rank(score: np.ndarray, level: np.ndarray, sev: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """Rank 1 = most significant. Keys: score, matrix level, severity, probability (all desc)."""
    n = score.size
    order = np.lexsort((np.arange(n), -prob, -sev, -level, -score))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(1, n + 1)
    return rank


class _Summary(TypedDict):
    rows: int
    acceptable: int
    unacceptable: int
    residual_unacceptable: int
    by_level: dict[str, int]
    warnings: int


@register("risk-register", RegisterInput)
def risk_register(data: RegisterInput) -> dict[str, Any]:
    """Risk register of seed 002: scores, matrix verdicts, controls, residual risk and ranking."""
    config = effective_config(data.settings)
    default_level = float(config["score"]["acceptable_score"])
    codes = config["matrix"]["likelihood_codes"]
    control_order = {name: i for i, name in enumerate(config["controls"]["order"])}
    low_order = set(config["controls"]["low_order"])
    rows = data.rows
    n = len(rows)

    values = np.empty((n, 4))
    acceptable = np.empty(n)
    like = np.empty(n, dtype=np.int64)
    sev = np.empty(n, dtype=np.int64)
    has_res = np.zeros(n, dtype=bool)
    res_values = np.ones((n, 4))
    res_like = np.ones(n, dtype=np.int64)
    res_sev = np.ones(n, dtype=np.int64)
    for i, row in enumerate(rows):
        _check_scores(row, f"rows.{i}", config)
        level = default_level if row.acceptable_level is None else row.acceptable_level
        if level > default_level:
            raise ModelInputError(
                f"rows.{i}.acceptable_level",
                f"{level:g} is laxer than the organisation's acceptable level {default_level:g} "
                "(seed 002: the acceptable level may not be weaker than the requirements)",
            )
        acceptable[i] = level
        values[i] = [row.hazard_level, row.exposure_duration, row.exposure_frequency, row.probability]
        like[i], sev[i] = _matrix_coordinates(row, config)
        if row.residual is not None:
            _check_scores(row.residual, f"rows.{i}.residual", config)
            has_res[i] = True
            r = row.residual
            res_values[i] = [r.hazard_level, r.exposure_duration, r.exposure_frequency, r.probability]
            res_like[i], res_sev[i] = _matrix_coordinates(r, config)

    initial = _evaluate(values, acceptable, values[:, 0], like, sev, config)
    residual = _evaluate(res_values, acceptable, res_values[:, 0], res_like, res_sev, config)
    rank = _rank(initial["score"], initial["cell_level"], sev, values[:, 3])
    # current risk: residual where assessed, else initial
    cur_score = np.where(has_res, residual["score"], initial["score"])
    cur_level = np.where(has_res, residual["cell_level"], initial["cell_level"])
    cur_sev = np.where(has_res, res_sev, sev)
    cur_prob = np.where(has_res, res_values[:, 3], values[:, 3])
    current_rank = _rank(cur_score, cur_level, cur_sev, cur_prob)
    levels = initial["levels"]
    verdicts = config["matrix"]["verdicts"]
    weights = [config["dimensions"][d]["weight"] for d in DIMENSIONS]
    max_score = float(sum(w * config["dimensions"][d]["max"] for w, d in zip(weights, DIMENSIONS, strict=True)))

    out_rows = []
    summary: _Summary = {"rows": n, "acceptable": 0, "unacceptable": 0, "residual_unacceptable": 0, "by_level": {lv: 0 for lv in levels}, "warnings": 0}
    for i, row in enumerate(rows):
        ok = bool(initial["ok"][i])
        level_name = levels[int(initial["cell_level"][i])]
        if ok:
            summary["acceptable"] += 1
        else:
            summary["unacceptable"] += 1
        summary["by_level"][level_name] += 1
        warnings = []
        measures = sorted(row.measures, key=lambda m: control_order[m.control])
        controls_used = sorted({m.control for m in measures}, key=control_order.__getitem__)  # every control is in the order (sorted just above)
        if not ok and not measures:
            warnings.append("unacceptable risk without measures (field 12)")
        if not ok and measures and set(controls_used) <= low_order:
            warnings.append("only administrative measures / PPE: consider elimination, substitution or engineering controls first (hierarchy of controls)")
        residual_out = None
        if row.residual is not None:
            res_ok = bool(residual["ok"][i])
            res_level = levels[int(residual["cell_level"][i])]
            if not res_ok:
                summary["residual_unacceptable"] += 1
                if not row.additional_measures:
                    warnings.append("residual risk still unacceptable: plan additional measures, e.g. insurance (field 18)")
            if residual["score"][i] > initial["score"][i]:
                warnings.append("residual score is higher than the initial score (a substitution may have brought a new risk)")
            residual_out = {
                **_plain(row.residual),
                "score": float(residual["score"][i]),
                "cell": f"{codes[res_like[i] - 1]}{res_sev[i]}",
                "cell_level": res_level,
                "score_acceptable": bool(residual["score_ok"][i]),
                "matrix_acceptable": bool(residual["matrix_ok"][i]),
                "acceptable": res_ok,
                "action": verdicts[res_level]["action"],
                "reduction": float(initial["score"][i] - residual["score"][i]),
                "reduction_percent": float(100.0 * (initial["score"][i] - residual["score"][i]) / initial["score"][i]) if initial["score"][i] else 0.0,
            }
        elif not ok and measures:
            warnings.append("measures planned but the residual risk (fields 13-17) is not assessed yet")
        overdue = []
        if data.as_of is not None:
            overdue = [m.text for m in measures if m.deadline is not None and m.deadline < data.as_of and m.status != "done"]
            if row.deadline is not None and row.deadline < data.as_of and not ok:
                overdue.append("register row deadline")
        if warnings:
            summary["warnings"] += 1
        if data.include_rows:
            out_rows.append(
                {
                    **{k: _plain(v) for k, v in row.__dict__.items() if k not in ("residual", "measures")},
                    "index": i,
                    "score": float(initial["score"][i]),
                    "max_score": max_score,
                    "acceptable_level": float(acceptable[i]),
                    "cell": f"{codes[like[i] - 1]}{sev[i]}",
                    "cell_level": level_name,
                    "score_acceptable": bool(initial["score_ok"][i]),
                    "matrix_acceptable": bool(initial["matrix_ok"][i]),
                    "acceptable": ok,
                    "action": verdicts[level_name]["action"],
                    "measures": [_plain(m) for m in measures],
                    "controls_used": controls_used,
                    "highest_control": controls_used[0] if controls_used else None,
                    "residual": residual_out,
                    "rank": int(rank[i]),
                    "current_rank": int(current_rank[i]),
                    "overdue": overdue,
                    "warnings": warnings,
                }
            )
    order = np.argsort(rank, kind="stable")
    ranking = [
        {"rank": int(rank[i]), "index": int(i), "code": rows[i].code, "score": float(initial["score"][i]), "cell_level": levels[int(initial["cell_level"][i])]}
        for i in order
    ]
    return {
        "rows": out_rows,
        "ranking": ranking,
        "summary": summary,
        "settings": {
            "weights": dict(zip(DIMENSIONS, weights, strict=True)),
            "acceptable_score": default_level,
            "severity_veto": config["score"]["severity_veto"],
            "combination": config["combination"]["rule"],
            "max_score": max_score,
        },
        "source": "seed 002 (ГОСТ Р draft), 7, 8, B.3.2-B.3.3, figures B.2-B.6",
    }
