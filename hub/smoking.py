"""The smoking programme (seed 000 §2.4.1) over the live data: violations by location and person.

Violations come from the smoke analysis of the period (detector alarms and the PM2.5 rule per
smoke-free location, :mod:`hub.analytics.smoke`). OHS attributes a violation to a worker when
an investigation found who it was (``smoking_attributions``: site, location, start of the
violation, worker, who attributed it and when). The medic keeps the programme's participants
(smoking status, quit date and its laboratory confirmation, enrolment: ``smoking_participants``).
:func:`programme` runs the ``smoking-programme`` model (:mod:`hub.models.smoking_programme`,
rules in ``configs/models/smoking_programme.toml``) over them: reminders per location and per
person, proposed penalties (a bonus reduction for the employer to decide) and incentives.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from firmware_bridges.sqlite_tx import immediate_transaction
from hub import workers
from hub.analytics.period import PeriodError
from hub.analytics.runner import compute
from hub.models.registry import ModelInputError, run_model
from hub.store import RequestRefused

SCHEMA = """
CREATE TABLE IF NOT EXISTS smoking_participants (
    personnel_number TEXT PRIMARY KEY, status TEXT NOT NULL CHECK (status IN ('current', 'former', 'never')),
    quit_date TEXT, quit_confirmed INTEGER NOT NULL DEFAULT 0, enrolled_on TEXT,
    updated_by TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS smoking_attributions (
    id INTEGER PRIMARY KEY, site TEXT NOT NULL, location TEXT NOT NULL, start TEXT NOT NULL,
    personnel_number TEXT NOT NULL, attributed_by TEXT NOT NULL, attributed_at TEXT NOT NULL,
    UNIQUE (site, location, start)
);
"""


class ParticipantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str = Field(pattern="^(current|former|never)$")
    quit_date: date | None = None
    quit_confirmed: bool = Field(default=False, description="confirmed by laboratory screening (seed 000)")
    enrolled_on: date | None = None


class AttributionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site: str = Field(pattern=r"^[a-z0-9-]{1,64}$")
    location: str = Field(min_length=1, max_length=200)
    start: datetime = Field(description="the violation's start as the smoke analysis reports it")
    personnel_number: str = Field(min_length=1, max_length=64)


class SmokingError(RequestRefused):
    """A request this module refuses (``status``: the HTTP status, ``field``: the input at fault)."""


def ensure_schema(store) -> None:
    workers.ensure_schema(store)
    store.ensure_schema("smoking", SCHEMA)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def set_participant(store, personnel_number: str, item: ParticipantIn, medic: str) -> dict[str, Any]:
    if item.status == "former" and item.quit_date is None:
        raise SmokingError(422, "a former smoker needs the quit date", "quit_date")
    ensure_schema(store)
    workers.worker(store, personnel_number)
    with store.lock, immediate_transaction(store.conn) as conn:
        conn.execute(
            "INSERT INTO smoking_participants (personnel_number, status, quit_date, quit_confirmed, enrolled_on, "
            "updated_by, updated_at) VALUES (?,?,?,?,?,?,?) ON CONFLICT (personnel_number) DO UPDATE SET "
            "status = excluded.status, quit_date = excluded.quit_date, quit_confirmed = excluded.quit_confirmed, "
            "enrolled_on = excluded.enrolled_on, updated_by = excluded.updated_by, updated_at = excluded.updated_at",
            (personnel_number, item.status, item.quit_date.isoformat() if item.quit_date else None,
             int(item.quit_confirmed), item.enrolled_on.isoformat() if item.enrolled_on else None, medic, _now()))
    return store.query("SELECT * FROM smoking_participants WHERE personnel_number = ?", [personnel_number])[0]


def attribute(store, item: AttributionIn, actor: str) -> dict[str, Any]:
    """Name the worker an investigation found for one violation (once; 409 if already attributed)."""
    ensure_schema(store)
    workers.worker(store, item.personnel_number)
    start = item.start.isoformat()
    with store.lock, immediate_transaction(store.conn) as conn:
        if conn.execute("SELECT 1 FROM smoking_attributions WHERE site = ? AND location = ? AND start = ?",
                        (item.site, item.location, start)).fetchone():
            raise SmokingError(409, f"the violation at {item.location} from {start} is already attributed")
        conn.execute("INSERT INTO smoking_attributions (site, location, start, personnel_number, attributed_by, "
                     "attributed_at) VALUES (?,?,?,?,?,?)",
                     (item.site, item.location, start, item.personnel_number, actor, _now()))
    return {"site": item.site, "location": item.location, "start": start, "personnel_number": item.personnel_number,
            "attributed_by": actor}


def programme(store, settings, site: str | None, date_from: date, date_to: date) -> dict[str, Any]:
    """The programme for the period: the analysis's violations with their attributions, the participants."""
    ensure_schema(store)
    params: dict[str, Any] = {"report_period": "all", "date_from": date_from, "date_to": date_to}
    if site:
        params["site"] = site
    try:
        smoke = compute(store, settings, "smoke-violations", params)
    except PeriodError as error:  # a period the analysis refuses (reversed, too long): the caller's to fix
        raise SmokingError(422, str(error), "date_from") from None
    attributed = {(r["site"], r["location"], r["start"]): r["personnel_number"]
                  for r in store.query("SELECT site, location, start, personnel_number FROM smoking_attributions")}
    participants = store.query("SELECT * FROM smoking_participants")
    known = {p["personnel_number"] for p in participants}
    units = {w["personnel_number"]: w["unit"] or "—" for w in store.query("SELECT personnel_number, unit FROM workers")}
    violations = []
    for block in smoke.get("sites", []):
        for v in block.get("violations", []):
            start = datetime.fromisoformat(v["start"])
            person = attributed.get((block["site"], v["location"], start.isoformat()))
            violations.append({"start": v["start"], "location": v["location"], "site": block["site"],
                               "person": person if person in known else None})
    data = {"period_start": date_from.isoformat(), "period_end": date_to.isoformat(), "violations": violations,
            "participants": [{"worker": p["personnel_number"], "unit": units.get(p["personnel_number"], "—"),
                              "status": p["status"], "quit_date": p["quit_date"],
                              "quit_confirmed": bool(p["quit_confirmed"]), "enrolled_on": p["enrolled_on"]}
                             for p in participants]}
    try:
        result = run_model("smoking-programme", data)
    except (ModelInputError, ValidationError) as error:
        raise SmokingError(422, str(error), getattr(error, "field", None)) from None
    result["unattributed_to_participants"] = sum(
        1 for v in violations if v["person"] is None and (v["site"], v["location"], v["start"]) in attributed)
    return result
