"""Who acknowledged and who cleared each alarm, and when — kept beside the ``alarms`` table.

An alarm (:mod:`hub.analytics.alarms`: noise over a zone's limit, smoking in a smoke-free
location, the Rt early warning) is *open* until someone clears it. *Acknowledged* means a person
has seen it and owns it; *cleared* means it was dealt with. Each action is one immutable row
(who, role, when, an optional note), so the history of an alarm is never rewritten: an alarm is
acknowledged at most once and cleared at most once, and clearing an alarm nobody acknowledged
acknowledges it by the same person at the same time. The recomputation of the analyses never
touches these rows: an alarm refreshed after it was cleared stays cleared.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from firmware_bridges.sqlite_tx import immediate_transaction
from hub.analytics.schema import ensure_schema as ensure_alarm_schema
from hub.store import RequestRefused

ACTIONS = ("acknowledged", "cleared")
NOTE_MAX = 500

SCHEMA = """
CREATE TABLE IF NOT EXISTS alarm_actions (
    id INTEGER PRIMARY KEY, alarm_id INTEGER NOT NULL, action TEXT NOT NULL
        CHECK (action IN ('acknowledged', 'cleared')),
    actor TEXT NOT NULL, role TEXT NOT NULL, at TEXT NOT NULL, note TEXT,
    UNIQUE (alarm_id, action)
);
"""

#: SQL conditions on the ``alarms`` row in scope, per state: open (nobody cleared it), acknowledged and not
#: cleared, cleared.
_TAKEN = "EXISTS (SELECT 1 FROM alarm_actions a WHERE a.alarm_id = alarms.id AND a.action = '{}')"
STATE_SQL = {
    "open": f"NOT {_TAKEN.format('cleared')}",
    "acknowledged": f"{_TAKEN.format('acknowledged')} AND NOT {_TAKEN.format('cleared')}",
    "cleared": _TAKEN.format("cleared"),
}


class AlarmActionError(RequestRefused):
    """A request the alarm register refuses; ``status`` is the HTTP status to answer with."""


def ensure_schema(store) -> None:
    ensure_alarm_schema(store)
    store.ensure_schema("alarm_actions", SCHEMA)


def states(store, alarm_ids: list[int]) -> dict[int, dict[str, Any]]:
    """``alarm_id → {acknowledged_by, acknowledged_at, cleared_by, cleared_at, notes}`` for alarms with actions."""
    if not alarm_ids:
        return {}
    ensure_schema(store)
    found: dict[int, dict[str, Any]] = {}
    for start in range(0, len(alarm_ids), 500):
        chunk = alarm_ids[start:start + 500]
        rows = store.query(f"SELECT alarm_id, action, actor, at, note FROM alarm_actions WHERE alarm_id IN "
                           f"({','.join('?' * len(chunk))}) ORDER BY id", chunk)
        for row in rows:
            state = found.setdefault(row["alarm_id"], {"notes": []})
            state[f"{row['action']}_by"] = row["actor"]
            state[f"{row['action']}_at"] = row["at"]
            if row["note"]:
                state["notes"].append({"action": row["action"], "by": row["actor"], "note": row["note"]})
    return found


def annotate(store, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add the action fields (null where not taken) to alarm rows of :func:`hub.analytics.alarms.read`."""
    found = states(store, [item["id"] for item in items])
    for item in items:
        state = found.get(item["id"], {})
        for action in ACTIONS:
            item[f"{action}_by"] = state.get(f"{action}_by")
            item[f"{action}_at"] = state.get(f"{action}_at")
        item["notes"] = state.get("notes", [])
        item["state"] = "cleared" if item["cleared_at"] else "acknowledged" if item["acknowledged_at"] else "open"
    return items


def record(store, alarm_id: int, action: str, actor: str, role: str, note: str | None = None) -> dict[str, Any]:
    """Acknowledge or clear an alarm; refuses an unknown alarm (404) and a repeated action (409)."""
    if action not in ACTIONS:
        raise AlarmActionError(422, f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
    if note is not None:
        note = note.strip() or None
        if note is not None and len(note) > NOTE_MAX:
            raise AlarmActionError(422, f"a note of at most {NOTE_MAX} characters, not {len(note)}")
    ensure_schema(store)
    at = datetime.now(timezone.utc).isoformat()
    with store.lock, immediate_transaction(store.conn) as conn:
        if conn.execute("SELECT 1 FROM alarms WHERE id = ?", (alarm_id,)).fetchone() is None:
            raise AlarmActionError(404, f"no alarm with id {alarm_id}")
        taken = {row[0] for row in conn.execute("SELECT action FROM alarm_actions WHERE alarm_id = ?", (alarm_id,))}
        if action in taken:
            raise AlarmActionError(409, f"alarm {alarm_id} is already {action}")
        if action == "acknowledged" and "cleared" in taken:
            raise AlarmActionError(409, f"alarm {alarm_id} is already cleared")
        if action == "cleared" and "acknowledged" not in taken:  # clearing owns it too
            conn.execute("INSERT INTO alarm_actions (alarm_id, action, actor, role, at, note) VALUES (?,?,?,?,?,?)",
                         (alarm_id, "acknowledged", actor, role, at, None))
        conn.execute("INSERT INTO alarm_actions (alarm_id, action, actor, role, at, note) VALUES (?,?,?,?,?,?)",
                     (alarm_id, action, actor, role, at, note))
    alarm = store.query("SELECT * FROM alarms WHERE id = ?", [alarm_id])[0]
    alarm["details"] = json.loads(alarm["details"])
    return annotate(store, [alarm])[0]
