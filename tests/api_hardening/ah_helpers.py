"""Builders for the API-hardening tests: a hub app on a real SQLite file, tokens for every role."""

from __future__ import annotations

from contextlib import contextmanager

from fastapi.testclient import TestClient

from hub.api import create_app
from hub.config import HubConfig
from hub.store import Store

MEDIC = "medic-token-0123456789"
OHS = "ohs-token-0123456789abc"
ADMIN = "admin-token-0123456789"
TOKENS = [{"token": MEDIC, "role": "medic", "name": "medic"}, {"token": OHS, "role": "ohs", "name": "ohs"},
          {"token": ADMIN, "role": "admin", "name": "admin"}]


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def hub_config(tmp_path, **sections) -> HubConfig:
    api = {"tokens": TOKENS, **sections.pop("api", {})}
    return HubConfig.model_validate({"storage": {"path": str(tmp_path / "hub.db")}, "api": api, **sections})


@contextmanager
def hub_client(tmp_path, **sections):
    """(TestClient, app) around a real store; the app's lifespan runs (the model pool is closed at the end)."""
    config = hub_config(tmp_path, **sections)
    store = Store(config.storage.path, synchronous="NORMAL")
    app = create_app(config, store)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client, app
    finally:
        store.close()
