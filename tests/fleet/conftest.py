"""Every test here runs on each storage back end (``--hub-backends``, default SQLite and PostgreSQL)."""

from tests.storage.backend import store_on_each_backend  # noqa: F401 — autouse fixture
