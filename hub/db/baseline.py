"""The hub's schema at revision 0001 (``migrations/versions/0001_baseline.py``) as SQLAlchemy Core
metadata: the records, kiosks, dead letters, conflicts, audit log and evidence chain, exactly as the
hub wrote them before migrations existed (so an old database is adopted as it is).

Frozen: a change to the schema is a new Alembic revision, never an edit here. Types are chosen so the
same definition gives SQLite its usual layout (``INTEGER PRIMARY KEY`` row ids, ``WITHOUT ROWID`` key
tables) and PostgreSQL 64-bit integers and identity keys.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    text,
)

#: 64-bit on PostgreSQL; INTEGER on SQLite (where only ``INTEGER PRIMARY KEY`` is the row id)
BigInt = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()


def _text(name: str, nullable: bool = False, **kw) -> Column:
    return Column(name, Text, nullable=nullable, **kw)


Table("received", metadata,
      _text("site"), _text("kiosk"), _text("incarnation", server_default=text("''")),
      Column("seq", BigInt, nullable=False), _text("event_id", unique=True), _text("kind"), _text("received_at"),
      _text("content_hash", nullable=True),
      PrimaryKeyConstraint("site", "kiosk", "incarnation", "seq"), sqlite_with_rowid=False)

Table("exams", metadata,
      _text("event_id", primary_key=True), _text("site"), _text("kiosk"), Column("seq", BigInt, nullable=False),
      _text("exam_id"), _text("worker_id"), _text("exam_type"), _text("started_at"), _text("finished_at"),
      _text("outcome"), _text("rule_set_version"), Column("historical", Integer, nullable=False),
      _text("kiosk_ts"), _text("received_at"), _text("body"),
      _text("chain_status", server_default=text("'unsigned'")), _text("incarnation", server_default=text("''")))

Table("telemetry", metadata,
      _text("site"), _text("kiosk"), Column("seq", BigInt, nullable=False), _text("sensor_id"), _text("zone"),
      _text("ts"), _text("quantity"), Column("value", Float), _text("invalid_reason", nullable=True))

Table("events", metadata,
      _text("event_id", primary_key=True), _text("site"), _text("kiosk"), Column("seq", BigInt, nullable=False),
      _text("type"), _text("severity"), _text("zone", nullable=True), _text("device", nullable=True),
      _text("kiosk_ts"), _text("received_at"), _text("body"))

Table("kiosks", metadata,
      _text("site"), _text("kiosk"), _text("state"), _text("status_ts"), _text("last_seen"), _text("status"),
      PrimaryKeyConstraint("site", "kiosk"))

Table("dead_letters", metadata,
      Column("id", BigInt, primary_key=True), _text("received_at"), _text("topic"),
      Column("payload", LargeBinary, nullable=False), Column("payload_size", BigInt, nullable=False),
      _text("reason"), _text("code", server_default=text("'other'")))

Table("dead_letter_totals", metadata,
      _text("code", primary_key=True), Column("messages", BigInt, nullable=False),
      Column("bytes", BigInt, nullable=False), _text("last_at"))

Table("conflicts", metadata,
      Column("id", BigInt, primary_key=True), _text("received_at"), _text("site"), _text("kiosk"),
      _text("incarnation"), Column("seq", BigInt, nullable=False), _text("event_id"), _text("kind"), _text("code"),
      _text("reason"), _text("content_hash"), Column("payload", LargeBinary, nullable=False),
      _text("resolved_at", nullable=True), _text("resolved_by", nullable=True), _text("resolution", nullable=True),
      UniqueConstraint("site", "kiosk", "incarnation", "seq", "event_id", "content_hash"))

Table("audit_log", metadata,
      Column("id", BigInt, primary_key=True), _text("ts"), _text("actor"), _text("role"), _text("action"),
      _text("subject"), _text("detail", nullable=True))

Table("kiosk_keys", metadata,
      _text("site"), _text("kiosk"), _text("public_key"), _text("source"), _text("added_at"),
      PrimaryKeyConstraint("site", "kiosk"))

Table("exam_chain", metadata,
      _text("site"), _text("kiosk"), _text("incarnation", server_default=text("''")),
      Column("idx", BigInt, nullable=False), _text("event_id"), _text("hash"), _text("prev"), _text("status"),
      PrimaryKeyConstraint("site", "kiosk", "incarnation", "idx"), sqlite_with_rowid=False)

#: Every filter of ``GET /api/v1/exams`` walks one of these in order (see hub.store for the reasons).
_t = metadata.tables
INDEXES = [
    Index("exams_by_finished", _t["exams"].c.finished_at, _t["exams"].c.seq),
    Index("exams_by_site_time", *(_t["exams"].c[n] for n in ("site", "finished_at", "seq", "kiosk", "outcome",
                                                             "exam_type"))),
    Index("exams_by_kiosk_time", *(_t["exams"].c[n] for n in ("kiosk", "finished_at", "seq", "site", "outcome",
                                                              "exam_type"))),
    Index("exams_by_outcome_time", *(_t["exams"].c[n] for n in ("outcome", "finished_at", "seq", "site", "kiosk",
                                                                "exam_type"))),
    Index("exams_by_type_time", *(_t["exams"].c[n] for n in ("exam_type", "finished_at", "seq", "site", "kiosk",
                                                             "outcome"))),
    Index("exams_by_worker", _t["exams"].c.worker_id, _t["exams"].c.finished_at),
    Index("exams_by_started", _t["exams"].c.started_at),
    Index("exams_chain_waiting", _t["exams"].c.received_at, sqlite_where=text("chain_status = 'pending_link'"),
          postgresql_where=text("chain_status = 'pending_link'")),
    Index("telemetry_by_zone", _t["telemetry"].c.zone, _t["telemetry"].c.quantity, _t["telemetry"].c.ts),
    Index("events_by_type", _t["events"].c.type, _t["events"].c.kiosk_ts),
]

#: Indexes of hubs older than 0001 that one of INDEXES replaces (dropped when such a hub is adopted).
SUPERSEDED_INDEXES = ("exams_by_time", "exams_by_kiosk")
