"""Shared fixtures: a real mosquitto broker on a free port, hub and kiosk configs in tmp dirs.

The broker fixture needs Debian's mosquitto binary (``.ci/run`` installs it); it installs
nothing itself and fails with a clear message when the binary is missing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

from ohs_demo.broker import mosquitto_binary, start_mosquitto  # noqa: E402


@pytest.fixture
def broker(tmp_path):
    if mosquitto_binary() is None:
        pytest.fail("mosquitto is not installed: apt-get install -y mosquitto (the tests need a real broker)")
    running = start_mosquitto(tmp_path / "broker")
    yield running
    running.stop()


@pytest.fixture
def artifacts_dir() -> Path:
    path = Path(os.environ.get("OHS_ARTIFACTS", ROOT / "artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---------------------------------------------------------------- the hub's storage back ends (issue 11)

BACKENDS = ("sqlite", "postgresql")


def pytest_addoption(parser):
    parser.addoption(
        "--hub-backends", default=os.environ.get("OHS_HUB_BACKENDS", ",".join(BACKENDS)),
        help="comma-separated storage back ends the hub tests that take `hub_store_url` run on "
             "(sqlite, postgresql; default both; env OHS_HUB_BACKENDS)")


def pytest_generate_tests(metafunc):
    if "hub_backend" in metafunc.fixturenames:
        chosen = [b.strip() for b in metafunc.config.getoption("--hub-backends").split(",") if b.strip()]
        unknown = set(chosen) - set(BACKENDS)
        if unknown:
            raise pytest.UsageError(f"--hub-backends: unknown back end(s) {sorted(unknown)}; use {BACKENDS}")
        metafunc.parametrize("hub_backend", chosen)


@pytest.fixture(scope="session")
def postgres_server():
    """One throwaway PostgreSQL server for the session (Debian's postgresql package; tests/run.sh
    installs it); each test gets its own database from :func:`hub_store_url`."""
    from tests.storage.pg_server import start_postgres

    try:
        server = start_postgres()
    except RuntimeError as error:
        pytest.fail(str(error))
    yield server
    server.stop()


@pytest.fixture
def hub_store_url(hub_backend, tmp_path, request) -> str:
    """Where this test's hub keeps its data: a SQLite file in tmp_path, or a new empty database on the
    session's PostgreSQL server (``storage.url``)."""
    if hub_backend == "sqlite":
        return str(tmp_path / "hub.db")
    return request.getfixturevalue("postgres_server").create_database()
