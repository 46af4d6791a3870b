"""The hub's worker registry: who works at each site, and the individual norms a physician approved.

The registry is the source of every kiosk's roster (architecture.md: "roster pushed back to
kiosks"): each change bumps the site's roster version, and :class:`RosterPublisher` sends the
whole roster of the site as a ``roster_update`` command (``full: true``) to every kiosk of that
site that does not hold the current version yet — also to a kiosk first heard of later. A site
with no workers in the registry is never pushed (its kiosks keep the roster they were given).

Individual norms (reference.md §1.4; the 2002 recommendations have the *physician* set a
worker's norm from no fewer than ten exams [RU-MR2002]): a medic proposes a norm from the
worker's own accepted readings (:func:`propose_norm`: the median of the last readings, with how
many and from when to when) and approves it; only an approved norm goes to the kiosks, with
``approved_by``, ``approved_on`` and ``n_readings``, which the kiosk's pre-decision requires
before it applies a norm (edge_agent.admission, issue 13 error 4). Every proposal and approval
is kept (``individual_norms``), never overwritten.

Names, birth dates and norms are personal and medical data: the API gives them to the medic
(audited) and to the admin who keeps the registry; OHS sees none of it.
"""

from __future__ import annotations

import json
import statistics
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from firmware_bridges.contract import Command, Identifier
from firmware_bridges.sqlite_tx import immediate_transaction
from hub.command_publisher import CommandPublisher
from hub.config import IndividualNormsSection
from hub.db.exam_body import decode_body
from hub.final_outcome import FINAL_OUTCOME_SQL
from hub.final_outcome import ensure_schema as ensure_decisions_schema
from hub.store import RequestRefused

SCHEMA = """
CREATE TABLE IF NOT EXISTS workers (
    personnel_number TEXT PRIMARY KEY, site TEXT NOT NULL, full_name TEXT NOT NULL, birth_date TEXT, sex TEXT,
    unit TEXT, groups TEXT NOT NULL DEFAULT '[]', badges TEXT NOT NULL, pin_hash TEXT, updated_by TEXT NOT NULL,
    updated_at TEXT NOT NULL, retired_at TEXT
);
CREATE INDEX IF NOT EXISTS workers_by_site ON workers(site, personnel_number);
CREATE TABLE IF NOT EXISTS individual_norms (
    id INTEGER PRIMARY KEY, personnel_number TEXT NOT NULL, systolic_mmhg REAL, diastolic_mmhg REAL,
    pulse_bpm REAL, n_readings INTEGER NOT NULL, computed_from TEXT NOT NULL, computed_to TEXT NOT NULL,
    proposed_by TEXT NOT NULL, proposed_at TEXT NOT NULL, approved_by TEXT, approved_at TEXT, withdrawn_at TEXT
);
CREATE INDEX IF NOT EXISTS individual_norms_by_worker ON individual_norms(personnel_number, id);
CREATE TABLE IF NOT EXISTS roster_versions (
    site TEXT PRIMARY KEY, version INTEGER NOT NULL, changed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS roster_deliveries (
    site TEXT NOT NULL, kiosk TEXT NOT NULL, version INTEGER NOT NULL, published_at TEXT NOT NULL,
    PRIMARY KEY (site, kiosk)
);
"""

PIN_HASH_PATTERN = r"^pbkdf2_sha256\$[0-9]{4,7}\$[0-9a-f]{16,64}\$[0-9a-f]{64}$"


#: ``[individual_norms]`` of the hub config: readings a proposal needs and uses, and how far back.
NormSettings = IndividualNormsSection


class WorkerIn(BaseModel):
    """One worker as an admin enters or imports them."""

    model_config = ConfigDict(extra="forbid")
    personnel_number: str = Field(min_length=1, max_length=64, pattern=r"^[^\s]+$")
    site: Identifier
    full_name: str = Field(min_length=1, max_length=200)
    birth_date: date | None = None
    sex: str | None = Field(default=None, pattern="^(M|F)$")
    unit: str | None = Field(default=None, max_length=200, description="department, for coverage tables")
    groups: list[str] = Field(default_factory=list, max_length=32,
                              description="professions / epidemic indications of the vaccination calendar "
                                          "(configs/models/vaccination.toml groups)")
    badges: list[str] = Field(default_factory=list, max_length=16)
    pin_hash: str | None = Field(default=None, pattern=PIN_HASH_PATTERN,
                                 description="pbkdf2_sha256$iterations$salt$hash (edge_agent.roster.hash_pin format)")

    @field_validator("birth_date")
    @classmethod
    def _plausible(cls, v: date | None) -> date | None:
        if v is not None and not date(1900, 1, 1) <= v <= date.today():
            raise ValueError(f"birth date {v} is not plausible")
        return v


class WorkerError(RequestRefused):
    """A request this module refuses (``status``: the HTTP status, ``field``: the input at fault)."""


def ensure_schema(store) -> None:
    store.ensure_schema("workers", SCHEMA)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _bump(conn, site: str, at: str) -> None:
    conn.execute("INSERT INTO roster_versions (site, version, changed_at) VALUES (?, 1, ?) ON CONFLICT (site) DO "
                 "UPDATE SET version = roster_versions.version + 1, changed_at = excluded.changed_at", (site, at))


def upsert_workers(store, items: list[dict[str, Any]], actor: str) -> dict[str, Any]:
    """Add or replace workers (all or none: the first invalid entry names itself and nothing is stored)."""
    workers: list[WorkerIn] = []
    for i, item in enumerate(items):
        try:
            workers.append(WorkerIn.model_validate(item))
        except ValidationError as error:
            first = error.errors()[0]
            raise WorkerError(422, first["msg"], f"workers[{i}]." + ".".join(str(p) for p in first["loc"])) from None
    numbers = [w.personnel_number for w in workers]
    if len(set(numbers)) != len(numbers):
        raise WorkerError(422, "a personnel number is listed twice", "workers")
    ensure_schema(store)
    at = _now()
    sites: set[str] = set()
    with store.lock, immediate_transaction(store.conn) as conn:
        for w in workers:
            previous = conn.execute("SELECT site FROM workers WHERE personnel_number = ?", (w.personnel_number,)).fetchone()
            if previous is not None:
                sites.add(previous[0])  # a worker moved away: the old site's roster changes too
            conn.execute(
                "INSERT INTO workers (personnel_number, site, full_name, birth_date, sex, unit, groups, badges, "
                "pin_hash, updated_by, updated_at, retired_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,NULL) "
                "ON CONFLICT (personnel_number) DO UPDATE SET site = excluded.site, full_name = excluded.full_name, "
                "birth_date = excluded.birth_date, sex = excluded.sex, unit = excluded.unit, groups = excluded.groups, "
                "badges = excluded.badges, pin_hash = excluded.pin_hash, updated_by = excluded.updated_by, "
                "updated_at = excluded.updated_at, retired_at = NULL",
                (w.personnel_number, w.site, w.full_name, w.birth_date.isoformat() if w.birth_date else None, w.sex,
                 w.unit, json.dumps(w.groups, ensure_ascii=False), json.dumps(w.badges), w.pin_hash, actor, at))
            sites.add(w.site)
        for site in sites:
            _bump(conn, site, at)
    return {"stored": len(workers), "sites": sorted(sites)}


def retire_worker(store, personnel_number: str, actor: str) -> dict[str, Any]:
    """Take a worker off the roster (they left); their exams, norms and decisions stay."""
    ensure_schema(store)
    at = _now()
    with store.lock, immediate_transaction(store.conn) as conn:
        row = conn.execute("SELECT site, retired_at FROM workers WHERE personnel_number = ?", (personnel_number,)).fetchone()
        if row is None:
            raise WorkerError(404, f"no worker {personnel_number}")
        if row[1] is not None:
            raise WorkerError(409, f"worker {personnel_number} left on {row[1]}")
        conn.execute("UPDATE workers SET retired_at = ?, updated_by = ?, updated_at = ? WHERE personnel_number = ?",
                     (at, actor, at, personnel_number))
        _bump(conn, row[0], at)
    return worker(store, personnel_number)


def age_on(birth_date: str | None, day: date) -> int | None:
    if not birth_date:
        return None
    born = date.fromisoformat(birth_date)
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def worker(store, personnel_number: str) -> dict[str, Any]:
    """The worker's registry entry with age, the norm in force and the norm history (no PIN hash)."""
    ensure_schema(store)
    rows = store.query("SELECT personnel_number, site, full_name, birth_date, sex, unit, groups, badges, updated_by, "
                       "updated_at, retired_at FROM workers WHERE personnel_number = ?", [personnel_number])
    if not rows:
        raise WorkerError(404, f"no worker {personnel_number} in the registry")
    found = rows[0]
    found["badges"] = json.loads(found["badges"])
    found["groups"] = json.loads(found["groups"])
    found["age"] = age_on(found["birth_date"], datetime.now(timezone.utc).date())
    norms = store.query("SELECT * FROM individual_norms WHERE personnel_number = ? ORDER BY id DESC", [personnel_number])
    found["norms"] = norms
    found["norm_in_force"] = next((n for n in norms if n["approved_at"] and not n["withdrawn_at"]), None)
    return found


def _last_value(body: dict[str, Any], field: str) -> float | None:
    values = [m.get("value") for m in body.get("measurements", [])
              if m.get("field") == field and m.get("value") is not None and not m.get("invalid_reason")]
    return values[-1] if values else None


def propose_norm(store, personnel_number: str, medic: str, settings: NormSettings) -> dict[str, Any]:
    """Propose the worker's norm: the median of each reading over their last accepted exams.

    Only exams the worker was admitted after (the kiosk's pre-decision or the medic's final
    decision) count, so readings of a day the worker was ill or drunk do not become their norm.
    The proposal is stored unapproved; :func:`approve_norm` makes it the norm in force.
    """
    ensure_schema(store)
    worker(store, personnel_number)  # 404 for an unknown worker
    since = (datetime.now(timezone.utc) - timedelta(days=settings.lookback_days)).isoformat()
    ensure_decisions_schema(store)
    rows = store.query(
        f"SELECT finished_at, body_z FROM exams WHERE worker_id = ? AND finished_at >= ? AND {FINAL_OUTCOME_SQL} = "
        "'admitted' ORDER BY finished_at DESC LIMIT ?", [personnel_number, since, settings.max_readings])
    readings: dict[str, list[float]] = {"systolic_mmhg": [], "diastolic_mmhg": [], "pulse_bpm": []}
    used: list[str] = []
    for row in rows:
        body = decode_body(row["body_z"])
        values = {field: _last_value(body, field) for field in readings}
        if values["systolic_mmhg"] is None or values["diastolic_mmhg"] is None:
            continue
        used.append(row["finished_at"])
        for field, value in values.items():
            if value is not None:
                readings[field].append(value)
    if len(used) < settings.min_readings:
        raise WorkerError(422, f"{len(used)} admitted exams with blood pressure in the last {settings.lookback_days} "
                               f"days; a norm needs at least {settings.min_readings} [RU-MR2002]", "readings")
    norm = {field: round(statistics.median(values)) if values else None for field, values in readings.items()}
    if len(readings["pulse_bpm"]) < settings.min_readings:
        norm["pulse_bpm"] = None
    at = _now()
    with store.lock, immediate_transaction(store.conn) as conn:
        norm_id = conn.execute(
            "INSERT INTO individual_norms (personnel_number, systolic_mmhg, diastolic_mmhg, pulse_bpm, n_readings, "
            "computed_from, computed_to, proposed_by, proposed_at) VALUES (?,?,?,?,?,?,?,?,?) RETURNING id",
            (personnel_number, norm["systolic_mmhg"], norm["diastolic_mmhg"], norm["pulse_bpm"], len(used),
             min(used)[:10], max(used)[:10], medic, at)).fetchone()[0]
    return store.query("SELECT * FROM individual_norms WHERE id = ?", [norm_id])[0]


def approve_norm(store, personnel_number: str, norm_id: int, physician: str) -> dict[str, Any]:
    """Make a proposed norm the worker's norm in force (the one before it is withdrawn); bumps the roster."""
    ensure_schema(store)
    at = _now()
    with store.lock, immediate_transaction(store.conn) as conn:
        row = conn.execute("SELECT approved_at, withdrawn_at FROM individual_norms WHERE id = ? AND personnel_number = ?",
                           (norm_id, personnel_number)).fetchone()
        if row is None:
            raise WorkerError(404, f"no norm {norm_id} of worker {personnel_number}")
        if row[0] is not None or row[1] is not None:
            raise WorkerError(409, f"norm {norm_id} was already {'approved' if row[0] else 'withdrawn'}")
        conn.execute("UPDATE individual_norms SET withdrawn_at = ? WHERE personnel_number = ? AND approved_at IS NOT NULL "
                     "AND withdrawn_at IS NULL", (at, personnel_number))
        conn.execute("UPDATE individual_norms SET approved_by = ?, approved_at = ? WHERE id = ?", (physician, at, norm_id))
        site = conn.execute("SELECT site FROM workers WHERE personnel_number = ?", (personnel_number,)).fetchone()[0]
        _bump(conn, site, at)
    return worker(store, personnel_number)


def roster_args(store, site: str) -> dict[str, Any] | None:
    """The ``roster_update`` args of the site's whole roster (None when the registry has nobody there)."""
    ensure_schema(store)
    version = store.scalar("SELECT version FROM roster_versions WHERE site = ?", [site])
    people = store.query("SELECT personnel_number, full_name, birth_date, sex, badges, pin_hash FROM workers "
                         "WHERE site = ? AND retired_at IS NULL ORDER BY personnel_number", [site])
    if version is None or not people:
        return None
    norms = {n["personnel_number"]: n for n in store.query(
        "SELECT n.* FROM individual_norms n JOIN workers w ON w.personnel_number = n.personnel_number WHERE w.site = ? "
        "AND n.approved_at IS NOT NULL AND n.withdrawn_at IS NULL", [site])}
    out = []
    for person in people:
        entry = {k: v for k, v in person.items() if v is not None and k != "badges"}
        entry["badges"] = json.loads(person["badges"])
        norm = norms.get(person["personnel_number"])
        if norm is not None:
            entry["individual_norm"] = {k: norm[k] for k in ("systolic_mmhg", "diastolic_mmhg", "pulse_bpm",
                                                            "n_readings", "computed_from", "computed_to",
                                                            "approved_by") if norm[k] is not None}
            entry["individual_norm"]["approved_on"] = norm["approved_at"][:10]
        out.append(entry)
    return {"version": f"{site}.{version}", "full": True, "workers": out}


class RosterPublisher(CommandPublisher):
    """Sends each site's current roster to the kiosks that do not hold it yet; a delivery is recorded after
    the broker's PUBACK. A pass runs after each change (``wake``) and every ``retry_s`` seconds, so a kiosk
    heard of later, or one behind a broker that was away, gets it too."""

    thread_name = "roster-publisher"

    def due(self) -> list[dict[str, Any]]:
        """(site, kiosk, version) of every kiosk that has not been sent its site's current roster."""
        ensure_schema(self.store)
        return self.store.query(
            "SELECT k.site, k.kiosk, v.version FROM kiosks k JOIN roster_versions v ON v.site = k.site "
            "LEFT JOIN roster_deliveries d ON d.site = k.site AND d.kiosk = k.kiosk "
            "WHERE d.version IS NULL OR d.version < v.version ORDER BY k.site, k.kiosk")

    def flush(self) -> int:
        sent = 0
        with self._lock:
            for item in self.due():
                args = roster_args(self.store, item["site"])
                if args is None:
                    continue
                command = Command.model_validate({"schema": 1, "command_id": str(uuid.uuid4()),
                                                  "type": "roster_update", "ts": _now(), "args": args})
                if not self.connected or not self.publish(item["site"], item["kiosk"], command):
                    break
                with self.store.lock:
                    self.store.conn.execute(
                        "INSERT INTO roster_deliveries (site, kiosk, version, published_at) VALUES (?,?,?,?) "
                        "ON CONFLICT (site, kiosk) DO UPDATE SET version = excluded.version, "
                        "published_at = excluded.published_at", (item["site"], item["kiosk"], item["version"], _now()))
                sent += 1
        return sent
