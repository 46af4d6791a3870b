"""Epidemiological indicators for groups of workers and from kiosk exams.

Sources:

* seed 002 B.3.3.6 (C; reference.md §6.1): risk group; prevalence proportion
  ``PP = cases / population``; incidence proportion ``IP = new cases / population at the
  start``; incidence rate ``IR = new cases / person-time at risk``; prevalence
  ``P = (existing + new cases) / observed population``; simplest risk
  ``R = incidents / population`` with the split by group (the vaccination example:
  25/(1000+100) ≈ 2.3 %, 2.5 % vs 0 %);
* seed 000 §2.3.1.8 (temperature checks analysed for early signs of spread), §2.4.2
  (alcohol control), §2.3.1 (remote BP): the ``exams`` indicators;
* measures of association and their intervals: :mod:`hub.models._epistats` (Rothman; epiR
  formulas [EPIR]); standardisation §6.3.

Thresholds and interval methods: ``configs/models/epi.toml``.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.models import _epistats as es
from hub.models._config import load_table, thaw_table
from hub.models.registry import ModelInputError, register

CONFIG_TABLE = "epi"


def _config() -> dict[str, Any]:
    return thaw_table(load_table(CONFIG_TABLE))


# --------------------------------------------------------------------------- input schema


class Stratum(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    stratum: str = Field(min_length=1, description="e.g. 'M 18-29'; must match the standard's keys")
    population: int = Field(ge=0)
    cases: int = Field(ge=0)
    person_time: float | None = Field(default=None, gt=0)


class Group(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    name: str = Field(min_length=1)
    population: int = Field(gt=0, description="population at risk at the start / observed population")
    cases: int = Field(ge=0, description="incidents (cases) in the group over the period")
    person_time: float | None = Field(default=None, gt=0, description="total person-time at risk")
    new_cases: int | None = Field(default=None, ge=0)
    existing_cases: int | None = Field(default=None, ge=0)
    strata: list[Stratum] | None = Field(default=None, min_length=1)


class Comparison(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    exposed: str
    reference: str


class Exam(BaseModel):
    """One kiosk exam record (only the fields the indicators use; others are ignored)."""

    model_config = ConfigDict(allow_inf_nan=False, extra="ignore")

    time: datetime
    site: str = Field(min_length=1)
    shift: str | None = None
    worker: str | None = None
    temperature_c: float | None = None
    brac_mg_l: float | None = None
    systolic_mmhg: float | None = None
    diastolic_mmhg: float | None = None


class EpiInput(BaseModel):
    """Input of ``epi``: ``groups`` (with optional comparisons and standardisation) and/or ``exams``."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    groups: list[Group] | None = Field(default=None, min_length=1)
    reference: str | None = Field(default=None, description="compare every other group with this one")
    comparisons: list[Comparison] | None = None
    standard_population: dict[str, float] | None = Field(
        default=None, description="stratum -> weight or standard population count (direct standardisation)")
    reference_rates: dict[str, float] | None = Field(
        default=None, description="stratum -> reference rate (indirect standardisation, SMR)")
    exams: list[Exam] | None = Field(default=None, min_length=1)
    confidence: float | None = Field(default=None, gt=0.5, lt=1)

    @model_validator(mode="after")
    def _something(self) -> "EpiInput":
        if not (self.groups or self.exams):
            raise ValueError("give groups or exams")
        return self


# --------------------------------------------------------------------------- groups


def group_indicators(g: Group, confidence: float, method: str) -> dict[str, Any]:
    """Seed 002 B.3.3.6 indicators of one group."""
    lo, hi = es.proportion_ci(g.cases, g.population, confidence, method)
    out: dict[str, Any] = {
        "name": g.name,
        "population": g.population,
        "cases": g.cases,
        "risk": g.cases / g.population,
        "risk_lower": lo,
        "risk_upper": hi,
        "risk_percent": 100.0 * g.cases / g.population,
        "prevalence_proportion": None,
        "incidence_proportion": None,
        "prevalence": None,
        "incidence_rate": None,
    }
    if g.existing_cases is not None:
        out["prevalence_proportion"] = g.existing_cases / g.population
    if g.new_cases is not None:
        out["incidence_proportion"] = g.new_cases / g.population
    if g.existing_cases is not None and g.new_cases is not None:
        out["prevalence"] = (g.existing_cases + g.new_cases) / g.population
    if g.person_time is not None:
        numerator = g.new_cases if g.new_cases is not None else g.cases
        out["person_time"] = g.person_time
        out["incidence_rate"] = es.rate_ci(numerator, g.person_time, confidence)
    return out


def _check_group(g: Group, i: int) -> None:
    if g.cases > g.population:
        raise ModelInputError(f"groups.{i}.cases", "more cases than the population")
    for field in ("new_cases", "existing_cases"):
        value = getattr(g, field)
        if value is not None and value > g.population:
            raise ModelInputError(f"groups.{i}.{field}", "more than the population")
    if g.existing_cases is not None and g.new_cases is not None and g.existing_cases + g.new_cases > g.population:
        raise ModelInputError(f"groups.{i}.new_cases", "existing + new cases exceed the population")
    # Issue 13, error 6: the parts must agree with the case total (the seed 002 B.3.3.6 cases of
    # the period are the existing plus the new ones; neither part can exceed the total).
    if g.existing_cases is not None and g.new_cases is not None and g.existing_cases + g.new_cases != g.cases:
        raise ModelInputError(f"groups.{i}.cases", f"cases ({g.cases}) disagree with existing + new cases "
                                                   f"({g.existing_cases} + {g.new_cases})")
    for field in ("new_cases", "existing_cases"):
        value = getattr(g, field)
        if value is not None and value > g.cases:
            raise ModelInputError(f"groups.{i}.{field}", f"more than the case total ({value} > {g.cases})")
    for j, s in enumerate(g.strata or []):
        if s.cases > s.population:
            raise ModelInputError(f"groups.{i}.strata.{j}.cases", "more cases than the population")


def _pairs(data: EpiInput, names: list[str]) -> list[tuple[str, str, str]]:
    """(exposed, reference, field path) pairs to compare."""
    if data.comparisons:
        out = []
        for k, c in enumerate(data.comparisons):
            for role in ("exposed", "reference"):
                if getattr(c, role) not in names:
                    raise ModelInputError(f"comparisons.{k}.{role}", f"no group named {getattr(c, role)!r}")
            out.append((c.exposed, c.reference, f"comparisons.{k}"))
        return out
    if data.reference is not None:
        if data.reference not in names:
            raise ModelInputError("reference", f"no group named {data.reference!r}")
        return [(n, data.reference, "reference") for n in names if n != data.reference]
    return [(x, y, "groups") for x, y in itertools.combinations(names, 2)]


def _size(s: Stratum, use_pt: bool) -> float:
    """A stratum's denominator: its person-time when every stratum has one (``use_pt``), else its head count."""
    if use_pt:
        assert s.person_time is not None  # use_pt: every stratum has person-time
        return s.person_time
    return s.population


def _standardise(data: EpiInput, i: int, g: Group, confidence: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    strata = {s.stratum: s for s in g.strata or []}
    if len(strata) != len(g.strata or []):
        raise ModelInputError(f"groups.{i}.strata", "a stratum is given twice")
    use_pt = bool(strata) and all(s.person_time is not None for s in strata.values())
    if data.standard_population:
        missing = [k for k, w in data.standard_population.items() if w > 0 and k not in strata]
        if missing:
            raise ModelInputError(f"groups.{i}.strata", f"no data for standard strata {', '.join(missing)}")
        keys = [k for k, w in data.standard_population.items() if w > 0]
        for k in keys:
            if _size(strata[k], use_pt) == 0:
                raise ModelInputError(f"groups.{i}.strata", f"stratum {k!r} has no population to compute a rate")
        dsr = es.direct_standardised(
            [strata[k].cases for k in keys],
            [_size(strata[k], use_pt) for k in keys],
            [data.standard_population[k] for k in keys], confidence)
        dsr["basis"] = "person_time" if use_pt else "population"
        out["direct_standardised"] = dsr
    if data.reference_rates:
        unknown = [k for k in strata if k not in data.reference_rates]
        if unknown:
            raise ModelInputError("reference_rates", f"no reference rate for strata {', '.join(unknown)}")
        expected = sum(_size(s, use_pt) * data.reference_rates[k] for k, s in strata.items())
        observed = sum(s.cases for s in strata.values())
        if expected <= 0:
            raise ModelInputError("reference_rates", "the expected number of cases is zero")
        out["smr"] = es.smr(observed, expected, confidence)
    return out


def epi_groups(data: EpiInput, cfg: Mapping[str, Any]) -> dict[str, Any]:
    confidence = float(data.confidence or cfg["intervals"]["confidence"])
    method = cfg["intervals"]["proportion_method"]
    groups = data.groups or []
    names = [g.name for g in groups]
    if len(set(names)) != len(names):
        raise ModelInputError("groups", "group names must be unique")
    for i, g in enumerate(groups):
        _check_group(g, i)
    if (data.standard_population or data.reference_rates) and not all(g.strata for g in groups):
        missing = next(i for i, g in enumerate(groups) if not g.strata)
        raise ModelInputError(f"groups.{missing}.strata", "standardisation needs strata in every group")
    if data.standard_population is not None and sum(data.standard_population.values()) <= 0:
        raise ModelInputError("standard_population", "weights must add up to more than zero")
    if data.standard_population and any(w < 0 for w in data.standard_population.values()):
        raise ModelInputError("standard_population", "weights must not be negative")
    if data.reference_rates and any(r < 0 for r in data.reference_rates.values()):
        raise ModelInputError("reference_rates", "rates must not be negative")

    out_groups = []
    for i, g in enumerate(groups):
        entry = group_indicators(g, confidence, method)
        entry.update(_standardise(data, i, g, confidence))
        out_groups.append(entry)

    pop = sum(g.population for g in groups)
    overall = Group(
        name="overall", population=pop, cases=sum(g.cases for g in groups),
        person_time=sum(g.person_time for g in groups) if all(g.person_time for g in groups) else None,
        new_cases=sum(g.new_cases for g in groups) if all(g.new_cases is not None for g in groups) else None,
        existing_cases=(sum(g.existing_cases for g in groups)
                        if all(g.existing_cases is not None for g in groups) else None),
    )
    by_name = {g.name: g for g in groups}
    comparisons = []
    for exposed, reference, _path in _pairs(data, names):
        ge, gr = by_name[exposed], by_name[reference]
        entry = {"exposed": exposed, "reference": reference,
                 **es.two_by_two(ge.cases, ge.population, gr.cases, gr.population, confidence)}
        if ge.person_time is not None and gr.person_time is not None:
            a = ge.new_cases if ge.new_cases is not None else ge.cases
            c = gr.new_cases if gr.new_cases is not None else gr.cases
            entry["irr"] = es.irr(a, ge.person_time, c, gr.person_time, confidence)
        comparisons.append(entry)
    return {
        "confidence": confidence,
        "proportion_interval": method,
        "overall": group_indicators(overall, confidence, method),
        "groups": out_groups,
        "comparisons": comparisons,
    }


# --------------------------------------------------------------------------- kiosk exams


def _last_per_worker_day(exams: Sequence[Exam]) -> list[dict[str, Any]]:
    """One record per worker-day holding the last non-missing value of each measure (re-tests
    supersede first readings, reference.md §1.4–1.5; D). Exams without a worker id stay as they are."""
    merged: dict[tuple[str, str, date], dict[str, Any]] = {}  # (worker, site, day)
    anonymous = []
    for e in sorted(exams, key=lambda e: e.time):
        rec = e.model_dump()
        rec["date"] = e.time.date()
        if e.worker is None:
            anonymous.append(rec)
            continue
        key = (e.worker, e.site, rec["date"])
        if key not in merged:
            merged[key] = rec
        else:
            for field in ("temperature_c", "brac_mg_l", "systolic_mmhg", "diastolic_mmhg", "shift"):
                if rec[field] is not None:
                    merged[key][field] = rec[field]
    return list(merged.values()) + anonymous


def kiosk_indicators(exams: Sequence[Exam], cfg: Mapping[str, Any], confidence: float, method: str) -> dict[str, Any]:
    """Febrile workers per day and site, alcohol-positive rate per site and shift, BP out of range
    per site (proportions with intervals), and the daily febrile counts per site for ``rt``."""
    k = cfg["kiosk"]
    records = _last_per_worker_day(exams)

    def prop(n: int, x: int) -> dict[str, Any]:
        lo, hi = es.proportion_ci(x, n, confidence, method) if n else (None, None)
        return {"proportion": x / n if n else None, "lower": lo, "upper": hi}

    febrile: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0])
    alcohol: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    bp: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for r in records:
        if r["temperature_c"] is not None:
            cell = febrile[(r["date"], r["site"])]
            cell[0] += 1
            cell[1] += r["temperature_c"] >= k["febrile_temperature_c"]
        if r["brac_mg_l"] is not None:
            cell = alcohol[(r["site"], r["shift"] or "")]
            cell[0] += 1
            cell[1] += r["brac_mg_l"] >= k["alcohol_positive_mg_l"]
        if r["systolic_mmhg"] is not None and r["diastolic_mmhg"] is not None:
            cell = bp[r["site"]]
            high = r["systolic_mmhg"] >= k["bp_high_systolic"] or r["diastolic_mmhg"] >= k["bp_high_diastolic"]
            low = r["systolic_mmhg"] < k["bp_low_systolic"] or r["diastolic_mmhg"] < k["bp_low_diastolic"]
            cell[0] += 1
            cell[1] += high or low
            cell[2] += high
            cell[3] += low

    febrile_rows = [
        {"date": d.isoformat(), "site": s, "examined": n, "febrile": x, **prop(n, x)}
        for (d, s), (n, x) in sorted(febrile.items())
    ]
    daily: dict[str, dict[str, Any]] = {}
    for site in sorted({s for _, s in febrile}):
        days = sorted(d for d, s in febrile if s == site)
        first, last = days[0], days[-1]
        dates = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        daily[site] = {
            "dates": [d.isoformat() for d in dates],
            "febrile": [febrile[(d, site)][1] if (d, site) in febrile else 0 for d in dates],
            "examined": [febrile[(d, site)][0] if (d, site) in febrile else 0 for d in dates],
        }
    return {
        "worker_day_reading": k["worker_day_reading"],
        "thresholds": {key: k[key] for key in (
            "febrile_temperature_c", "alcohol_positive_mg_l", "bp_high_systolic", "bp_high_diastolic",
            "bp_low_systolic", "bp_low_diastolic")},
        "febrile_by_day_site": febrile_rows,
        "febrile_daily": daily,
        "alcohol_by_site_shift": [
            {"site": s, "shift": sh or None, "tested": n, "positive": x, **prop(n, x)}
            for (s, sh), (n, x) in sorted(alcohol.items())
        ],
        "bp_by_site": [
            {"site": s, "measured": n, "out_of_range": x, "high": hi, "low": lo, **prop(n, x)}
            for s, (n, x, hi, lo) in sorted(bp.items())
        ],
    }


@register("epi", EpiInput)
def epi(data: EpiInput) -> dict[str, Any]:
    """Epidemiology: risk, PP, IP, IR, prevalence (seed 002 B.3.3.6), RR/OR/RD/AF/PAF, standardisation, kiosk rates."""
    cfg = _config()
    result: dict[str, Any] = {}
    if data.groups:
        result.update(epi_groups(data, cfg))
    if data.exams:
        confidence = float(data.confidence or cfg["intervals"]["confidence"])
        result["kiosk"] = kiosk_indicators(data.exams, cfg, confidence, cfg["intervals"]["proportion_method"])
    return result
