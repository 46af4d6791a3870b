"""Smoking prevention programme: violations → reminders, proposed penalties and incentives.

Source: seed 000 §2.4.1 (C) — automated reminders and messages about the ban (15-ФЗ) and
the damage, "an automated system of calculating rewards and fines for smoking", help to
quit, laboratory screening of smokers at the periodic exams. The rules (windows, steps,
amounts) are the enterprise's local regulation: ``configs/models/smoking_programme.toml``
(design defaults). A monetary fine is not a disciplinary sanction of the Labour Code
(art. 192 ТК РФ, grade M), so a "penalty" is a proposed bonus reduction or procedure for
the employer to decide.

Input: the violations of ``smoke-report`` (location, start, optionally the person the
investigation attributed it to), the programme's participants (unit, smoking status,
quit date and its confirmation, enrolment) and the units' locations.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.models._config import load_table
from hub.models.registry import ModelInputError, register


class Violation(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="ignore")  # accepts the `violations` of smoke-report as they are

    start: datetime
    location: str = Field(min_length=1)
    site: str | None = None
    person: str | None = Field(default=None, description="worker the investigation attributed it to")


class Participant(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    worker: str = Field(min_length=1)
    unit: str = Field(min_length=1)
    status: Literal["current", "former", "never"]
    quit_date: date | None = None
    quit_confirmed: bool = Field(default=False, description="confirmed by laboratory screening (seed 000)")
    enrolled_on: date | None = Field(default=None, description="joined the quit-smoking programme")


class Unit(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    unit: str = Field(min_length=1)
    locations: list[str] = Field(default_factory=list)


class SmokingProgrammeInput(BaseModel):
    """Input of ``smoking-programme``: one period's violations, participants and units."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    period_start: date
    period_end: date
    violations: list[Violation] = Field(default_factory=list)
    participants: list[Participant] = Field(default_factory=list)
    units: list[Unit] = Field(default_factory=list)

    @model_validator(mode="after")
    def _period(self) -> SmokingProgrammeInput:
        if self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        return self


def _table() -> Mapping[str, Any]:
    return load_table("smoking_programme")


def penalty_step(count: int, table: Mapping[str, Any]) -> Mapping[str, Any]:
    """The configured step for the ``count``-th violation within the window."""
    steps = sorted(table["penalties"], key=lambda s: s["from_violation"])
    step: Mapping[str, Any] = [s for s in steps if s["from_violation"] <= count][-1]
    return step


def _check(data: SmokingProgrammeInput) -> None:
    people: dict[str, Participant] = {}
    for i, p in enumerate(data.participants):
        if p.worker in people:
            raise ModelInputError(f"participants.{i}.worker", f"worker {p.worker!r} given twice")
        if p.status == "former" and p.quit_date is None:
            raise ModelInputError(f"participants.{i}.quit_date", "a former smoker needs the quit date")
        people[p.worker] = p
    for i, v in enumerate(data.violations):
        if v.person is not None and v.person not in people:
            raise ModelInputError(f"violations.{i}.person", f"no participant {v.person!r}")
        if not data.period_start <= v.start.date() <= data.period_end:
            raise ModelInputError(f"violations.{i}.start", f"{v.start.date()} is outside the period "
                                                           f"{data.period_start}..{data.period_end}")
    owner: dict[str, str] = {}
    for i, u in enumerate(data.units):
        for loc in u.locations:
            if loc in owner and owner[loc] != u.unit:
                raise ModelInputError(f"units.{i}.locations", f"location {loc!r} belongs to {owner[loc]!r} too")
            owner[loc] = u.unit


@register("smoking-programme", SmokingProgrammeInput)
def smoking_programme(data: SmokingProgrammeInput) -> dict[str, Any]:
    """Seed 000 §2.4.1 programme: reminders, proposed penalties (bonus regulation) and incentives."""
    table = _table()
    _check(data)
    window = timedelta(days=int(table["window_days"]))
    violations = sorted(data.violations, key=lambda v: v.start)
    by_location: dict[str, int] = defaultdict(int)
    reminders: list[dict[str, Any]] = []
    loc_rule = table["reminders"]["location"]
    for v in violations:
        by_location[v.location] += 1
    for loc, count in sorted(by_location.items()):
        if count >= loc_rule["min_violations"]:
            reminders.append({"to": "location", "location": loc, "violations": count,
                              "text": {k: t.format(location=loc) for k, t in loc_rule["text"].items()}})
    penalties: list[dict[str, Any]] = []
    by_person: dict[str, list[datetime]] = defaultdict(list)
    for v in violations:
        if v.person is None:
            continue
        history = [t for t in by_person[v.person] if v.start - t <= window]
        by_person[v.person].append(v.start)
        count = len(history) + 1
        step = penalty_step(count, table)
        text = {k: t.format(count=count, window=table["window_days"])
                for k, t in table["reminders"]["person"]["text"].items()}
        reminders.append({"to": "person", "worker": v.person, "time": v.start.isoformat(), "text": text})
        penalties.append({"worker": v.person, "time": v.start.isoformat(), "location": v.location,
                          "violation_in_window": count, "action": step["action"],
                          "bonus_reduction_percent": step["bonus_reduction_percent"], "status": "proposed"})
    incentives: list[dict[str, Any]] = []
    inc = table["incentives"]
    need = timedelta(days=30.4375 * inc["quit_confirmed_months"])
    for p in data.participants:
        if (p.status == "former" and p.quit_confirmed and p.quit_date is not None
                and data.period_end - p.quit_date >= need and p.worker not in by_person):
            incentives.append({"kind": "quit_confirmed", "worker": p.worker, "amount": inc["quit_reward"],
                               "since": p.quit_date.isoformat()})
        if p.enrolled_on is not None and data.period_start <= p.enrolled_on <= data.period_end:
            incentives.append({"kind": "enrolment", "worker": p.worker, "amount": inc["enrolment_reward"]})
    unit_rows = []
    for u in data.units:
        count = sum(by_location.get(loc, 0) for loc in u.locations)
        workers = [p.worker for p in data.participants if p.unit == u.unit]
        unit_rows.append({"unit": u.unit, "locations": list(u.locations), "violations": count, "workers": len(workers)})
        if count == 0 and workers:
            incentives.append({"kind": "smoke_free_unit", "unit": u.unit, "workers": len(workers),
                               "amount": inc["smoke_free_unit_reward_per_worker"] * len(workers)})
    smokers = [p for p in data.participants if p.status == "current"]
    return {
        "period": {"start": data.period_start.isoformat(), "end": data.period_end.isoformat()},
        "violations": len(violations),
        "attributed": sum(1 for v in violations if v.person),
        "by_location": [{"location": k, "violations": n} for k, n in sorted(by_location.items(), key=lambda kv: -kv[1])],
        "by_unit": unit_rows,
        "reminders": reminders,
        "penalties": penalties,
        "incentives": incentives,
        "incentives_total": sum(i["amount"] for i in incentives),
        "currency": table["currency"],
        "participants": {"current": len(smokers), "former": sum(1 for p in data.participants if p.status == "former"),
                         "enrolled_current_smokers": sum(1 for p in smokers if p.enrolled_on is not None)},
        "rules": {"window_days": table["window_days"], "penalties": [dict(s) for s in table["penalties"]]},
        "note": "penalties are PROPOSED for the employer (bonus regulation; a monetary fine is not a sanction of "
                "art. 192 ТК РФ); reminders and incentives follow the enterprise's local regulation",
        "source": "seed 000 §2.4.1; 15-ФЗ; configs/models/smoking_programme.toml",
    }
