"""The worker's individual health plan: one record joining exams, risk group, norm, vaccinations, measures.

Source: seed 000 (an individual, confidential plan of medical and health measures per worker,
built and adjusted automatically; a digital health passport), seed 004 Table 3 (measures by
risk group, via :func:`hub.models.risk_group.measures_for_group`), the 2002 recommendations
on the individual norm, seed 000 §2.3.1.8.1 (vaccination, via :mod:`hub.models.vaccination`),
§2.3.1.5 (cardiovascular forecast) and §2.4.1 (smoking). Defaults:
``configs/models/health_plan.toml``.

Pure: the caller passes what the hub holds for one worker; the plan decides nothing new,
it collects the items with their source, due date and status, and a flat ``export_rows``
table (CSV-ready). Readers (medic, the worker on request) are recorded with the plan; the
hub's access layer enforces them and audits each read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.models._config import load_table
from hub.models.registry import ModelInputError, register
from hub.models.risk_group import measures_for_group
from hub.models.vaccination import Dose, Exemption, calendar_table
from hub.models.vaccination import Worker as VaccWorker
from hub.models.vaccination import status as vaccination_status


class Exam(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    date: date
    kind: Literal["preliminary", "periodic", "extraordinary", "pre_shift", "post_shift", "pre_trip", "post_trip",
                  "in_shift"]
    conclusion: str | None = Field(default=None, description="fit / unfit / needs_medic / ... as recorded")


class RiskGroup(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    group: int = Field(ge=1, le=5)
    status: Literal["proposed", "confirmed"] = "proposed"
    confirmed_by: str | None = None
    confirmed_on: date | None = None
    nosology: str | None = None


class Norm(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    systolic_mmhg: float | None = Field(default=None, gt=0)
    diastolic_mmhg: float | None = Field(default=None, gt=0)
    pulse_bpm: float | None = Field(default=None, gt=0)
    n_readings: int | None = Field(default=None, ge=0)
    approved_by: str | None = None
    approved_on: date | None = None


class Vaccination(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    site: str = "—"
    groups: list[str] = Field(default_factory=list)
    doses: list[Dose] = Field(default_factory=list)
    exemptions: list[Exemption] = Field(default_factory=list)


class Cardiovascular(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    model: Literal["SCORE", "SCORE2", "SCORE2-OP"]
    category: Literal["low", "moderate", "low_to_moderate", "high", "very_high"]
    risk_percent: float | None = Field(default=None, ge=0, le=100)
    date: date


class ExtraMeasure(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    measure: str = Field(min_length=1)
    owner: str | None = None
    due: date | None = None
    done: bool = False


class HealthPlanInput(BaseModel):
    """Input of ``health-plan``: what the hub holds for one worker."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    as_of: date
    worker: str = Field(min_length=1)
    full_name: str | None = None
    birth_date: date
    sex: Literal["M", "F"] | None = None
    exams: list[Exam] = Field(default_factory=list)
    risk_group: RiskGroup | None = None
    individual_norm: Norm | None = None
    vaccination: Vaccination | None = None
    cardiovascular: Cardiovascular | None = None
    smoking: Literal["never", "former", "current"] | None = None
    extra_measures: list[ExtraMeasure] = Field(default_factory=list, description="added by the physician")


def _table() -> Mapping[str, Any]:
    return load_table("health_plan")


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise ValueError(f"cannot add {months} months to {d}")


def _item(table: Mapping[str, Any], key: str, area: str, status: str, due: date | None = None, **detail: Any) -> dict[str, Any]:
    m = table["measures"][key]
    return {"area": area, "measure": dict(m["text"]), "source": m["source"], "status": status,
            "due": due.isoformat() if due else None, **detail}


def _exam_part(data: HealthPlanInput, table: Mapping[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    group = data.risk_group.group if data.risk_group else 1
    interval = int(table["periodic_interval_months"][str(group)])
    periodic = sorted((e for e in data.exams if e.kind in ("preliminary", "periodic")), key=lambda e: e.date)
    last = periodic[-1] if periodic else None
    due = _add_months(last.date, interval) if last else data.as_of
    in_centre = group in table["pathology_centre_groups"]
    status = "overdue" if data.as_of > due else ("due" if data.as_of == due or last is None else "planned")
    items.append(_item(table, "periodic_exam", "examinations", status, due, interval_months=interval,
                       in_occupational_pathology_centre=in_centre))
    shift = sorted((e for e in data.exams if e.kind not in ("preliminary", "periodic", "extraordinary")),
                   key=lambda e: e.date)
    return {"last_periodic": last.model_dump(mode="json") if last else None, "next_periodic_due": due.isoformat(),
            "interval_months": interval, "in_occupational_pathology_centre": in_centre,
            "last_shift_exam": shift[-1].model_dump(mode="json") if shift else None,
            "shift_exams": len(shift)}


def _norm_part(norm: Norm | None, data: HealthPlanInput, table: Mapping[str, Any], items: list[dict[str, Any]]) -> dict[str, Any] | None:
    if norm is None:
        return None
    problems = []
    if norm.n_readings is None or norm.n_readings < int(table["norm_min_readings"]):
        problems.append(f"computed from {norm.n_readings or 'an unstated number of'} readings "
                        f"(at least {table['norm_min_readings']})")
    if not norm.approved_by or norm.approved_on is None:
        problems.append("no physician's approval (who, when)")
    applied = not problems
    review = _add_months(norm.approved_on, int(table["norm_review_months"])) if norm.approved_on else None
    if not applied:
        items.append(_item(table, "norm_missing_approval", "individual norm", "due", data.as_of, problems=problems))
    elif review is not None:
        items.append(_item(table, "norm_review", "individual norm",
                           "overdue" if data.as_of > review else "planned", review))
    return {**norm.model_dump(mode="json"), "applied_by_kiosk": applied, "problems": problems,
            "review_due": review.isoformat() if review else None}


def _vaccination_part(data: HealthPlanInput, table: Mapping[str, Any], items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    v = data.vaccination
    if v is None:
        return []
    cal = calendar_table()
    worker = VaccWorker(worker=data.worker, site=v.site, birth_date=data.birth_date, sex=data.sex, groups=v.groups,
                        doses=v.doses, exemptions=v.exemptions)
    for j, dose in enumerate(v.doses):
        if dose.vaccine not in cal["vaccines"]:
            raise ModelInputError(f"vaccination.doses.{j}.vaccine", f"unknown vaccine {dose.vaccine!r}")
    out = []
    for name, spec in cal["vaccines"].items():
        st = vaccination_status(worker, name, spec, data.as_of, int(cal["overdue_after_days"]))
        if st["status"] == "not_applicable":
            continue
        out.append({"vaccine": name, "label": dict(spec["label"]), **st})
        if st["status"] in ("due", "overdue"):
            items.append(_item(table, "vaccination", "vaccination", st["status"],
                               date.fromisoformat(st["next_due"]), vaccine=name, vaccine_label=dict(spec["label"])))
    return out


@register("health-plan", HealthPlanInput)
def health_plan(data: HealthPlanInput) -> dict[str, Any]:
    """The worker's individual health plan (seed 000): exams, risk group + measures, norm, vaccinations."""
    table = _table()
    if data.birth_date >= data.as_of:
        raise ModelInputError("birth_date", "birth date is not before as_of")
    items: list[dict[str, Any]] = []
    exams = _exam_part(data, table, items)
    norm = _norm_part(data.individual_norm, data, table, items)
    vaccinations = _vaccination_part(data, table, items)
    group = data.risk_group
    measures = measures_for_group(group.group) if group else None
    if measures:
        ru = measures.get("ru", {})
        for kind, owner in (("medical", "medical organisation"), ("employer", "employer")):
            ru_texts = ru.get(kind) or []
            for k, text in enumerate(measures[kind]):
                measure = {"ru": ru_texts[k], "en": text} if len(ru_texts) == len(measures[kind]) else {"en": text}
                items.append({"area": "risk group (seed 004 Table 3)", "measure": measure, "status": "planned",
                              "due": None, "source": "seed 004 Table 3", "owner": owner})
    cv = data.cardiovascular
    if cv is not None and cv.category in table["cv_counselling_from"]:
        items.append(_item(table, "cv_counselling", "cardiovascular", "due", data.as_of, category=cv.category))
    if data.smoking == "current":
        items.append(_item(table, "smoking_cessation", "habits", "due", data.as_of))
    for m in data.extra_measures:
        items.append({"area": "physician", "measure": {"ru": m.measure}, "status": "done" if m.done else "planned",
                      "due": m.due.isoformat() if m.due else None, "source": "physician", "owner": m.owner})
    export = [{"worker": data.worker, "area": it["area"], "measure": it["measure"].get("ru") or it["measure"].get("en"),
               "status": it["status"], "due": it["due"], "source": it["source"]} for it in items]
    return {
        "worker": data.worker, "full_name": data.full_name, "birth_date": data.birth_date.isoformat(), "sex": data.sex,
        "as_of": data.as_of.isoformat(),
        "confidential": True, "readers": list(table["readers"]["roles"]), "legal_basis": table["readers"]["legal_basis"],
        "exams": exams,
        "risk_group": {**group.model_dump(mode="json"), "measures": measures} if group else None,
        "individual_norm": norm,
        "vaccinations": vaccinations,
        "cardiovascular": cv.model_dump(mode="json") if cv else None,
        "smoking": data.smoking,
        "worker_duties": measures["worker"] if measures else None,
        "plan": items,
        "open_items": sum(1 for it in items if it["status"] in ("due", "overdue")),
        "export_rows": export,
        "source": "seed 000 (individual plan, 4P); seed 004 Table 3; 2002 recommendations; 125н; "
                  "configs/models/health_plan.toml",
    }
