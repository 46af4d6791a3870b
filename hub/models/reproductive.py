"""Occupational risk to the reproductive health of women workers, and the measures it calls for.

Source: seed 003 - Belarus Ministry of Health instruction for use «Метод гигиенической
оценки профессионального риска нарушения репродуктивного здоровья женщин-работниц и
разработки системы мер профилактики» (2016); digest section 3.

* Table 1 (ch. 3): class of working conditions ↔ relative risk (RR) interval ↔ outcome:
  1: 0 < RR ≤ 1; 2: 1 < RR ≤ 1.5; 3.1: 1.5 < RR ≤ 2; 3.2: 2 < RR ≤ 3.2;
  3.3-3.4: 3.2 < RR ≤ 5; 4: RR > 5.
* Appendix 4: class → category of occupational risk → groups of measures (information
  about the risk / prevention of the risk / reduction of the risk) marked "–", "+", "++",
  "+++" ("not obligatory", "recommended", "obligatory", "priority" in the seed's note;
  the digest's "weak / medium / strong" paraphrase is not used).
* Appendix 3 and ch. 3 items 8-22: the programme of preventive and health-improving
  measures (5 stages; table columns; sections; short 1-2 y / medium 3-4 y / long ≥ 5 y).
* Ch. 2 item 3: the risk is established when the class is harmful (3.x) for one or more
  factors hazardous to reproduction; the table itself also covers classes 1, 2 and 4.

Choices on ambiguous points (configurable in ``configs/models/reproductive.toml``):

* A relative risk in (3.2, 5] fits both 3.3 and 3.4 (one shared interval in Table 1):
  class 3.4, "very high", by default (``rr_shared_interval_class``; the safer reading;
  the measures are the same for both).
* RR exactly on a boundary belongs to the lower class (the table's intervals are
  closed on the right: 1 < RR ≤ 1.5 ...).
* Class and RR both given and disagreeing, or several factors: the worst class wins.

Output ``measures`` gives each group as 0-3 (0 for "–", 1-3 for "+" to "+++").
"""

from __future__ import annotations

import math
from typing import Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field

from hub.models._config import load_table, thaw
from hub.models.registry import ModelInputError, register

WorkingClass = Literal["1", "2", "3.1", "3.2", "3.3", "3.4", "4"]
CLASS_ORDER = ("1", "2", "3.1", "3.2", "3.3", "3.4", "4")
MEASURE_GROUPS = ("information", "prevention", "reduction")


class Factor(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid", populate_by_name=True)

    name: str
    working_class: WorkingClass = Field(alias="class")
    reproductive_hazard: Literal["1A", "1B", "2", "lactation"] | None = Field(
        default=None, description="class of reproductive hazard (seed 003 ch. 2 item 2)"
    )


class ReproductiveInput(BaseModel):
    """Input of ``reproductive-risk``: a class, a relative risk, or factors with their classes."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid", populate_by_name=True)

    working_class: WorkingClass | None = Field(default=None, alias="class")
    relative_risk: float | None = Field(default=None, gt=0, description="relative risk of reproductive disorders")
    factors: list[Factor] = Field(default_factory=list, description="factors hazardous to reproduction")
    women_workers: int | None = Field(default=None, ge=0, description="number of women workers involved")
    programme: bool = Field(default=True, description="include the prevention programme skeleton")


def _table() -> Mapping[str, Any]:
    return load_table("reproductive")


def class_for_relative_risk(rr: float, table: Mapping[str, Any] | None = None) -> str:
    """Class of working conditions for a relative risk (seed 003 Table 1)."""
    table = table or _table()
    if not math.isfinite(rr) or rr <= 0:
        raise ModelInputError("relative_risk", f"relative risk must be a finite number above 0, got {rr!r}")
    matches: list[str] = [row["class"] for row in table["classes"] if row["rr_lower"] < rr <= row["rr_upper"]]
    if not matches:
        raise ModelInputError("relative_risk", f"no class covers relative risk {rr:g}")
    if len(matches) > 1:
        chosen: str = table["rr_shared_interval_class"]
        if chosen not in matches:
            raise ModelInputError("relative_risk", f"configured rr_shared_interval_class {chosen!r} not in {matches}")
        return chosen
    return matches[0]


def _row(working_class: str, table: Mapping[str, Any]) -> Mapping[str, Any]:
    return next(row for row in table["classes"] if row["class"] == working_class)


def _programme(row: Mapping[str, Any], table: Mapping[str, Any], women_workers: int | None) -> dict[str, Any]:
    cfg = table["programme"]
    groups = table["measure_groups"]
    section_of = {
        "reduction": "sanitary-hygienic measures",
        "prevention": "medical-preventive measures",
        "information": "informing about occupational risks, healthy lifestyle",
    }
    groups_ru = table.get("measure_groups_ru", {})
    section_ru = dict(zip(cfg["sections"], cfg.get("sections_ru", cfg["sections"]), strict=True))
    rows: list[dict[str, Any]] = []
    for group in ("reduction", "prevention", "information"):
        level = int(row[group])
        if level == 0:
            continue
        term = cfg["term_by_level"][level]
        words_ru = list(groups_ru.get(group, []))
        for k, measure in enumerate(groups[group]):
            rows.append(
                {
                    "no": len(rows) + 1,
                    "section": section_of[group],
                    "section_ru": section_ru[section_of[group]],
                    "measure": measure,
                    # seed 003's own wording (configs/models/reproductive.toml [measure_groups_ru])
                    "measure_ru": words_ru[k] if len(words_ru) == len(groups[group]) else measure,
                    "measure_group": group,
                    "level": level,
                    "level_symbol": table["measure_levels"]["symbols"][level],
                    "term": term,
                    "term_years": list(cfg["terms_years"][term]),
                    "executor": None,
                    "deadline": None,
                    "costs_and_funding": None,
                    "workers_involved": women_workers,
                    "expected_result": None,
                }
            )
    harmful = row["class"] not in ("1", "2")
    return {
        "columns": list(cfg["columns"]),
        "sections": list(cfg["sections"]),
        "goal": f"reduce the occupational risk to women workers' reproductive health from '{row['category_en']}'",
        "benefits_and_compensation_applicable": harmful,
        "stages": list(cfg["stages"]),
        "min_history_years": cfg["min_history_years"],
        "rows": rows,
        "note": "executor, deadline, costs and expected result are filled by the organisation (seed 003 appendix 3)",
        "goal_ru": f"снизить профессиональный риск для репродуктивного здоровья работниц (категория: "
                   f"{row['category_ru'].lower()})",
        "note_ru": "исполнителя, срок, затраты и ожидаемый результат определяет организация (seed 003, приложение 3)",
    }


@register("reproductive-risk", ReproductiveInput)
def reproductive_risk(data: ReproductiveInput) -> dict[str, Any]:
    """Reproductive risk category of women workers and measure levels (seed 003)."""
    table = _table()
    candidates: list[tuple[str, str]] = []
    if data.working_class is not None:
        candidates.append((data.working_class, "class"))
    if data.relative_risk is not None:
        candidates.append((class_for_relative_risk(data.relative_risk, table), "relative_risk"))
    for i, factor in enumerate(data.factors):
        candidates.append((factor.working_class, f"factors.{i}"))
    if not candidates:
        raise ModelInputError("class", "give the class of working conditions, a relative_risk or factors")
    working_class, basis = max(candidates, key=lambda item: CLASS_ORDER.index(item[0]))
    row = _row(working_class, table)
    measures = {group: int(row[group]) for group in MEASURE_GROUPS}
    symbols = table["measure_levels"]["symbols"]
    meaning = table["measure_levels"]["meaning"]
    rr_class = next((c for c, b in candidates if b == "relative_risk"), None)
    result = {
        "class": working_class,
        "class_basis": basis,
        "class_from_relative_risk": rr_class,
        "classes_considered": [{"class": c, "from": b} for c, b in candidates],
        "relative_risk_interval": {"lower_exclusive": row["rr_lower"], "upper_inclusive": row["rr_upper"]}
        if math.isfinite(row["rr_upper"])
        else {"lower_exclusive": row["rr_lower"], "upper_inclusive": None},
        "category": row["category"],
        "category_label": {"en": row["category_en"], "ru": row["category_ru"]},
        "outcome": row["outcome"],
        "risk_established": working_class.startswith("3") or working_class == "4",
        "special_regulations": bool(row.get("special_regulations", False)),
        "measures": measures,
        "measures_detail": {
            group: {
                "level": level,
                "symbol": symbols[level],
                "meaning": meaning[level],
                "measures": list(table["measure_groups"][group]) if level else [],
            }
            for group, level in measures.items()
        },
        "hazardous_factors": [factor.model_dump(by_alias=True) for factor in data.factors],
        "source": "seed 003 (Belarus MoH 2016): Table 1, appendix 4, appendix 3",
    }
    if data.programme:
        result["programme"] = _programme(row, table, data.women_workers)
    return result


def classes_table() -> list[dict[str, Any]]:
    """The class → category → measures table as plain data (docs, API)."""
    classes: list[dict[str, Any]] = thaw(_table()["classes"])  # an array of tables
    return classes
