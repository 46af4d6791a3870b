"""The hub's storage layer (issue 11): one place that owns the schema and how a database is opened.

* :mod:`hub.db.engine` — the database named by ``storage.url`` (SQLite file, the embedded default, or
  PostgreSQL through psycopg 3) as a SQLAlchemy engine;
* :mod:`hub.db.baseline` — the schema of revision 0001 as SQLAlchemy Core metadata (frozen: later
  changes are new Alembic revisions);
* :mod:`hub.db.migrate` — Alembic migrations (``hub/db/migrations``) applied at hub start and by
  ``ohs-hub db upgrade``; a database written before migrations existed is adopted in place;
* :mod:`hub.db.exam_body` — how an exam's body is kept at rest (compressed, revision 0002) and read
  back (the one decoder every reader uses), and the typed measurement columns the analytics read;
* :mod:`hub.db.telemetry_points` — telemetry at rest (revision 0003): the series dictionary and packed
  chunks of typed points, the store's writer and the readers every telemetry query goes through;
* :mod:`hub.db.dbapi` — the DB-API connection the store writes and reads through on PostgreSQL, taking
  the same ``?``-placeholder SQL as :mod:`sqlite3` so one text of each query serves both back ends.
"""

from hub.db.engine import database_url, is_postgres, make_engine

__all__ = ["database_url", "is_postgres", "make_engine"]
