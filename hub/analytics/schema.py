"""The analytics' own tables, created on the hub store's connection (the store's schema is not touched).

* ``analytics_results`` — the newest result of each analysis for one parameter set, written
  by the background runner so that the dashboard and the API read precomputed results;
* ``alarms`` — zone noise over its limit, the Rt early warning and smoke violations, one row
  per (kind, key): recomputing never duplicates an alarm, it refreshes ``last_seen``;
* ``workplaces`` — one roster document per site (:mod:`hub.analytics.workplaces`).
"""

from __future__ import annotations

SCHEMA = """
CREATE TABLE IF NOT EXISTS analytics_results (
    name TEXT NOT NULL, params TEXT NOT NULL, computed_at TEXT NOT NULL, duration_s REAL NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (name, params)
);
CREATE TABLE IF NOT EXISTS alarms (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, key TEXT NOT NULL, site TEXT, location TEXT,
    day TEXT, severity TEXT NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
    message_ru TEXT NOT NULL, message_en TEXT NOT NULL, details TEXT NOT NULL,
    UNIQUE (kind, key)
);
CREATE INDEX IF NOT EXISTS alarms_by_day ON alarms(day, kind);
CREATE TABLE IF NOT EXISTS workplaces (
    site TEXT PRIMARY KEY, loaded_at TEXT NOT NULL, source TEXT NOT NULL, document TEXT NOT NULL
);
"""

def ensure_schema(store) -> None:
    """Create the tables once per store (idempotent; CREATE … IF NOT EXISTS)."""
    store.ensure_schema("analytics", SCHEMA)
