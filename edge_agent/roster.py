"""The kiosk's cached roster of workers, in its own SQLite file, so identification works offline.

A worker: personnel number, full name, birth date, sex, badge ids, PIN hash, individual
norm (with ``n_readings``, ``approved_by`` and ``approved_on``: the pre-decision applies it
only when a physician approved it from enough readings — issue 13, error 4; a norm without
them is stored as sent and reported as "not applied" at each exam), and whether (and when) they gave consent to the automated exam (ПП 866, reference
§1.7: worker consent is required). The hub pushes the roster as a ``cmd`` of type
``roster_update`` (``firmware_bridges.contract.Command``)::

    {"version": "2026-11-24.1", "full": true, "workers": [{"personnel_number": "T-1001", ...}],
     "remove": ["T-0999"]}

``full = true`` replaces the roster (consent already given at this kiosk is kept for the
workers that stay); otherwise the listed workers are upserted and ``remove`` deleted. PINs
arrive only as ``pin_hash`` (``pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>``, see
:func:`hash_pin`); the kiosk never sees a PIN in clear except when a worker types it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from edge_agent.admission import IndividualNorm

PIN_ITERATIONS = 50_000
#: The PIN the simulated workforce's roster gives every worker (``simulators.kiosk_world``);
#: :func:`demo_sign_in` finds a worker it opens, for the demo to print.
DEMO_PIN = "0000"
#: The most personnel-number prefix keys the sign-in keypad shows (the roster's formats).
MAX_PREFIX_KEYS = 6

SCHEMA = """
CREATE TABLE IF NOT EXISTS workers (
    personnel_number TEXT PRIMARY KEY, full_name TEXT NOT NULL, birth_date TEXT, sex TEXT,
    badges TEXT NOT NULL, pin_hash TEXT, individual_norm TEXT, data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS badges (badge_id TEXT PRIMARY KEY, personnel_number TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS consents (
    personnel_number TEXT PRIMARY KEY, given_at TEXT NOT NULL, kiosk TEXT NOT NULL, text_version TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pin_failures (personnel_number TEXT PRIMARY KEY, count INTEGER NOT NULL, last_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class RosterError(ValueError):
    """A roster update that cannot be applied; nothing of it was applied."""


def hash_pin(pin: str, *, salt: bytes | None = None, iterations: int = PIN_ITERATIONS) -> str:
    """PBKDF2-SHA256 hash of a PIN in the form the roster stores (the hub uses the same)."""
    salt = salt or os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode("utf-8"), salt, iterations)
    return f"pbkdf2_sha256${iterations}${salt.hex()}${digest.hex()}"


def verify_pin(pin: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        scheme, iterations, salt, digest = stored.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        got = hashlib.pbkdf2_hmac("sha256", pin.encode("utf-8"), bytes.fromhex(salt), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(got.hex(), digest)


def normalise_badge(badge_id: str) -> str:
    """Badge ids compare without spaces, case-insensitively; decimal ids without leading zeros."""
    text = badge_id.strip().replace(" ", "").upper()
    return str(int(text)) if text.isdigit() else text


class Worker(BaseModel):
    """One roster entry as the hub sends it."""

    model_config = ConfigDict(extra="allow")

    personnel_number: str = Field(min_length=1, max_length=64)
    full_name: str = Field(min_length=1, max_length=200)
    birth_date: str | None = None
    sex: str | None = Field(default=None, pattern="^(M|F)$")
    badges: list[str] = Field(default_factory=list)
    pin_hash: str | None = None
    individual_norm: IndividualNorm | None = None
    consent_given_at: str | None = Field(default=None, description="consent given elsewhere (hub record)")

    @field_validator("birth_date")
    @classmethod
    def _date(cls, v: str | None) -> str | None:
        if v is not None:
            datetime.strptime(v, "%Y-%m-%d")
        return v


class Roster:
    """SQLite-backed roster; safe to use from the uplink's thread and the event loop."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------------ updates

    def apply_update(self, args: dict[str, Any]) -> dict[str, Any]:
        """Apply a ``roster_update`` command's args atomically; RosterError names what is wrong."""
        if not isinstance(args, dict):
            raise RosterError("roster_update args must be an object")
        raw = args.get("workers", [])
        if not isinstance(raw, list):
            raise RosterError("roster_update.workers must be a list")
        workers: list[Worker] = []
        for i, item in enumerate(raw):
            try:
                workers.append(Worker.model_validate(item))
            except ValidationError as error:
                problem = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()[:3])
                raise RosterError(f"roster_update.workers[{i}]: {problem}") from None
        remove = args.get("remove", [])
        if not isinstance(remove, list) or not all(isinstance(x, str) for x in remove):
            raise RosterError("roster_update.remove must be a list of personnel numbers")
        full = bool(args.get("full", False))
        seen: dict[str, str] = {}
        for w in workers:
            for b in w.badges:
                key = normalise_badge(b)
                if key in seen and seen[key] != w.personnel_number:
                    raise RosterError(f"badge {b} is given to both {seen[key]} and {w.personnel_number}")
                seen[key] = w.personnel_number
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                if full:
                    db.execute("DELETE FROM workers")
                    db.execute("DELETE FROM badges")
                for number in remove:
                    db.execute("DELETE FROM workers WHERE personnel_number = ?", (number,))
                    db.execute("DELETE FROM badges WHERE personnel_number = ?", (number,))
                for w in workers:
                    db.execute("DELETE FROM badges WHERE personnel_number = ?", (w.personnel_number,))
                    db.execute(
                        "INSERT OR REPLACE INTO workers VALUES (?,?,?,?,?,?,?,?)",
                        (w.personnel_number, w.full_name, w.birth_date, w.sex, json.dumps(w.badges), w.pin_hash,
                         w.individual_norm.model_dump_json(exclude_none=True) if w.individual_norm else None,
                         w.model_dump_json()),
                    )
                    for b in w.badges:
                        db.execute("INSERT OR REPLACE INTO badges VALUES (?,?)", (normalise_badge(b), w.personnel_number))
                    if w.consent_given_at:
                        db.execute("INSERT OR IGNORE INTO consents VALUES (?,?,?,?)",
                                   (w.personnel_number, w.consent_given_at, "hub", "hub"))
                if args.get("version") is not None:
                    db.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (str(args["version"]),))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return {"workers": len(workers), "removed": len(remove), "full": full, "version": args.get("version")}

    # ------------------------------------------------------------------ look-ups

    def _row(self, where: str, param: str) -> dict | None:
        with self._lock:
            cur = self._db.execute(
                "SELECT w.personnel_number, w.full_name, w.birth_date, w.sex, w.badges, w.pin_hash, w.individual_norm, "
                "c.given_at FROM workers w LEFT JOIN consents c ON c.personnel_number = w.personnel_number "
                f"WHERE {where}", (param,))
            row = cur.fetchone()
        if row is None:
            return None
        return {"personnel_number": row[0], "full_name": row[1], "birth_date": row[2], "sex": row[3],
                "badges": json.loads(row[4]), "pin_hash": row[5],
                "individual_norm": json.loads(row[6]) if row[6] else None, "consent_given_at": row[7]}

    def by_badge(self, badge_id: str) -> dict | None:
        return self._row("w.personnel_number = (SELECT personnel_number FROM badges WHERE badge_id = ?)",
                         normalise_badge(badge_id))

    def by_number(self, personnel_number: str) -> dict | None:
        return self._row("w.personnel_number = ?", personnel_number.strip())

    def check_pin(self, personnel_number: str, pin: str, *, max_failures: int, lock_s: float,
                  now: datetime | None = None) -> tuple[dict | None, str]:
        """(worker, "ok") or (None, "unknown" | "wrong_pin" | "locked"); counts failures."""
        now = now or datetime.now(timezone.utc)
        worker = self.by_number(personnel_number)
        if worker is None:
            return None, "unknown"
        number = worker["personnel_number"]
        with self._lock:
            row = self._db.execute("SELECT count, last_at FROM pin_failures WHERE personnel_number = ?", (number,)).fetchone()
        if row and row[0] >= max_failures and (now - datetime.fromisoformat(row[1])).total_seconds() < lock_s:
            return None, "locked"
        if verify_pin(pin, worker["pin_hash"]):
            with self._lock:
                self._db.execute("DELETE FROM pin_failures WHERE personnel_number = ?", (number,))
            return worker, "ok"
        count = (row[0] if row and row[0] < max_failures else 0) + 1
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO pin_failures VALUES (?,?,?)", (number, count, now.isoformat()))
        return None, "wrong_pin"

    def pin_failures(self, personnel_number: str) -> int:
        """Wrong PINs in a row counted for this personnel number (0 if none)."""
        with self._lock:
            row = self._db.execute("SELECT count FROM pin_failures WHERE personnel_number = ?",
                                   (personnel_number.strip(),)).fetchone()
        return int(row[0]) if row else 0

    def number_prefixes(self) -> list[str]:
        """The letters a personnel number starts with in this roster (``W`` of ``W00001``,
        ``T-`` of ``T-1001``): the sign-in keypad offers them as keys beside the digits."""
        with self._lock:
            rows = self._db.execute("SELECT personnel_number FROM workers").fetchall()
        prefixes = {m.group(0) for (head,) in rows if (m := re.match(r"^[^0-9]+", head))}
        return sorted(prefixes)[:MAX_PREFIX_KEYS]

    def record_consent(self, personnel_number: str, kiosk: str, text_version: str, when: datetime) -> str:
        """Record that the worker consented to the automated exam; returns the time recorded."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO consents VALUES (?,?,?,?)",
                             (personnel_number, when.isoformat(), kiosk, text_version))
        return when.isoformat()

    def version(self) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        return row[0] if row else None

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM workers").fetchone()[0]


def demo_sign_in(roster: Roster, pin: str = DEMO_PIN) -> tuple[str, str] | None:
    """(personnel number, PIN) of the first worker (by number) whose stored PIN hash opens with
    ``pin`` — what the demo prints so a visitor can sign in at the kiosk; None if none does."""
    with roster._lock:
        rows = roster._db.execute(
            "SELECT personnel_number, pin_hash FROM workers WHERE pin_hash IS NOT NULL ORDER BY personnel_number LIMIT 50"
        ).fetchall()
    for number, stored in rows:
        if verify_pin(pin, stored):
            return number, pin
    return None
