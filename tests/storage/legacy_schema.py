"""The hub's schema as the hub wrote it before migrations existed (hub/store.py TABLES and INDEXES,
hub/evidence.py SCHEMA at commit f178c91), and the older layout from before journal incarnations: the
databases the adoption tests hand to today's code. Frozen copies, on purpose: they are what is on disk
at sites today."""

PRE_MIGRATION = """
CREATE TABLE IF NOT EXISTS received (
    site TEXT NOT NULL, kiosk TEXT NOT NULL, incarnation TEXT NOT NULL DEFAULT '', seq INTEGER NOT NULL,
    event_id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, received_at TEXT NOT NULL, content_hash TEXT,
    PRIMARY KEY (site, kiosk, incarnation, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS exams (
    event_id TEXT PRIMARY KEY, site TEXT NOT NULL, kiosk TEXT NOT NULL, seq INTEGER NOT NULL,
    exam_id TEXT NOT NULL, worker_id TEXT NOT NULL, exam_type TEXT NOT NULL,
    started_at TEXT NOT NULL, finished_at TEXT NOT NULL, outcome TEXT NOT NULL,
    rule_set_version TEXT NOT NULL, historical INTEGER NOT NULL, kiosk_ts TEXT NOT NULL,
    received_at TEXT NOT NULL, body TEXT NOT NULL, chain_status TEXT NOT NULL DEFAULT 'unsigned',
    incarnation TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS telemetry (
    site TEXT NOT NULL, kiosk TEXT NOT NULL, seq INTEGER NOT NULL,
    sensor_id TEXT NOT NULL, zone TEXT NOT NULL, ts TEXT NOT NULL,
    quantity TEXT NOT NULL, value REAL, invalid_reason TEXT
);
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY, site TEXT NOT NULL, kiosk TEXT NOT NULL, seq INTEGER NOT NULL,
    type TEXT NOT NULL, severity TEXT NOT NULL, zone TEXT, device TEXT,
    kiosk_ts TEXT NOT NULL, received_at TEXT NOT NULL, body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS kiosks (
    site TEXT NOT NULL, kiosk TEXT NOT NULL, state TEXT NOT NULL, status_ts TEXT NOT NULL,
    last_seen TEXT NOT NULL, status TEXT NOT NULL,
    PRIMARY KEY (site, kiosk)
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY, received_at TEXT NOT NULL, topic TEXT NOT NULL,
    payload BLOB NOT NULL, payload_size INTEGER NOT NULL, reason TEXT NOT NULL, code TEXT NOT NULL DEFAULT 'other'
);
CREATE TABLE IF NOT EXISTS dead_letter_totals (
    code TEXT PRIMARY KEY, messages INTEGER NOT NULL, bytes INTEGER NOT NULL, last_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS conflicts (
    id INTEGER PRIMARY KEY, received_at TEXT NOT NULL, site TEXT NOT NULL, kiosk TEXT NOT NULL,
    incarnation TEXT NOT NULL, seq INTEGER NOT NULL, event_id TEXT NOT NULL, kind TEXT NOT NULL,
    code TEXT NOT NULL, reason TEXT NOT NULL, content_hash TEXT NOT NULL, payload BLOB NOT NULL,
    resolved_at TEXT, resolved_by TEXT, resolution TEXT,
    UNIQUE (site, kiosk, incarnation, seq, event_id, content_hash)
);
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY, ts TEXT NOT NULL, actor TEXT NOT NULL, role TEXT NOT NULL,
    action TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT
);

CREATE INDEX IF NOT EXISTS exams_by_finished ON exams(finished_at, seq);
CREATE INDEX IF NOT EXISTS exams_by_site_time ON exams(site, finished_at, seq, kiosk, outcome, exam_type);
CREATE INDEX IF NOT EXISTS exams_by_kiosk_time ON exams(kiosk, finished_at, seq, site, outcome, exam_type);
CREATE INDEX IF NOT EXISTS exams_by_outcome_time ON exams(outcome, finished_at, seq, site, kiosk, exam_type);
CREATE INDEX IF NOT EXISTS exams_by_type_time ON exams(exam_type, finished_at, seq, site, kiosk, outcome);
CREATE INDEX IF NOT EXISTS exams_by_worker ON exams(worker_id, finished_at);
CREATE INDEX IF NOT EXISTS exams_by_started ON exams(started_at);
CREATE INDEX IF NOT EXISTS exams_chain_waiting ON exams(received_at) WHERE chain_status = 'pending_link';
CREATE INDEX IF NOT EXISTS telemetry_by_zone ON telemetry(zone, quantity, ts);
CREATE INDEX IF NOT EXISTS events_by_type ON events(type, kiosk_ts);

CREATE TABLE IF NOT EXISTS kiosk_keys (
    site TEXT NOT NULL, kiosk TEXT NOT NULL, public_key TEXT NOT NULL, source TEXT NOT NULL, added_at TEXT NOT NULL,
    PRIMARY KEY (site, kiosk)
);
CREATE TABLE IF NOT EXISTS exam_chain (
    site TEXT NOT NULL, kiosk TEXT NOT NULL, incarnation TEXT NOT NULL DEFAULT '', idx INTEGER NOT NULL,
    event_id TEXT NOT NULL, hash TEXT NOT NULL, prev TEXT NOT NULL, status TEXT NOT NULL,
    PRIMARY KEY (site, kiosk, incarnation, idx)
) WITHOUT ROWID;
"""

#: Before journal incarnations and dead-letter codes, as the checks of the pre-migration
#: ``Store._migrate`` describe it: no ``incarnation`` columns, no ``code``, and the index
#: exams_by_time that exams_by_finished replaced.
PRE_INCARNATION = """
CREATE TABLE received (
    site TEXT NOT NULL, kiosk TEXT NOT NULL, seq INTEGER NOT NULL, event_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL, received_at TEXT NOT NULL, PRIMARY KEY (site, kiosk, seq)
) WITHOUT ROWID;
CREATE TABLE exams (
    event_id TEXT PRIMARY KEY, site TEXT NOT NULL, kiosk TEXT NOT NULL, seq INTEGER NOT NULL,
    exam_id TEXT NOT NULL, worker_id TEXT NOT NULL, exam_type TEXT NOT NULL,
    started_at TEXT NOT NULL, finished_at TEXT NOT NULL, outcome TEXT NOT NULL,
    rule_set_version TEXT NOT NULL, historical INTEGER NOT NULL, kiosk_ts TEXT NOT NULL,
    received_at TEXT NOT NULL, body TEXT NOT NULL, chain_status TEXT NOT NULL DEFAULT 'unsigned'
);
CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY, received_at TEXT NOT NULL, topic TEXT NOT NULL,
    payload BLOB NOT NULL, payload_size INTEGER NOT NULL, reason TEXT NOT NULL
);
CREATE TABLE exam_chain (
    site TEXT NOT NULL, kiosk TEXT NOT NULL, idx INTEGER NOT NULL, event_id TEXT NOT NULL, hash TEXT NOT NULL,
    prev TEXT NOT NULL, status TEXT NOT NULL, PRIMARY KEY (site, kiosk, idx)
) WITHOUT ROWID;
CREATE INDEX exams_by_time ON exams(finished_at);
"""
