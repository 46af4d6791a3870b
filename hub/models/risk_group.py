"""Occupational-disease risk groups: criteria 1-8, two-stage aggregation, 0-24 score.

Source: seed 004 - review of the joint Ministry of Labour / Ministry of Health methodology
«Методические рекомендации по формированию групп риска развития профессиональных
заболеваний на основе результатов предварительных и периодических медицинских осмотров»
(announced 05.03.2026); digest section 4. What the seed prints is implemented as written:

* five groups (1 small ... 5 very/extremely high); eight criteria: 1 class of working
  conditions, 2 years of exposure, 3 occupational disease or its signs (МИК), 4 chronic
  non-communicable / work-related / somatic disease (МИК), 5 questionnaire risk factors,
  6 medical prognosis, 7 general (hygienic) measures fully implemented (yes/no),
  8 medical-prevention measures fully implemented (yes/no);
* criterion 1: contact with allergens, reproductive toxicants, acute-action substances,
  carcinogens or infectious agents raises the group by one step;
* criterion 2: for factors harmful at short tenure (allergens) the group is assigned by
  the fact of contact; long-latency factors (vibration) +1 step; allergens, carcinogens,
  reproductive toxicants +2 steps;
* base = group by criterion 3; final ≥ base, ≤ 5, ≤ base + 2;
* stage 1 (intermediate group): keep the base if none of criteria 1, 2, 4, 5, 6 exceeds
  it or only one exceeds it by one step; +1 if two or more exceed it by one step or two
  exceed it by two; +2 if one exceeds it by three or more or more than two exceed it by two;
* stage 2: with criteria 7 AND 8 met, the intermediate group may be lowered by one step,
  not below the base;
* score = Σ over criteria 1-6 of (group - 1), 0-24; enterprise average = mean score of all
  workers who passed periodic examinations; measures by group (Table 3); final report.

Not printed in the seed, hence configuration (``configs/models/risk_group.toml``, design
defaults to be approved): class → group, tenure bands, МИК → group, questionnaire points,
prognosis → group. The МИК itself is the Charlson index by default (``_charlson.py``).

Ambiguities, the choice made (safer reading) and the switch that changes it:

1. "exceeds by one step" is read as "by at least one step" (``aggregation.counting =
   "at_least"``), so one criterion +1 and another +2 raise the group by one step.
2. Exactly one criterion two steps above the base, nothing else above: raise by one step
   (``aggregation.single_two_step_raise = 1``; 0 keeps the base).
3. Stage 2 "may be lowered": the proposal applies the lowering when criteria 7 and 8 are
   both met (``aggregation.auto_lower``); the physician confirms or overrides.
4. Criterion 2, "by the fact of contact": pre-raise group = max(tenure band,
   ``c2.by_contact_group`` = 2), so allergen contact gives group 4 from the first day.
5. Several special agents in criterion 1, or several kinds on one exposure in criterion 2:
   one raise (the largest), not a sum; several exposures: the worst one counts.

The physician (occupational pathologist) decides the group (seed 004, step 3): the input
may carry the physician's group; the output stores both the proposal and the decision.

Two registered models: ``risk-group`` (one worker) and ``risk-group-report`` (many
workers and years: distribution, enterprise average, dynamics, measures). The vectorised
core :func:`aggregate_groups` assigns groups and scores to arrays of workers.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, Mapping, Sequence, TypeVar, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Discriminator, Field, StrictBool, StrictInt, Tag

from hub.models import _charlson
from hub.models._config import load_table, thaw_table
from hub.models.registry import ModelInputError, register

Group = Annotated[StrictInt, Field(ge=1, le=5, description="risk group 1-5")]
WorkingClass = Literal["1", "2", "3.1", "3.2", "3.3", "3.4", "4"]
SpecialAgent = Literal["allergen", "reproductive_toxicant", "acute_action", "carcinogen", "infectious_agent"]
FactorKind = Literal["general", "long_latency", "allergen", "carcinogen", "reproductive_toxicant"]
OTHER_CRITERIA = ("c1", "c2", "c4", "c5", "c6")
SCORED_CRITERIA = ("c1", "c2", "c3", "c4", "c5", "c6")


class _Strict(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")


# ----------------------------------------------------------------------------- raw inputs


class C1Raw(_Strict):
    """Criterion 1 raw data: class of working conditions and contact with special agents."""

    working_class: WorkingClass = Field(alias="class", description="class of working conditions (СОУТ)")
    agents: list[SpecialAgent] = Field(default_factory=list, description="special agents in contact")

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid", populate_by_name=True)


class Exposure(_Strict):
    factor: str | None = Field(default=None, description="name of the harmful factor, e.g. vibration")
    kind: FactorKind | Annotated[list[FactorKind], Field(min_length=1)] = "general"
    years: float = Field(ge=0, le=70, description="years of exposure")


class C2Raw(_Strict):
    """Criterion 2 raw data: one or more exposures with their tenure."""

    exposures: list[Exposure] = Field(min_length=1)


class ScoredItem(_Strict):
    name: str
    points: float = Field(ge=0, le=30)


class ComorbidityRaw(_Strict):
    """Criteria 3 / 4 raw data for the МИК: conditions, ICD-10 codes, scored items or the index."""

    conditions: list[str] = Field(default_factory=list)
    icd10: list[str] = Field(default_factory=list)
    scored: list[ScoredItem] = Field(default_factory=list, description="items scored directly (МИК Table 2)")
    index: float | None = Field(default=None, ge=0, le=60, description="ready МИК value")
    age: float | None = Field(default=None, ge=14, le=100, description="needed only if age points are on")


class C5Raw(_Strict):
    """Criterion 5 raw data: questionnaire risk factors."""

    smoking: Literal["never", "former", "current"] = "never"
    cigarettes_per_day: float | None = Field(default=None, ge=0, le=200)
    alcohol: Literal["none", "low", "risky", "harmful"] = "none"
    diet: Literal["healthy", "unhealthy"] = "healthy"
    physical_activity: Literal["sufficient", "low"] = "sufficient"
    burdened_heredity: bool = False
    bmi: float | None = Field(default=None, ge=10, le=80)
    raised_blood_pressure: bool = False
    raised_cholesterol: bool = False
    raised_glucose: bool = False
    psychosocial_stress: bool = False


class C6Raw(_Strict):
    """Criterion 6 raw data: the physician's prognosis and/or its signs."""

    prognosis: Literal["favourable", "relatively_favourable", "doubtful", "unfavourable", "poor"] | None = None
    progression_despite_reduced_contact: bool = False
    irremovable_risk_factors: bool = False
    contraindications: bool = False
    treatment_effect: Literal["good", "partial", "none", "not_applicable"] = "not_applicable"


class C7Raw(_Strict):
    """Criterion 7 components (seed 004): all applicable ones must be done (null = not required)."""

    special_assessment: bool = Field(description="СОУТ done")
    production_control: bool
    effective_ppe: bool
    equipment_replacement: bool | None = None


class C8Raw(_Strict):
    """Criterion 8 components (seed 004): all applicable ones must be done (null = not required)."""

    recommendations_checked: bool
    exam_schedule_kept: bool
    treatment_and_rehabilitation: bool | None = None
    transfer: bool | None = None


def _pick(value: Any) -> str:
    kind = type(value)
    if kind is int or kind is bool:
        return "group"
    if kind is dict:
        return "raw"
    return "raw" if isinstance(value, (dict, BaseModel)) else "group"


_Ready = TypeVar("_Ready")
_Raw = TypeVar("_Raw", bound=BaseModel)

# A ready value (tag ``group``) or an object of raw data (tag ``raw``); errors name the tag.
_Either = Annotated[Union[Annotated[_Ready, Tag("group")], Annotated[_Raw, Tag("raw")]], Discriminator(_pick)]


class Criteria(_Strict):
    """Per criterion either the ready group (1-5; c7/c8 yes/no) or raw data."""

    c1: _Either[Group, C1Raw]
    c2: _Either[Group, C2Raw]
    c3: _Either[Group, ComorbidityRaw]
    c4: _Either[Group, ComorbidityRaw]
    c5: _Either[Group, C5Raw]
    c6: _Either[Group, C6Raw]
    c7: _Either[StrictBool, C7Raw] = False
    c8: _Either[StrictBool, C8Raw] = False


class PhysicianDecision(_Strict):
    """The occupational pathologist's decision (seed 004, step 3)."""

    group: Group
    physician: str | None = None
    reason: str | None = None
    decided_on: date | None = None


class RiskGroupInput(_Strict):
    worker_id: str | None = None
    nosology: str | None = Field(default=None, description="nosological form the group is for")
    criteria: Criteria
    physician: PhysicianDecision | None = None


# ----------------------------------------------------------------------------- derivations


def _table() -> Mapping[str, Any]:
    return load_table("risk_group")


def _band(value: float, lower_bounds: Sequence[float]) -> int:
    """Group g such that lower_bounds[g-1] ≤ value < lower_bounds[g] (1-based)."""
    group = 1
    for position, bound in enumerate(lower_bounds):
        if value >= bound:
            group = position + 1
    return group


def derive_c1(raw: C1Raw, table: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
    cfg = table["c1"]
    base = int(cfg["class_to_group"][raw.working_class])
    special = sorted({a for a in raw.agents if a in cfg["special_agents"]})
    raise_by = int(cfg["special_agent_raise"]) if special else 0
    group = min(table["aggregation"]["max_group"], base + raise_by)
    return group, {"class": raw.working_class, "group_by_class": base, "special_agents": special, "raise": raise_by}


def derive_c2(raw: C2Raw, table: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
    cfg = table["c2"]
    top = table["aggregation"]["max_group"]
    rows = []
    for exposure in raw.exposures:
        kinds = exposure.kind if isinstance(exposure.kind, list) else [exposure.kind]
        specs = [cfg["kinds"][kind] for kind in kinds]
        by_tenure = _band(exposure.years, cfg["band_lower_years"])
        pre = max(by_tenure, int(cfg["by_contact_group"])) if any(s["by_contact"] for s in specs) else by_tenure
        raise_by = max(int(s["raise"]) for s in specs)
        rows.append(
            {
                "factor": exposure.factor,
                "kinds": kinds,
                "years": exposure.years,
                "group_by_tenure": by_tenure,
                "by_contact": any(s["by_contact"] for s in specs),
                "raise": raise_by,
                "group": min(top, pre + raise_by),
            }
        )
    return max(row["group"] for row in rows), {"exposures": rows}


def derive_comorbidity(raw: ComorbidityRaw, criterion: str, table: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
    if raw.index is not None:
        if raw.conditions or raw.icd10 or raw.scored:
            raise ModelInputError(f"criteria.{criterion}.index", "give either the ready index or the conditions, not both")
        detail: dict[str, Any] = {"index": raw.index, "from": "ready index"}
        index = raw.index
    else:
        try:
            detail = _charlson.comorbidity_index(
                conditions=raw.conditions,
                icd10=raw.icd10,
                extra_points=[(item.name, item.points) for item in raw.scored],
                age=raw.age,
                criterion=criterion,
            )
        except _charlson.ComorbidityError as error:
            raise ModelInputError(f"criteria.{criterion}.{error.field}", error.message) from None
        index = detail["index"]
        detail["from"] = "comorbidity engine (Charlson default, configs/models/charlson.toml)"
    group = _band(index, table[criterion]["index_lower_bounds"])
    return group, detail


def derive_c5(raw: C5Raw, table: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
    cfg = table["c5"]
    pts = cfg["points"]
    parts: dict[str, float] = {}

    def add(name: str, value: float) -> None:
        if value:
            parts[name] = value

    add("smoking", pts["smoking"][raw.smoking])
    if raw.smoking == "current" and raw.cigarettes_per_day is not None:
        if raw.cigarettes_per_day >= pts["heavy_smoking_cigarettes_per_day"]:
            add("heavy_smoking", pts["heavy_smoking"])
    add("alcohol", pts["alcohol"][raw.alcohol])
    add("diet", pts["diet"][raw.diet])
    add("physical_activity", pts["physical_activity"][raw.physical_activity])
    for flag in ("burdened_heredity", "raised_blood_pressure", "raised_cholesterol", "raised_glucose", "psychosocial_stress"):
        if getattr(raw, flag):
            add(flag, pts[flag])
    if raw.bmi is not None:
        if raw.bmi >= pts["bmi_obese_from"]:
            add("bmi", pts["bmi_obese"])
        elif raw.bmi >= pts["bmi_overweight_from"]:
            add("bmi", pts["bmi_overweight"])
    total = float(sum(parts.values()))
    return _band(total, cfg["points_lower_bounds"]), {"points": parts, "total_points": total}


def derive_c6(raw: C6Raw, table: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
    cfg = table["c6"]
    pts = cfg["points"]
    top = table["aggregation"]["max_group"]
    signs: dict[str, float] = {}
    for flag in ("progression_despite_reduced_contact", "irremovable_risk_factors", "contraindications"):
        if getattr(raw, flag):
            signs[flag] = pts[flag]
    if pts["treatment_effect"][raw.treatment_effect]:
        signs["treatment_effect"] = pts["treatment_effect"][raw.treatment_effect]
    by_signs = int(min(top, 1 + sum(signs.values())))
    by_prognosis = int(cfg["prognosis_to_group"][raw.prognosis]) if raw.prognosis else None
    # both given: the worse of the two (safer reading)
    group = max(by_signs, by_prognosis or 1)
    return group, {"prognosis": raw.prognosis, "group_by_prognosis": by_prognosis, "signs": signs, "group_by_signs": by_signs}


def derive_yes_no(value: bool | C7Raw | C8Raw) -> tuple[bool, dict[str, Any]]:
    if isinstance(value, bool):
        return value, {"given": "yes/no"}
    components = value.model_dump()
    applicable = {name: done for name, done in components.items() if done is not None}
    met = bool(applicable) and all(applicable.values())
    return met, {"components": components, "missing": sorted(n for n, done in applicable.items() if not done)}


def derive_criteria(criteria: Criteria, table: Mapping[str, Any]) -> tuple[dict[str, int], bool, bool, dict[str, Any]]:
    """Groups of criteria 1-6 and yes/no of 7-8 from ready values or raw data."""
    groups: dict[str, int] = {}
    derivation: dict[str, Any] = {}
    derivers = {
        "c1": lambda raw: derive_c1(raw, table),
        "c2": lambda raw: derive_c2(raw, table),
        "c3": lambda raw: derive_comorbidity(raw, "c3", table),
        "c4": lambda raw: derive_comorbidity(raw, "c4", table),
        "c5": lambda raw: derive_c5(raw, table),
        "c6": lambda raw: derive_c6(raw, table),
    }
    for name in SCORED_CRITERIA:
        value = getattr(criteria, name)
        if isinstance(value, int):
            groups[name] = value
            derivation[name] = {"given": "group"}
        else:
            groups[name], derivation[name] = derivers[name](value)
    c7, derivation["c7"] = derive_yes_no(criteria.c7)
    c8, derivation["c8"] = derive_yes_no(criteria.c8)
    return groups, c7, c8, derivation


# ----------------------------------------------------------------------------- aggregation


def aggregate_groups(groups: np.ndarray, c7: np.ndarray, c8: np.ndarray, table: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
    """Vectorised two-stage aggregation (seed 004) for ``n`` workers.

    ``groups``: int array (n, 6) with the groups of criteria 1-6 in order; ``c7``, ``c8``:
    bool arrays (n,). Returns arrays ``base``, ``raise``, ``intermediate``, ``lowered``,
    ``final`` and ``score``. Inputs must already be within 1-5.
    """
    table = table or _table()
    agg = table["aggregation"]
    g = np.asarray(groups, dtype=np.int16)
    if g.ndim != 2 or g.shape[1] != 6:
        raise ValueError("groups must have shape (n, 6)")
    base = g[:, 2]
    excess = g[:, [0, 1, 3, 4, 5]] - base[:, None]
    if agg["counting"] == "at_least":
        ge1 = (excess >= 1).sum(axis=1)
        ge2 = (excess >= 2).sum(axis=1)
        ge3 = (excess >= 3).sum(axis=1)
        two = (ge3 >= 1) | (ge2 >= 3)
        one = ~two & ((ge1 >= 2) | (ge2 == 2))
        unsettled = ~two & ~one & (ge2 == 1)
        unsettled_raise = agg["single_two_step_raise"]
    elif agg["counting"] == "exact":
        n1 = (excess == 1).sum(axis=1)
        n2 = (excess == 2).sum(axis=1)
        n3 = (excess >= 3).sum(axis=1)
        two = (n3 >= 1) | (n2 > 2)
        one = ~two & ((n1 >= 2) | (n2 == 2))
        lone_two = ~two & ~one & (n2 == 1) & (n1 == 0)
        other = ~two & ~one & ~lone_two & (n2 == 1)
        unsettled = lone_two | other
        unsettled_raise = np.where(lone_two, agg["single_two_step_raise"], agg["unsettled_raise"])
    else:
        raise ValueError(f"aggregation.counting must be 'at_least' or 'exact', not {agg['counting']!r}")
    raise_by = np.where(two, 2, np.where(one, 1, np.where(unsettled, unsettled_raise, 0)))
    raise_by = np.minimum(raise_by, agg["max_raise_over_base"])
    intermediate = np.minimum(base + raise_by, agg["max_group"])
    both = np.asarray(c7, dtype=bool) & np.asarray(c8, dtype=bool)
    lowered_value = np.maximum(intermediate - agg["stage2_lowering"], base)
    lowered = both & bool(agg["auto_lower"]) & (lowered_value < intermediate)
    final = np.where(lowered, lowered_value, intermediate)
    points = np.asarray(table["groups"]["score_points"], dtype=np.int16)
    score = points[g - 1].sum(axis=1)
    return {
        "base": base,
        "raise": raise_by.astype(np.int16),
        "intermediate": intermediate.astype(np.int16),
        "lowering_allowed": both,
        "lowered": lowered,
        "final": final.astype(np.int16),
        "score": score,
    }


def _stage1_rule(excess: dict[str, int], raise_by: int, table: Mapping[str, Any]) -> str:
    above = {name: d for name, d in excess.items() if d > 0}
    if not above:
        return "no criterion exceeds the base: intermediate = base"
    text = ", ".join(f"{name} +{d}" for name, d in sorted(above.items()))
    return f"criteria above the base: {text} -> raise by {raise_by} step(s) (counting: {table['aggregation']['counting']})"


def measures_for_group(group: int, table: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Measures of seed 004 Table 3 for a group (cumulative over the levels it builds on)."""
    table = table or _table()
    levels = table["measures"]
    level_name = next(name for name, spec in levels.items() if name != "worker" and group in spec["groups"])
    spec = levels[level_name]
    medical: list[str] = []
    employer: list[str] = []
    medical_ru: list[str] = []
    employer_ru: list[str] = []
    for name in [*spec["builds_on"], level_name]:
        medical.extend(levels[name]["medical"])
        employer.extend(levels[name]["employer"])
        medical_ru.extend(levels[name].get("medical_ru", []))
        employer_ru.extend(levels[name].get("employer_ru", []))
    return {
        "level": level_name,
        "medical": medical,
        "employer": employer,
        "treatment": spec["treatment"],
        "worker": list(levels["worker"]["all_groups"]),
        # seed 004's own (Russian) wording of the same measures, for the medic and the worker
        "ru": {"medical": medical_ru, "employer": employer_ru, "treatment": spec.get("treatment_ru"),
               "worker": list(levels["worker"].get("all_groups_ru", []))},
    }


def _label(group: int, table: Mapping[str, Any]) -> dict[str, Any]:
    return {"en": table["groups"]["labels_en"][group - 1], "ru": table["groups"]["labels_ru"][group - 1]}


def assess(data: RiskGroupInput, table: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Assess one worker; the body of the ``risk-group`` model."""
    table = table or _table()
    groups, c7, c8, derivation = derive_criteria(data.criteria, table)
    row = np.array([[groups[name] for name in SCORED_CRITERIA]])
    out = aggregate_groups(row, np.array([c7]), np.array([c8]), table)
    base = int(out["base"][0])
    final = int(out["final"][0])
    raise_by = int(out["raise"][0])
    excess = {name: groups[name] - base for name in OTHER_CRITERIA}
    physician = data.physician
    if physician is not None and physician.group != final and not (physician.reason and physician.reason.strip()):
        raise ModelInputError("physician.reason", "a reason is required when the physician's group differs from the proposed one")
    effective = physician.group if physician else final
    status = "proposed" if physician is None else ("confirmed" if physician.group == final else "overridden")
    return {
        "worker_id": data.worker_id,
        "nosology": data.nosology,
        "criteria_groups": groups,
        "c7": c7,
        "c8": c8,
        "base": base,
        "stage1": {"excess_over_base": excess, "raise": raise_by, "rule": _stage1_rule(excess, raise_by, table)},
        "intermediate": int(out["intermediate"][0]),
        "stage2": {"lowering_allowed": bool(out["lowering_allowed"][0]), "lowered": bool(out["lowered"][0])},
        "final": final,
        "proposed_group": final,
        "physician": None if physician is None else physician.model_dump(mode="json"),
        "group": effective,
        "status": status,
        "group_label": _label(effective, table),
        "score": int(out["score"][0]),
        "score_max": 6 * int(table["groups"]["score_points"][-1]),
        "measures": measures_for_group(effective, table),
        "derivation": derivation,
        "source": "seed 004 (risk-group methodology, Ministry of Labour + Ministry of Health, 2026)",
    }


@register("risk-group", RiskGroupInput)
def risk_group(data: RiskGroupInput) -> dict[str, Any]:
    """Occupational-disease risk group (1-5) and 0-24 score of one worker (seed 004)."""
    return assess(data)


# ----------------------------------------------------------------------------- report


class Assessment(RiskGroupInput):
    """One worker-year in the row form of ``risk-group-report``."""

    year: int = Field(ge=1990, le=2200)
    exam: Literal["periodic", "preliminary"] = "periodic"


class ReportColumns(_Strict):
    """Columnar form of ``risk-group-report`` (ready groups only; one list per field, equal lengths).

    Meant for the hub's batch runs over stored assessments: validating one list per field
    is far cheaper than one object per worker.
    """

    year: list[Annotated[StrictInt, Field(ge=1990, le=2200)]] = Field(min_length=1)
    c1: list[Group]
    c2: list[Group]
    c3: list[Group]
    c4: list[Group]
    c5: list[Group]
    c6: list[Group]
    c7: list[StrictBool] | None = None
    c8: list[StrictBool] | None = None
    worker_id: list[str | None] | None = None
    exam: list[Literal["periodic", "preliminary"]] | None = None
    nosology: list[str | None] | None = None
    physician_group: list[Group | None] | None = None
    physician_reason: list[str | None] | None = None


class ReportInput(_Strict):
    """Input of ``risk-group-report``: ``assessments`` (rows) or ``columns`` (columnar), not both."""

    assessments: list[Assessment] | None = Field(default=None, min_length=1)
    columns: ReportColumns | None = None
    include_workers: bool = Field(default=False, description="include each worker's result")


def _distribution(groups: np.ndarray) -> dict[str, int]:
    counts = np.bincount(groups, minlength=6)
    return {str(g): int(counts[g]) for g in range(1, 6)}


def summarise(groups: np.ndarray, scores: np.ndarray, table: Mapping[str, Any]) -> dict[str, Any]:
    """Distribution by group, shares and the average score for one set of workers."""
    n = int(groups.size)
    distribution = _distribution(groups)
    high = [int(g) for g in table["report"]["high_groups"]]
    n_high = int(np.isin(groups, high).sum())
    return {
        "workers": n,
        "distribution": distribution,
        "share": {g: (count / n if n else 0.0) for g, count in distribution.items()},
        "high_groups": high,
        "workers_in_high_groups": n_high,
        "share_high": n_high / n if n else 0.0,
        "average_score": float(scores.mean()) if n else None,
    }


def _from_rows(items: list[Assessment], table: Mapping[str, Any]) -> dict[str, Any]:
    n = len(items)
    rows = np.empty((n, 6), dtype=np.int16)
    c7 = np.empty(n, dtype=bool)
    c8 = np.empty(n, dtype=bool)
    physician = np.zeros(n, dtype=np.int16)
    reason = np.zeros(n, dtype=bool)
    for i, item in enumerate(items):
        crit = item.criteria
        ready = (crit.c1, crit.c2, crit.c3, crit.c4, crit.c5, crit.c6)
        ready_groups = [value for value in ready if type(value) is int]
        if len(ready_groups) == len(ready) and type(crit.c7) is bool and type(crit.c8) is bool:
            rows[i] = ready_groups  # fast path: ready groups need no derivation
            c7[i], c8[i] = crit.c7, crit.c8
        else:
            try:
                groups, c7[i], c8[i], _ = derive_criteria(crit, table)
            except ModelInputError as error:
                raise ModelInputError(f"assessments.{i}.{error.field}", error.message) from None
            rows[i] = [groups[name] for name in SCORED_CRITERIA]
        if item.physician is not None:
            physician[i] = item.physician.group
            reason[i] = bool(item.physician.reason and item.physician.reason.strip())
    return {
        "prefix": "assessments",
        "rows": rows,
        "c7": c7,
        "c8": c8,
        "year": np.array([item.year for item in items], dtype=np.int32),
        "periodic": np.array([item.exam == "periodic" for item in items], dtype=bool),
        "worker_id": [item.worker_id for item in items],
        "nosology": [item.nosology for item in items],
        "physician": physician,
        "reason": reason,
    }


def _from_columns(cols: ReportColumns) -> dict[str, Any]:
    n = len(cols.year)
    for name in ("c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "worker_id", "exam", "nosology", "physician_group", "physician_reason"):
        values = getattr(cols, name)
        if values is not None and len(values) != n:
            raise ModelInputError(f"columns.{name}", f"has {len(values)} values, but columns.year has {n}")
    rows = np.column_stack([np.asarray(getattr(cols, name), dtype=np.int16) for name in SCORED_CRITERIA])
    physician = np.zeros(n, dtype=np.int16)
    reason = np.zeros(n, dtype=bool)
    if cols.physician_group is not None:
        physician = np.array([g or 0 for g in cols.physician_group], dtype=np.int16)
    if cols.physician_reason is not None:
        reason = np.array([bool(r and r.strip()) for r in cols.physician_reason], dtype=bool)
    return {
        "prefix": "columns",
        "rows": rows,
        "c7": np.asarray(cols.c7 if cols.c7 is not None else np.zeros(n), dtype=bool),
        "c8": np.asarray(cols.c8 if cols.c8 is not None else np.zeros(n), dtype=bool),
        "year": np.asarray(cols.year, dtype=np.int32),
        "periodic": np.ones(n, dtype=bool) if cols.exam is None else np.asarray(cols.exam) == "periodic",
        "worker_id": cols.worker_id if cols.worker_id is not None else [None] * n,
        "nosology": cols.nosology if cols.nosology is not None else [None] * n,
        "physician": physician,
        "reason": reason,
    }


@register("risk-group-report", ReportInput)
def risk_group_report(data: ReportInput) -> dict[str, Any]:
    """Risk-group final report: distribution, enterprise average score, dynamics, measures (seed 004)."""
    table = _table()
    if (data.assessments is None) == (data.columns is None):
        raise ModelInputError("assessments", "give either assessments (rows) or columns, exactly one of them")
    if data.assessments is not None:
        batch = _from_rows(data.assessments, table)
    else:
        assert data.columns is not None  # exactly one of the two (checked just above)
        batch = _from_columns(data.columns)
    prefix = batch["prefix"]
    years = batch["year"]
    periodic = batch["periodic"]
    worker_ids = batch["worker_id"]
    n = years.size

    seen: dict[tuple[str, int, bool, str | None], int] = {}  # (worker, year, periodic, nosology) -> index
    for i, worker in enumerate(worker_ids):
        if worker is None:
            continue
        key = (worker, int(years[i]), bool(periodic[i]), batch["nosology"][i])
        if key in seen:
            field = f"{prefix}.{i}.worker_id" if prefix == "assessments" else f"columns.worker_id.{i}"
            raise ModelInputError(field, f"worker {worker!r} is listed twice for {int(years[i])} (also at index {seen[key]})")
        seen[key] = i

    out = aggregate_groups(batch["rows"], batch["c7"], batch["c8"], table)
    proposed = out["final"]
    physician = batch["physician"]
    confirmed = physician > 0
    differs = confirmed & (physician != proposed) & ~batch["reason"]
    if differs.any():
        i = int(np.argmax(differs))
        field = f"assessments.{i}.physician.reason" if prefix == "assessments" else f"columns.physician_reason.{i}"
        raise ModelInputError(field, "a reason is required when the physician's group differs from the proposed one")
    effective = np.where(confirmed, physician, proposed).astype(np.int16)
    score = out["score"]

    by_year: dict[str, Any] = {}
    dynamics = []
    previous: dict[str, Any] | None = None
    for year in np.unique(years).tolist():
        in_year = years == year
        entry: dict[str, Any] = {
            "periodic": summarise(effective[in_year & periodic], score[in_year & periodic], table),
            "preliminary": summarise(effective[in_year & ~periodic], score[in_year & ~periodic], table),
            "awaiting_physician": int((in_year & ~confirmed).sum()),
            "overridden_by_physician": int((in_year & confirmed & (physician != proposed)).sum()),
        }
        by_year[str(year)] = entry
        current = entry["periodic"]
        change = None
        if previous is not None and current["workers"]:
            change = {
                "average_score": current["average_score"] - previous["average_score"],
                "share_high": current["share_high"] - previous["share_high"],
                "distribution": {g: current["distribution"][g] - previous["distribution"][g] for g in current["distribution"]},
                "compared_with_year": previous["year"],
            }
        dynamics.append(
            {
                "year": int(year),
                "workers": current["workers"],
                "average_score": current["average_score"],
                "share_high": current["share_high"],
                "change_from_previous_year": change,
            }
        )
        if current["workers"]:
            previous = {**current, "year": int(year)}

    high = [int(g) for g in table["report"]["high_groups"]]
    latest_year = int(years.max())
    in_high = (years == latest_year) & np.isin(effective, high)
    present = sorted(set(np.unique(effective).tolist()))
    result: dict[str, Any] = {
        "workers": int(n),
        "years": by_year,
        "enterprise_average_score": {year: entry["periodic"]["average_score"] for year, entry in by_year.items()},
        "dynamics": dynamics,
        "collective_agreement": {
            "year": latest_year,
            "high_groups": high,
            "workers_in_high_groups": int(in_high.sum()),
            "worker_ids": [worker_ids[i] for i in np.flatnonzero(in_high).tolist() if worker_ids[i] is not None],
            "note": "seed 004: provisions for the collective agreement - programmes to improve working "
            "conditions and medical-preventive measures for workers of high risk groups",
        },
        "measures_by_group": {str(g): measures_for_group(int(g), table) for g in present},
        "group_basis": "physician's group where given, otherwise the proposed (algorithm) group",
        "average_basis": "seed 004: mean individual score of all workers who passed periodic examinations",
        "source": "seed 004 (risk-group methodology): final report",
    }
    if data.include_workers:
        status = np.where(~confirmed, "proposed", np.where(physician == proposed, "confirmed", "overridden"))
        result["worker_results"] = [
            {
                "worker_id": worker_ids[i],
                "year": int(years[i]),
                "exam": "periodic" if periodic[i] else "preliminary",
                "nosology": batch["nosology"][i],
                "criteria_groups": dict(zip(SCORED_CRITERIA, batch["rows"][i].tolist(), strict=True)),
                "base": int(out["base"][i]),
                "intermediate": int(out["intermediate"][i]),
                "final": int(proposed[i]),
                "group": int(effective[i]),
                "status": str(status[i]),
                "score": int(score[i]),
            }
            for i in range(n)
        ]
    return result


def table_snapshot() -> dict[str, Any]:
    """The risk-group configuration as plain data (for the docs and the API)."""
    return thaw_table(_table())


__all__ = [
    "RiskGroupInput",
    "ReportInput",
    "aggregate_groups",
    "assess",
    "measures_for_group",
    "risk_group",
    "risk_group_report",
    "summarise",
    "table_snapshot",
]
