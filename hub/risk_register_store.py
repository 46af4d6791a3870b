"""The plant's register of risks to workers' health, kept on the hub and evaluated by the register model.

Each row is one register line of seed 002 (draft ГОСТ Р "Guide to assessing risks to workers'
health", explanations to figures B.5-B.6: fields 1-18 with measures, owners, deadlines and the
residual risk), validated by :class:`hub.models.risk_register.RegisterRow`. The scores, matrix
cells, verdicts, ranking and overdue measures are never stored: they are computed by the
``risk-register`` model (:mod:`hub.models.risk_register`) each time the register is read, so a
change of the organisation's scales (``configs/models/risk_register.toml``) applies to every row.

Rows are about workplaces and hazards, not about people, so OHS staff keep them (roles ohs and
admin write; every role reads). Every change is kept: ``risk_register_history`` holds each
version of a row with who changed it and when, and a retired row stays there.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from typing import Any

from pydantic import ValidationError

from firmware_bridges.sqlite_tx import immediate_transaction
from hub.models.registry import ModelInputError, run_model
from hub.models.risk_register import RegisterRow, effective_config
from hub.store import RequestRefused

SCHEMA = """
CREATE TABLE IF NOT EXISTS risk_register_rows (
    id INTEGER PRIMARY KEY, site TEXT NOT NULL, version INTEGER NOT NULL, row TEXT NOT NULL,
    updated_by TEXT NOT NULL, updated_at TEXT NOT NULL, retired_at TEXT
);
CREATE INDEX IF NOT EXISTS risk_register_by_site ON risk_register_rows(site, id) WHERE retired_at IS NULL;
CREATE TABLE IF NOT EXISTS risk_register_history (
    id INTEGER PRIMARY KEY, row_id INTEGER NOT NULL, version INTEGER NOT NULL, change TEXT NOT NULL
        CHECK (change IN ('created', 'updated', 'retired')),
    row TEXT NOT NULL, changed_by TEXT NOT NULL, role TEXT NOT NULL, changed_at TEXT NOT NULL,
    UNIQUE (row_id, version)
);
"""

#: A register is read whole; past this many current rows of one site a request must narrow it.
MAX_ROWS = 5000


class RegisterError(RequestRefused):
    """A request this module refuses (``status``: the HTTP status, ``field``: the input at fault)."""


def ensure_schema(store) -> None:
    store.ensure_schema("risk_register", SCHEMA)


def _validated(row: dict[str, Any]) -> dict[str, Any]:
    """The row as the model reads it, checked against the configured scales too, so that one stored row can
    never make the whole register unreadable."""
    try:
        clean = RegisterRow.model_validate(row).model_dump(mode="json", exclude_none=True)
    except ValidationError as error:
        first = error.errors()[0]
        raise RegisterError(422, first["msg"], "row." + ".".join(str(p) for p in first["loc"])) from None
    try:
        run_model("risk-register", {"rows": [clean], "include_rows": False})
    except ModelInputError as error:
        raise RegisterError(422, str(error), "row." + error.field.removeprefix("rows.0.")) from None
    return clean


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def create(store, site: str, row: dict[str, Any], actor: str, role: str) -> dict[str, Any]:
    clean = _validated(row)
    ensure_schema(store)
    at, text = _now(), json.dumps(clean, ensure_ascii=False)
    with store.lock, immediate_transaction(store.conn) as conn:
        row_id = conn.execute("INSERT INTO risk_register_rows (site, version, row, updated_by, updated_at) "
                              "VALUES (?, 1, ?, ?, ?) RETURNING id", (site, text, actor, at)).fetchone()[0]
        conn.execute("INSERT INTO risk_register_history (row_id, version, change, row, changed_by, role, changed_at) "
                     "VALUES (?, 1, 'created', ?, ?, ?, ?)", (row_id, text, actor, role, at))
    return get(store, row_id)


def update(store, row_id: int, row: dict[str, Any], version: int, actor: str, role: str) -> dict[str, Any]:
    """Replace a row; ``version`` must be the one the editor saw (409 otherwise: someone changed it since)."""
    clean = _validated(row)
    ensure_schema(store)
    at, text = _now(), json.dumps(clean, ensure_ascii=False)
    with store.lock, immediate_transaction(store.conn) as conn:
        current = conn.execute("SELECT version, retired_at FROM risk_register_rows WHERE id = ?", (row_id,)).fetchone()
        if current is None:
            raise RegisterError(404, f"no register row {row_id}")
        if current[1] is not None:
            raise RegisterError(409, f"register row {row_id} was retired on {current[1]}")
        if current[0] != version:
            raise RegisterError(409, f"register row {row_id} is at version {current[0]}, not {version}: reload it")
        conn.execute("UPDATE risk_register_rows SET version = ?, row = ?, updated_by = ?, updated_at = ? WHERE id = ?",
                     (version + 1, text, actor, at, row_id))
        conn.execute("INSERT INTO risk_register_history (row_id, version, change, row, changed_by, role, changed_at) "
                     "VALUES (?, ?, 'updated', ?, ?, ?, ?)", (row_id, version + 1, text, actor, role, at))
    return get(store, row_id)


def retire(store, row_id: int, actor: str, role: str) -> dict[str, Any]:
    """Take a row out of the register (the hazard is gone); its history stays."""
    ensure_schema(store)
    at = _now()
    with store.lock, immediate_transaction(store.conn) as conn:
        current = conn.execute("SELECT version, row, retired_at FROM risk_register_rows WHERE id = ?",
                               (row_id,)).fetchone()
        if current is None:
            raise RegisterError(404, f"no register row {row_id}")
        if current[2] is not None:
            raise RegisterError(409, f"register row {row_id} was retired on {current[2]}")
        conn.execute("UPDATE risk_register_rows SET version = ?, retired_at = ?, updated_by = ?, updated_at = ? "
                     "WHERE id = ?", (current[0] + 1, at, actor, at, row_id))
        conn.execute("INSERT INTO risk_register_history (row_id, version, change, row, changed_by, role, changed_at) "
                     "VALUES (?, ?, 'retired', ?, ?, ?, ?)", (row_id, current[0] + 1, current[1], actor, role, at))
    return get(store, row_id)


def get(store, row_id: int) -> dict[str, Any]:
    ensure_schema(store)
    rows = store.query("SELECT * FROM risk_register_rows WHERE id = ?", [row_id])
    if not rows:
        raise RegisterError(404, f"no register row {row_id}")
    found = rows[0]
    found["row"] = json.loads(found["row"])
    found["history"] = store.query("SELECT version, change, changed_by, role, changed_at FROM risk_register_history "
                                   "WHERE row_id = ? ORDER BY version", [row_id])
    return found


def evaluate(store, site: str | None = None, as_of: date | None = None) -> dict[str, Any]:
    """The current register (of one site or all) evaluated by the ``risk-register`` model, with the matrix.

    Each evaluated row carries its ``id``, ``site`` and ``version`` besides the model's fields
    (score, cell, verdicts, residual risk, rank, overdue measures as of ``as_of``, default today).
    """
    ensure_schema(store)
    where, params = "retired_at IS NULL", []
    if site is not None:
        where += " AND site = ?"
        params.append(site)
    stored = store.query(f"SELECT id, site, version, row, updated_by, updated_at FROM risk_register_rows "
                         f"WHERE {where} ORDER BY id LIMIT ?", [*params, MAX_ROWS + 1])
    if len(stored) > MAX_ROWS:
        raise RegisterError(422, f"more than {MAX_ROWS} register rows: choose a site", "site")
    config = effective_config(None)["matrix"]
    matrix = {key: config[key] for key in ("likelihood_codes", "likelihood_labels", "severity_labels", "cells")}
    matrix["verdicts"] = {name: {"rank": v["rank"], "acceptable": v["acceptable"], "action": v["action"]}
                          for name, v in config["verdicts"].items()}
    as_of = as_of or datetime.now(timezone.utc).date()
    if not stored:
        return {"rows": [], "ranking": [], "summary": {"rows": 0}, "matrix": matrix, "as_of": as_of.isoformat(),
                "source": "seed 002 (ГОСТ Р draft), 7, 8, B.3.2-B.3.3, figures B.2-B.6"}
    try:
        result = run_model("risk-register", {"rows": [json.loads(r["row"]) for r in stored], "as_of": as_of.isoformat()})
    except ModelInputError as error:  # rows were valid when stored; the scales changed since
        raise RegisterError(422, str(error), error.field) from None
    for evaluated in result["rows"]:
        meta = stored[evaluated["index"]]
        evaluated.update(id=meta["id"], site=meta["site"], version=meta["version"], updated_by=meta["updated_by"],
                         updated_at=meta["updated_at"])
    for entry in result["ranking"]:
        entry["id"] = stored[entry["index"]]["id"]
    return {**result, "matrix": matrix, "as_of": as_of.isoformat()}
