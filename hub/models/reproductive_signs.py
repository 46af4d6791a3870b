"""Signs of work-related reproductive harm from exam diagnoses, feeding the workplace's reproductive risk.

Source: seed 003 (Belarus MoH instruction 2016), chapter 2:

* item 5 — signs of reproductive-health disorders in connection with working conditions
  (ICD-10 N97, N91–N92, O00–O03, Q00–Q89, P00, O92; neoplasms in offspring D00–D09, C00–C97);
* item 6 — proven occupational diseases: N81 with heavy standing work, C50–C58 with ionising
  radiation or other carcinogens;
* item 7 — work-conditioned disorders and the factors that condition them;
* Table 1 (ch. 3) — relative risk → class of working conditions → category and measures
  (:mod:`hub.models.reproductive`).

Per workplace: the women with each sign (from the diagnoses of the exams), the share with
any sign and its interval; suspected occupational diseases (the code *and* the condition of
work) for referral to the occupational pathologist; work-conditioned disorders whose
factor is present. With a reference group, the share ratio is the a-posteriori relative
risk, classed by Table 1; the assessment takes the worse of that class and the a-priori
class of the working conditions (``configs/models/reproductive_signs.toml``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.models import _epistats as es
from hub.models._charlson import normalise_icd10
from hub.models._config import load_table
from hub.models.registry import ModelInputError, register
from hub.models.reproductive import (
    CLASS_ORDER,
    ReproductiveInput,
    WorkingClass,
    class_for_relative_risk,
    reproductive_risk,
)

Condition = Literal["heavy_standing_work", "ionising_radiation", "carcinogens", "mutagens", "hormones", "cold",
                    "general_vibration", "sensory_emotional_strain", "night_shifts"]


class Diagnosis(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    worker: str = Field(min_length=1)
    icd10: str = Field(min_length=3, max_length=8)
    subject: Literal["worker", "offspring"] = Field(default="worker", description="the worker, or her child")


class Workplace(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid", populate_by_name=True)

    workplace: str = Field(min_length=1)
    working_class: WorkingClass | None = Field(default=None, alias="class", description="a-priori class (СОУТ)")
    conditions: list[Condition] = Field(default_factory=list, description="conditions of work of seed 003 ch. 2 items 6-7")
    women_workers: int = Field(gt=0, description="women examined at this workplace")
    diagnoses: list[Diagnosis] = Field(default_factory=list)


class Reference(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    women_workers: int = Field(gt=0, description="women in the reference (unexposed) group")
    with_signs: int = Field(ge=0, description="of them with any sign of ch. 2 item 5")


class ReproductiveSignsInput(BaseModel):
    """Input of ``reproductive-signs``: workplaces with their women's diagnoses, and a reference group."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    workplaces: list[Workplace] = Field(min_length=1)
    reference: Reference | None = None


def _table() -> Mapping[str, Any]:
    return load_table("reproductive_signs")


def _matches(code: str, spec: Mapping[str, Any]) -> bool:
    category = code[:3]
    return any(code.startswith(p) for p in spec.get("prefixes", ())) or any(
        lo <= category <= hi for lo, hi in spec.get("ranges", ()))


def classify_code(code: str, subject: str, table: Mapping[str, Any]) -> dict[str, list[str]]:
    """The sign / occupational / work-conditioned groups one ICD-10 code belongs to (seed 003 ch. 2)."""
    normal = normalise_icd10(code)
    out: dict[str, list[str]] = {}
    for kind in ("signs", "occupational", "work_conditioned"):
        out[kind] = [name for name, spec in table[kind].items()
                     if _matches(normal, spec) and spec.get("subject", subject) == subject]
    return out


def _workplace(i: int, wp: Workplace, table: Mapping[str, Any], reference: Reference | None) -> dict[str, Any]:
    cfg = table["assessment"]
    sign_workers: dict[str, set[str]] = {name: set() for name in table["signs"]}
    any_sign: set[str] = set()
    suspected, conditioned, unmatched = [], [], []
    for j, d in enumerate(wp.diagnoses):
        try:
            groups = classify_code(d.icd10, d.subject, table)
        except ValueError as error:
            raise ModelInputError(f"workplaces.{i}.diagnoses.{j}.icd10", str(error)) from None
        for name in groups["signs"]:
            sign_workers[name].add(d.worker)
            any_sign.add(d.worker)
        for name in groups["occupational"]:
            needed = list(table["occupational"][name]["conditions"])
            present = [c for c in needed if c in wp.conditions]
            entry = {"worker": d.worker, "icd10": d.icd10, "group": name,
                     "label": dict(table["occupational"][name]["label"]), "conditions_present": present}
            if present:
                suspected.append(entry)
            any_sign.add(d.worker)
        for name in groups["work_conditioned"]:
            present = [c for c in table["work_conditioned"][name]["conditions"] if c in wp.conditions]
            if present:
                conditioned.append({"worker": d.worker, "icd10": d.icd10, "group": name,
                                    "label": dict(table["work_conditioned"][name]["label"]), "conditions_present": present})
        if not any(groups.values()):
            unmatched.append(d.icd10)
    if len(any_sign) > wp.women_workers:
        raise ModelInputError(f"workplaces.{i}.women_workers",
                              f"{len(any_sign)} women with signs but only {wp.women_workers} women workers")
    n_signs = len(any_sign)
    lo, hi = es.proportion_ci(n_signs, wp.women_workers, float(cfg["confidence"]))
    out: dict[str, Any] = {
        "workplace": wp.workplace,
        "women_workers": wp.women_workers,
        "women_with_signs": n_signs,
        "share_with_signs": n_signs / wp.women_workers,
        "share_lower": lo, "share_upper": hi,
        "signs": {name: {"women": len(ws), "label": dict(table["signs"][name]["label"])}
                  for name, ws in sign_workers.items() if ws},
        "suspected_occupational": suspected,
        "work_conditioned": conditioned,
        "not_reproductive_signs": unmatched,
    }
    candidates: list[tuple[str, str]] = []
    if wp.working_class is not None:
        candidates.append((wp.working_class, "working conditions (a priori)"))
    if reference is not None:
        ref_share = reference.with_signs / reference.women_workers
        if ref_share == 0:
            out["relative_risk"] = None
            out["relative_risk_note"] = "no signs in the reference group: no relative risk"
        else:
            rr = out["share_with_signs"] / ref_share
            out["relative_risk"] = rr
            if rr > 0 and wp.women_workers >= int(cfg["min_women_for_relative_risk"]):
                candidates.append((class_for_relative_risk(rr), "relative risk from exams (a posteriori)"))
            elif rr > 0:
                out["relative_risk_note"] = (f"fewer than {cfg['min_women_for_relative_risk']} women: "
                                             "the relative risk is shown but not used for the class")
    if candidates:
        klass, basis = max(candidates, key=lambda c: CLASS_ORDER.index(c[0]))
        assessment = reproductive_risk(ReproductiveInput.model_validate(
            {"class": klass, "women_workers": wp.women_workers, "programme": False}))
        out["assessment"] = {"class": klass, "basis": basis, "classes_considered": [
            {"class": c, "from": b} for c, b in candidates], "category": assessment["category"],
            "category_label": assessment["category_label"], "risk_established": assessment["risk_established"],
            "measures": assessment["measures"]}
    return out


@register("reproductive-signs", ReproductiveSignsInput)
def reproductive_signs(data: ReproductiveSignsInput) -> dict[str, Any]:
    """Seed 003 reproductive-harm signs (ICD-10) per workplace, suspected occupational cases, a-posteriori risk."""
    table = _table()
    if data.reference is not None and data.reference.with_signs > data.reference.women_workers:
        raise ModelInputError("reference.with_signs", "more women with signs than women in the reference group")
    return {
        "workplaces": [_workplace(i, wp, table, data.reference) for i, wp in enumerate(data.workplaces)],
        "combine": table["assessment"]["combine"],
        "source": "seed 003 (Belarus MoH 2016) ch. 2 items 5-7 (ICD-10 signs), Table 1 (RR -> class)",
    }
