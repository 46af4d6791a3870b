"""Bringing a hub database to the newest schema with Alembic (``hub/db/migrations``).

:func:`upgrade` runs at every hub start (and ``ohs-hub db upgrade``): a new database gets the whole
schema; one written by a hub from before migrations (tables but no ``alembic_version``) is *adopted*:
its columns are brought to the baseline layout in place (journal incarnations, dead-letter codes),
then the revisions run as on any other database — no data is copied out or lost. On PostgreSQL the
upgrade holds an advisory lock, so several hub workers starting at once migrate one after the other.
"""

from __future__ import annotations

import logging
from pathlib import Path

# Alembic logs each plugin and its context at INFO on every start; the hub logs the one line that matters
# (a migration that ran, below). Set before alembic is imported: its plugins log at import.
for _name in ("alembic.runtime.plugins", "alembic.runtime.migration"):
    logging.getLogger(_name).setLevel(logging.WARNING)

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from alembic.runtime.migration import MigrationContext  # noqa: E402
from alembic.script import ScriptDirectory  # noqa: E402
from sqlalchemy import inspect, text  # noqa: E402
from sqlalchemy.engine import Connection  # noqa: E402

from hub.db.engine import database_url, is_postgres, make_engine  # noqa: E402

log = logging.getLogger(__name__)

SCRIPTS = Path(__file__).resolve().parent / "migrations"
#: pg_advisory_xact_lock key of the hub's migrations (any constant both workers agree on)
MIGRATION_LOCK = 0x0_4F48_5348  # "OHSH"


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision this code knows."""
    return ScriptDirectory.from_config(_config()).get_current_head()


def current(target: str | Path) -> str | None:
    """The revision the database at ``target`` is at (None: never migrated, empty, or no such file)."""
    if not is_postgres(database_url(target)) and not Path(str(target)).exists():
        return None  # never create a SQLite file just to look at it
    engine = make_engine(target)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def upgrade(target: str | Path, *, synchronous: str = "FULL", revision: str = "head") -> str | None:
    """Migrate the database at ``target`` (URL or SQLite path) to ``revision``; returns where it is now."""
    if not is_postgres(database_url(target)):
        Path(str(target)).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(target, synchronous=synchronous)
    try:
        with engine.begin() as connection:
            if is_postgres(str(engine.url)):
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            before = MigrationContext.configure(connection).get_current_revision()
            if before is None:
                _adopt_legacy(connection)
            command.upgrade(_config(connection), revision)
            after = MigrationContext.configure(connection).get_current_revision()
        if after != before:
            log.info("hub database migrated from %s to %s", before or "(none)", after)
        return after
    finally:
        engine.dispose()


def _columns(connection: Connection, table: str) -> set[str]:
    return {column["name"] for column in inspect(connection).get_columns(table)}


def _adopt_legacy(connection: Connection) -> None:
    """Bring the columns of a database written before migrations (SQLite only: the hub had no other
    back end then) to the baseline layout; nothing to do on a new database. Old records belong to the
    legacy journal incarnation ''."""
    tables = set(inspect(connection).get_table_names())
    if "received" not in tables:
        return
    log.info("adopting a hub database from before migrations")
    run = connection.exec_driver_sql
    if "incarnation" not in _columns(connection, "received"):
        run("ALTER TABLE received RENAME TO received_v1")
        run("""CREATE TABLE received (
                 site TEXT NOT NULL, kiosk TEXT NOT NULL, incarnation TEXT NOT NULL DEFAULT '',
                 seq INTEGER NOT NULL, event_id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
                 received_at TEXT NOT NULL, content_hash TEXT,
                 PRIMARY KEY (site, kiosk, incarnation, seq)) WITHOUT ROWID""")
        run("INSERT INTO received (site, kiosk, incarnation, seq, event_id, kind, received_at) "
            "SELECT site, kiosk, '', seq, event_id, kind, received_at FROM received_v1")
        run("DROP TABLE received_v1")
    if "exams" in tables and "incarnation" not in _columns(connection, "exams"):
        run("ALTER TABLE exams ADD COLUMN incarnation TEXT NOT NULL DEFAULT ''")
    if "dead_letters" in tables and "code" not in _columns(connection, "dead_letters"):
        run("ALTER TABLE dead_letters ADD COLUMN code TEXT NOT NULL DEFAULT 'other'")
    if "exam_chain" in tables and "incarnation" not in _columns(connection, "exam_chain"):
        run("ALTER TABLE exam_chain RENAME TO exam_chain_v1")
        run("""CREATE TABLE exam_chain (
                 site TEXT NOT NULL, kiosk TEXT NOT NULL, incarnation TEXT NOT NULL DEFAULT '',
                 idx INTEGER NOT NULL, event_id TEXT NOT NULL, hash TEXT NOT NULL, prev TEXT NOT NULL,
                 status TEXT NOT NULL, PRIMARY KEY (site, kiosk, incarnation, idx)) WITHOUT ROWID""")
        run("INSERT INTO exam_chain SELECT site, kiosk, '', idx, event_id, hash, prev, status FROM exam_chain_v1")
        run("DROP TABLE exam_chain_v1")
