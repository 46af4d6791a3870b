"""Comorbidity engine: the Charlson index as the default for the Russian МИК.

Sources:

* Seed 004, criteria 3 and 4: scored with the modified comorbidity index (МИК), "based on
  an international method of accounting for comorbid diseases"; the МИК table (Table 2
  of the methodology) is not printed in the seed (reference.md 3.2).
* Charlson ME et al., J Chronic Dis 1987;40:373-83: weights 1/2/3/6; hierarchy (only the
  worse of mild/severe liver disease, of diabetes without/with complications, of
  malignancy/metastatic tumour) as coded in MIT-LCP mimic-code ``charlson.sql`` [MIMIC].
* ICD-10 coding: Quan H et al., Med Care 2005;43:1130-9, as in [MIMIC].
* Age points: two conventions (reference.md 3.1); ``decade`` = floor((age-40)/10) clipped
  to 0..4 [COMORBIDIPY]; ``mimic`` = ≤50 0, 51-60 1, 61-70 2, 71-80 3, >80 4.
* 10-year survival ``S10 = 0.983 ** exp(0.9 * CCI)`` [COMORBIDIPY].

All weights, codes and switches live in ``configs/models/charlson.toml``; the МИК Table 2
replaces or extends its ``[conditions]`` table without a code change.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

from hub.models._config import load_table


class ComorbidityError(ValueError):
    """An unknown condition name or malformed ICD-10 code; ``field`` is relative (e.g. ``conditions.2``)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def table() -> Mapping[str, Any]:
    return load_table("charlson")


def normalise_icd10(code: str) -> str:
    """``"i21.4"`` → ``"I214"``; raises ``ValueError`` for text that is not an ICD-10 code."""
    text = code.strip().upper().replace(".", "")
    if len(text) < 3 or not text[0].isalpha() or not text[1:3].isdigit() or not text.isalnum():
        raise ValueError(f"{code!r} is not an ICD-10 code (letter + two digits, e.g. I21.4)")
    return text


def _matches(normal: str, spec: Mapping[str, Any]) -> bool:
    category = normal[:3]
    return any(normal.startswith(prefix) for prefix in spec.get("prefixes", ())) or any(
        low <= category <= high for low, high in spec.get("ranges", ()))


def icd10_conditions(code: str, config: Mapping[str, Any] | None = None) -> list[str]:
    """Charlson conditions an ICD-10 code belongs to (Quan 2005 coding); may be empty."""
    config = config or table()
    normal = normalise_icd10(code)
    return [condition for condition, spec in config["icd10"].items() if _matches(normal, spec)]


def code_conditions(code: str, criterion: str | None, config: Mapping[str, Any]) -> list[str]:
    """The conditions one code scores as under ``criterion`` (issue 13, error 1).

    Under criterion 3 a code of the national list of occupational diseases
    (``[occupational_icd10]``) scores as the occupational condition, or as its Charlson
    condition when that weighs more (one condition per code: no double count of, e.g.,
    silicosis as both occupational and chronic pulmonary disease). Elsewhere: Charlson.
    """
    charlson = icd10_conditions(code, config)
    occupational = config.get("occupational_icd10")
    if criterion != "c3" or not occupational or not _matches(normalise_icd10(code), occupational):
        return charlson
    weights = config["conditions"]
    return [max([occupational["condition"], *charlson], key=lambda name: weights[name])]


def age_points(age: float, convention: str) -> int:
    """Charlson age points under ``decade`` or ``mimic`` convention (reference.md 3.1)."""
    if convention == "decade":
        return int(min(4, max(0, math.floor((age - 40) / 10))))
    if convention == "mimic":
        if age <= 50:
            return 0
        return int(min(4, math.ceil((age - 50) / 10)))
    raise ValueError(f"unknown age convention {convention!r} (decade or mimic)")


def survival_10y(index: float, config: Mapping[str, Any] | None = None) -> float:
    """Estimated 10-year survival ``base ** exp(coef · index)`` [COMORBIDIPY]."""
    config = config or table()
    return float(config["survival_base"] ** math.exp(config["survival_coef"] * index))


def comorbidity_index(
    conditions: Iterable[str] = (),
    icd10: Iterable[str] = (),
    extra_points: Iterable[tuple[str, float]] = (),
    age: float | None = None,
    include_age: bool | None = None,
    age_convention: str | None = None,
    config: Mapping[str, Any] | None = None,
    criterion: str | None = None,
) -> dict[str, Any]:
    """Score a list of conditions (table names), ICD-10 codes and ad-hoc weighted items.

    ``extra_points`` are ``(name, points)`` items the physician scores directly (e.g. from
    the МИК Table 2 before it is in the config). Returns the index, its parts and the
    estimated 10-year survival. Raises :class:`ComorbidityError` for unknown names/codes.
    """
    config = config or table()
    weights = config["conditions"]
    present: set[str] = set()
    for position, name in enumerate(conditions):
        if name not in weights:
            raise ComorbidityError(
                f"conditions.{position}",
                f"unknown condition {name!r}; known: {', '.join(sorted(weights))}",
            )
        present.add(name)
    from_codes: dict[str, list[str]] = {}
    unscored: list[str] = []
    policy = config.get("unscored_icd10", {}).get(criterion or "", "flag")
    for position, code in enumerate(icd10):
        try:
            matched = code_conditions(code, criterion, config)
        except ValueError as error:
            raise ComorbidityError(f"icd10.{position}", str(error)) from None
        if not matched:
            if policy == "refuse":
                raise ComorbidityError(
                    f"icd10.{position}",
                    f"{code!r} is neither on the list of occupational diseases nor a Charlson condition: the engine "
                    "cannot score it (configs/models/charlson.toml); score it with a 'scored' item or give the "
                    "ready index")
            unscored.append(code)
        from_codes[code] = matched
        present.update(matched)
    # hierarchy: keep only the worst of each group
    counted = set(present)
    for group in config["hierarchy"]:
        in_group = [name for name in group if name in counted]
        if len(in_group) > 1:
            worst = max(in_group, key=lambda name: weights[name])
            counted -= set(in_group) - {worst}
    parts = {name: weights[name] for name in sorted(counted)}
    extras: dict[str, float] = {}
    for name, points in extra_points:
        extras[name] = extras.get(name, 0) + points
    disease_index = sum(parts.values()) + sum(extras.values())
    use_age = config["include_age"] if include_age is None else include_age
    convention = age_convention or config["age_convention"]
    points_for_age = 0
    if use_age:
        if age is None:
            raise ComorbidityError("age", "age is required when age points are included")
        points_for_age = age_points(age, convention)
    total = disease_index + points_for_age
    return {
        "index": total,
        "disease_points": disease_index,
        "age_points": points_for_age,
        "age_convention": convention if use_age else None,
        "conditions": parts,
        "ignored_by_hierarchy": sorted(present - counted),
        "extra_points": extras,
        "icd10_matches": from_codes,
        "unscored_icd10": unscored,
        "review_required": bool(unscored),
        "survival_10y": survival_10y(total, config),
    }
