"""A SQLAlchemy engine for the hub's database, from ``storage.url`` or ``storage.path``.

SQLite (the default, no setup): a file in WAL mode, so read connections never block the writer nor
are blocked by it; ``synchronous`` as configured (FULL: a committed batch survives a power cut before
it is acknowledged). PostgreSQL: ``postgresql://user:pass@host:port/db`` (any libpq URL), driven by
psycopg 3 (``postgresql+psycopg``); committed means durable with PostgreSQL's defaults (fsync on).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url


def is_postgres(url: str) -> bool:
    return str(url).split(":", 1)[0].split("+", 1)[0] in ("postgresql", "postgres")


def database_url(target: str | Path) -> str:
    """The SQLAlchemy URL of ``target``: a database URL as given (``postgres://`` and a bare
    ``postgresql://`` are pointed at psycopg 3), or the file path of a SQLite database."""
    text = str(target)
    if "://" not in text:
        return f"sqlite:///{Path(text).resolve()}"
    scheme, rest = text.split("://", 1)
    if scheme in ("postgres", "postgresql"):
        return f"postgresql+psycopg://{rest}"
    if scheme.startswith("sqlite") or scheme == "postgresql+psycopg":
        return text
    raise ValueError(f"storage.url {scheme}://… is not supported: use a SQLite path or postgresql://")


def libpq_conninfo(url: str) -> str:
    """The libpq connection string of a PostgreSQL URL (what psycopg.connect takes)."""
    return make_url(database_url(url)).set(drivername="postgresql").render_as_string(hide_password=False)


def make_engine(target: str | Path, *, synchronous: str = "FULL", read_only: bool = False,
                pool_size: int = 5) -> Engine:
    """The engine of ``target`` (URL or SQLite path); ``read_only`` sessions refuse writes (PostgreSQL)."""
    url = database_url(target)
    if not is_postgres(url):
        engine = create_engine(url)

        @event.listens_for(engine, "connect")
        def _wal(dbapi_connection, _record):  # every connection: WAL, the configured durability
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.close()

        return engine
    connect_args = {"options": "-c default_transaction_read_only=on"} if read_only else {}
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size * 2, pool_pre_ping=True,
                         connect_args=connect_args)
