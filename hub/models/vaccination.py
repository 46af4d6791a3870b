"""Vaccination of workers: status per vaccine, due / overdue lists, coverage, incidence by vaccination.

Sources:

* seed 000 §2.3.1.8.1 (C): vaccination by the national calendar and the calendar by
  epidemic indications (Order 125н of 21.03.2014); the calendar's adult entries are
  configuration (``configs/models/vaccination.toml``, grade M — checked by the physician);
* seed 002 B.3.3.6 (C): the vaccinated / unvaccinated incidence comparison (worked example
  25 / (1000 + 100) ≈ 2.3 %, 2.5 % vs 0 %); measures of association from
  :mod:`hub.models._epistats`.

Status of one worker and vaccine on a date (pure; the calendar table decides):
``not_applicable`` (age, sex, group), ``exempt`` (contraindication or refusal on record),
``covered``, ``in_series`` (series started, next dose not yet due), ``due`` (from its due
date), ``overdue`` (``overdue_after_days`` after it; a worker with no record at all is due
from the day they became eligible). Seasonal vaccines (influenza) need a dose in the
current season. Coverage = covered / applicable per site, per group and overall.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.models import _epistats as es
from hub.models._config import load_table
from hub.models.registry import ModelInputError, register


class Dose(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    vaccine: str = Field(min_length=1)
    date: date


class Exemption(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    vaccine: str = Field(min_length=1)
    reason: Literal["contraindication", "refusal"]
    until: date | None = Field(default=None, description="temporary contraindication ends; none = permanent")


class Worker(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    worker: str = Field(min_length=1)
    site: str = Field(min_length=1)
    group: str | None = Field(default=None, description="department / unit for the coverage table")
    birth_date: date
    sex: Literal["M", "F"] | None = None
    groups: list[str] = Field(default_factory=list, description="professions / epidemic indications of the calendar")
    doses: list[Dose] = Field(default_factory=list)
    exemptions: list[Exemption] = Field(default_factory=list)


class Case(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    worker: str = Field(min_length=1)
    disease: str = Field(min_length=1)
    onset: date


class VaccinationInput(BaseModel):
    """Input of ``vaccination``: workers with their doses; optionally cases over a period."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    as_of: date
    workers: list[Worker] = Field(min_length=1)
    vaccines: list[str] | None = Field(default=None, description="restrict to these vaccines of the calendar")
    cases: list[Case] = Field(default_factory=list)
    period_start: date | None = None
    period_end: date | None = None

    @model_validator(mode="after")
    def _period(self) -> VaccinationInput:
        if self.cases and (self.period_start is None or self.period_end is None):
            raise ValueError("cases need period_start and period_end")
        if self.period_start and self.period_end and self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        return self


def calendar_table() -> Mapping[str, Any]:
    """The vaccination calendar table (``configs/models/vaccination.toml``)."""
    return load_table("vaccination")


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _birthday(birth: date, years: int) -> date:
    try:
        return birth.replace(year=birth.year + years)
    except ValueError:  # 29 February
        return birth.replace(year=birth.year + years, day=28)


def applicable(w: Worker, spec: Mapping[str, Any], on: date) -> bool:
    """Whether the calendar entry applies to the worker on that date (age, sex, groups)."""
    age = _age(w.birth_date, on)
    if not spec["age_min"] <= age <= spec["age_max"]:
        return False
    if spec.get("sex") and w.sex != spec["sex"]:
        return False
    if "age_max_without_group" in spec and age > spec["age_max_without_group"]:
        return bool(set(w.groups) & set(spec["risk_groups"]))
    if spec["groups"]:
        return bool(set(w.groups) & set(spec["groups"])) or age >= spec.get("or_age_at_least", 10**6)
    return True


def _season_start(on: date, mmdd: str) -> date:
    month, day = (int(x) for x in mmdd.split("-"))
    start = date(on.year, month, day)
    return start if on >= start else date(on.year - 1, month, day)


def status(w: Worker, name: str, spec: Mapping[str, Any], on: date, grace_days: int) -> dict[str, Any]:
    """Status of one worker for one vaccine on ``on`` (see module docstring)."""
    if not applicable(w, spec, on):
        return {"status": "not_applicable"}
    for ex in w.exemptions:
        if ex.vaccine == name and (ex.until is None or on <= ex.until):
            return {"status": "exempt", "reason": ex.reason, "until": ex.until.isoformat() if ex.until else None}
    dates = sorted(d.date for d in w.doses if d.vaccine == name and d.date <= on)
    eligible_from = _birthday(w.birth_date, int(spec["age_min"]))
    out: dict[str, Any] = {"doses": len(dates), "last_dose": dates[-1].isoformat() if dates else None}
    if spec["seasonal"]:
        start = _season_start(on, spec["season_start"])
        if dates and dates[-1] >= start:
            return {**out, "status": "covered", "season_start": start.isoformat()}
        due = max(start, eligible_from)
    elif len(dates) < spec["doses"]:
        due = dates[-1] + timedelta(days=spec["intervals_days"][len(dates) - 1]) if dates else eligible_from
        if on < due:
            return {**out, "status": "in_series", "next_due": due.isoformat()}
    elif spec["booster_days"] and on >= dates[-1] + timedelta(days=spec["booster_days"]):
        due = dates[-1] + timedelta(days=spec["booster_days"])
    else:
        nxt = dates[-1] + timedelta(days=spec["booster_days"]) if spec["booster_days"] else None
        return {**out, "status": "covered", "next_due": nxt.isoformat() if nxt else None}
    overdue = on > due + timedelta(days=grace_days)
    return {**out, "status": "overdue" if overdue else "due", "next_due": due.isoformat(), "no_record": not dates}


def _coverage(rows: list[dict[str, Any]], key: str, confidence: float) -> list[dict[str, Any]]:
    cells: dict[tuple[Any, Any], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        if r["status"] == "not_applicable":
            continue
        cell = cells[(r[key], r["vaccine"])]
        cell["applicable"] += 1
        cell[r["status"]] += 1
    out = []
    for (where, vaccine), c in sorted(cells.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        lo, hi = es.proportion_ci(c["covered"], c["applicable"], confidence)
        out.append({key: where, "vaccine": vaccine, "applicable": c["applicable"], "covered": c["covered"],
                    "coverage": c["covered"] / c["applicable"], "coverage_lower": lo, "coverage_upper": hi,
                    **{s: c[s] for s in ("in_series", "due", "overdue", "exempt")}})
    return out


def _incidence(data: VaccinationInput, cal: Mapping[str, Any], names: list[str], grace: int, confidence: float) -> list[dict[str, Any]]:
    by_disease = {d: v for v in names for d in cal[v]["diseases"]}
    known = {w.worker: w for w in data.workers}
    assert data.period_start is not None and data.period_end is not None
    cases: dict[str, set[str]] = defaultdict(set)
    outside: dict[str, int] = defaultdict(int)
    for i, c in enumerate(data.cases):
        if c.worker not in known:
            raise ModelInputError(f"cases.{i}.worker", f"no worker {c.worker!r} in 'workers'")
        if c.disease not in by_disease:
            raise ModelInputError(f"cases.{i}.disease", f"no vaccine of the calendar protects against {c.disease!r}; "
                                                        f"known: {', '.join(sorted(by_disease))}")
        if data.period_start <= c.onset <= data.period_end:
            cases[c.disease].add(c.worker)
        else:
            outside[c.disease] += 1
    out = []
    for disease in sorted(set(cases) | set(outside)):
        vaccine = by_disease[disease]
        vacc = [w.worker for w in data.workers
                if status(w, vaccine, cal[vaccine], data.period_start, grace)["status"] == "covered"]
        n1, n0 = len(vacc), len(data.workers) - len(vacc)
        a = len(cases[disease] & set(vacc))
        b = len(cases[disease]) - a  # unvaccinated cases
        total = len(data.workers)
        entry: dict[str, Any] = {
            "disease": disease, "vaccine": vaccine, "population": total, "cases": a + b,
            "risk": (a + b) / total, "vaccinated": n1, "vaccinated_cases": a, "unvaccinated": n0,
            "unvaccinated_cases": b, "risk_vaccinated": a / n1 if n1 else None,
            "risk_unvaccinated": b / n0 if n0 else None, "cases_outside_period": outside[disease],
            "vaccinated_at": data.period_start.isoformat(),
        }
        if n1 and n0:
            measures = es.two_by_two(a, n1, b, n0, confidence)
            entry["rr_vaccinated_vs_unvaccinated"] = measures["rr"]
            rr = measures["rr"]["estimate"]
            entry["vaccine_effectiveness"] = None if rr is None else 1.0 - rr
        out.append(entry)
    return out


@register("vaccination", VaccinationInput)
def vaccination(data: VaccinationInput) -> dict[str, Any]:
    """Vaccination status, due/overdue lists, coverage per site and group, incidence vaccinated vs not (125н)."""
    table = calendar_table()
    cal = table["vaccines"]
    names = list(data.vaccines or cal)
    for i, name in enumerate(names):
        if name not in cal:
            raise ModelInputError(f"vaccines.{i}", f"unknown vaccine {name!r}; known: {', '.join(cal)}")
    seen: set[str] = set()
    for i, w in enumerate(data.workers):
        if w.worker in seen:
            raise ModelInputError(f"workers.{i}.worker", f"worker {w.worker!r} given twice")
        seen.add(w.worker)
        for j, d in enumerate(w.doses):
            if d.vaccine not in cal:
                raise ModelInputError(f"workers.{i}.doses.{j}.vaccine", f"unknown vaccine {d.vaccine!r}")
            if d.date > data.as_of:
                raise ModelInputError(f"workers.{i}.doses.{j}.date", f"{d.date} is after as_of {data.as_of}")
        if w.birth_date >= data.as_of:
            raise ModelInputError(f"workers.{i}.birth_date", "birth date is not before as_of")
    grace = int(table["overdue_after_days"])
    confidence = float(table["incidence"]["confidence"])
    rows = []
    for w in data.workers:
        for name in names:
            rows.append({"worker": w.worker, "site": w.site, "group": w.group, "vaccine": name,
                         "calendar": cal[name]["calendar"], **status(w, name, cal[name], data.as_of, grace)})
    result: dict[str, Any] = {
        "as_of": data.as_of.isoformat(),
        "statuses": [r for r in rows if r["status"] != "not_applicable"],
        "due": [r for r in rows if r["status"] == "due"],
        "overdue": [r for r in rows if r["status"] == "overdue"],
        "coverage_by_site": _coverage(rows, "site", confidence),
        "coverage_by_group": _coverage(rows, "group", confidence),
        "coverage": _coverage([{**r, "all": "all"} for r in rows], "all", confidence),
        "calendar": {n: {"label": dict(cal[n]["label"]), "calendar": cal[n]["calendar"], "source": cal[n]["source"]}
                     for n in names},
        "source": "seed 000 §2.3.1.8.1 (Order 125н calendars, table configs/models/vaccination.toml, grade M); "
                  "seed 002 B.3.3.6 (incidence vaccinated vs unvaccinated)",
    }
    if data.cases:
        result["incidence"] = _incidence(data, cal, names, grace, confidence)
    return result
