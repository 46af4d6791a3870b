"""Vaccinations, exemptions and infectious cases recorded by the medic, and the live vaccination picture.

Seed 000 §2.3.1.8 asks the employer to organise vaccination by the national calendar and the
calendar by epidemic indications (Order 125н) and to compare incidence among the vaccinated and
the unvaccinated (seed 002 B.3.3.6). The medic records each dose, each contraindication or
refusal and each diagnosed case; :func:`picture` runs the ``vaccination`` model
(:mod:`hub.models.vaccination`, calendar in ``configs/models/vaccination.toml``) over the
registry's workers of a site with what is recorded: status per worker and vaccine, due and
overdue lists, coverage per site and unit, and the incidence comparison.

A worker's vaccinations are medical data: the medic records and reads them (audited by the
routes); OHS and admin get the coverage table only, with small cells hidden
(:mod:`hub.analytics.privacy`: a unit with 1 to k-1 covered or uncovered workers).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from firmware_bridges.sqlite_tx import immediate_transaction
from hub import workers
from hub.models.registry import ModelInputError, run_model
from hub.models.vaccination import calendar_table
from hub.store import RequestRefused

SCHEMA = """
CREATE TABLE IF NOT EXISTS vaccination_records (
    id INTEGER PRIMARY KEY, personnel_number TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('dose', 'exemption', 'case')),
    vaccine TEXT, disease TEXT, on_date TEXT NOT NULL, reason TEXT, until TEXT, note TEXT,
    recorded_by TEXT NOT NULL, recorded_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS vaccination_records_by_worker ON vaccination_records(personnel_number, id);
"""


class RecordIn(BaseModel):
    """One dose, exemption (contraindication / refusal) or diagnosed case."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(pattern="^(dose|exemption|case)$")
    vaccine: str | None = Field(default=None, max_length=64, description="a vaccine of the calendar (dose, exemption)")
    disease: str | None = Field(default=None, max_length=64, description="the disease code of a case")
    on_date: date = Field(description="the dose's date, the exemption's start or the case's onset")
    reason: str | None = Field(default=None, pattern="^(contraindication|refusal)$")
    until: date | None = Field(default=None, description="a temporary contraindication ends")
    note: str | None = Field(default=None, max_length=500, description="batch, clinic, diagnosis text")


class VaccinationError(RequestRefused):
    """A request this module refuses (``status``: the HTTP status, ``field``: the input at fault)."""


def ensure_schema(store) -> None:
    workers.ensure_schema(store)
    store.ensure_schema("vaccinations", SCHEMA)


def record(store, personnel_number: str, item: dict[str, Any], medic: str) -> dict[str, Any]:
    try:
        entry = RecordIn.model_validate(item)
    except ValidationError as error:
        first = error.errors()[0]
        raise VaccinationError(422, first["msg"], ".".join(str(p) for p in first["loc"])) from None
    vaccines = calendar_table()["vaccines"]
    if entry.kind in ("dose", "exemption") and entry.vaccine not in vaccines:
        raise VaccinationError(422, f"vaccine {entry.vaccine!r} is not in the calendar; known: {', '.join(vaccines)}",
                               "vaccine")
    if entry.kind == "exemption" and entry.reason is None:
        raise VaccinationError(422, "an exemption needs its reason: contraindication or refusal", "reason")
    if entry.kind == "case" and not entry.disease:
        raise VaccinationError(422, "a case needs its disease", "disease")
    if entry.on_date > datetime.now(timezone.utc).date():
        raise VaccinationError(422, f"{entry.on_date} is in the future", "on_date")
    ensure_schema(store)
    workers.worker(store, personnel_number)  # 404 for someone not in the registry
    with store.lock, immediate_transaction(store.conn) as conn:
        row_id = conn.execute(
            "INSERT INTO vaccination_records (personnel_number, kind, vaccine, disease, on_date, reason, until, note, "
            "recorded_by, recorded_at) VALUES (?,?,?,?,?,?,?,?,?,?) RETURNING id",
            (personnel_number, entry.kind, entry.vaccine, entry.disease, entry.on_date.isoformat(), entry.reason,
             entry.until.isoformat() if entry.until else None, entry.note, medic,
             datetime.now(timezone.utc).isoformat())).fetchone()[0]
    return store.query("SELECT * FROM vaccination_records WHERE id = ?", [row_id])[0]


def records(store, personnel_number: str) -> list[dict[str, Any]]:
    ensure_schema(store)
    return store.query("SELECT * FROM vaccination_records WHERE personnel_number = ? ORDER BY on_date, id",
                       [personnel_number])


def model_worker(person: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A registry entry and its records as the ``vaccination`` model's worker (None without a birth date)."""
    if not person.get("birth_date"):
        return None
    return {
        "worker": person["personnel_number"], "site": person["site"], "group": person.get("unit"),
        "birth_date": person["birth_date"], "sex": person.get("sex"), "groups": person.get("groups") or [],
        "doses": [{"vaccine": r["vaccine"], "date": r["on_date"]} for r in rows if r["kind"] == "dose"],
        "exemptions": [{"vaccine": r["vaccine"], "reason": r["reason"], "until": r["until"]}
                       for r in rows if r["kind"] == "exemption"],
    }


def picture(store, site: str | None, as_of: date, period_start: date | None = None,
            period_end: date | None = None) -> dict[str, Any]:
    """The ``vaccination`` model over the registry (one site or all) with the recorded doses and cases."""
    ensure_schema(store)
    where, params = "retired_at IS NULL", []
    if site is not None:
        where += " AND site = ?"
        params.append(site)
    people = store.query(f"SELECT personnel_number, site, birth_date, sex, unit, groups FROM workers WHERE {where}",
                         params)
    if not people:
        raise VaccinationError(404, "no workers in the registry" + (f" at site {site}" if site else ""), "site")
    by_worker: dict[str, list[dict[str, Any]]] = {}
    for row in store.query("SELECT * FROM vaccination_records ORDER BY on_date, id"):
        by_worker.setdefault(row["personnel_number"], []).append(row)
    model_workers, missing = [], []
    for person in people:
        person["groups"] = json.loads(person["groups"])
        entry = model_worker(person, by_worker.get(person["personnel_number"], []))
        (model_workers.append(entry) if entry else missing.append(person["personnel_number"]))
    if not model_workers:
        raise VaccinationError(422, "no worker of the registry has a birth date: the calendar needs ages", "birth_date")
    start = period_start or date(as_of.year, 1, 1)
    end = period_end or as_of
    cases = [{"worker": r["personnel_number"], "disease": r["disease"], "onset": r["on_date"]}
             for rows in by_worker.values() for r in rows
             if r["kind"] == "case" and start.isoformat() <= r["on_date"] <= end.isoformat()
             and any(w["worker"] == r["personnel_number"] for w in model_workers)]
    try:
        result = run_model("vaccination", {"as_of": as_of.isoformat(), "workers": model_workers, "cases": cases,
                                           "period_start": start.isoformat(), "period_end": end.isoformat()})
    except ModelInputError as error:
        raise VaccinationError(422, str(error), error.field) from None
    result["without_birth_date"] = missing
    return result
