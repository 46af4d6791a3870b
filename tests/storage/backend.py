"""Running a test folder on each storage back end: a folder's conftest.py imports
:func:`store_on_each_backend` (an autouse fixture over ``hub_store_url``, so every test there runs once
per back end of ``--hub-backends``); its tests open the hub's store with :func:`store_target` or point a
hub config at it with :func:`use_store_of_this_test`."""

from __future__ import annotations

import pytest

#: this test's database (a SQLite path or a PostgreSQL URL) while store_on_each_backend is active
STORE_TARGET: str | None = None


@pytest.fixture(autouse=True)
def store_on_each_backend(hub_store_url):
    global STORE_TARGET
    STORE_TARGET = hub_store_url
    yield hub_store_url
    STORE_TARGET = None


def store_target(tmp_path) -> str:
    """This test's database: the back end chosen for it, else a SQLite file in tmp_path."""
    return STORE_TARGET or str(tmp_path / "hub.db")


def use_store_of_this_test(config):
    """A hub config pointed at this test's database (``storage.url`` on PostgreSQL)."""
    if STORE_TARGET is not None and "://" in STORE_TARGET:
        config.storage.url = STORE_TARGET
    return config


def storage_url_toml() -> str:
    """The ``url = "…"`` line of a hub TOML's [storage] for this test's PostgreSQL ("" on SQLite)."""
    return f'url = "{STORE_TARGET}"' if STORE_TARGET is not None and "://" in STORE_TARGET else ""


def stored_bytes(store) -> bytes:
    """Everything the store holds, to search for what must never be kept (a password): the SQLite file
    and its WAL as bytes, or every row of every table of the PostgreSQL database as text."""
    if store.backend == "sqlite":
        return b"".join(path.read_bytes() for path in (store.path, store.path.with_name(store.path.name + "-wal"))
                        if path.exists())
    tables = [r[0] for r in store.query_rows("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    return "\n".join(row[0] for table in tables
                     for row in store.query_rows(f'SELECT t::text FROM "{table}" t')).encode("utf-8")
